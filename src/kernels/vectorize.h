// Private to the kernels layer: what the hand-vectorized loops share.
#pragma once

// OPTIMUM_KERNELS_X86: the hand-written AVX2 / AVX-512 / AMX loops are compiled
// (x86-64 only). Elsewhere (aarch64) only the portable loops are: the
// OPTIMUM_BODY functions below, which the compiler vectorizes for the target's
// baseline (NEON on aarch64), and the scalar reference paths.
#if defined(__x86_64__) || defined(__i386__)
#define OPTIMUM_KERNELS_X86 1
#include <immintrin.h>
#else
#define OPTIMUM_KERNELS_X86 0
#endif

#include <cstdint>

namespace optimum::kernels::detail {

// 1.5 * 2^23: adding it and subtracting it again rounds an f32 with
// |x| < 2^22 to the nearest integer, ties to even, in the default rounding
// mode; unlike std::nearbyint it vectorizes (no libm call).
inline constexpr float kRoundMagic = 12582912.0f;

inline float round_even(float x) { return (x + kRoundMagic) - kRoundMagic; }

#if OPTIMUM_KERNELS_X86
// The target of the hand-written AVX-512 loops, and whether they may run here.
#define OPTIMUM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
inline bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}
#endif

// has_avx512() and not capped below avx512_core by OPTIMUM_CPU_ISA, which
// then forces the generic loops too (defined in matmul.cc, beside the cap).
bool avx512_allowed();
// AMX-BF16 tiles usable (CPU, OS permission, not capped below
// avx512_core_amx); also in matmul.cc.
bool amx_bf16_allowed();

#if OPTIMUM_KERNELS_X86
// AVX2 with FMA (Haswell / Zen and later): the floor the project targets on x86.
#define OPTIMUM_AVX2 __attribute__((target("avx2,fma")))
#endif

// Which hand-vectorized path runs: the CPU's best, capped by OPTIMUM_CPU_ISA
// (so the AVX2 stand-in on an AVX-512 machine runs the AVX2 code a real AVX2
// CPU runs; target_clones would pick by the CPU alone). In matmul.cc. Always
// Baseline off x86 (the portable loops, NEON-vectorized on aarch64).
enum class VectorIsa { Baseline, Avx2, Avx512 };
VectorIsa vector_isa();

// OPTIMUM_MULTIVERSION(ret, name, (params), (args)) defines `ret name(params)`
// that runs `name##_body(args)` (an OPTIMUM_BODY function: plain loops with
// `omp simd`) compiled for AVX-512, AVX2+FMA or the baseline, by vector_isa().
#define OPTIMUM_BODY static inline __attribute__((always_inline))
#if OPTIMUM_KERNELS_X86
#define OPTIMUM_MULTIVERSION(ret, name, params, args)                                      \
  OPTIMUM_AVX512 ret name##_avx512 params { return name##_body args; }                     \
  OPTIMUM_AVX2 ret name##_avx2 params { return name##_body args; }                         \
  ret name##_baseline params { return name##_body args; }                                  \
  ret name params {                                                                        \
    switch (::optimum::kernels::detail::vector_isa()) {                                    \
      case ::optimum::kernels::detail::VectorIsa::Avx512:                                  \
        return name##_avx512 args;                                                         \
      case ::optimum::kernels::detail::VectorIsa::Avx2:                                    \
        return name##_avx2 args;                                                           \
      default:                                                                             \
        return name##_baseline args;                                                       \
    }                                                                                      \
  }
#else
#define OPTIMUM_MULTIVERSION(ret, name, params, args) \
  ret name params { return name##_body args; }
#endif

#if OPTIMUM_KERNELS_X86
// Horizontal sum and max of 8 lanes.
OPTIMUM_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
OPTIMUM_AVX2 inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(x) per lane: ops.cc's scalar vexp (Cody-Waite reduction, degree-7
// polynomial, relative error ~2e-7), exactly 0 below -87 (and for -inf).
OPTIMUM_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}

// The AVX2 lane mask of the first min(left, 8) lanes (for maskload/maskstore).
OPTIMUM_AVX2 inline __m256i tail_mask8(int64_t left) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int n = left <= 0 ? 0 : (left >= 8 ? 8 : static_cast<int>(left));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

// The AVX-512 lane mask of the first min(left, 16) lanes (0 when left <= 0),
// for a loop's last partial vector.
inline __mmask16 tail_mask(int64_t left) {
  if (left <= 0) return 0;
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}
#endif  // OPTIMUM_KERNELS_X86

}  // namespace optimum::kernels::detail
