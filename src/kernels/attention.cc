// softmax(q·kᵀ·scale + bias + mask)·v per batch item and head.
//
// AVX-512: one fused kernel per (item, head). Kᵀ of the head is packed once
// into a thread-local [head_dim, cols] panel (cols = keys rounded up to 64,
// zero-filled); then per block of 4 query rows the scores (4 x cols, in L1),
// their softmax (unnormalized exp, the 1/sum applied to the output) and the
// product with v (read in place, row stride ld_qkv) are computed before the
// next block, so no [seq, seq] matrix is ever materialized. Elsewhere: per-head
// sgemm + softmax_row (the reference path, also used under OPTIMUM_CPU_ISA
// caps below AVX-512).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "optimum/kernels/gemm.h"
#include "optimum/kernels/ops.h"
#include "vectorize.h"

namespace optimum::kernels {

namespace {

#if OPTIMUM_KERNELS_X86
using detail::tail_mask;
#endif

constexpr int kRows = 4;    // query rows per block
constexpr int kCols = 64;   // key columns per score tile (4 vectors)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#if OPTIMUM_KERNELS_X86  // the AVX-512 kernels; AVX2 and AMX below
// GCC 12 warns inside its own AVX-512 intrinsics (_mm512_undefined_* operands).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

// exp(x) per lane: the same reduction and degree-7 polynomial as ops.cc's
// scalar vexp (relative error ~2e-7); exactly 0 below -87 (and for -inf).
OPTIMUM_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512 y = _mm512_scalef_ps(p, n);
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), y);
}


constexpr int64_t kAhead = 6;  // rows prefetched ahead while packing a head

// Rows of q, k and v are ld floats apart (a new page each): the hardware
// prefetcher does not follow, so the packing loops fetch kAhead rows ahead.
// Columns [c0, c1) of one row of q, k and v.
inline void prefetch_row(const float* q, const float* k, const float* v, int64_t ld, int64_t row, int64_t c0,
                         int64_t c1) {
  for (const float* src : {q, k, v}) {
    for (int64_t c = c0; c < c1; c += 16) _mm_prefetch(reinterpret_cast<const char*>(src + row * ld + c), _MM_HINT_T0);
  }
}

// Transposes a 16x16 block held in 16 rows, in place.
OPTIMUM_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  __m512 u[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane: pairs of rows interleaved
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {  // u[4g + m], lane L: column 4L + m of rows 4g..4g+3
    u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {  // t reused: lanes regrouped so two columns share a vector
    t[m] = _mm512_shuffle_f32x4(u[m], u[m + 4], 0x88);
    t[m + 4] = _mm512_shuffle_f32x4(u[m], u[m + 4], 0xDD);
    t[m + 8] = _mm512_shuffle_f32x4(u[m + 8], u[m + 12], 0x88);
    t[m + 12] = _mm512_shuffle_f32x4(u[m + 8], u[m + 12], 0xDD);
  }
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) {
    r[m] = _mm512_shuffle_f32x4(t[m], t[m + 8], 0x88);
    r[m + 8] = _mm512_shuffle_f32x4(t[m], t[m + 8], 0xDD);
  }
}

// kt[c * cols + j] = k[j * ld + c] in 16x16 blocks; columns s..cols-1 are
// zero. Prefetches the next block's q, k and v rows.
OPTIMUM_AVX512 void pack_kt(const float* q, const float* k, const float* v, int64_t ld, int64_t s, int64_t d,
                            int64_t cols, float* kt) {
  for (int64_t j0 = 0; j0 < cols; j0 += 16) {
    for (int64_t j = j0 + 16; j < std::min(j0 + 32, s); ++j) prefetch_row(q, k, v, ld, j, 0, d);
    for (int64_t c0 = 0; c0 < d; c0 += 16) {
      const __mmask16 cm = tail_mask(d - c0);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = j0 + i < s ? _mm512_maskz_loadu_ps(cm, k + (j0 + i) * ld + c0) : _mm512_setzero_ps();
      }
      transpose16(r);
      const int64_t rows = std::min<int64_t>(16, d - c0);
      for (int64_t i = 0; i < rows; ++i) _mm512_storeu_ps(kt + (c0 + i) * cols + j0, r[i]);
    }
  }
}

