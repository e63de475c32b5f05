#include "optimum/kernels/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "optimum/core/errors.h"
#include "vectorize.h"
#include "optimum/kernels/gemm.h"
#if defined(__aarch64__)
#include "neon.h"
#endif

namespace optimum::kernels {

namespace {

#if OPTIMUM_KERNELS_X86
using detail::tail_mask;
#endif

// Element-wise loops below are branch-free so the compiler vectorizes them
// (`omp simd`); the hot ones are OPTIMUM_MULTIVERSION (AVX-512, AVX2, baseline).

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
  constexpr float kMagic = detail::kRoundMagic;
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

OPTIMUM_BODY void layer_norm_row_body(const float* x, const float* r, const float* gamma, const float* beta,
                                      float eps, int64_t cols, float* o) {
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
OPTIMUM_MULTIVERSION(void, layer_norm_row,
                     (const float* x, const float* r, const float* gamma, const float* beta, float eps,
                      int64_t cols, float* o),
                     (x, r, gamma, beta, eps, cols, o))

#if OPTIMUM_KERNELS_X86
// GCC 12 warns inside its own _mm512_max_ps (an _mm512_undefined_ps operand).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
OPTIMUM_AVX512 float lanes_max(__m512 m) {
  alignas(64) float t[16];
  _mm512_store_ps(t, m);
  float r = t[0];
  for (int l = 1; l < 16; ++l) r = std::max(r, t[l]);
  return r;
}

OPTIMUM_AVX512 float row_max_avx512(const float* x, int64_t n) {
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m = lowest;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    m = _mm512_max_ps(m, _mm512_mask_loadu_ps(lowest, mask, x + i));
  }
  return lanes_max(m);
}

OPTIMUM_AVX512 float row_absmax_avx512(const float* x, int64_t n) {
  __m512 m = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + i)));
  }
  return lanes_max(m);
}

OPTIMUM_AVX512 void row_minmax_avx512(const float* x, int64_t n, float* lo, float* hi) {
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mn = inf;
  __m512 mx = ninf;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    mn = _mm512_min_ps(mn, v);
    mx = _mm512_max_ps(mx, v);
  }
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    mn = _mm512_min_ps(mn, _mm512_mask_loadu_ps(inf, mask, x + i));
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, mask, x + i));
  }
  *hi = lanes_max(mx);
  *lo = -lanes_max(_mm512_sub_ps(_mm512_setzero_ps(), mn));
}


// f32 bits -> bf16 bits (in the low half of each lane), round to nearest
// even; NaN stays a (quiet) NaN.
OPTIMUM_AVX512 inline __m512i bf16_bits(__m512i b) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7FFF)), lsb), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epi32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
}

OPTIMUM_AVX512 void to_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i b = bf16_bits(_mm512_castps_si512(_mm512_loadu_ps(x + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(b));
  }
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    _mm512_mask_cvtepi32_storeu_epi16(out + i, mask, bf16_bits(_mm512_castps_si512(_mm512_maskz_loadu_ps(mask, x + i))));
  }
}

#pragma GCC diagnostic pop

// AVX2 twins of the reductions above (masked tails read only the row's lanes).
OPTIMUM_AVX2 float row_max_avx2(const float* x, int64_t n) {
  const __m256 lowest = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 m = lowest;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  if (i < n) {
    const __m256i mask = detail::tail_mask8(n - i);
    m = _mm256_max_ps(m, _mm256_blendv_ps(lowest, _mm256_maskload_ps(x + i, mask), _mm256_castsi256_ps(mask)));
  }
  return detail::hmax8(m);
}

OPTIMUM_AVX2 float row_absmax_avx2(const float* x, int64_t n) {
  const __m256 abs_bits = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(abs_bits, _mm256_loadu_ps(x + i)));
  if (i < n) m = _mm256_max_ps(m, _mm256_and_ps(abs_bits, _mm256_maskload_ps(x + i, detail::tail_mask8(n - i))));
  return detail::hmax8(m);
}

