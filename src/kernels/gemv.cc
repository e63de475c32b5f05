#include "optimum/kernels/gemv.h"

#include <omp.h>

#include <algorithm>

#include "vectorize.h"

namespace optimum::kernels {

namespace {

constexpr int64_t kRowsPerStep = 4;     // x rows against the same weight rows
constexpr int64_t kColsPerStep = 4;     // weight rows (outputs) at once
constexpr int64_t kPrefetch = 256;      // floats ahead (1 KiB) on each weight row
// Below this many weights one thread does it all (a parallel region costs
// a few microseconds; 64K floats are ~256 KiB, ~10 us on one core).
constexpr int64_t kMinParallelWeights = 64 * 1024;

#if OPTIMUM_KERNELS_X86
// GCC 12 warns inside its own AVX-512 intrinsics (_mm512_undefined_* operands).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

// out[r * NR + j] = x[r, :] · w[j, :] for r < MR, j < NR.
template <int MR, int NR>
OPTIMUM_AVX512 inline void dots_avx512(const float* x, int64_t k, const float* w, float* out) {
  __m512 acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      wv[j] = _mm512_loadu_ps(w + j * k + i);
      _mm_prefetch(reinterpret_cast<const char*>(w + j * k + i + kPrefetch), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_loadu_ps(x + r * k + i);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
  if (i < k) {
    const __mmask16 mask = detail::tail_mask(k - i);
    __m512 wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) wv[j] = _mm512_maskz_loadu_ps(mask, w + j * k + i);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + r * k + i);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) out[r * NR + j] = _mm512_reduce_add_ps(acc[r][j]);
  }
}
#pragma GCC diagnostic pop

template <int MR, int NR>
OPTIMUM_AVX2 inline void dots_avx2(const float* x, int64_t k, const float* w, float* out) {
  __m256 acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      wv[j] = _mm256_loadu_ps(w + j * k + i);
      // One prefetch per 64-byte line: every other step.
      if ((i & 15) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + j * k + i + kPrefetch), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + r * k + i);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
  if (i < k) {
    const __m256i mask = detail::tail_mask8(k - i);
    __m256 wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) wv[j] = _mm256_maskload_ps(w + j * k + i, mask);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_maskload_ps(x + r * k + i, mask);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) out[r * NR + j] = detail::hsum8(acc[r][j]);
  }
}
#endif  // OPTIMUM_KERNELS_X86

// The portable loop (the baseline ISA; NEON off x86).
template <int MR, int NR>
OPTIMUM_BODY void dots_baseline(const float* x, int64_t k, const float* w, float* out) {
  for (int r = 0; r < MR; ++r) {
    for (int j = 0; j < NR; ++j) {
      const float* xr = x + r * k;
      const float* wj = w + j * k;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < k; ++i) s += xr[i] * wj[i];
      out[r * NR + j] = s;
    }
  }
}

using DotsFn = void (*)(const float*, int64_t, const float*, float*);

// The dot-product kernels of one ISA, by [rows - 1][cols == kColsPerStep].
struct DotsTable {
  DotsFn fn[kRowsPerStep][2];
};

template <template <int, int> class K>
constexpr DotsTable make_table() {
  return {{{K<1, 1>::run, K<1, 4>::run},
           {K<2, 1>::run, K<2, 4>::run},
           {K<3, 1>::run, K<3, 4>::run},
           {K<4, 1>::run, K<4, 4>::run}}};
}

#if OPTIMUM_KERNELS_X86
template <int MR, int NR>
struct Avx512Kernel {
  OPTIMUM_AVX512 static void run(const float* x, int64_t k, const float* w, float* out) {
    dots_avx512<MR, NR>(x, k, w, out);
  }
};
template <int MR, int NR>
struct Avx2Kernel {
  OPTIMUM_AVX2 static void run(const float* x, int64_t k, const float* w, float* out) {
    dots_avx2<MR, NR>(x, k, w, out);
  }
};
#endif
template <int MR, int NR>
struct BaselineKernel {
  static void run(const float* x, int64_t k, const float* w, float* out) { dots_baseline<MR, NR>(x, k, w, out); }
};

const DotsTable& dots_table() {
#if OPTIMUM_KERNELS_X86
  static constexpr DotsTable avx512 = make_table<Avx512Kernel>();
  static constexpr DotsTable avx2 = make_table<Avx2Kernel>();
#endif
  static constexpr DotsTable baseline = make_table<BaselineKernel>();
  switch (detail::vector_isa()) {
#if OPTIMUM_KERNELS_X86
    case detail::VectorIsa::Avx512:
      return avx512;
    case detail::VectorIsa::Avx2:
      return avx2;
#endif
    default:
      return baseline;
  }
}

// Outputs [j0, j1) of every row: weight rows four at a time, each against all
// x rows (chunks of four) while in L1; then bias.
void gemv_span(const DotsTable& t, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
               const float* bias, float* y, int64_t j0, int64_t j1) {
  float out[kRowsPerStep * kColsPerStep];
  for (int64_t j = j0; j < j1;) {
    const int64_t cols = j1 - j >= kColsPerStep ? kColsPerStep : 1;
    for (int64_t r0 = 0; r0 < m; r0 += kRowsPerStep) {
      const int64_t rows = std::min(kRowsPerStep, m - r0);
      t.fn[rows - 1][cols == kColsPerStep ? 1 : 0](x + r0 * k, k, w + j * k, out);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          y[(r0 + r) * n + j + c] = out[r * cols + c] + (bias != nullptr ? bias[j + c] : 0.0f);
        }
      }
    }
    j += cols;
  }
}

}  // namespace

void gemv_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias, float* y,
              Activation act) {
  if (m <= 0 || n <= 0) return;
  const DotsTable& t = dots_table();
  const int64_t steps = (n + kColsPerStep - 1) / kColsPerStep;
  int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (n * k < kMinParallelWeights) threads = 1;
  threads = std::max<int64_t>(1, std::min(threads, steps));
#pragma omp parallel num_threads(static_cast<int>(threads)) if (threads > 1)
  {
    const int64_t nt = omp_get_num_threads();
    const int64_t id = omp_get_thread_num();
    const int64_t j0 = std::min(n, steps * id / nt * kColsPerStep);
    const int64_t j1 = std::min(n, steps * (id + 1) / nt * kColsPerStep);
    if (j0 < j1) {
      gemv_span(t, x, m, k, w, n, bias, y, j0, j1);
      if (act != Activation::Identity) {
        for (int64_t r = 0; r < m; ++r) activation_span(y + r * n + j0, j1 - j0, act);
      }
    }
  }
}

void gemv_f32_reference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
                        float* y, Activation act) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double s = bias != nullptr ? bias[j] : 0.0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(x[r * k + i]) * w[j * k + i];
      y[r * n + j] = static_cast<float>(s);
    }
    activation_span(y + r * n, n, act);
  }
}

}  // namespace optimum::kernels
