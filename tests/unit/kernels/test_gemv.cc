// gemv_f32 (the few-row fp32 path of plain PackedLinear layers) against its
// double reference twin on odd shapes, row counts 1..8, with and without
// bias, every activation; CTest runs it under the avx2 and sse41 caps too, so
// each ISA's loop meets the reference. And PackedLinear::view_f32 on both
// sides of kGemvMaxRows (the GEMV, then oneDNN on the plain weights) for
// view_f32 layers made inside a FewRowsLayout scope.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "optimum/kernels/gemv.h"
#include "optimum/kernels/matmul.h"
#include "optimum/kernels/ops.h"

namespace optimum::kernels {
namespace {

std::vector<float> normal(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale;
  return v;
}

// |Σ x·w| bound per output: f32 summation error relative to Σ|x·w|.
std::vector<double> magnitudes(const std::vector<float>& x, const std::vector<float>& w, int64_t m, int64_t n,
                               int64_t k) {
  std::vector<double> mag(static_cast<size_t>(m * n), 0.0);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t i = 0; i < k; ++i) s += std::fabs(static_cast<double>(x[r * k + i]) * w[j * k + i]);
      mag[static_cast<size_t>(r * n + j)] = s;
    }
  }
  return mag;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<double>& mag,
                  int64_t k, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // f32 accumulation over k terms (~k·2^-24·Σ|xw|), plus the activation's own
    // rounding (its inputs differ by that much; slopes are <= ~1.2).
    const double tol = 2e-6 + 4.0 * (static_cast<double>(k) * 6e-8 + 1e-6) * (mag[i] + 1.0);
    ASSERT_NEAR(got[i], want[i], tol) << what << " index " << i;
    ASSERT_FALSE(std::isnan(got[i])) << what << " index " << i;
  }
}

constexpr Activation kActivations[] = {Activation::Identity, Activation::Gelu,      Activation::GeluTanh,
                                       Activation::GeluFast, Activation::QuickGelu, Activation::Relu,
                                       Activation::Silu,     Activation::Tanh};

TEST(Gemv, MatchesReferenceOnOddShapesRowsBiasAndActivations) {
  const int64_t sizes[] = {1, 3, 17, 576, 1537};
  uint32_t seed = 1;
  for (int64_t n : sizes) {
    for (int64_t k : sizes) {
      if (n * k > 576 * 1537) continue;  // keep the test fast
      const std::vector<float> w = normal(static_cast<size_t>(n * k), seed++, 0.1f);
      const std::vector<float> bias = normal(static_cast<size_t>(n), seed++, 1.0f);
      for (int64_t m = 1; m <= 8; ++m) {
        const std::vector<float> x = normal(static_cast<size_t>(m * k), seed++, 1.0f);
        const std::vector<double> mag = magnitudes(x, w, m, n, k);
        for (bool with_bias : {false, true}) {
          const float* b = with_bias ? bias.data() : nullptr;
          // Every activation on a few shapes, Identity and SiLU on all (the decoder's).
          for (Activation act : kActivations) {
            const bool all = (n == 17 && k == 576) || (n == 3 && k == 17);
            if (!all && act != Activation::Identity && act != Activation::Silu) continue;
            std::vector<float> got(static_cast<size_t>(m * n), NAN);
            std::vector<float> want(static_cast<size_t>(m * n), NAN);
            gemv_f32(x.data(), m, k, w.data(), n, b, got.data(), act);
            gemv_f32_reference(x.data(), m, k, w.data(), n, b, want.data(), act);
            expect_close(got, want, mag, k,
                         "n=" + std::to_string(n) + " k=" + std::to_string(k) + " m=" + std::to_string(m) +
                             " bias=" + std::to_string(with_bias) + " " + activation_name(act));
          }
        }
      }
    }
  }
}

