// The shared blocks of every architecture, described once: embeddings,
// attention, MLP and norms. Each architecture entry (models/architecture.h),
// encoder or decoder, fills one BlockOptions saying which variant of each
// block it runs; the engines (Encoder for the bidirectional post-norm
// blocks, DecoderModel for the causal pre-norm ones) implement them, and a
// loaded config is checked against its entry's description.
#pragma once

#include <string>

namespace optimum::models {

// Normalization layers, as the families define them.
enum class NormKind {
  RmsNorm,         // x * rsqrt(mean(x²) + eps) * w          (llama, mistral, qwen, phi3)
  RmsNormPlusOne,  // x * rsqrt(mean(x²) + eps) * (1 + w)    (gemma, gemma2, gemma3)
  LayerNorm,       // (x - mean) / sqrt(var + eps) * w + b   (bert & co., gpt2)
};

// Where token positions come from.
enum class PositionKind {
  Rope,     // rotary embeddings on q and k (DecoderConfig::ropes)
  Learned,  // a learned absolute table added to the embeddings (bert's position_embeddings, gpt2's wpe)
  Sinusoidal,  // a fixed sin|cos table added to the embeddings (Marian)
  None,
};

struct EmbeddingOptions {
  PositionKind positions = PositionKind::Learned;
  // Learned positions counted from pad_token_id + 1 (RoBERTa, MPNet) rather than 0.
  bool positions_from_padding_index = false;
  bool token_types = false;  // a token-type table is added (BERT's segment embeddings)
  bool factorized = false;   // embedding_size may differ from hidden_size (ALBERT, ELECTRA)
  bool scaled = false;       // multiplied by sqrt(hidden_size) (gemma)
  bool norm = false;         // a norm right after the embeddings (BERT's embeddings.LayerNorm)
  // Patch embeddings of pixel_values (a strided convolution, run as im2col +
  // GEMM) after a learned CLS token, instead of token ids (ViT).
  bool patches = false;
};

struct AttentionOptions {
  bool causal = false;          // else bidirectional (padding mask only)
  bool grouped_kv = false;      // n_heads_kv may be below n_heads (GQA / MQA)
  bool relative_bias = false;   // a bucketed relative position bias shared by the layers (MPNet)
  bool qk_norm = false;         // per-head norms of q and k (qwen3, gemma3)
  bool sliding_window = false;  // some layers see a window of keys (mistral, gemma3)
  bool soft_capping = false;    // cap * tanh(x / cap) on scores or logits (gemma2)
};

struct MlpOptions {
  bool gated = false;  // act(gate(x)) * up(x); else act(up(x)). The activation comes from the config.
};

struct NormOptions {
  NormKind kind = NormKind::LayerNorm;
  bool pre_norm = false;  // norm before each sub-block (decoders); else after the residual add (BERT)
  bool sandwich = false;  // also a norm after each sub-block, before the residual add (gemma3)
  bool final_norm = false;  // a norm after the last layer (pre-norm encoders: ViT's layernorm)
};

// Which variant of each shared block an architecture runs.
struct BlockOptions {
  EmbeddingOptions embeddings;
  AttentionOptions attention;
  MlpOptions mlp;
  NormOptions norm;
};

// BERT's blocks: learned absolute positions, token types, embedding
// LayerNorm, bidirectional multi-head attention, plain MLP, post-LayerNorm.
BlockOptions encoder_blocks();
// Llama's blocks: RoPE, causal grouped-query attention, gated MLP, pre-RMSNorm.
BlockOptions decoder_blocks();

// A one-line description ("learned positions, token types, bidirectional
// attention, plain MLP, post LayerNorm"), for `optimum-cpp info` and errors.
std::string describe(const BlockOptions& blocks);

}  // namespace optimum::models
