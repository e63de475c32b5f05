// PackedLinear::view_f32: the layer over the caller's weights in place where
// f32_weights_in_place() (CPUs below AVX-512: CTest runs this under the avx2
// cap too), a packed copy elsewhere; either way the same results as from_f32
// and a naive double reference, and the owner keeps the weights alive.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "optimum/kernels/matmul.h"
#include "optimum/kernels/ops.h"

namespace optimum::kernels {
namespace {

std::vector<float> values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(PackedLinearView, InPlaceOnlyWhereTheLayoutIsPlain) {
  const char* cap = std::getenv("OPTIMUM_CPU_ISA");
  // Below AVX-512 oneDNN's f32 matmul keeps weights plain; with AVX-512 it blocks them.
  if (cap != nullptr && (std::string(cap) == "avx2" || std::string(cap) == "sse41")) {
    EXPECT_TRUE(f32_weights_in_place());
  }
  if (cpu_isa().starts_with("avx512")) {
    EXPECT_FALSE(f32_weights_in_place());
  }
}

TEST(PackedLinearView, MatchesFromF32AndReferenceAndOutlivesTheCaller) {
  for (auto [n, k] : {std::pair<int64_t, int64_t>{384, 384}, {37, 19}, {1, 5}, {130, 1536}}) {
    auto w = std::make_shared<std::vector<float>>(values(static_cast<size_t>(n * k), 3));
    const std::vector<float> w_copy = *w;
    const std::vector<float> bias = values(static_cast<size_t>(n), 4);
    const PackedLinear copied = PackedLinear::from_f32(w->data(), n, k, bias.data(), WeightType::F32);
    const PackedLinear view = PackedLinear::view_f32(w->data(), n, k, bias.data(), w);
    EXPECT_EQ(view.borrows(), f32_weights_in_place());
    EXPECT_EQ(view.type(), WeightType::F32);
    EXPECT_EQ(view.in(), k);
    EXPECT_EQ(view.out(), n);
    w.reset();  // the view's owner keeps the weights
    for (int64_t m : {1, 7, 128}) {
      const std::vector<float> x = values(static_cast<size_t>(m * k), 5);
      std::vector<float> a(static_cast<size_t>(m * n)), b(static_cast<size_t>(m * n));
      copied.forward(x.data(), m, a.data(), Activation::Gelu);
      view.forward(x.data(), m, b.data(), Activation::Gelu);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double acc = bias[static_cast<size_t>(j)];
          for (int64_t c = 0; c < k; ++c) {
            acc += static_cast<double>(x[static_cast<size_t>(i * k + c)]) * w_copy[static_cast<size_t>(j * k + c)];
          }
          const double want = 0.5 * acc * (1.0 + std::erf(acc / std::sqrt(2.0)));
          const auto at = static_cast<size_t>(i * n + j);
          ASSERT_EQ(a[at], b[at]) << "n=" << n << " k=" << k << " m=" << m;
          ASSERT_NEAR(b[at], want, 1e-4 * (1.0 + std::sqrt(static_cast<double>(k)))) << "m=" << m << " j=" << j;
        }
      }
    }
  }
}

TEST(PackedLinearView, Bf16WithoutBf16MatmulRunsTheWidenedWeights) {
  // Where there is no bf16 matmul (AVX2) a bf16 layer runs in f32 on its weights widened
  // once; elsewhere in bf16. Either way it computes with the bf16 values it was given.
  const int64_t n = 24, k = 40, m = 3;
  const std::vector<float> wf = values(static_cast<size_t>(n * k), 8);
  std::vector<uint16_t> wb(wf.size());
  to_bf16(wf.data(), n * k, wb.data());
  const PackedLinear layer = PackedLinear::from_bf16(wb.data(), n, k, nullptr);
  EXPECT_EQ(layer.type(), bf16_supported() ? WeightType::BF16 : WeightType::F32);
  const std::vector<float> x = values(static_cast<size_t>(m * k), 9);
  std::vector<float> y(static_cast<size_t>(m * n));
  layer.forward(x.data(), m, y.data());
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t c = 0; c < k; ++c) {
        uint32_t bits = static_cast<uint32_t>(wb[static_cast<size_t>(j * k + c)]) << 16;
        float wv;
        std::memcpy(&wv, &bits, sizeof wv);
        acc += static_cast<double>(x[static_cast<size_t>(i * k + c)]) * wv;
      }
      // bf16 inputs where the matmul is bf16: about 2^-8 relative per product.
      const double tol = bf16_supported() ? 0.05 * std::sqrt(static_cast<double>(k)) : 1e-4;
      ASSERT_NEAR(y[static_cast<size_t>(i * n + j)], acc, tol) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace optimum::kernels