// sc[r][j] = Σ_c q[r][c]·kt[c][j] for 4 query rows (pointers) and all cols.
// Also the max over the first s scores of each row (row_max).
OPTIMUM_AVX512 void scores_4(const float* const q[kRows], const float* kt, int64_t d, int64_t cols, int64_t s,
                             float* sc, float row_max[kRows]) {
  __m512 mx[kRows];
  for (__m512& m : mx) m = _mm512_set1_ps(kNegInf);
  for (int64_t j = 0; j < cols; j += kCols) {
    __m512 acc[kRows][4];
    for (auto& row : acc) {
      for (__m512& a : row) a = _mm512_setzero_ps();
    }
    const float* kc = kt + j;
    for (int64_t c = 0; c < d; ++c, kc += cols) {
      const __m512 k0 = _mm512_loadu_ps(kc);
      const __m512 k1 = _mm512_loadu_ps(kc + 16);
      const __m512 k2 = _mm512_loadu_ps(kc + 32);
      const __m512 k3 = _mm512_loadu_ps(kc + 48);
      for (int r = 0; r < kRows; ++r) {
        const __m512 qv = _mm512_set1_ps(q[r][c]);
        acc[r][0] = _mm512_fmadd_ps(qv, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(qv, k1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(qv, k2, acc[r][2]);
        acc[r][3] = _mm512_fmadd_ps(qv, k3, acc[r][3]);
      }
    }
    for (int v = 0; v < 4; ++v) {
      const __mmask16 valid = tail_mask(s - j - 16 * v);
      for (int r = 0; r < kRows; ++r) {
        _mm512_storeu_ps(sc + r * cols + j + 16 * v, acc[r][v]);
        mx[r] = _mm512_mask_max_ps(mx[r], valid, mx[r], acc[r][v]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) row_max[r] = _mm512_reduce_max_ps(mx[r]);
}

// softmax_unnormalized without an additive row, given the row's max
// (scale > 0, so max(x·scale) = max(x)·scale): one pass.
OPTIMUM_AVX512 float softmax_with_max(float* x, int64_t n, float scale, float top) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512 shift = _mm512_set1_ps(-top * scale);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = exp16(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + j), vs, shift));
    _mm512_mask_storeu_ps(x + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// One score row of n keys: x = x·scale + add (add: the bias row plus -inf at
// masked keys, or null), then x = exp(x - max); returns 1/Σ (a fully masked
// row becomes uniform, as transformers' additive finfo.min mask gives).
OPTIMUM_AVX512 float softmax_unnormalized(float* x, int64_t n, float scale, const float* add) {
  const __m512 vs = _mm512_set1_ps(scale);
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), vs);
    if (add != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, add + j));
    _mm512_mask_storeu_ps(x + j, m, v);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  const float top = _mm512_reduce_max_ps(mx);
  if (top == -std::numeric_limits<float>::infinity()) {
    for (int64_t j = 0; j < n; ++j) x[j] = 1.0f;
    return 1.0f / static_cast<float>(n);
  }
  const __m512 vt = _mm512_set1_ps(top);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vt));
    _mm512_mask_storeu_ps(x + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// out[r][c] = inv[r]·Σ_j p[r][j]·v[j][c] for 4 rows, c in [c0, c0 + 16·V).
template <int V>
OPTIMUM_AVX512 void pv_4(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t c0,
                         __mmask16 last, const float inv[kRows], float* const out[kRows]) {
  static_assert(kRows == 4);
  __m512 a0[V], a1[V], a2[V], a3[V];
#pragma GCC unroll 4
  for (int t = 0; t < V; ++t) a0[t] = a1[t] = a2[t] = a3[t] = _mm512_setzero_ps();
  const float* vj = v + c0;
  const float* p0 = p;
  const float* p1 = p + ldp;
  const float* p2 = p + 2 * ldp;
  const float* p3 = p + 3 * ldp;
  for (int64_t j = 0; j < n; ++j, vj += ldv) {
    const __m512 b0 = _mm512_set1_ps(p0[j]);
    const __m512 b1 = _mm512_set1_ps(p1[j]);
    const __m512 b2 = _mm512_set1_ps(p2[j]);
    const __m512 b3 = _mm512_set1_ps(p3[j]);
#pragma GCC unroll 4
    for (int t = 0; t < V; ++t) {
      const __m512 x = _mm512_maskz_loadu_ps(t == V - 1 ? last : 0xFFFF, vj + 16 * t);
      a0[t] = _mm512_fmadd_ps(b0, x, a0[t]);
      a1[t] = _mm512_fmadd_ps(b1, x, a1[t]);
      a2[t] = _mm512_fmadd_ps(b2, x, a2[t]);
      a3[t] = _mm512_fmadd_ps(b3, x, a3[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < V; ++t) {
    const __mmask16 m = t == V - 1 ? last : 0xFFFF;
    _mm512_mask_storeu_ps(out[0] + c0 + 16 * t, m, _mm512_mul_ps(a0[t], _mm512_set1_ps(inv[0])));
    _mm512_mask_storeu_ps(out[1] + c0 + 16 * t, m, _mm512_mul_ps(a1[t], _mm512_set1_ps(inv[1])));
    _mm512_mask_storeu_ps(out[2] + c0 + 16 * t, m, _mm512_mul_ps(a2[t], _mm512_set1_ps(inv[2])));
    _mm512_mask_storeu_ps(out[3] + c0 + 16 * t, m, _mm512_mul_ps(a3[t], _mm512_set1_ps(inv[3])));
  }
}

OPTIMUM_AVX512 void pv_rows(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t d,
                            const float inv[kRows], float* const out[kRows]) {
  for (int64_t c0 = 0; c0 < d; c0 += 64) {
    const int64_t w = std::min<int64_t>(64, d - c0);
    const __mmask16 last = tail_mask(w - 16 * ((w - 1) / 16));
    switch ((w + 15) / 16) {
      case 1:
        pv_4<1>(p, ldp, n, v, ldv, c0, last, inv, out);
        break;
      case 2:
        pv_4<2>(p, ldp, n, v, ldv, c0, last, inv, out);
        break;
      case 3:
        pv_4<3>(p, ldp, n, v, ldv, c0, last, inv, out);
        break;
      default:
        pv_4<4>(p, ldp, n, v, ldv, c0, last, inv, out);
        break;
    }
  }
}
#endif  // OPTIMUM_KERNELS_X86


// The additive row of query row i: bias row + -inf at masked keys, the bias
// row alone, the mask row alone, or null. `mask_row` (s values, 0 / -inf) is
// filled once per item and head by prepare_mask; `tmp` holds a combined row.
struct AddRows {
  const float* bias = nullptr;  // [seq, seq] of this head, row stride seq
  int64_t seq = 0;
  bool masked = false;
  std::vector<float> mask_row;

  void prepare(const int64_t* mask, const float* head_bias, int64_t padded_seq, int64_t s) {
    bias = head_bias;
    seq = padded_seq;
    masked = false;
    for (int64_t j = 0; mask != nullptr && j < s; ++j) masked |= mask[j] == 0;
    if (masked) {
      mask_row.resize(static_cast<size_t>(s));
      for (int64_t j = 0; j < s; ++j) mask_row[static_cast<size_t>(j)] = mask[j] == 0 ? kNegInf : 0.0f;
    }
  }
  const float* row(int64_t i, int64_t s, float* tmp) const {
    if (bias == nullptr) return masked ? mask_row.data() : nullptr;
    if (!masked) return bias + i * seq;
    for (int64_t j = 0; j < s; ++j) tmp[j] = bias[i * seq + j] + mask_row[static_cast<size_t>(j)];
    return tmp;
  }
};

struct HeadScratch {
  std::vector<float> kt;
  std::vector<float> v;      // the head's v rows, contiguous [s, vld]
  std::vector<float> add;    // a combined bias + mask row
  AddRows rows;
  std::vector<float> scores;
  std::vector<float> spill;  // output rows of a partial last block
};

// Item, head, first row and length of task bh (item-major).
struct HeadTask {
  int64_t b, h, row0, s;
};
HeadTask head_task(const AttentionArgs& a, int64_t bh) {
  const int64_t b = bh / a.heads;
  const bool packed = a.offsets != nullptr;
  return {b, bh % a.heads, packed ? a.offsets[b] : b * a.seq, packed ? a.lengths[b] : a.seq};
}

// Mask (padded layout only) and bias of item b, head h.
[[maybe_unused]] void prepare_rows(const AttentionArgs& a, int64_t b, int64_t h, int64_t s, AddRows* rows) {
  const int64_t* mask = a.mask != nullptr && a.offsets == nullptr ? a.mask + b * a.seq : nullptr;
  // The bias table is laid out for the padded length; packed items are prefixes of it.
  rows->prepare(mask, a.bias != nullptr ? a.bias + h * a.seq * a.seq : nullptr, a.seq, s);
}

#if OPTIMUM_KERNELS_X86
// --- bf16 attention on AMX tiles ------------------------------------------------------------
// Per item and head: q as bf16 rows [rows16, dp], kᵀ as bf16 pairs [dp/2, sp]
// (the tile layout of a B operand: one dword = two consecutive head dims of a
// key), v as pairs of keys [sp/2, dp, 2]; every tile is 16 rows x 64 bytes.
// dp = head_dim and sp = keys rounded up to 32, zero-filled. Per block of 16
// query rows: scores two tiles at a time (f32), the f32 softmax
// (unnormalized), weights to bf16, then ·v two tiles at a time.

#define OPTIMUM_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

// GCC's _tile_loadd is an asm statement without a memory operand: stores
// before it (the packing, the bf16 weights) could be moved past it. This
// fence keeps them in order.
inline void tile_input_fence() { __asm__ volatile("" ::: "memory"); }

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

// 32 floats (lanes past n are 0) as 32 bf16, round to nearest even.
OPTIMUM_AMX inline __m512i bf16x32(const float* x, int64_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(tail_mask(n), x);
  const __m512 hi = _mm512_maskz_loadu_ps(tail_mask(n - 16), x + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

struct AmxScratch {
  std::vector<uint16_t> q;    // [rows16, dp]
  std::vector<uint32_t> kt;   // [dp/2, sp]
  std::vector<uint16_t> v;    // [sp/2, dp, 2]
  std::vector<float> scores;  // [16, sp]
  std::vector<uint16_t> p;    // [16, sp]
  std::vector<float> o;       // [16, dp]
  std::vector<float> add;
  AddRows rows;
};

OPTIMUM_AMX void pack_head_bf16(const float* q, const float* k, const float* v, int64_t ld, int64_t s, int64_t d,
                                int64_t dp, int64_t sp, AmxScratch& x) {
  const int64_t rows16 = (s + 15) / 16 * 16;
  x.q.assign(static_cast<size_t>(rows16 * dp), 0);
  x.kt.assign(static_cast<size_t>(dp / 2 * sp), 0);
  x.v.assign(static_cast<size_t>(sp * dp), 0);
  const __m512i pair_stride = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(static_cast<int>(sp)));
  // Word interleave of two rows a, b: [a0 b0 a1 b1 ... a15 b15] and [a16 b16 ... a31 b31].
  const __m512i lo_idx = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                          37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(16));
  for (int64_t c0 = 0; c0 < d; c0 += 32) {
    const int64_t w = d - c0;
    for (int64_t i = 0; i < s; ++i) {
      if (i + kAhead < s) prefetch_row(q, k, v, ld, i + kAhead, c0, std::min(d, c0 + 32));
      _mm512_storeu_si512(x.q.data() + i * dp + c0, bf16x32(q + i * ld + c0, w));
      _mm512_i32scatter_epi32(x.kt.data() + (c0 / 2) * sp + i, pair_stride, bf16x32(k + i * ld + c0, w), 4);
    }
    for (int64_t j = 0; j < s; j += 2) {
      const __m512i a = bf16x32(v + j * ld + c0, w);
      const __m512i b = j + 1 < s ? bf16x32(v + (j + 1) * ld + c0, w) : _mm512_setzero_si512();
      uint16_t* row = x.v.data() + (j / 2) * 2 * dp + 2 * c0;
      _mm512_storeu_si512(row, _mm512_permutex2var_epi16(a, lo_idx, b));
      _mm512_storeu_si512(row + 32, _mm512_permutex2var_epi16(a, hi_idx, b));
    }
  }
}

// c[16, n] = a[16, k] · b on bf16 tiles, f32 out: a holds 16 rows of k bf16
// (row stride lda bytes), b k/2 rows of n bf16 pairs (one dword per column,
// row stride ldb bytes); two 16-column tiles of c per step; k and n are
// multiples of 32. Scores: a = q, b = kᵀ. Output: a = weights, b = v.
OPTIMUM_AMX void tile_matmul16(const void* a, int64_t lda, int64_t k, const void* b, int64_t ldb, int64_t n,
                               float* c, int64_t ldc) {
  tile_input_fence();
  const auto* pa = static_cast<const char*>(a);
  const auto* pb = static_cast<const char*>(b);
  for (int64_t nb = 0; nb < n; nb += 32) {
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t kc = 0; kc < k; kc += 32) {
      const char* bk = pb + (kc / 2) * ldb + nb * 4;
      _tile_loadd(0, pa + kc * 2, lda);
      _tile_loadd(1, bk, ldb);
      _tile_loadd(4, bk + 64, ldb);
      _tile_dpbf16ps(2, 0, 1);
      _tile_dpbf16ps(3, 0, 4);
    }
    _tile_stored(2, c + nb, ldc * 4);
    _tile_stored(3, c + nb + 16, ldc * 4);
  }
}

// Loads the tile configuration of the AMX path (five 16x64-byte tiles) on the
// calling thread. Its own function: clang outlines an omp region into a
// function without the enclosing one's target attribute.
OPTIMUM_AMX void amx_tiles_begin() {
  TileConfig cfg;
  for (int t = 0; t < 5; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// Releases the calling thread's tile state.
OPTIMUM_AMX void amx_tiles_end() { _tile_release(); }

// One (batch, head) task of attention_amx, on the calling thread's tiles.
OPTIMUM_AMX void amx_head(const AttentionArgs& a, int64_t bh, AmxScratch& x) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const int64_t d = a.head_dim;
  const int64_t dp = (d + 31) / 32 * 32;
  const auto [b, h, row0, s] = head_task(a, bh);
  if (s == 0) return;
  const int64_t sp = (s + 31) / 32 * 32;
  const int64_t off = row0 * a.ld_qkv + h * d;
  pack_head_bf16(a.q + off, a.k + off, a.v + off, a.ld_qkv, s, d, dp, sp, x);
  x.scores.resize(static_cast<size_t>(16 * sp));
  x.p.assign(static_cast<size_t>(16 * sp), 0);
  x.o.resize(static_cast<size_t>(16 * dp));
  x.add.resize(static_cast<size_t>(s));
  prepare_rows(a, b, h, s, &x.rows);
  for (int64_t i0 = 0; i0 < s; i0 += 16) {
    const int64_t rows = std::min<int64_t>(16, s - i0);
    tile_matmul16(x.q.data() + i0 * dp, dp * 2, dp, x.kt.data(), sp * 4, sp, x.scores.data(), sp);
    float inv[16];
    for (int64_t r = 0; r < rows; ++r) {
      float* sr = x.scores.data() + r * sp;
      inv[r] = softmax_unnormalized(sr, s, scale, x.rows.row(i0 + r, s, x.add.data()));
      for (int64_t j = 0; j < s; j += 32) {
        _mm512_storeu_si512(x.p.data() + r * sp + j, bf16x32(sr + j, s - j));
      }
    }
    tile_matmul16(x.p.data(), sp * 2, sp, x.v.data(), dp * 4, dp, x.o.data(), dp);
    for (int64_t r = 0; r < rows; ++r) {
      float* out = a.out + (row0 + i0 + r) * hidden + h * d;
      const __m512 vinv = _mm512_set1_ps(inv[r]);
      for (int64_t c = 0; c < d; c += 16) {
        const __mmask16 m = tail_mask(d - c);
        const __m512 o = _mm512_maskz_loadu_ps(m, x.o.data() + r * dp + c);
        _mm512_mask_storeu_ps(out + c, m, _mm512_mul_ps(o, vinv));
      }
      if (a.out_bf16 != nullptr) to_bf16_span(out, d, a.out_bf16 + (row0 + i0 + r) * hidden + h * d);
    }
  }
}

void attention_amx(const AttentionArgs& a) {
#pragma omp parallel
  {
    amx_tiles_begin();
    AmxScratch x;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) amx_head(a, bh, x);
    amx_tiles_end();
  }
}

void attention_avx512(const AttentionArgs& a) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const int64_t d = a.head_dim;
#pragma omp parallel
  {
    HeadScratch hs;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const auto [b, h, row0, s] = head_task(a, bh);
      if (s == 0) continue;
      const int64_t cols = (s + kCols - 1) / kCols * kCols;
      hs.kt.resize(static_cast<size_t>(d * cols));
      hs.scores.resize(static_cast<size_t>(kRows * cols));
      hs.spill.resize(static_cast<size_t>(kRows * d));
      const float* q = a.q + row0 * a.ld_qkv + h * d;
      pack_kt(q, a.k + row0 * a.ld_qkv + h * d, a.v + row0 * a.ld_qkv + h * d, a.ld_qkv, s, d, cols, hs.kt.data());
      const int64_t vld = (d + 15) / 16 * 16;
      hs.v.resize(static_cast<size_t>(s * vld));
      for (int64_t j = 0; j < s; ++j) std::copy_n(a.v + (row0 + j) * a.ld_qkv + h * d, d, hs.v.data() + j * vld);
      prepare_rows(a, b, h, s, &hs.rows);
      hs.add.resize(static_cast<size_t>(s));
      float* out = a.out + row0 * hidden + h * d;
      for (int64_t i0 = 0; i0 < s; i0 += kRows) {
        const int64_t rows = std::min<int64_t>(kRows, s - i0);
        const float* qr[kRows];
        float* orow[kRows];
        float inv[kRows];
        for (int r = 0; r < kRows; ++r) {
          // Rows past the end repeat the last one; their output goes to spill.
          const int64_t i = i0 + std::min<int64_t>(r, rows - 1);
          qr[r] = q + i * a.ld_qkv;
          orow[r] = r < rows ? out + (i0 + r) * hidden : hs.spill.data() + r * d;
        }
        float top[kRows];
        scores_4(qr, hs.kt.data(), d, cols, s, hs.scores.data(), top);
        for (int r = 0; r < kRows; ++r) {
          const int64_t i = i0 + std::min<int64_t>(r, rows - 1);
          const float* add = hs.rows.row(i, s, hs.add.data());
          float* sr = hs.scores.data() + r * cols;
          inv[r] = add == nullptr ? softmax_with_max(sr, s, scale, top[r]) : softmax_unnormalized(sr, s, scale, add);
        }
        pv_rows(hs.scores.data(), cols, s, hs.v.data(), vld, d, inv, orow);
        if (a.out_bf16 != nullptr) {
          for (int64_t r = 0; r < rows; ++r) {
            to_bf16_span(orow[r], d, a.out_bf16 + (row0 + i0 + r) * hidden + h * d);
          }
        }
      }
    }
  }
}

#pragma GCC diagnostic pop

// --- AVX2 (+FMA) ---------------------------------------------------------------------------
// The same fused scheme as attention_avx512 with 8-lane vectors: Kᵀ packed per
// head into [head_dim, cols] (cols = keys rounded up to 16, zero-filled), per
// block of 4 query rows a 4 x cols score strip (4 x 16 tiles: 8 accumulators),
// its unnormalized softmax, then ·v in 4 x 16 column tiles.

constexpr int kCols8 = 16;  // key columns per AVX2 score tile (2 vectors)

// Transposes an 8x8 block held in 8 rows, in place.
OPTIMUM_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  __m256 u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 2; ++g) {
    u[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int m = 0; m < 4; ++m) {
    r[m] = _mm256_permute2f128_ps(u[m], u[m + 4], 0x20);
    r[m + 4] = _mm256_permute2f128_ps(u[m], u[m + 4], 0x31);
  }
}

