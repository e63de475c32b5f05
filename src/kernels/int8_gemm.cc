#include "optimum/kernels/int8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "optimum/kernels/ops.h"
#include "vectorize.h"

namespace optimum::kernels {

namespace {

using detail::round_even;

constexpr int kNr = 16;  // output channels per panel: two ymm of s32

#if OPTIMUM_KERNELS_X86
// Blocking, measured on Zen 4 (1 thread, operands out of L2): weight panels in chunks of
// ~128 KiB that stay in L2 while 8-row blocks of activations (in L1) pass over them;
// k in blocks of 384 (12 KiB panels), longer rows accumulate in s32 between blocks.
constexpr int64_t kRowBlock = 8;
constexpr int64_t kChunkBytes = 128 << 10;
constexpr int64_t kPairBlock = 192;
constexpr int kMr = 4;   // rows per register tile: 8 accumulators + 2 weight vectors + broadcast + products (more spill with GCC)

// One MR x 16 tile: acc over all k pairs, then the epilogue into y (ncols <= 16 columns).
template <int MR>
OPTIMUM_AVX2 void tile_s16(const int16_t* a, int64_t lda, const int16_t* panel, int64_t kpairs,
                           const float* row_scale, const float* col_scale, const float* bias, float* y,
                           int64_t ldy, int ncols) {
  __m256i c0[MR];
  __m256i c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    c0[r] = _mm256_setzero_si256();
    c1[r] = _mm256_setzero_si256();
  }
#pragma GCC unroll 4  // measured: +35% on Zen 4 (loop overhead beside 8 vpmaddwd)
  for (int64_t p = 0; p < kpairs; ++p) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 32 + 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, sizeof(pair));
      const __m256i av = _mm256_set1_epi32(pair);
      c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(av, b0));
      c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(av, b1));
    }
  }
  float cs[kNr] = {};
  float bs[kNr] = {};
  for (int c = 0; c < ncols; ++c) {
    cs[c] = col_scale[c];
    bs[c] = bias != nullptr ? bias[c] : 0.0f;
  }
  const __m256 cs0 = _mm256_loadu_ps(cs);
  const __m256 cs1 = _mm256_loadu_ps(cs + 8);
  const __m256 bs0 = _mm256_loadu_ps(bs);
  const __m256 bs1 = _mm256_loadu_ps(bs + 8);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256 rs = _mm256_set1_ps(row_scale[r]);
    const __m256 y0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0[r]), _mm256_mul_ps(rs, cs0), bs0);
    const __m256 y1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1[r]), _mm256_mul_ps(rs, cs1), bs1);
    float* out = y + r * ldy;
    if (ncols == kNr) {
      _mm256_storeu_ps(out, y0);
      _mm256_storeu_ps(out + 8, y1);
    } else {
      float tmp[kNr];
      _mm256_storeu_ps(tmp, y0);
      _mm256_storeu_ps(tmp + 8, y1);
      std::memcpy(out, tmp, sizeof(float) * static_cast<size_t>(ncols));
    }
  }
}

// One MR x 16 tile over k pairs [0, kpairs) of a and panel, added to (or, first, stored in)
// the s32 accumulators c (row stride ldc, 16 columns).
template <int MR>
OPTIMUM_AVX2 void tile_acc_s16(const int16_t* a, int64_t lda, const int16_t* panel, int64_t kpairs, int32_t* c,
                               int64_t ldc, bool first) {
  __m256i c0[MR];
  __m256i c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    c0[r] = first ? _mm256_setzero_si256() : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + r * ldc));
    c1[r] = first ? _mm256_setzero_si256() : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + r * ldc + 8));
  }
#pragma GCC unroll 4  // measured: +35% on Zen 4 (loop overhead beside 8 vpmaddwd)
  for (int64_t p = 0; p < kpairs; ++p) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 32 + 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, sizeof(pair));
      const __m256i av = _mm256_set1_epi32(pair);
      c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(av, b0));
      c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(av, b1));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), c0[r]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + 8), c1[r]);
  }
}

using AccFn = void (*)(const int16_t*, int64_t, const int16_t*, int64_t, int32_t*, int64_t, bool);
constexpr AccFn kAccTiles[7] = {nullptr,          tile_acc_s16<1>, tile_acc_s16<2>, tile_acc_s16<3>,
                                tile_acc_s16<4>,  tile_acc_s16<5>, tile_acc_s16<6>};

using TileFn = void (*)(const int16_t*, int64_t, const int16_t*, int64_t, const float*, const float*,
                        const float*, float*, int64_t, int);
constexpr TileFn kTiles[7] = {nullptr,          tile_s16<1>, tile_s16<2>, tile_s16<3>,
                                    tile_s16<4>,      tile_s16<5>, tile_s16<6>};

