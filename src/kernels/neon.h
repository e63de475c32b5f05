// Private to the kernels layer, aarch64 only: NEON (4-lane) twins of the AVX2
// element-wise loops in ops.cc (exp, GELU erf / tanh, x·sigmoid(a·x), the
// softmax row), with the same polynomials, so every ISA computes the same
// approximations. GCC leaves the portable forms scalar (the clamps become
// branches), as it does for AVX2. NEON (Advanced SIMD) is part of ARMv8-A:
// no run-time check is needed.
#pragma once

#if !defined(__aarch64__)
#error "neon.h is for aarch64 builds only"
#endif

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <limits>

namespace optimum::kernels::detail {

// exp(x) per lane: ops.cc's scalar vexp (Cody-Waite reduction, degree-7
// polynomial, relative error ~2e-7), exactly 0 below -87 (and for -inf).
inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.0f);
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(88.0f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(xc, 1.44269504088896341f));  // nearest, ties to even
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), vcgeq_f32(x, lo)));
}

// The sign bit of each lane of s put on each lane of v (v non-negative).
inline float32x4_t with_sign_of(float32x4_t v, float32x4_t s) {
  const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(0x80000000u));
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(v), sign));
}

// 0.5·v·(1 + erf(v/√2)), erf by Abramowitz & Stegun 7.1.26 (ops.cc's verf).
inline float32x4_t gelu_erf4(float32x4_t v, float32x4_t) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t z = vmulq_n_f32(v, 0.7071067811865476f);
  const float32x4_t az = vabsq_f32(z);
  const float32x4_t t = vdivq_f32(one, vfmaq_f32(one, vdupq_n_f32(0.3275911f), az));
  float32x4_t p = vdupq_n_f32(1.061405429f);
  p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
  p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
  p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
  p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
  const float32x4_t e = exp4(vnegq_f32(vmulq_f32(az, az)));
  const float32x4_t erf = with_sign_of(vfmsq_f32(one, vmulq_f32(p, t), e), z);
  return vmulq_f32(vmulq_n_f32(v, 0.5f), vaddq_f32(one, erf));
}

// 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))), tanh(u) = sign(u)·(1 - e)/(1 + e), e = exp(-2|u|).
inline float32x4_t gelu_tanh4(float32x4_t v, float32x4_t) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t v3 = vmulq_f32(vmulq_f32(v, v), v);
  const float32x4_t u = vmulq_n_f32(vfmaq_f32(v, vdupq_n_f32(0.044715f), v3), 0.7978845608028654f);
  const float32x4_t e = exp4(vmulq_n_f32(vabsq_f32(u), -2.0f));
  const float32x4_t th = with_sign_of(vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e)), u);
  return vmulq_f32(vmulq_n_f32(v, 0.5f), vaddq_f32(one, th));
}

// v·sigmoid(alpha·v); neg_alpha = -alpha in every lane.
inline float32x4_t sigmoid_mul4(float32x4_t v, float32x4_t neg_alpha) {
  return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), exp4(vmulq_f32(neg_alpha, v))));
}

// x[i] = F(x[i], arg) over n values (the tail through a 4-lane buffer).
template <float32x4_t (*F)(float32x4_t, float32x4_t)>
inline void map4(float* x, int64_t n, float32x4_t arg) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, F(vld1q_f32(x + i), arg));
  if (i < n) {
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const auto left = static_cast<size_t>(n - i);
    std::memcpy(tail, x + i, left * sizeof(float));
    vst1q_f32(tail, F(vld1q_f32(tail), arg));
    std::memcpy(x + i, tail, left * sizeof(float));
  }
}

inline void gelu_erf_neon(float* x, int64_t n) { map4<gelu_erf4>(x, n, vdupq_n_f32(0.0f)); }
inline void gelu_tanh_neon(float* x, int64_t n) { map4<gelu_tanh4>(x, n, vdupq_n_f32(0.0f)); }
inline void sigmoid_mul_neon(float* x, int64_t n, float alpha) { map4<sigmoid_mul4>(x, n, vdupq_n_f32(-alpha)); }

// In-place softmax of one row (a row of -inf only gives the uniform row, as transformers).
inline void softmax_row_neon(float* x, int64_t n) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float32x4_t vmax = vdupq_n_f32(kNegInf);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
  float mx = vmaxvq_f32(vmax);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  if (mx == kNegInf) {
    for (int64_t j = 0; j < n; ++j) x[j] = 1.0f / static_cast<float>(n);
    return;
  }
  const float32x4_t vm = vdupq_n_f32(mx);
  float32x4_t sum = vdupq_n_f32(0.0f);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
    vst1q_f32(x + i, e);
    sum = vaddq_f32(sum, e);
  }
  if (i < n) {
    float tail[4] = {kNegInf, kNegInf, kNegInf, kNegInf};  // exp4 gives 0 in the unused lanes
    const auto left = static_cast<size_t>(n - i);
    std::memcpy(tail, x + i, left * sizeof(float));
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(tail), vm));
    vst1q_f32(tail, e);
    std::memcpy(x + i, tail, left * sizeof(float));
    sum = vaddq_f32(sum, e);
  }
  const float inv = 1.0f / vaddvq_f32(sum);
  i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace optimum::kernels::detail