// Many threads' spans meet exactly (n not a multiple of 4 nor of the thread count).
TEST(Gemv, LargeLayerSplitOverThreadsMatchesReference) {
  const int64_t n = 4099;
  const int64_t k = 193;
  const std::vector<float> w = normal(static_cast<size_t>(n * k), 7, 0.1f);
  const std::vector<float> bias = normal(static_cast<size_t>(n), 8, 1.0f);
  for (int64_t m : {1, 5}) {
    const std::vector<float> x = normal(static_cast<size_t>(m * k), 9, 1.0f);
    std::vector<float> got(static_cast<size_t>(m * n), NAN);
    std::vector<float> want(static_cast<size_t>(m * n), NAN);
    gemv_f32(x.data(), m, k, w.data(), n, bias.data(), got.data(), Activation::Silu);
    gemv_f32_reference(x.data(), m, k, w.data(), n, bias.data(), want.data(), Activation::Silu);
    expect_close(got, want, magnitudes(x, w, m, n, k), k, "m=" + std::to_string(m));
  }
}

TEST(Gemv, EmptyShapesWriteNothingAndZeroKGivesBias) {
  const std::vector<float> bias = {1.5f, -2.0f, 0.25f};
  std::vector<float> y(6, NAN);
  gemv_f32(nullptr, 0, 4, nullptr, 3, bias.data(), y.data());
  for (float v : y) EXPECT_TRUE(std::isnan(v));
  const float x[2] = {0, 0};
  const float w[3] = {0, 0, 0};
  gemv_f32(x, 2, 0, w, 3, bias.data(), y.data());
  for (int r = 0; r < 2; ++r) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(y[static_cast<size_t>(r * 3 + j)], bias[static_cast<size_t>(j)]);
  }
}

// In a FewRowsLayout scope view_f32 borrows the weights (every ISA) and matches the reference on both sides of
// kGemvMaxRows (GEMV below, oneDNN on the plain layout above), fused activation included.
TEST(PackedLinearFewRows, BorrowsAndMatchesReferenceForFewAndManyRows) {
  EXPECT_FALSE(FewRowsLayout::active());
  for (auto [n, k] : {std::pair<int64_t, int64_t>{576, 576}, {37, 19}, {1, 5}, {130, 1537}}) {
    auto w = std::make_shared<std::vector<float>>(normal(static_cast<size_t>(n * k), 3, 0.1f));
    const std::vector<float> bias = normal(static_cast<size_t>(n), 4, 1.0f);
    PackedLinear layer;
    {
      const FewRowsLayout scope;
      EXPECT_TRUE(FewRowsLayout::active());
      layer = PackedLinear::view_f32(w->data(), n, k, bias.data(), w);
    }
    EXPECT_FALSE(FewRowsLayout::active());
    EXPECT_TRUE(layer.borrows());
    EXPECT_EQ(layer.type(), WeightType::F32);
    for (int64_t m : {int64_t{1}, int64_t{3}, kGemvMaxRows, kGemvMaxRows + 1, int64_t{64}}) {
      for (Activation act : {Activation::Identity, Activation::Silu, Activation::Gelu}) {
        const std::vector<float> x = normal(static_cast<size_t>(m * k), 5, 1.0f);
        std::vector<float> got(static_cast<size_t>(m * n), NAN);
        std::vector<float> want(static_cast<size_t>(m * n), NAN);
        layer.forward(x.data(), m, got.data(), act);
        gemv_f32_reference(x.data(), m, k, w->data(), n, bias.data(), want.data(), act);
        expect_close(got, want, magnitudes(x, *w, m, n, k), k,
                     "n=" + std::to_string(n) + " k=" + std::to_string(k) + " m=" + std::to_string(m) + " " +
                         activation_name(act));
      }
    }
  }
  const FewRowsLayout scope;
  EXPECT_THROW(PackedLinear::view_f32(nullptr, 1, 1, nullptr, nullptr), std::exception);
}

}  // namespace
}  // namespace optimum::kernels