// kt[c * cols + j] = k[j * ld + c] in 8x8 blocks; columns s..cols-1 are zero.
OPTIMUM_AVX2 void pack_kt_avx2(const float* k, int64_t ld, int64_t s, int64_t d, int64_t cols, float* kt) {
  for (int64_t j0 = 0; j0 < cols; j0 += 8) {
    for (int64_t c0 = 0; c0 < d; c0 += 8) {
      const __m256i cm = detail::tail_mask8(d - c0);
      __m256 r[8];
      for (int i = 0; i < 8; ++i) {
        const float* row = k + (j0 + i) * ld + c0;
        r[i] = j0 + i >= s ? _mm256_setzero_ps() : (d - c0 >= 8 ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, cm));
      }
      transpose8(r);
      const int64_t rows = std::min<int64_t>(8, d - c0);
      for (int64_t i = 0; i < rows; ++i) _mm256_storeu_ps(kt + (c0 + i) * cols + j0, r[i]);
    }
  }
}

// sc[r][j] = Σ_c q[r][c]·kt[c][j] for 4 query rows and all cols; row_max over
// the first s columns of each row.
OPTIMUM_AVX2 void scores_4_avx2(const float* const q[kRows], const float* kt, int64_t d, int64_t cols, int64_t s,
                                float* sc, float row_max[kRows]) {
  const __m256 ninf = _mm256_set1_ps(kNegInf);
  __m256 mx[kRows];
  for (__m256& m : mx) m = ninf;
  for (int64_t j = 0; j < cols; j += kCols8) {
    __m256 acc[kRows][2];
    for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
    const float* kc = kt + j;
    for (int64_t c = 0; c < d; ++c, kc += cols) {
      const __m256 k0 = _mm256_loadu_ps(kc);
      const __m256 k1 = _mm256_loadu_ps(kc + 8);
      for (int r = 0; r < kRows; ++r) {
        const __m256 qv = _mm256_broadcast_ss(q[r] + c);
        acc[r][0] = _mm256_fmadd_ps(qv, k0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(qv, k1, acc[r][1]);
      }
    }
    for (int v = 0; v < 2; ++v) {
      const __m256 valid = _mm256_castsi256_ps(detail::tail_mask8(s - j - 8 * v));
      for (int r = 0; r < kRows; ++r) {
        _mm256_storeu_ps(sc + r * cols + j + 8 * v, acc[r][v]);
        mx[r] = _mm256_max_ps(mx[r], _mm256_blendv_ps(ninf, acc[r][v], valid));
      }
    }
  }
  for (int r = 0; r < kRows; ++r) row_max[r] = detail::hmax8(mx[r]);
}

// x[j] = exp(x[j]·scale + add[j] - max) for j < n (add may be null; with it,
// the max is recomputed); returns 1/Σ. A fully masked row becomes uniform.
// x has room for n rounded up to 8: whole vectors are stored (lanes past n
// are left garbage, outside the sum), because masked stores (vmaskmovps) are
// slow on AMD CPUs; only `add` (n values) is read with a masked load.
OPTIMUM_AVX2 float softmax_unnormalized_avx2(float* x, int64_t n, float scale, const float* add, float top_raw) {
  const __m256 vs = _mm256_set1_ps(scale);
  float top = top_raw * scale;
  const int64_t full = n / 8 * 8;
  const __m256 tail = _mm256_castsi256_ps(detail::tail_mask8(n - full));
  if (add != nullptr) {
    const __m256 ninf = _mm256_set1_ps(kNegInf);
    __m256 mx = ninf;
    int64_t j = 0;
    for (; j < full; j += 8) {
      const __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), vs, _mm256_loadu_ps(add + j));
      _mm256_storeu_ps(x + j, v);
      mx = _mm256_max_ps(mx, v);
    }
    if (j < n) {
      const __m256 a = _mm256_maskload_ps(add + j, _mm256_castps_si256(tail));
      const __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), vs, a);
      _mm256_storeu_ps(x + j, v);
      mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, v, tail));
    }
    top = detail::hmax8(mx);
    if (top == kNegInf) {
      for (int64_t i = 0; i < n; ++i) x[i] = 1.0f;
      return 1.0f / static_cast<float>(n);
    }
  }
  // Without add, x·scale - top folds into one FMA.
  const __m256 mul = add != nullptr ? _mm256_set1_ps(1.0f) : vs;
  const __m256 shift = _mm256_set1_ps(-top);
  __m256 sum0 = _mm256_setzero_ps();
  __m256 sum1 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= full; j += 16) {
    const __m256 e0 = detail::exp8(_mm256_fmadd_ps(_mm256_loadu_ps(x + j), mul, shift));
    const __m256 e1 = detail::exp8(_mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8), mul, shift));
    _mm256_storeu_ps(x + j, e0);
    _mm256_storeu_ps(x + j + 8, e1);
    sum0 = _mm256_add_ps(sum0, e0);
    sum1 = _mm256_add_ps(sum1, e1);
  }
  for (; j < full; j += 8) {
    const __m256 e = detail::exp8(_mm256_fmadd_ps(_mm256_loadu_ps(x + j), mul, shift));
    _mm256_storeu_ps(x + j, e);
    sum0 = _mm256_add_ps(sum0, e);
  }
  if (j < n) {
    const __m256 e = _mm256_and_ps(detail::exp8(_mm256_fmadd_ps(_mm256_loadu_ps(x + j), mul, shift)), tail);
    _mm256_storeu_ps(x + j, e);
    sum1 = _mm256_add_ps(sum1, e);
  }
  return 1.0f / detail::hsum8(_mm256_add_ps(sum0, sum1));
}

