// Decoder kernels on f32 rows: RMSNorm (with and without gemma's +1 weight
// offset), rotary position embeddings (transformers' rotate_half layout,
// partial rotary), the gated MLP activation and ragged attention of new
// tokens over a per-sequence key/value cache (GQA, causal, sliding window,
// soft-capping). Each has a scalar `_reference` twin (double accumulation)
// that the unit tests compare the fast path against.
#pragma once

#include <cstdint>

#include "optimum/kernels/ops.h"

namespace optimum::kernels {

// out[r] = x[r] * rsqrt(mean(x[r]²) + eps) * (weight + offset) for `rows`
// rows of `cols` (row strides ld_x, ld_out); out may alias x. offset is 0
// (llama) or 1 (gemma).
void rms_norm(const float* x, int64_t ld_x, const float* weight, float offset, double eps, int64_t rows,
              int64_t cols, float* out, int64_t ld_out);
void rms_norm_reference(const float* x, int64_t ld_x, const float* weight, float offset, double eps,
                        int64_t rows, int64_t cols, float* out, int64_t ld_out);

// RoPE in place on `heads` heads of `head_dim` per row (row stride ld):
// for i < half = rotary_dims / 2,
//   x[i]        = x[i] * cos[r][i] - x[i + half] * sin[r][i]
//   x[i + half] = x[i + half] * cos[r][i] + x[i] * sin[r][i]
// (transformers' apply_rotary_pos_emb with rotate_half); dims from
// rotary_dims to head_dim are left as they are. cos/sin: [rows, half].
void rope_apply(float* x, int64_t ld, int64_t rows, int64_t heads, int64_t head_dim, int64_t rotary_dims,
                const float* cos, const float* sin);
void rope_apply_reference(float* x, int64_t ld, int64_t rows, int64_t heads, int64_t head_dim,
                          int64_t rotary_dims, const float* cos, const float* sin);

// out[r][j] = act(gu[r][j]) * gu[r][n + j] for j < n (gu rows of 2n: [gate; up]).
void gated_activation(const float* gu, int64_t rows, int64_t n, Activation act, float* out);

// One sequence's new tokens in a ragged attention batch.
struct CachedAttentionSegment {
  int64_t row0 = 0;   // first row of the segment in q / out
  int64_t count = 0;  // new tokens (rows)
  int64_t past = 0;   // positions cached before them: token j sits at past + j
  // Keys / values of this sequence and layer: [kv_heads, capacity, head_dim],
  // the new tokens already written at past .. past + count - 1.
  const float* k = nullptr;
  const float* v = nullptr;
};

struct CachedAttentionArgs {
  const float* q = nullptr;  // [rows, ld_q]: heads * head_dim per row
  int64_t ld_q = 0;
  float* out = nullptr;      // [rows, ld_out]: heads * head_dim per row
  int64_t ld_out = 0;
  const CachedAttentionSegment* segments = nullptr;
  int64_t n_segments = 0;
  int64_t heads = 0;
  int64_t heads_kv = 0;  // heads % heads_kv == 0; head h reads kv head h / (heads / heads_kv)
  int64_t head_dim = 0;
  int64_t capacity = 0;  // positions per kv head in segments' k / v
  float scale = 1.0f;    // scores = q·k * scale
  float softcap = 0.0f;  // > 0: scores = softcap * tanh(scores / softcap)
  // > 0: position p attends to keys k with p - k < sliding_window.
  int64_t sliding_window = 0;
};
// softmax(scores)·v for every (segment, head, new token), causal: token j
// sees cached positions up to past + j. OpenMP over (segment, head, rows).
void cached_attention(const CachedAttentionArgs& args);
void cached_attention_reference(const CachedAttentionArgs& args);

}  // namespace optimum::kernels