OPTIMUM_AVX2 void row_minmax_avx2(const float* x, int64_t n, float* lo, float* hi) {
  __m256 mn = _mm256_set1_ps(x[0]);
  __m256 mx = mn;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    mn = _mm256_min_ps(mn, v);
    mx = _mm256_max_ps(mx, v);
  }
  if (i < n) {
    // Lanes past the row read x[0] (already counted) instead of memory.
    const __m256i mask = detail::tail_mask8(n - i);
    const __m256 v = _mm256_blendv_ps(_mm256_set1_ps(x[0]), _mm256_maskload_ps(x + i, mask), _mm256_castsi256_ps(mask));
    mn = _mm256_min_ps(mn, v);
    mx = _mm256_max_ps(mx, v);
  }
  *hi = detail::hmax8(mx);
  *lo = -detail::hmax8(_mm256_sub_ps(_mm256_setzero_ps(), mn));
}

// f32 bits -> bf16 bits in the low half of each lane (as bf16_bits above).
OPTIMUM_AVX2 inline __m256i bf16_bits8(__m256i b) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
  return _mm256_blendv_epi8(rounded, quiet, nan);
}

OPTIMUM_AVX2 void to_bf16_avx2(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = bf16_bits8(_mm256_castps_si256(_mm256_loadu_ps(x + i)));
    const __m256i b = bf16_bits8(_mm256_castps_si256(_mm256_loadu_ps(x + i + 8)));
    // packus works per 128-bit lane: [a0-3 b0-3 a4-7 b4-7] -> reorder the quadwords.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), packed);
  }
  for (; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, &x[i], sizeof b);
    const uint32_t rounded = b + 0x7FFFu + ((b >> 16) & 1u);
    const bool nan = (b & 0x7FFFFFFFu) > 0x7F800000u;
    out[i] = static_cast<uint16_t>(nan ? (b >> 16) | 0x40u : rounded >> 16);
  }
}
#endif  // OPTIMUM_KERNELS_X86

}  // namespace

std::string vector_isa_name() {
  switch (detail::vector_isa()) {
    case detail::VectorIsa::Avx512:
      return "avx512";
    case detail::VectorIsa::Avx2:
      return "avx2";
    case detail::VectorIsa::Baseline:
      break;
  }
#if defined(__aarch64__)
  return "neon";  // the portable loops, vectorized for NEON (the aarch64 baseline)
#else
  return "baseline";
#endif
}

float row_max(const float* x, int64_t n) {
#if OPTIMUM_KERNELS_X86
  if (detail::avx512_allowed()) return row_max_avx512(x, n);
  if (detail::vector_isa() == detail::VectorIsa::Avx2) return row_max_avx2(x, n);
#endif
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

void row_minmax(const float* x, int64_t n, float* lo, float* hi) {
#if OPTIMUM_KERNELS_X86
  if (detail::avx512_allowed()) {
    row_minmax_avx512(x, n, lo, hi);
    return;
  }
  if (detail::vector_isa() == detail::VectorIsa::Avx2) {
    row_minmax_avx2(x, n, lo, hi);
    return;
  }
#endif
  float a = x[0];
  float b = x[0];
  for (int64_t i = 1; i < n; ++i) {
    a = std::min(a, x[i]);
    b = std::max(b, x[i]);
  }
  *lo = a;
  *hi = b;
}

float row_absmax(const float* x, int64_t n) {
#if OPTIMUM_KERNELS_X86
  if (detail::avx512_allowed()) return row_absmax_avx512(x, n);
  if (detail::vector_isa() == detail::VectorIsa::Avx2) return row_absmax_avx2(x, n);
#endif
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

void to_bf16_span(const float* x, int64_t n, uint16_t* out) {
#if OPTIMUM_KERNELS_X86
  if (detail::avx512_allowed()) {
    to_bf16_avx512(x, n, out);
    return;
  }
  if (detail::vector_isa() == detail::VectorIsa::Avx2) {
    to_bf16_avx2(x, n, out);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, &x[i], sizeof b);
    const uint32_t rounded = b + 0x7FFFu + ((b >> 16) & 1u);
    const bool nan = (b & 0x7FFFFFFFu) > 0x7F800000u;
    out[i] = static_cast<uint16_t>(nan ? (b >> 16) | 0x40u : rounded >> 16);
  }
}

void to_bf16(const float* x, int64_t n, uint16_t* out) {
  constexpr int64_t kChunk = 16384;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; c += kChunk) to_bf16_span(x + c, std::min(kChunk, n - c), out + c);
}

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