// out[r][c] = inv[r]·Σ_j p[r][j]·v[j][c] for 4 rows, c in [c0, c0 + 8·V);
// `last` masks the final vector's columns.
template <int V>
OPTIMUM_AVX2 void pv_4_avx2(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t c0,
                            __m256i last, const float inv[kRows], float* const out[kRows]) {
  static_assert(kRows == 4);
  // One named array per row (as pv_4): GCC keeps these in registers, a 2-D
  // array it spilled to the stack inside the loop.
  __m256 a0[V], a1[V], a2[V], a3[V];
#pragma GCC unroll 2
  for (int t = 0; t < V; ++t) a0[t] = a1[t] = a2[t] = a3[t] = _mm256_setzero_ps();
  const float* vj = v + c0;
  const float* p0 = p;
  const float* p1 = p + ldp;
  const float* p2 = p + 2 * ldp;
  const float* p3 = p + 3 * ldp;
  for (int64_t j = 0; j < n; ++j, vj += ldv) {
    const __m256 b0 = _mm256_broadcast_ss(p0 + j);
    const __m256 b1 = _mm256_broadcast_ss(p1 + j);
    const __m256 b2 = _mm256_broadcast_ss(p2 + j);
    const __m256 b3 = _mm256_broadcast_ss(p3 + j);
#pragma GCC unroll 2
    for (int t = 0; t < V; ++t) {
      const __m256 x = _mm256_loadu_ps(vj + 8 * t);  // rows of vld floats: never past the copy
      a0[t] = _mm256_fmadd_ps(b0, x, a0[t]);
      a1[t] = _mm256_fmadd_ps(b1, x, a1[t]);
      a2[t] = _mm256_fmadd_ps(b2, x, a2[t]);
      a3[t] = _mm256_fmadd_ps(b3, x, a3[t]);
    }
  }
  // Masked stores (slow on AMD) only for a partial last vector.
  const bool partial = _mm256_movemask_ps(_mm256_castsi256_ps(last)) != 0xFF;
#pragma GCC unroll 2
  for (int t = 0; t < V; ++t) {
    const __m256 r[kRows] = {_mm256_mul_ps(a0[t], _mm256_set1_ps(inv[0])), _mm256_mul_ps(a1[t], _mm256_set1_ps(inv[1])),
                             _mm256_mul_ps(a2[t], _mm256_set1_ps(inv[2])), _mm256_mul_ps(a3[t], _mm256_set1_ps(inv[3]))};
    for (int i = 0; i < kRows; ++i) {
      if (t == V - 1 && partial) {
        _mm256_maskstore_ps(out[i] + c0 + 8 * t, last, r[i]);
      } else {
        _mm256_storeu_ps(out[i] + c0 + 8 * t, r[i]);
      }
    }
  }
}

