// The transformer encoder shared by every BERT-like family: embeddings,
// post-LayerNorm layers with fused Q/K/V, optional relative position bias
// (MPNet), optional layer sharing (ALBERT) and an optional pooler. Family
// files fill EncoderWeights; the forward is written once here.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/kernels/ops.h"
#include "optimum/models/weights.h"

namespace optimum::models {

// How position ids are made when the caller gives none.
enum class PositionStyle {
  Absolute,          // 0, 1, 2, ... (BERT)
  FromPaddingIndex,  // pad + cumsum(input_ids != pad) for real tokens, pad for padding (RoBERTa, MPNet)
};

struct EncoderLayer {
  Linear qkv;  // fused [3*hidden, hidden]
  Linear attn_out;
  Norm attn_norm;
  Linear ffn_in;
  Linear ffn_out;
  Norm ffn_norm;
};

struct EncoderWeights {
  // Text encoders embed token ids; vision encoders (ViT) embed patches of
  // pixel_values instead: patch_embedding set, word_embeddings undefined.
  Tensor word_embeddings;       // [vocab, embedding_size] F32, or I8 (int8 exports)
  Tensor word_embedding_scale;  // [vocab] F32 per-row scales of an I8 table (dequantized at gather)
  Tensor position_embeddings;   // [max_positions, embedding_size]
  Tensor token_type_embeddings; // [type_vocab, embedding_size]; undefined if none
  Norm embedding_norm;          // dim 0: none (ViT)
  // The patch convolution as a Linear [hidden, channels*patch_h*patch_w]
  // over patches flattened (channel, row, column), as Conv2d's weight is.
  std::optional<Linear> patch_embedding;
  Tensor cls_token;             // [hidden], prepended to the patches (ViT)
  std::optional<Linear> embedding_project;  // embedding_size -> hidden (ELECTRA, ALBERT)
  std::vector<EncoderLayer> layers;         // distinct layers
  std::vector<size_t> layer_order;          // layers run, by index into `layers`
  Tensor relative_attention_bias;           // [buckets, heads] (MPNet); undefined if none
  std::optional<Linear> pooler;             // dense + tanh on the first token
  // Layer arrangement: attn_norm / ffn_norm normalize each sub-block's input
  // (ViT's layernorm_before / layernorm_after) instead of the residual sum.
  bool pre_norm = false;
  Norm final_norm;  // after the last layer (ViT's layernorm); dim 0: none
};

// Model inputs as row-major [batch, seq] int64 arrays. Null optional inputs
// take the family defaults (mask all ones, token types zero, positions per
// PositionStyle).
struct EncoderInputs {
  int64_t batch = 0;
  int64_t seq = 0;  // vision: patches + 1
  const int64_t* input_ids = nullptr;
  // Vision encoders: [batch, channels, height, width] f32 instead of input_ids.
  const float* pixel_values = nullptr;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  const int64_t* attention_mask = nullptr;
  const int64_t* token_type_ids = nullptr;
  const int64_t* position_ids = nullptr;
  // Compute only attended tokens: right-padded items are packed into
  // consecutive rows (attention per item), so padding costs nothing; the
  // hidden states at padding positions come back as zeros instead of
  // transformers' (unused) values. Items whose first token is padding keep
  // the padded path.
  bool skip_padding = false;
};

// Called with every named intermediate ("embeddings", "attention",
// "layer_output", ...) and its layer index (-1 outside layers), so parity
// failures can be bisected against transformers' hidden states.
using ForwardHook = std::function<void(std::string_view name, int64_t layer, const Tensor& value)>;

class Encoder {
 public:
  // Packs every layer's Linears for oneDNN in precision `compute` (see
  // kernels/matmul.h); the embedding projection and pooler stay f32.
  Encoder(const config::EncoderConfig& config, EncoderWeights weights, PositionStyle positions,
          kernels::WeightType compute = kernels::WeightType::F32);

  // Checks ids, types and positions against the config; InvalidArgument
  // names the input, the offending value and its index.
  void validate(const EncoderInputs& in) const;
  // last_hidden_state [batch*seq, hidden].
  Tensor forward(const EncoderInputs& in, const ForwardHook* hook = nullptr) const;
  // tanh(dense(h[:, 0])) -> [batch, hidden]; requires has_pooler().
  Tensor pool(const Tensor& hidden, int64_t batch, int64_t seq) const;
  bool has_pooler() const { return weights_.pooler.has_value(); }
  // Embeds pixel_values rather than input_ids.
  bool is_vision() const { return weights_.patch_embedding.has_value(); }
  const EncoderWeights& weights() const { return weights_; }
  PositionStyle positions() const { return positions_; }
  const config::EncoderConfig& config() const { return config_; }

 private:
  struct Packing {
    int64_t tokens = 0;            // attended tokens; 0 = padded layout
    std::vector<int64_t> offsets;  // first row of each item, plus the total
    std::vector<int64_t> lengths;
  };
  Packing plan_packing(const EncoderInputs& in) const;
  Tensor embed(const EncoderInputs& in) const;
  Tensor embed_patches(const EncoderInputs& in) const;
  Tensor position_bias(int64_t seq) const;

  config::EncoderConfig config_;
  EncoderWeights weights_;
  PositionStyle positions_;
  kernels::Activation act_;
  kernels::Activation pooler_act_;  // pooler_act (tanh but for some ViT configs)
};

// Rows hidden[b*seq + 0] for each b: [batch, width].
Tensor first_tokens(const Tensor& hidden, int64_t batch, int64_t seq);

}  // namespace optimum::models
