// PackedLinear (oneDNN matmul, f32 / bf16 / s8) against naive references:
// errors within the bounds each precision implies, odd shapes, fused
// activations, and quantize_rows_s8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "optimum/core/dtype.h"
#include "optimum/core/errors.h"
#include "optimum/kernels/matmul.h"
#include "optimum/kernels/ops.h"
#include "test_util.h"

namespace optimum::kernels {
namespace {

using test_util::throws_with;

struct Problem {
  int64_t m, n, k;
  std::vector<float> x, w, b;
};

Problem make(int64_t m, int64_t n, int64_t k, uint32_t seed, float x_scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Problem p{m, n, k, {}, {}, {}};
  p.x.resize(static_cast<size_t>(m * k));
  p.w.resize(static_cast<size_t>(n * k));
  p.b.resize(static_cast<size_t>(n));
  for (float& v : p.x) v = d(rng) * x_scale;
  for (float& v : p.w) v = d(rng) * 0.1f;
  for (float& v : p.b) v = d(rng);
  return p;
}

// Symmetric per-row int8 as documented: s = max|row| / 127 (1 for zero rows), q = round(v / s).
float quantize_reference(const float* v, int64_t k, std::vector<int32_t>& q) {
  float amax = 0;
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(v[i]));
  const float s = amax > 0 ? amax / 127.0f : 1.0f;
  q.resize(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    q[static_cast<size_t>(i)] =
        static_cast<int32_t>(std::clamp(std::nearbyint(v[i] * (1.0f / s)), -127.0f, 127.0f));
  }
  return s;
}

// y = x·Wᵀ + b in double, and the error bound of `type` per element.
void reference(const Problem& p, bool bias, WeightType type, std::vector<double>& y,
               std::vector<double>& tol) {
  y.assign(static_cast<size_t>(p.m * p.n), 0.0);
  tol.assign(y.size(), 0.0);
  for (int64_t r = 0; r < p.m; ++r) {
    const float* xr = &p.x[static_cast<size_t>(r * p.k)];
    float xmax = 0;
    for (int64_t i = 0; i < p.k; ++i) xmax = std::max(xmax, std::fabs(xr[i]));
    const double sx = xmax > 0 ? xmax / 127.0 : 1.0;
    for (int64_t c = 0; c < p.n; ++c) {
      const float* wc = &p.w[static_cast<size_t>(c * p.k)];
      float wmax = 0;
      for (int64_t i = 0; i < p.k; ++i) wmax = std::max(wmax, std::fabs(wc[i]));
      const double sw = wmax > 0 ? wmax / 127.0 : 1.0;
      double acc = bias ? p.b[static_cast<size_t>(c)] : 0.0;
      double mag = 0;
      for (int64_t i = 0; i < p.k; ++i) {
        acc += static_cast<double>(xr[i]) * wc[i];
        mag += std::fabs(static_cast<double>(xr[i]) * wc[i]);
      }
      const size_t o = static_cast<size_t>(r * p.n + c);
      y[o] = acc;
      switch (type) {
        case WeightType::F32:  // f32 accumulation
          tol[o] = 1e-5 * (mag + std::fabs(acc)) + 1e-6;
          break;
        case WeightType::BF16:  // x and w each rounded to 8 significant bits
          tol[o] = (2.0 * std::ldexp(1.0, -9) + 1e-5) * mag + 1e-5;
          break;
        case WeightType::S8:  // |dx| <= sx/2, |dw| <= sw/2 per element
          tol[o] =
              static_cast<double>(p.k) * (xmax * sw / 2 + wmax * sx / 2 + sx * sw / 4) + 1e-5 * mag + 1e-5;
          break;
      }
    }
  }
}

struct Case {
  WeightType type;
  int64_t m, n, k;
};

class PackedLinearShapes : public ::testing::TestWithParam<Case> {};

TEST_P(PackedLinearShapes, MatchesNaiveReferenceWithinPrecisionBound) {
  const Case c = GetParam();
  for (bool bias : {true, false}) {
    const Problem p = make(c.m, c.n, c.k, static_cast<uint32_t>(c.m * 1000 + c.n * 10 + c.k));
    const PackedLinear lin =
        PackedLinear::from_f32(p.w.data(), p.n, p.k, bias ? p.b.data() : nullptr, c.type);
    // Without a bf16 matmul (AVX2-only CPUs, OPTIMUM_CPU_ISA=avx2) bf16 layers are packed in f32.
    const WeightType packed = c.type == WeightType::BF16 && !bf16_supported() ? WeightType::F32 : c.type;
    EXPECT_EQ(lin.type(), packed);
    EXPECT_EQ(lin.in(), c.k);
    EXPECT_EQ(lin.out(), c.n);
    std::vector<float> y(static_cast<size_t>(c.m * c.n), std::nanf(""));
    lin.forward(p.x.data(), c.m, y.data());
    std::vector<double> want, tol;
    reference(p, bias, c.type, want, tol);
    double worst = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << "index " << i;
      ASSERT_LE(std::fabs(y[i] - want[i]), tol[i]) << weight_type_name(c.type) << " m=" << c.m << " n=" << c.n
                                                   << " k=" << c.k << " index " << i << " bias " << bias;
      worst = std::max(worst, std::fabs(y[i] - want[i]));
    }
    // Low precision really is low precision (the test would pass for an f32 path otherwise).
    if (packed != WeightType::F32 && c.k >= 16) {
      EXPECT_GT(worst, 1e-5);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddShapes, PackedLinearShapes,
                         ::testing::Values(Case{WeightType::F32, 1, 5, 3}, Case{WeightType::F32, 7, 37, 19},
                                           Case{WeightType::F32, 33, 50, 77},
                                           Case{WeightType::F32, 33, 64, 128},
                                           Case{WeightType::BF16, 1, 5, 3}, Case{WeightType::BF16, 7, 37, 19},
                                           Case{WeightType::BF16, 33, 50, 77},
                                           Case{WeightType::BF16, 33, 64, 128}, Case{WeightType::S8, 1, 5, 3},
                                           Case{WeightType::S8, 7, 37, 19}, Case{WeightType::S8, 33, 50, 77},
                                           Case{WeightType::S8, 33, 64, 128},
                                           Case{WeightType::S8, 1, 384, 1536}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(weight_type_name(info.param.type)) + "_m" +
                                  std::to_string(info.param.m) + "_n" + std::to_string(info.param.n) + "_k" +
                                  std::to_string(info.param.k);
                         });

// Asymmetric per-row u8 as documented in matmul.h: range [min(x, 0), max(x, 0)] in L steps
// (L = int8_activation_levels(): 255, or 127 without VNNI), zero point round(-lo / s),
// q = round(clamp(x / s + zp, 0, L)) (ties to even).
float quantize_activation_reference(const float* v, int64_t k, std::vector<int32_t>& q, int32_t* zp) {
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < k; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  const auto top = static_cast<float>(int8_activation_levels());
  const float s = hi > lo ? (hi - lo) / top : 1.0f;
  const float inv = 1.0f / s;
  const float zpf = std::clamp(std::nearbyint(-lo * inv), 0.0f, top);
  *zp = static_cast<int32_t>(zpf);
  q.resize(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    q[static_cast<size_t>(i)] =
        static_cast<int32_t>(std::nearbyint(std::clamp(v[i] * inv + zpf, 0.0f, top)));
  }
  return s;
}

// The s8 path is exactly: quantize each row of x, integer accumulation,
// y = sx·Σ(qx - zp)·qw·sw + b (qw in 7 bits where the kernel is onednn-w7).
TEST(PackedLinearS8, EqualsSimulatedQuantization) {
  Problem p = make(33, 37, 77, 7, 3.0f);
  for (int64_t i = 0; i < p.k; ++i)
    p.x[static_cast<size_t>(2 * p.k + i)] =
        std::fabs(p.x[static_cast<size_t>(2 * p.k + i)]);  // one-signed row
  const PackedLinear lin = PackedLinear::from_f32(p.w.data(), p.n, p.k, p.b.data(), WeightType::S8);
  std::vector<float> y(static_cast<size_t>(p.m * p.n));
  lin.forward(p.x.data(), p.m, y.data());
  std::vector<int32_t> qx, qw;
  for (int64_t r = 0; r < p.m; ++r) {
    int32_t zp = 0;
    const float sx = quantize_activation_reference(&p.x[static_cast<size_t>(r * p.k)], p.k, qx, &zp);
    for (int64_t c = 0; c < p.n; ++c) {
      float sw = quantize_reference(&p.w[static_cast<size_t>(c * p.k)], p.k, qw);
      if (int8_weight_levels() == 63) {  // onednn-w7 (no VNNI): weights requantized to 7 bits at pack
        constexpr float kRatio = 63.0f / 127.0f;
        for (int32_t& v : qw) v = static_cast<int32_t>(std::nearbyint(static_cast<float>(v) * kRatio));
        sw = sw / kRatio;
      }
      int64_t acc = 0;
      for (int64_t i = 0; i < p.k; ++i) acc += (qx[static_cast<size_t>(i)] - zp) * qw[static_cast<size_t>(i)];
      const double want = static_cast<double>(acc) * sx * sw + p.b[static_cast<size_t>(c)];
      EXPECT_NEAR(y[static_cast<size_t>(r * p.n + c)], want, 1e-5 * (std::fabs(want) + 1)) << r << "," << c;
    }
  }
}

TEST(PackedLinearS8, FromS8MatchesFromF32) {
  const Problem p = make(7, 50, 77, 11);
  std::vector<int8_t> q(p.w.size());
  std::vector<float> scales(static_cast<size_t>(p.n));
  quantize_rows_s8(p.w.data(), p.n, p.k, q.data(), scales.data());
  const PackedLinear a = PackedLinear::from_f32(p.w.data(), p.n, p.k, p.b.data(), WeightType::S8);
  const PackedLinear b = PackedLinear::from_s8(q.data(), scales.data(), p.n, p.k, p.b.data());
  EXPECT_EQ(b.type(), WeightType::S8);
  std::vector<float> ya(static_cast<size_t>(p.m * p.n)), yb(ya.size());
  a.forward(p.x.data(), p.m, ya.data());
  b.forward(p.x.data(), p.m, yb.data());
  EXPECT_EQ(ya, yb);
}

TEST(QuantizeRowsS8, ScalesRoundingAndZeroRows) {
  const int64_t n = 3, k = 5;
  const std::vector<float> w = {0.0f,   0.0f,   0.0f,    0.0f,   0.0f,    // zero row: scale 1, all zeros
                                2.54f,  -1.27f, 0.01f,   -2.54f, 0.3f,    // scale 0.02
                                -1e-3f, 5e-4f,  2.4e-4f, 0.0f,   1e-3f};  // tiny values keep full range
  std::vector<int8_t> q(static_cast<size_t>(n * k), 99);
  std::vector<float> s(static_cast<size_t>(n));
  quantize_rows_s8(w.data(), n, k, q.data(), s.data());
  EXPECT_EQ(s[0], 1.0f);
  for (int i = 0; i < k; ++i) EXPECT_EQ(q[static_cast<size_t>(i)], 0);
  EXPECT_FLOAT_EQ(s[1], 2.54f / 127.0f);
  const std::vector<int> row1 = {127, -64, 0, -127,
                                 15};  // -1.27/0.02 = -63.5 -> -64 (nearest even); 0.3/0.02 = 15
  for (int i = 0; i < k; ++i) EXPECT_EQ(q[static_cast<size_t>(k + i)], row1[static_cast<size_t>(i)]) << i;
  EXPECT_FLOAT_EQ(s[2], 1e-3f / 127.0f);
  EXPECT_EQ(q[static_cast<size_t>(2 * k)], -127);
  EXPECT_EQ(q[static_cast<size_t>(2 * k + 4)], 127);
  for (int i = 0; i < k; ++i) {
    const float back = static_cast<float>(q[static_cast<size_t>(2 * k + i)]) * s[2];
    EXPECT_LE(std::fabs(back - w[static_cast<size_t>(2 * k + i)]), s[2] / 2 * 1.0001f) << i;
  }
}

TEST(PackedLinearS8, ZeroInputRowGivesBias) {
  const Problem p = make(3, 17, 33, 5);
  std::vector<float> x = p.x;
  std::fill(x.begin() + 33, x.begin() + 66, 0.0f);  // row 1 all zeros
  const PackedLinear lin = PackedLinear::from_f32(p.w.data(), p.n, p.k, p.b.data(), WeightType::S8);
  std::vector<float> y(static_cast<size_t>(p.m * p.n));
  lin.forward(x.data(), p.m, y.data());
  for (int64_t c = 0; c < p.n; ++c)
    EXPECT_FLOAT_EQ(y[static_cast<size_t>(p.n + c)], p.b[static_cast<size_t>(c)]);
}

class ActivationFusion : public ::testing::TestWithParam<WeightType> {};

TEST_P(ActivationFusion, FusedEqualsSeparate) {
  const WeightType type = GetParam();
  const Problem p = make(7, 37, 19, 3);
  const PackedLinear lin = PackedLinear::from_f32(p.w.data(), p.n, p.k, p.b.data(), type);
  std::vector<float> plain(static_cast<size_t>(p.m * p.n));
  lin.forward(p.x.data(), p.m, plain.data());
  for (Activation act : {Activation::Gelu, Activation::GeluTanh, Activation::GeluFast, Activation::QuickGelu,
                         Activation::Relu, Activation::Silu, Activation::Tanh}) {
    std::vector<float> fused(plain.size());
    lin.forward(p.x.data(), p.m, fused.data(), act);
    std::vector<float> separate = plain;
    apply_activation(separate.data(), static_cast<int64_t>(separate.size()), act);
    for (size_t i = 0; i < fused.size(); ++i) {
      ASSERT_NEAR(fused[i], separate[i], 2e-5 + 2e-5 * std::fabs(separate[i]))
          << activation_name(act) << " " << weight_type_name(type) << " index " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ActivationFusion,
                         ::testing::Values(WeightType::F32, WeightType::BF16, WeightType::S8),
                         [](const ::testing::TestParamInfo<WeightType>& info) {
                           return std::string(weight_type_name(info.param));
                         });

TEST(PackedLinear, FromBf16PacksTheStoredWeights) {
  const Problem p = make(9, 40, 33, 13);
  std::vector<uint16_t> h(p.w.size());
  to_bf16(p.w.data(), static_cast<int64_t>(p.w.size()), h.data());
  std::vector<float> rounded(h.size());  // the weights the bf16 ones stand for
  for (size_t i = 0; i < h.size(); ++i) rounded[i] = bf16_to_float(h[i]);
  const PackedLinear a = PackedLinear::from_f32(rounded.data(), p.n, p.k, p.b.data(), WeightType::BF16);
  const PackedLinear b = PackedLinear::from_bf16(h.data(), p.n, p.k, p.b.data());
  EXPECT_EQ(b.type(), a.type());
  std::vector<float> ya(static_cast<size_t>(p.m * p.n)), yb(ya.size());
  a.forward(p.x.data(), p.m, ya.data());
  b.forward(p.x.data(), p.m, yb.data());
  EXPECT_EQ(ya, yb);
}

TEST(PackedLinear, RowCountsReuseAndAreIndependent) {
  const Problem p = make(33, 37, 19, 9);
  const PackedLinear lin = PackedLinear::from_f32(p.w.data(), p.n, p.k, p.b.data(), WeightType::F32);
  std::vector<float> all(static_cast<size_t>(p.m * p.n)), one(static_cast<size_t>(p.n));
  lin.forward(p.x.data(), p.m, all.data());
  for (int64_t r : {int64_t{0}, int64_t{32}, int64_t{7}}) {
    lin.forward(p.x.data() + r * p.k, 1, one.data());
    for (int64_t c = 0; c < p.n; ++c) {
      EXPECT_NEAR(one[static_cast<size_t>(c)], all[static_cast<size_t>(r * p.n + c)], 1e-5f);
    }
  }
  lin.forward(p.x.data(), 0, nullptr);  // no rows: nothing to do
}

TEST(PackedLinear, Errors) {
  const PackedLinear empty;
  EXPECT_FALSE(empty.defined());
  float x = 0, y = 0;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { empty.forward(&x, 1, &y); }, {"empty layer"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { weight_type_from_name("fp16"); }, {"dtype 'fp16'"}));
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::S8}) {
    EXPECT_EQ(weight_type_from_name(weight_type_name(t)), t);
  }
  EXPECT_EQ(weight_type_from_name("bfloat16"), WeightType::BF16);
  EXPECT_EQ(weight_type_from_name("float32"), WeightType::F32);
}

}  // namespace
}  // namespace optimum::kernels
