#include "optimum/kernels/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/kernels/gemm.h"

namespace optimum::kernels {

namespace {

// Element-wise loops below are branch-free so the compiler vectorizes them
// (`omp simd`); the hot ones are built twice (AVX-512 and baseline) and the
// loader picks one for the CPU.
#define OPTIMUM_VECTOR_CLONES __attribute__((target_clones("avx512f", "default")))

inline float bits_to_float(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// exp(x) in f32, relative error ~2e-7: Cody-Waite reduction by ln 2, degree-7
// Taylor polynomial on [-ln2/2, ln2/2], 2^n built in the exponent bits.
// Exactly 0 below -87 (and for -inf); clamped at 88.
inline float vexp(float x) {
  constexpr float kLo = -87.0f;
  constexpr float kHi = 88.0f;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float xc = std::min(std::max(x, kLo), kHi);
  const float t = xc * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;
  const int32_t ni = float_to_bits(t) - float_to_bits(kMagic);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float y = p * bits_to_float((ni + 127) << 23);
  return x < kLo ? 0.0f : y;
}

OPTIMUM_VECTOR_CLONES void layer_norm_row(const float* x, const float* r, const float* gamma,
                                          const float* beta, float eps, int64_t cols, float* o) {
  float sum = 0.0f;
  if (r != nullptr) {
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; ++c) {
      o[c] = x[c] + r[c];
      sum += o[c];
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; ++c) {
      o[c] = x[c];
      sum += o[c];
    }
  }
  const float mean = sum / static_cast<float>(cols);
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int64_t c = 0; c < cols; ++c) {
    const float d = o[c] - mean;
    var += d * d;
  }
  var /= static_cast<float>(cols);
  const float inv = 1.0f / std::sqrt(var + eps);
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) o[c] = (o[c] - mean) * inv * gamma[c] + beta[c];
}

}  // namespace

Activation activation_from_name(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (name == "gelu_fast") return Activation::GeluFast;
  if (name == "quick_gelu") return Activation::QuickGelu;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "linear" || name == "identity") return Activation::Identity;
  throw Unsupported("activation '" + name +
                    "' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, "
                    "quick_gelu, relu, silu, swish, tanh, linear)");
}

std::string activation_name(Activation act) {
  switch (act) {
    case Activation::Identity:
      return "linear";
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_new";
    case Activation::GeluFast:
      return "gelu_fast";
    case Activation::QuickGelu:
      return "quick_gelu";
    case Activation::Relu:
      return "relu";
    case Activation::Silu:
      return "silu";
    case Activation::Tanh:
      return "tanh";
  }
  return "linear";
}

void apply_activation(float* x, int64_t n, Activation act) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  switch (act) {
    case Activation::Identity:
      return;
    case Activation::Gelu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
      return;
    case Activation::GeluTanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::GeluFast:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(v * kSqrt2OverPi * (1.0f + 0.044715f * v * v)));
      }
      return;
    case Activation::QuickGelu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
      return;
    case Activation::Relu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
      return;
    case Activation::Silu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
    case Activation::Tanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                double eps, int64_t rows, int64_t cols, float* out) {
  const auto e = static_cast<float>(eps);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    layer_norm_row(x + r * cols, residual != nullptr ? residual + r * cols : nullptr, gamma, beta, e, cols,
                   out + r * cols);
  }
}

OPTIMUM_VECTOR_CLONES void softmax_row(float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == -std::numeric_limits<float>::infinity()) {
    // Every key masked: transformers' additive finfo.min mask gives a uniform row.
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / static_cast<float>(n);
    return;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    x[i] = vexp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void attention(const AttentionArgs& a) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const bool packed = a.offsets != nullptr;
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const int64_t b = bh / a.heads;
      const int64_t h = bh % a.heads;
      const int64_t row0 = packed ? a.offsets[b] : b * a.seq;
      const int64_t s = packed ? a.lengths[b] : a.seq;
      if (s == 0) continue;
      scores.resize(static_cast<size_t>(s * s));
      const float* q = a.q + row0 * a.ld_qkv + h * a.head_dim;
      const float* k = a.k + row0 * a.ld_qkv + h * a.head_dim;
      const float* v = a.v + row0 * a.ld_qkv + h * a.head_dim;
      sgemm(false, true, s, s, a.head_dim, scale, q, a.ld_qkv, k, a.ld_qkv, 0.0f, scores.data(), s);
      const int64_t* mask = a.mask != nullptr && !packed ? a.mask + b * a.seq : nullptr;
      // The bias table is laid out for the padded length; packed items are prefixes of it.
      const float* bias = a.bias != nullptr ? a.bias + h * a.seq * a.seq : nullptr;
      for (int64_t i = 0; i < s; ++i) {
        float* row = scores.data() + i * s;
        if (bias != nullptr) {
          const float* brow = bias + i * a.seq;
          for (int64_t j = 0; j < s; ++j) row[j] += brow[j];
        }
        if (mask != nullptr) {
          for (int64_t j = 0; j < s; ++j) {
            if (mask[j] == 0) row[j] = neg_inf;
          }
        }
        softmax_row(row, s);
      }
      sgemm(false, false, s, a.head_dim, s, 1.0f, scores.data(), s, v, a.ld_qkv, 0.0f,
            a.out + row0 * hidden + h * a.head_dim, hidden);
    }
  }
}

}  // namespace optimum::kernels
