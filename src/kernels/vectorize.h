// Private to the kernels layer: what the hand-vectorized loops share.
#pragma once

#include <immintrin.h>

#include <cstdint>

// Built twice (AVX-512 and baseline); the loader picks the clone for the CPU.
#define OPTIMUM_VECTOR_CLONES __attribute__((target_clones("avx512f", "default")))

namespace optimum::kernels::detail {

// 1.5 * 2^23: adding it and subtracting it again rounds an f32 with
// |x| < 2^22 to the nearest integer, ties to even, in the default rounding
// mode; unlike std::nearbyint it vectorizes (no libm call).
inline constexpr float kRoundMagic = 12582912.0f;

inline float round_even(float x) { return (x + kRoundMagic) - kRoundMagic; }

// The target of the hand-written AVX-512 loops, and whether they may run here.
#define OPTIMUM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
inline bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}

// has_avx512() and not capped below avx512_core by OPTIMUM_CPU_ISA, which
// then forces the generic loops too (defined in matmul.cc, beside the cap).
bool avx512_allowed();
// AMX-BF16 tiles usable (CPU, OS permission, not capped below
// avx512_core_amx); also in matmul.cc.
bool amx_bf16_allowed();

// The AVX-512 lane mask of the first min(left, 16) lanes (0 when left <= 0),
// for a loop's last partial vector.
inline __mmask16 tail_mask(int64_t left) {
  if (left <= 0) return 0;
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

}  // namespace optimum::kernels::detail