OPTIMUM_AVX2 void pv_rows_avx2(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t d,
                               const float inv[kRows], float* const out[kRows]) {
  for (int64_t c0 = 0; c0 < d; c0 += 16) {
    const int64_t w = std::min<int64_t>(16, d - c0);
    const __m256i last = detail::tail_mask8(w - 8 * ((w - 1) / 8));
    if (w > 8) {
      pv_4_avx2<2>(p, ldp, n, v, ldv, c0, last, inv, out);
    } else {
      pv_4_avx2<1>(p, ldp, n, v, ldv, c0, last, inv, out);
    }
  }
}

void attention_avx2(const AttentionArgs& a) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const int64_t d = a.head_dim;
#pragma omp parallel
  {
    HeadScratch hs;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const auto [b, h, row0, s] = head_task(a, bh);
      if (s == 0) continue;
      const int64_t cols = (s + kCols8 - 1) / kCols8 * kCols8;
      hs.kt.resize(static_cast<size_t>(d * cols));
      hs.scores.resize(static_cast<size_t>(kRows * cols));
      hs.spill.resize(static_cast<size_t>(kRows * d));
      const float* q = a.q + row0 * a.ld_qkv + h * d;
      pack_kt_avx2(a.k + row0 * a.ld_qkv + h * d, a.ld_qkv, s, d, cols, hs.kt.data());
      const int64_t vld = (d + 7) / 8 * 8;
      hs.v.resize(static_cast<size_t>(s * vld));
      for (int64_t j = 0; j < s; ++j) std::copy_n(a.v + (row0 + j) * a.ld_qkv + h * d, d, hs.v.data() + j * vld);
      prepare_rows(a, b, h, s, &hs.rows);
      hs.add.resize(static_cast<size_t>(s));
      float* out = a.out + row0 * hidden + h * d;
      for (int64_t i0 = 0; i0 < s; i0 += kRows) {
        const int64_t rows = std::min<int64_t>(kRows, s - i0);
        const float* qr[kRows];
        float* orow[kRows];
        float inv[kRows];
        for (int r = 0; r < kRows; ++r) {
          // Rows past the end repeat the last one; their output goes to spill.
          const int64_t i = i0 + std::min<int64_t>(r, rows - 1);
          qr[r] = q + i * a.ld_qkv;
          orow[r] = r < rows ? out + (i0 + r) * hidden : hs.spill.data() + r * d;
        }
        float top[kRows];
        scores_4_avx2(qr, hs.kt.data(), d, cols, s, hs.scores.data(), top);
        for (int r = 0; r < kRows; ++r) {
          const int64_t i = i0 + std::min<int64_t>(r, rows - 1);
          const float* add = hs.rows.row(i, s, hs.add.data());
          inv[r] = softmax_unnormalized_avx2(hs.scores.data() + r * cols, s, scale, add, top[r]);
        }
        pv_rows_avx2(hs.scores.data(), cols, s, hs.v.data(), vld, d, inv, orow);
        if (a.out_bf16 != nullptr) {
          for (int64_t r = 0; r < rows; ++r) {
            to_bf16_span(orow[r], d, a.out_bf16 + (row0 + i0 + r) * hidden + h * d);
          }
        }
      }
    }
  }
}
#endif  // OPTIMUM_KERNELS_X86