namespace {

// erf(x), absolute error < 2e-7 (Abramowitz & Stegun 7.1.26, with vexp).
inline float verf(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * vexp(-ax * ax);
  return std::copysign(y, x);
}

// tanh(x) = sign(x)·(1 - e)/(1 + e), e = exp(-2|x|).
inline float vtanh(float x) {
  const float e = vexp(-2.0f * std::fabs(x));
  return std::copysign((1.0f - e) / (1.0f + e), x);
}

OPTIMUM_BODY void gelu_erf_span_body(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + verf(x[i] * 0.7071067811865476f));
}
OPTIMUM_MULTIVERSION(void, gelu_erf_span, (float* x, int64_t n), (x, n))

OPTIMUM_BODY void gelu_tanh_span_body(float* x, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
}
OPTIMUM_MULTIVERSION(void, gelu_tanh_span, (float* x, int64_t n), (x, n))

OPTIMUM_BODY void sigmoid_mul_span_body(float* x, int64_t n, float alpha) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + vexp(-alpha * x[i]));
}
OPTIMUM_MULTIVERSION(void, sigmoid_mul_span, (float* x, int64_t n, float alpha), (x, n, alpha))

#if OPTIMUM_KERNELS_X86
// AVX2 spans of the three above (GCC leaves the scalar forms unvectorized for
// AVX2: the clamps become branches). F maps 8 lanes.
template <__m256 (*F)(__m256, __m256)>
OPTIMUM_AVX2 void map8(float* x, int64_t n, __m256 arg) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, F(_mm256_loadu_ps(x + i), arg));
  if (i < n) {
    const __m256i m = detail::tail_mask8(n - i);
    _mm256_maskstore_ps(x + i, m, F(_mm256_maskload_ps(x + i, m), arg));
  }
}

OPTIMUM_AVX2 inline __m256 sign_of(__m256 x) { return _mm256_and_ps(x, _mm256_set1_ps(-0.0f)); }
OPTIMUM_AVX2 inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

OPTIMUM_AVX2 inline __m256 gelu_erf8(__m256 v, __m256) {
  const __m256 z = _mm256_mul_ps(v, _mm256_set1_ps(0.7071067811865476f));
  const __m256 az = abs8(z);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, one));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  const __m256 e = detail::exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
  const __m256 erf = _mm256_or_ps(_mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, one), sign_of(z));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(one, erf));
}

OPTIMUM_AVX2 inline __m256 gelu_tanh8(__m256 v, __m256) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
  const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
  const __m256 e = detail::exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), abs8(u)));
  const __m256 th = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), sign_of(u));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(one, th));
}

// v·sigmoid(alpha·v); neg_alpha = -alpha in every lane.
OPTIMUM_AVX2 inline __m256 sigmoid_mul8(__m256 v, __m256 neg_alpha) {
  return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), detail::exp8(_mm256_mul_ps(neg_alpha, v))));
}

OPTIMUM_AVX2 void gelu_erf_avx2(float* x, int64_t n) { map8<gelu_erf8>(x, n, _mm256_setzero_ps()); }
OPTIMUM_AVX2 void gelu_tanh_avx2(float* x, int64_t n) { map8<gelu_tanh8>(x, n, _mm256_setzero_ps()); }
OPTIMUM_AVX2 void sigmoid_mul_avx2(float* x, int64_t n, float alpha) {
  map8<sigmoid_mul8>(x, n, _mm256_set1_ps(-alpha));
}

