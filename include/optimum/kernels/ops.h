// Element-wise, normalization and attention kernels on f32 rows.
#pragma once

#include <cstdint>
#include <string>

namespace optimum::kernels {

// Activation functions, with the names transformers' ACT2FN uses.
enum class Activation { Identity, Gelu, GeluTanh, GeluFast, QuickGelu, Relu, Silu, Tanh };

// Parses an ACT2FN name ("gelu", "gelu_new", "relu", ...); throws
// Unsupported naming it.
Activation activation_from_name(const std::string& name);
// The ACT2FN name of an activation (inverse of activation_from_name).
std::string activation_name(Activation act);

// x[i] = act(x[i]) for n elements.
void apply_activation(float* x, int64_t n, Activation act);
// The same on one span, on the calling thread (for use inside parallel loops).
// GELU (erf and tanh forms), QuickGELU and SiLU use vectorized exp/erf
// (absolute error < 1e-6 against std::erf / std::tanh).
void activation_span(float* x, int64_t n, Activation act);

// out[r] = LayerNorm(x[r] + residual[r]) * gamma + beta for each of `rows`
// rows of `cols`; residual may be null; out may alias x.
void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                double eps, int64_t rows, int64_t cols, float* out, uint16_t* out_bf16 = nullptr);

// In-place softmax over each row of n values.
void softmax_row(float* x, int64_t n);
// f32 -> bf16 bit patterns, round to nearest even (NaN stays NaN), on the
// calling thread; to_bf16 splits the work over the threads.
void to_bf16_span(const float* x, int64_t n, uint16_t* out);
void to_bf16(const float* x, int64_t n, uint16_t* out);
// max(x[0..n)) (-inf when n == 0) and max|x[0..n)| (0 when n == 0): AVX-512
// where the CPU has it (GCC does not vectorize float max reductions without
// -ffast-math, whose finite-math assumption the -inf masking forbids).
float row_max(const float* x, int64_t n);
float row_absmax(const float* x, int64_t n);
// min and max of x[0..n) in one pass (n > 0).
void row_minmax(const float* x, int64_t n, float* lo, float* hi);

// The hand-vectorized path the kernels here take: "avx512", "avx2" (with
// FMA) or "baseline"; the CPU's best, capped by OPTIMUM_CPU_ISA. On aarch64
// "neon": the portable loops, vectorized by the compiler for NEON.
std::string vector_isa_name();

// Multi-head self-attention over a padded batch.
struct AttentionArgs {
  const float* q;          // [rows, ld_qkv], heads packed as h*head_dim
  const float* k;
  const float* v;
  int64_t ld_qkv;          // row stride of q, k, v
  const int64_t* mask;     // [batch, seq] 1 = attend, 0 = masked key; null = all ones
  const float* bias;       // [heads, seq, seq] added to scores; null = none
  int64_t batch;
  int64_t seq;             // padded length (rows per item when `offsets` is null)
  int64_t heads;
  int64_t head_dim;
  float* out;              // [rows, heads*head_dim]
  // Unpadded (packed) batches: item b owns rows offsets[b] .. offsets[b]+lengths[b]
  // and attends to exactly those; `mask` is then ignored. Null = padded layout
  // (item b owns rows b*seq .. b*seq+seq).
  const int64_t* offsets = nullptr;
  const int64_t* lengths = nullptr;
  // When set, `out` is also written as bf16 here (same layout), for bf16 layers.
  uint16_t* out_bf16 = nullptr;
  // q, k, v and the softmax weights rounded to bf16 (f32 accumulation and
  // softmax), for attention between bf16 layers; AMX where the CPU has it
  // (else this is ignored and attention stays f32).
  bool bf16 = false;
};
// softmax(q·kᵀ / sqrt(head_dim) + bias + mask)·v per batch item and head.
void attention(const AttentionArgs& args);
// Whether AttentionArgs::bf16 takes effect on this CPU (AMX-BF16, within the
// OPTIMUM_CPU_ISA cap).
bool attention_bf16_supported();

}  // namespace optimum::kernels