OPTIMUM_AVX2 void quantize_s16_avx2(const float* x, int64_t k, float inv, float zpf, float top, int16_t* a) {
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256 vzp = _mm256_set1_ps(zpf);
  const __m256 vtop = _mm256_set1_ps(top);
  const __m256i izp = _mm256_set1_epi32(static_cast<int32_t>(zpf));
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 v = _mm256_min_ps(vtop, _mm256_max_ps(_mm256_setzero_ps(), _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vinv, vzp)));
    const __m256i q = _mm256_sub_epi32(_mm256_cvtps_epi32(v), izp);  // nearest even
    const __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a + i), packed);
  }
  for (; i < k; ++i) {
    const float c = std::min(top, std::max(0.0f, std::fma(x[i], inv, zpf)));
    a[i] = static_cast<int16_t>(static_cast<int32_t>(round_even(c)) - static_cast<int32_t>(zpf));
  }
}

// Long rows (ffn_out: k = 1536): s32 accumulators over k blocks whose panels fit L1, then
// the epilogue. Panels [panel_begin, panel_end).
void gemm_s16_kblocked(const int16_t* a, int64_t m, const PackedS16& w, const S16Epilogue& ep, float* y,
                       int64_t ldy, int64_t panel_begin, int64_t panel_end) {
  const int64_t kpairs = w.k2 / 2;
  const int64_t block_bytes = kPairBlock * kNr * 2 * static_cast<int64_t>(sizeof(int16_t));
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / block_bytes);
  thread_local std::vector<int32_t> acc_store;
  const int64_t width = chunk * kNr;
  if (acc_store.size() < static_cast<size_t>(kRowBlock * width)) acc_store.resize(static_cast<size_t>(kRowBlock * width));
  int32_t* acc = acc_store.data();
  for (int64_t j0 = panel_begin; j0 < panel_end; j0 += chunk) {
    const int64_t j1 = std::min(panel_end, j0 + chunk);
    for (int64_t m0 = 0; m0 < m; m0 += kRowBlock) {
      const int64_t m1 = std::min(m, m0 + kRowBlock);
      for (int64_t p0 = 0; p0 < kpairs; p0 += kPairBlock) {
        const int64_t np = std::min(kPairBlock, kpairs - p0);
        for (int64_t j = j0; j < j1; ++j) {
          const int16_t* panel = w.data.data() + j * kpairs * kNr * 2 + p0 * kNr * 2;
          for (int64_t r = m0; r < m1; r += kMr) {
            const int rows = static_cast<int>(std::min<int64_t>(kMr, m1 - r));
            kAccTiles[rows](a + r * w.k2 + 2 * p0, w.k2, panel, np, acc + (r - m0) * width + (j - j0) * kNr, width,
                            p0 == 0);
          }
        }
      }
      for (int64_t r = m0; r < m1; ++r) {
        const int64_t c0 = j0 * kNr;
        const int64_t c1 = std::min(w.n, j1 * kNr);
        const int32_t* ar = acc + (r - m0) * width;
        float* yr = y + r * ldy;
        const float rs = ep.row_scale[r];
        for (int64_t c = c0; c < c1; ++c) {
          const float b = ep.bias != nullptr ? ep.bias[c] : 0.0f;
          yr[c] = std::fma(static_cast<float>(ar[c - c0]), rs * ep.col_scale[c], b);
        }
      }
    }
  }
}
#endif  // OPTIMUM_KERNELS_X86

}  // namespace

bool s16_gemm_supported() {
#if OPTIMUM_KERNELS_X86
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;  // the AVX2 kernel; gemm_s16 below runs its plain loops here
#endif
}

PackedS16 pack_s16(const int8_t* q, int64_t n, int64_t k) {
  PackedS16 w;
  w.n = n;
  w.k = k;
  w.k2 = (k + 1) / 2 * 2;
  const int64_t panels = (n + kNr - 1) / kNr;
  const int64_t kpairs = w.k2 / 2;
  w.data.assign(static_cast<size_t>(panels * kpairs * kNr * 2), 0);
  for (int64_t j = 0; j < panels; ++j) {
    int16_t* panel = w.data.data() + j * kpairs * kNr * 2;
    for (int64_t c = 0; c < kNr && j * kNr + c < n; ++c) {
      const int8_t* row = q + (j * kNr + c) * k;
      for (int64_t i = 0; i < k; ++i) panel[(i / 2) * kNr * 2 + c * 2 + (i % 2)] = row[i];
    }
  }
  return w;
}