// Per-head sgemm (scores materialized per head) and softmax_row.
void attention_reference(const AttentionArgs& a) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const bool packed = a.offsets != nullptr;
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const auto [b, h, row0, s] = head_task(a, bh);
      if (s == 0) continue;
      scores.resize(static_cast<size_t>(s * s));
      const float* q = a.q + row0 * a.ld_qkv + h * a.head_dim;
      const float* k = a.k + row0 * a.ld_qkv + h * a.head_dim;
      const float* v = a.v + row0 * a.ld_qkv + h * a.head_dim;
      sgemm(false, true, s, s, a.head_dim, scale, q, a.ld_qkv, k, a.ld_qkv, 0.0f, scores.data(), s);
      const int64_t* mask = a.mask != nullptr && !packed ? a.mask + b * a.seq : nullptr;
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
      float* out = a.out + row0 * hidden + h * a.head_dim;
      sgemm(false, false, s, a.head_dim, s, 1.0f, scores.data(), s, v, a.ld_qkv, 0.0f, out, hidden);
      if (a.out_bf16 != nullptr) {
        uint16_t* ob = a.out_bf16 + row0 * hidden + h * a.head_dim;
        for (int64_t i = 0; i < s; ++i) to_bf16_span(out + i * hidden, a.head_dim, ob + i * hidden);
      }
    }
  }
}

}  // namespace

bool attention_bf16_supported() { return detail::amx_bf16_allowed(); }

void attention(const AttentionArgs& args) {
#if OPTIMUM_KERNELS_X86
  if (args.bf16 && detail::amx_bf16_allowed()) {
    attention_amx(args);
    return;
  }
  if (detail::avx512_allowed()) {
    attention_avx512(args);
    return;
  }
  if (detail::vector_isa() == detail::VectorIsa::Avx2) {
    attention_avx2(args);
    return;
  }
#endif
  attention_reference(args);
}

}  // namespace optimum::kernels
