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
#include <immintrin.h>
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

constexpr int kRows = 4;    // query rows per block
constexpr int kCols = 64;   // key columns per score tile (4 vectors)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// GCC 12 warns inside its own AVX-512 intrinsics (_mm512_undefined_* operands).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

// kt[c * cols + j] = k[j * ld + c]; columns s..cols-1 are zero.
void pack_kt(const float* k, int64_t ld, int64_t s, int64_t d, int64_t cols, float* kt) {
  for (int64_t j = 0; j < s; ++j) {
    const float* kj = k + j * ld;
    for (int64_t c = 0; c < d; ++c) kt[c * cols + j] = kj[c];
  }
  for (int64_t c = 0; c < d; ++c) std::fill(kt + c * cols + s, kt + (c + 1) * cols, 0.0f);
}

// sc[r][j] = Σ_c q[r][c]·kt[c][j] for 4 query rows (pointers) and all cols.
OPTIMUM_AVX512 void scores_4(const float* const q[kRows], const float* kt, int64_t d, int64_t cols, float* sc) {
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
    for (int r = 0; r < kRows; ++r) {
      for (int v = 0; v < 4; ++v) _mm512_storeu_ps(sc + r * cols + j + 16 * v, acc[r][v]);
    }
  }
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

#pragma GCC diagnostic pop

struct HeadScratch {
  std::vector<float> kt;
  std::vector<float> v;      // the head's v rows, contiguous [s, vld]
  std::vector<float> add;    // per query row: bias + mask row (or just the mask row)
  std::vector<float> scores;
  std::vector<float> spill;  // output rows of a partial last block
};

void attention_avx512(const AttentionArgs& a) {
  const int64_t hidden = a.heads * a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const bool packed = a.offsets != nullptr;
  const int64_t d = a.head_dim;
#pragma omp parallel
  {
    HeadScratch hs;
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
      const int64_t b = bh / a.heads;
      const int64_t h = bh % a.heads;
      const int64_t row0 = packed ? a.offsets[b] : b * a.seq;
      const int64_t s = packed ? a.lengths[b] : a.seq;
      if (s == 0) continue;
      const int64_t cols = (s + kCols - 1) / kCols * kCols;
      hs.kt.resize(static_cast<size_t>(d * cols));
      hs.scores.resize(static_cast<size_t>(kRows * cols));
      hs.spill.resize(static_cast<size_t>(kRows * d));
      const float* q = a.q + row0 * a.ld_qkv + h * d;
      pack_kt(a.k + row0 * a.ld_qkv + h * d, a.ld_qkv, s, d, cols, hs.kt.data());
      const int64_t vld = (d + 15) / 16 * 16;
      hs.v.resize(static_cast<size_t>(s * vld));
      for (int64_t j = 0; j < s; ++j) std::copy_n(a.v + (row0 + j) * a.ld_qkv + h * d, d, hs.v.data() + j * vld);
      const int64_t* mask = a.mask != nullptr && !packed ? a.mask + b * a.seq : nullptr;
      // The bias table is laid out for the padded length; packed items are prefixes of it.
      const float* bias = a.bias != nullptr ? a.bias + h * a.seq * a.seq : nullptr;
      // A masked key adds -inf; with a bias, each row's add is bias row + that.
      bool any_masked = false;
      for (int64_t j = 0; mask != nullptr && j < s; ++j) any_masked |= mask[j] == 0;
      if (any_masked) {
        hs.add.resize(static_cast<size_t>(s));
        for (int64_t j = 0; j < s; ++j) hs.add[static_cast<size_t>(j)] = mask[j] == 0 ? kNegInf : 0.0f;
      }
      if (bias != nullptr) hs.add.resize(static_cast<size_t>(s * (any_masked ? kRows + 1 : 1)));
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
        scores_4(qr, hs.kt.data(), d, cols, hs.scores.data());
        for (int r = 0; r < kRows; ++r) {
          const int64_t i = i0 + std::min<int64_t>(r, rows - 1);
          const float* add = any_masked ? hs.add.data() : nullptr;
          if (bias != nullptr && any_masked) {
            float* row = hs.add.data() + (r + 1) * s;
            for (int64_t j = 0; j < s; ++j) row[j] = bias[i * a.seq + j] + hs.add[static_cast<size_t>(j)];
            add = row;
          } else if (bias != nullptr) {
            add = bias + i * a.seq;
          }
          inv[r] = softmax_unnormalized(hs.scores.data() + r * cols, s, scale, add);
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

void attention(const AttentionArgs& args) {
  if (detail::avx512_allowed()) {
    attention_avx512(args);
  } else {
    attention_reference(args);
  }
}

}  // namespace optimum::kernels