float quantize_row_s16(const float* x, int64_t k, int64_t k2, int levels, int16_t* a) {
  float lo;
  float hi;
  row_minmax(x, k, &lo, &hi);
  lo = std::min(lo, 0.0f);  // zero stays exactly representable
  hi = std::max(hi, 0.0f);
  const auto top = static_cast<float>(levels);
  const float scale = hi > lo ? (hi - lo) / top : 1.0f;
  const float inv = 1.0f / scale;
  const float zpf = std::min(top, std::max(0.0f, round_even(-lo * inv)));
#if OPTIMUM_KERNELS_X86
  if (s16_gemm_supported()) {
    quantize_s16_avx2(x, k, inv, zpf, top, a);
  } else
#endif
  {
    for (int64_t i = 0; i < k; ++i) {
      const float c = std::min(top, std::max(0.0f, std::fma(x[i], inv, zpf)));
      a[i] = static_cast<int16_t>(static_cast<int32_t>(round_even(c)) - static_cast<int32_t>(zpf));
    }
  }
  for (int64_t i = k; i < k2; ++i) a[i] = 0;
  return scale;
}

void gemm_s16(const int16_t* a, int64_t m, const PackedS16& w, const S16Epilogue& ep, float* y, int64_t ldy,
              int64_t panel_begin, int64_t panel_end) {
  const int64_t panels = panel_end < 0 ? s16_panels(w) : std::min(panel_end, s16_panels(w));
  const int64_t kpairs = w.k2 / 2;
#if !OPTIMUM_KERNELS_X86
  // Plain loops over the panels asked for (gemm_s16_reference's arithmetic).
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = panel_begin * kNr; c < std::min(w.n, panels * kNr); ++c) {
      const int16_t* panel = w.data.data() + (c / kNr) * kpairs * kNr * 2;
      int32_t acc = 0;
      for (int64_t i = 0; i < w.k2; ++i) {
        acc += static_cast<int32_t>(a[r * w.k2 + i]) * panel[(i / 2) * kNr * 2 + (c % kNr) * 2 + (i % 2)];
      }
      const float b = ep.bias != nullptr ? ep.bias[c] : 0.0f;
      y[r * ldy + c] = std::fma(static_cast<float>(acc), ep.row_scale[r] * ep.col_scale[c], b);
    }
  }
#else
  // Weight panels in chunks that stay in L2 while every row passes over them; rows in
  // blocks that stay in L1 while the chunk's panels pass over them (measured on Zen 4:
  // 16-row blocks run 2x faster than 128-row ones once the operands leave L2).
  if (kpairs > kPairBlock + kPairBlock / 2) {
    gemm_s16_kblocked(a, m, w, ep, y, ldy, panel_begin, panels);
    return;
  }
  const int64_t panel_bytes = kpairs * kNr * 2 * static_cast<int64_t>(sizeof(int16_t));
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / panel_bytes);
  for (int64_t j0 = panel_begin; j0 < panels; j0 += chunk) {
    const int64_t j1 = std::min(panels, j0 + chunk);
    for (int64_t m0 = 0; m0 < m; m0 += kRowBlock) {
      const int64_t m1 = std::min(m, m0 + kRowBlock);
      for (int64_t j = j0; j < j1; ++j) {
        const int16_t* panel = w.data.data() + j * kpairs * kNr * 2;
        const int64_t c0 = j * kNr;
        const int ncols = static_cast<int>(std::min<int64_t>(kNr, w.n - c0));
        const float* bias = ep.bias != nullptr ? ep.bias + c0 : nullptr;
        for (int64_t r = m0; r < m1; r += kMr) {
          const int rows = static_cast<int>(std::min<int64_t>(kMr, m1 - r));
          kTiles[rows](a + r * w.k2, w.k2, panel, kpairs, ep.row_scale + r, ep.col_scale + c0, bias,
                       y + r * ldy + c0, ldy, ncols);
        }
      }
    }
  }
#endif
}

void gemm_s16_reference(const int16_t* a, int64_t m, const PackedS16& w, const S16Epilogue& ep, float* y,
                        int64_t ldy) {
  const int64_t kpairs = w.k2 / 2;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < w.n; ++c) {
      const int16_t* panel = w.data.data() + (c / kNr) * kpairs * kNr * 2;
      int32_t acc = 0;
      for (int64_t i = 0; i < w.k2; ++i) {
        acc += static_cast<int32_t>(a[r * w.k2 + i]) * panel[(i / 2) * kNr * 2 + (c % kNr) * 2 + (i % 2)];
      }
      const float b = ep.bias != nullptr ? ep.bias[c] : 0.0f;
      y[r * ldy + c] = std::fma(static_cast<float>(acc), ep.row_scale[r] * ep.col_scale[c], b);
    }
  }
}

}  // namespace optimum::kernels
