// The hand-vectorized element-wise kernels (AVX-512, AVX2 or baseline, the
// path vector_isa_name() reports) against double references at every tail
// length. CTest runs this binary natively and again under OPTIMUM_CPU_ISA=avx2
// and sse41 (tests/unit/CMakeLists.txt), so each path is checked on any CPU
// that has it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "optimum/kernels/ops.h"

namespace optimum::kernels {
namespace {

std::vector<float> normal_values(size_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

TEST(VectorIsa, FollowsTheCap) {
  const std::string isa = vector_isa_name();
  const char* cap = std::getenv("OPTIMUM_CPU_ISA");
  const std::string want_cap = cap == nullptr ? "" : cap;
#if defined(__aarch64__)
  EXPECT_EQ(isa, "neon");  // no hand-written x86 loops there; the cap names no x86 ISA
  return;
#endif
  if (want_cap == "avx2" || want_cap == "avx2_vnni") {
    EXPECT_TRUE(isa == "avx2" || isa == "baseline") << isa;  // baseline: a CPU without AVX2
  } else if (want_cap == "sse41") {
    EXPECT_EQ(isa, "baseline");
  } else {
    EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "baseline") << isa;
  }
}

double gelu_erf(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }
double gelu_tanh(double v) {
  return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
}
double sigmoid_mul(double v, double a) { return v / (1.0 + std::exp(-a * v)); }

struct ActCase {
  Activation act;
  double (*ref)(double);
};

TEST(ActivationSpan, MatchesDoubleAtEveryTailLength) {
  const ActCase cases[] = {
      {Activation::Gelu, gelu_erf},
      {Activation::GeluTanh, gelu_tanh},
      {Activation::GeluFast, gelu_tanh},
      {Activation::QuickGelu, [](double v) { return sigmoid_mul(v, 1.702); }},
      {Activation::Silu, [](double v) { return sigmoid_mul(v, 1.0); }},
      {Activation::Relu, [](double v) { return std::max(v, 0.0); }},
      {Activation::Tanh, [](double v) { return std::tanh(v); }},
  };
  std::vector<float> src = normal_values(70, 3.0f, 5);
  const float extremes[] = {0.0f, -0.0f, 30.0f, -30.0f, 100.0f, -100.0f, 1e-8f, -1e-8f, 5.5f, -5.5f};
  for (size_t i = 0; i < std::size(extremes); ++i) src[i * 7] = extremes[i];
  for (const ActCase& c : cases) {
    for (int64_t n = 0; n <= 70; ++n) {
      std::vector<float> x(src.begin(), src.begin() + n);
      x.push_back(1234.5f);  // sentinel past the span
      activation_span(x.data(), n, c.act);
      for (int64_t i = 0; i < n; ++i) {
        const double want = c.ref(src[static_cast<size_t>(i)]);
        // erf / tanh / exp approximations: 1e-6 absolute (the header's bound) plus 2e-6 relative.
        ASSERT_NEAR(x[static_cast<size_t>(i)], want, 1e-6 + 2e-6 * std::fabs(want))
            << activation_name(c.act) << " n=" << n << " i=" << i << " x=" << src[static_cast<size_t>(i)];
      }
      ASSERT_EQ(x[static_cast<size_t>(n)], 1234.5f) << activation_name(c.act) << " wrote past n=" << n;
    }
  }
}

TEST(SoftmaxRow, MatchesDoubleAtEveryTailLengthWithMaskedKeys) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> src = normal_values(70, 4.0f, 9);
  for (int64_t n = 1; n <= 70; ++n) {
    for (int masked = 0; masked < 3; ++masked) {  // none, every third key, all keys
      std::vector<float> x(src.begin(), src.begin() + n);
      for (int64_t i = 0; i < n; ++i) {
        if (masked == 2 || (masked == 1 && i % 3 == 1)) x[static_cast<size_t>(i)] = ninf;
      }
      const std::vector<float> in = x;
      x.push_back(-7.0f);
      softmax_row(x.data(), n);
      double top = -INFINITY;
      for (float v : in) top = std::max(top, static_cast<double>(v));
      double sum = 0;
      for (float v : in) sum += top == -INFINITY ? 1.0 : std::exp(v - top);
      for (int64_t i = 0; i < n; ++i) {
        const double e = top == -INFINITY ? 1.0 : std::exp(in[static_cast<size_t>(i)] - top);
        ASSERT_NEAR(x[static_cast<size_t>(i)], e / sum, 1e-6) << "n=" << n << " masked=" << masked << " i=" << i;
      }
      ASSERT_EQ(x[static_cast<size_t>(n)], -7.0f) << "wrote past n=" << n;
    }
  }
}

TEST(LayerNorm, MatchesDoubleWithAndWithoutResidual) {
  for (int64_t cols : {1, 7, 8, 9, 16, 33, 384, 385}) {
    const int64_t rows = 3;
    const std::vector<float> x = normal_values(static_cast<size_t>(rows * cols), 2.0f, 11);
    const std::vector<float> r = normal_values(static_cast<size_t>(rows * cols), 1.0f, 12);
    const std::vector<float> g = normal_values(static_cast<size_t>(cols), 1.0f, 13);
    const std::vector<float> b = normal_values(static_cast<size_t>(cols), 1.0f, 14);
    for (bool residual : {false, true}) {
      std::vector<float> out(x.size());
      layer_norm(x.data(), residual ? r.data() : nullptr, g.data(), b.data(), 1e-12, rows, cols, out.data());
      for (int64_t i = 0; i < rows; ++i) {
        std::vector<double> v(static_cast<size_t>(cols));
        double mean = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const auto at = static_cast<size_t>(i * cols + c);
          v[static_cast<size_t>(c)] = static_cast<double>(x[at]) + (residual ? r[at] : 0.0f);
          mean += v[static_cast<size_t>(c)];
        }
        mean /= static_cast<double>(cols);
        double var = 0;
        for (double e : v) var += (e - mean) * (e - mean);
        var /= static_cast<double>(cols);
        for (int64_t c = 0; c < cols; ++c) {
          const double want = (v[static_cast<size_t>(c)] - mean) / std::sqrt(var + 1e-12) * g[static_cast<size_t>(c)] +
                              b[static_cast<size_t>(c)];
          ASSERT_NEAR(out[static_cast<size_t>(i * cols + c)], want, 2e-5 * (1 + std::fabs(want)))
              << "cols=" << cols << " residual=" << residual << " row=" << i << " col=" << c;
        }
      }
    }
  }
}

TEST(RowReductions, MatchScalarAtEveryTailLength) {
  std::vector<float> x = normal_values(70, 5.0f, 21);
  x[13] = 40.0f;
  x[40] = -55.0f;
  for (int64_t n = 1; n <= 70; ++n) {
    float mx = x[0];
    float mn = x[0];
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      mx = std::max(mx, x[static_cast<size_t>(i)]);
      mn = std::min(mn, x[static_cast<size_t>(i)]);
      amax = std::max(amax, std::fabs(x[static_cast<size_t>(i)]));
    }
    ASSERT_EQ(row_max(x.data(), n), mx) << "n=" << n;
    ASSERT_EQ(row_absmax(x.data(), n), amax) << "n=" << n;
    float lo = 0.0f;
    float hi = 0.0f;
    row_minmax(x.data(), n, &lo, &hi);
    ASSERT_EQ(lo, mn) << "n=" << n;
    ASSERT_EQ(hi, mx) << "n=" << n;
  }
  EXPECT_EQ(row_max(x.data(), 0), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(row_absmax(x.data(), 0), 0.0f);
}

}  // namespace
}  // namespace optimum::kernels
