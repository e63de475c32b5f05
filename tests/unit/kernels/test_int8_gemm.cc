// The AVX2 s16 int8 GEMM (int8_gemm.h) against its plain-loop reference:
// bit-identical outputs (integer accumulation, the same fused epilogue) over
// odd shapes, every row-tile remainder, column panels and the k-blocked path;
// the 16-bit activation quantization against the formula; and PackedLinear
// int8 on whichever kernel this CPU selects against a float reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "optimum/kernels/int8_gemm.h"
#include "optimum/kernels/matmul.h"

namespace optimum::kernels {
namespace {

struct Case {
  int64_t m, n, k;
};

class S16Gemm : public ::testing::TestWithParam<Case> {};

TEST_P(S16Gemm, MatchesReferenceExactly) {
#if defined(__x86_64__) || defined(__i386__)
  if (!s16_gemm_supported()) GTEST_SKIP() << "no AVX2 on this CPU: only the reference path runs here";
#endif  // elsewhere gemm_s16 runs plain loops of its own (panel ranges included): checked the same way
  const Case c = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(c.m * 131 + c.n * 7 + c.k));
  std::uniform_int_distribution<int> w8(-127, 127);
  std::uniform_int_distribution<int> a16(-255, 255);
  std::uniform_real_distribution<float> u(0.001f, 0.1f);
  std::vector<int8_t> q(static_cast<size_t>(c.n * c.k));
  for (int8_t& v : q) v = static_cast<int8_t>(w8(rng));
  const PackedS16 w = pack_s16(q.data(), c.n, c.k);
  ASSERT_EQ(w.k2 % 2, 0);
  ASSERT_GE(w.k2, c.k);
  std::vector<int16_t> a(static_cast<size_t>(c.m * w.k2), 0);
  for (int64_t r = 0; r < c.m; ++r) {
    for (int64_t i = 0; i < c.k; ++i) a[static_cast<size_t>(r * w.k2 + i)] = static_cast<int16_t>(a16(rng));
  }
  std::vector<float> rs(static_cast<size_t>(c.m)), cs(static_cast<size_t>(c.n)), b(static_cast<size_t>(c.n));
  for (float& v : rs) v = u(rng);
  for (float& v : cs) v = u(rng);
  for (float& v : b) v = u(rng) - 0.05f;
  for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
    const S16Epilogue ep{rs.data(), cs.data(), bias};
    const int64_t ldy = c.n + 3;  // a row stride wider than n: nothing written past n
    std::vector<float> got(static_cast<size_t>(c.m * ldy), -7.0f), want(got);
    gemm_s16(a.data(), c.m, w, ep, got.data(), ldy);
    gemm_s16_reference(a.data(), c.m, w, ep, want.data(), ldy);
    EXPECT_EQ(got, want) << c.m << "x" << c.n << "x" << c.k << (bias ? " with bias" : "");
    // The integer accumulators are exact: compare one entry with a direct sum.
    int64_t acc = 0;
    for (int64_t i = 0; i < c.k; ++i) acc += int64_t{a[static_cast<size_t>(i)]} * q[static_cast<size_t>(i)];
    const float direct = std::fma(static_cast<float>(acc), rs[0] * cs[0], bias ? bias[0] : 0.0f);
    EXPECT_EQ(want[0], direct);
  }
  // A column range of panels leaves the other columns alone.
  if (s16_panels(w) > 1) {
    const S16Epilogue ep{rs.data(), cs.data(), b.data()};
    std::vector<float> part(static_cast<size_t>(c.m * c.n), -7.0f), full(part);
    gemm_s16(a.data(), c.m, w, ep, part.data(), c.n, 1, 2);
    gemm_s16_reference(a.data(), c.m, w, ep, full.data(), c.n);
    for (int64_t r = 0; r < c.m; ++r) {
      for (int64_t col = 0; col < c.n; ++col) {
        const size_t i = static_cast<size_t>(r * c.n + col);
        if (col >= 16 && col < 32) {
          EXPECT_EQ(part[i], full[i]);
        } else {
          EXPECT_EQ(part[i], -7.0f);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, S16Gemm,
                         ::testing::Values(Case{1, 16, 2}, Case{1, 1, 1}, Case{3, 17, 5}, Case{4, 32, 64},
                                           Case{5, 33, 384}, Case{7, 48, 383}, Case{13, 40, 1536},
                                           Case{9, 20, 1000}, Case{48, 384, 384}, Case{21, 64, 769}));

TEST(S16Gemm, QuantizeRowFollowsTheFormula) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.3f, 2.0f);
  for (int64_t k : {1, 7, 8, 9, 384, 385}) {
    std::vector<float> x(static_cast<size_t>(k));
    for (float& v : x) v = d(rng);
    const int64_t k2 = (k + 1) / 2 * 2;
    std::vector<int16_t> a(static_cast<size_t>(k2), 99);
    const float scale = quantize_row_s16(x.data(), k, k2, 255, a.data());
    const float lo = std::min(0.0f, *std::min_element(x.begin(), x.end()));
    const float hi = std::max(0.0f, *std::max_element(x.begin(), x.end()));
    EXPECT_FLOAT_EQ(scale, (hi - lo) / 255.0f);
    for (int64_t i = 0; i < k; ++i) {
      // x ≈ scale · a within half a level; 256 levels in all (a - min(a) <= 255).
      EXPECT_NEAR(x[static_cast<size_t>(i)], scale * a[static_cast<size_t>(i)], 0.5f * scale * 1.0001f) << i;
    }
    const auto [mn, mx] = std::minmax_element(a.begin(), a.begin() + k);
    EXPECT_LE(*mx - *mn, 255);
    if (k2 > k) {
      EXPECT_EQ(a[static_cast<size_t>(k)], 0);  // the pad
    }
  }
}

// PackedLinear int8 (whichever kernel this process selected: OPTIMUM_CPU_ISA,
// OPTIMUM_INT8_KERNEL) against f32 on the same int8 weights: the quantization error only.
TEST(S16Gemm, PackedLinearInt8WithinQuantizationError) {
  const int64_t m = 37, n = 50, k = 300;
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k)), wf(static_cast<size_t>(n * k)), b(static_cast<size_t>(n));
  for (float& v : x) v = d(rng);
  for (float& v : wf) v = 0.05f * d(rng);
  for (float& v : b) v = d(rng);
  std::vector<int8_t> q(wf.size());
  std::vector<float> sw(static_cast<size_t>(n));
  quantize_rows_s8(wf.data(), n, k, q.data(), sw.data());
  const PackedLinear l = PackedLinear::from_s8(q.data(), sw.data(), n, k, b.data());
  std::vector<float> y(static_cast<size_t>(m * n));
  l.forward(x.data(), m, y.data());
  for (int64_t r = 0; r < m; ++r) {
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < k; ++i) {
      lo = std::min(lo, x[static_cast<size_t>(r * k + i)]);
      hi = std::max(hi, x[static_cast<size_t>(r * k + i)]);
    }
    const float step = (hi - lo) / static_cast<float>(int8_activation_levels());
    for (int64_t c = 0; c < n; ++c) {
      double want = b[static_cast<size_t>(c)];
      double wabs = 0;
      double xabs = 0;
      for (int64_t i = 0; i < k; ++i) {
        const double wq = static_cast<double>(q[static_cast<size_t>(c * k + i)]) * sw[static_cast<size_t>(c)];
        want += x[static_cast<size_t>(r * k + i)] * wq;
        wabs += std::abs(wq);
        xabs += std::abs(x[static_cast<size_t>(r * k + i)]);
      }
      // Each activation is off by at most half a step; 7-bit weights (onednn-w7) by half
      // of their coarser step.
      const double wstep = int8_weight_levels() == 127 ? 0.0 : sw[static_cast<size_t>(c)] * 127.0 / 63.0;
      EXPECT_NEAR(y[static_cast<size_t>(r * n + c)], want, 0.5 * step * wabs + 0.5 * wstep * xabs + 1e-4)
          << r << "," << c << " (" << int8_kernel_name() << ")";
    }
  }
}

}  // namespace
}  // namespace optimum::kernels