// The hand-vectorized spans: AVX2 where vector_isa() is AVX2 (the AVX-512 and
// baseline paths are the OPTIMUM_MULTIVERSION spans).
inline bool vector_spans() { return detail::vector_isa() == detail::VectorIsa::Avx2; }
inline void gelu_erf_vector(float* x, int64_t n) { gelu_erf_avx2(x, n); }
inline void gelu_tanh_vector(float* x, int64_t n) { gelu_tanh_avx2(x, n); }
inline void sigmoid_mul_vector(float* x, int64_t n, float alpha) { sigmoid_mul_avx2(x, n, alpha); }
#elif defined(__aarch64__)
// NEON (neon.h), always there on aarch64.
constexpr bool vector_spans() { return true; }
inline void gelu_erf_vector(float* x, int64_t n) { detail::gelu_erf_neon(x, n); }
inline void gelu_tanh_vector(float* x, int64_t n) { detail::gelu_tanh_neon(x, n); }
inline void sigmoid_mul_vector(float* x, int64_t n, float alpha) { detail::sigmoid_mul_neon(x, n, alpha); }
#else
// Elsewhere the portable spans only.
constexpr bool vector_spans() { return false; }
inline void gelu_erf_vector(float* x, int64_t n) { gelu_erf_span(x, n); }
inline void gelu_tanh_vector(float* x, int64_t n) { gelu_tanh_span(x, n); }
inline void sigmoid_mul_vector(float* x, int64_t n, float alpha) { sigmoid_mul_span(x, n, alpha); }
#endif

}  // namespace

void activation_span(float* x, int64_t n, Activation act) {
  const bool vec = vector_spans();
  switch (act) {
    case Activation::Identity:
      return;
    case Activation::Gelu:
      vec ? gelu_erf_vector(x, n) : gelu_erf_span(x, n);
      return;
    case Activation::GeluTanh:
    case Activation::GeluFast:  // the same function, written differently in transformers
      vec ? gelu_tanh_vector(x, n) : gelu_tanh_span(x, n);
      return;
    case Activation::QuickGelu:
      vec ? sigmoid_mul_vector(x, n, 1.702f) : sigmoid_mul_span(x, n, 1.702f);
      return;
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
      return;
    case Activation::Silu:
      vec ? sigmoid_mul_vector(x, n, 1.0f) : sigmoid_mul_span(x, n, 1.0f);
      return;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

void apply_activation(float* x, int64_t n, Activation act) {
  if (act == Activation::Identity) return;
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; c += kChunk) activation_span(x + c, std::min(kChunk, n - c), act);
}

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                double eps, int64_t rows, int64_t cols, float* out, uint16_t* out_bf16) {
  const auto e = static_cast<float>(eps);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    layer_norm_row(x + r * cols, residual != nullptr ? residual + r * cols : nullptr, gamma, beta, e, cols,
                   out + r * cols);
    if (out_bf16 != nullptr) to_bf16_span(out + r * cols, cols, out_bf16 + r * cols);
  }
}

namespace {

OPTIMUM_BODY void softmax_row_any_body(float* x, int64_t n) {
  const float mx = row_max(x, n);
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
OPTIMUM_MULTIVERSION(void, softmax_row_any, (float* x, int64_t n), (x, n))

#if OPTIMUM_KERNELS_X86
OPTIMUM_AVX2 inline __m256 scale8(__m256 v, __m256 s) { return _mm256_mul_ps(v, s); }

OPTIMUM_AVX2 void softmax_row_avx2(float* x, int64_t n) {
  const float mx = row_max_avx2(x, n);
  if (mx == -std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / static_cast<float>(n);
    return;
  }
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = detail::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {
    const __m256i m = detail::tail_mask8(n - i);
    const __m256 e = _mm256_and_ps(detail::exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)),
                                   _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(x + i, m, e);
    sum = _mm256_add_ps(sum, e);
  }
  const float total = detail::hsum8(sum);
  map8<scale8>(x, n, _mm256_set1_ps(1.0f / total));
}
#endif  // OPTIMUM_KERNELS_X86

}  // namespace

void softmax_row(float* x, int64_t n) {
#if OPTIMUM_KERNELS_X86
  if (detail::vector_isa() == detail::VectorIsa::Avx2) {
    softmax_row_avx2(x, n);
    return;
  }
#elif defined(__aarch64__)
  detail::softmax_row_neon(x, n);
  return;
#endif
  softmax_row_any(x, n);
}

}  // namespace optimum::kernels
