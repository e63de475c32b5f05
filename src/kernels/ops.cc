#include "optimum/kernels/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/kernels/gemm.h"

namespace optimum::kernels {

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
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* rr = residual != nullptr ? residual + r * cols : nullptr;
    float* o = out + r * cols;
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = rr != nullptr ? xr[c] + rr[c] : xr[c];
      o[c] = v;
      sum += v;
    }
    const double mean = sum / static_cast<double>(cols);
    double var = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = o[c] - mean;
      var += d * d;
    }
    var /= static_cast<double>(cols);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t c = 0; c < cols; ++c) o[c] = (o[c] - m) * inv * gamma[c] + beta[c];
  }
}

void softmax_row(float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == -std::numeric_limits<float>::infinity()) {
    // Every key masked: transformers' additive finfo.min mask gives a uniform row.
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / static_cast<float>(n);
    return;
  }
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void attention(const AttentionArgs& a) {
  const int64_t s = a.seq;
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const float neg_inf = -std::numeric_limits<float>::infinity();
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(s * s));
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const int64_t b = bh / a.heads;
      const int64_t h = bh % a.heads;
      const int64_t row0 = b * s;
      const float* q = a.q + row0 * a.ld_qkv + h * a.head_dim;
      const float* k = a.k + row0 * a.ld_qkv + h * a.head_dim;
      const float* v = a.v + row0 * a.ld_qkv + h * a.head_dim;
      sgemm(false, true, s, s, a.head_dim, scale, q, a.ld_qkv, k, a.ld_qkv, 0.0f, scores.data(), s);
      const int64_t* mask = a.mask != nullptr ? a.mask + b * s : nullptr;
      const float* bias = a.bias != nullptr ? a.bias + h * s * s : nullptr;
      for (int64_t i = 0; i < s; ++i) {
        float* row = scores.data() + i * s;
        if (bias != nullptr) {
          for (int64_t j = 0; j < s; ++j) row[j] += bias[i * s + j];
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
