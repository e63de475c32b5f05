// The generic encoder-decoder engine: one Seq2SeqConfig describing the text
// encoder-decoder families (t5, bart, mbart, marian, whisper), the Seq2SeqFamily
// loader of each (config parser + weight loader, one file per family), and
// Seq2SeqModel, which encodes a padded batch once and hands out its decoder,
// bound to that encoder output, as a CausalLM: the generation layer drives
// it exactly as it drives a decoder-only model (greedy, sampling, beam
// search), with cross-attention keys/values computed once per input item and
// shared by every cache slot (beam) of that item.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"
#include "optimum/kernels/ops.h"
#include "optimum/models/blocks.h"
#include "optimum/models/causal_lm.h"
#include "optimum/models/decoder.h"
#include "optimum/models/weights.h"

namespace optimum::models {

// Where the positions of an encoder-decoder come from.
enum class Seq2SeqPositions {
  Relative,    // T5: bucketed relative bias on the scores (bidirectional encoder, causal decoder)
  Learned,     // BART/mBART: learned table read at position + offset (2)
  Sinusoidal,  // Marian: fixed sin|cos table (transformers' MarianSinusoidalPositionalEmbedding)
};

struct Seq2SeqConfig {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;  // d_model
  int64_t encoder_layers = 0;
  int64_t decoder_layers = 0;
  int64_t encoder_heads = 0;
  int64_t decoder_heads = 0;
  int64_t head_dim = 0;  // T5: d_kv; else hidden / heads
  int64_t encoder_ffn = 0;
  int64_t decoder_ffn = 0;
  kernels::Activation act = kernels::Activation::Relu;
  bool gated_mlp = false;  // T5 v1.1: act(wi_0 x) * wi_1 x
  NormKind norm = NormKind::LayerNorm;
  double norm_eps = 1e-5;
  bool pre_norm = false;              // T5, mBART; else post-norm (BART, Marian)
  bool final_norms = false;           // a norm after each stack (T5, mBART)
  bool layernorm_embedding = false;   // BART, mBART
  double embed_scale = 1.0;           // sqrt(d_model) with scale_embedding
  Seq2SeqPositions positions = Seq2SeqPositions::Learned;
  int64_t position_offset = 0;        // BART: 2
  int64_t max_position_embeddings = 0;  // 0 = unbounded (T5)
  int64_t relative_buckets = 32;      // T5 relative_attention_num_buckets
  int64_t relative_max_distance = 128;
  double attention_scale = 1.0;       // T5: 1; else head_dim^-0.5
  bool attention_bias = false;        // biases on q/k/v/o and the MLP (BART & co.)
  double output_scale = 1.0;          // T5 scale_decoder_outputs: d_model^-0.5
  bool final_logits_bias = false;     // BART, Marian
  int64_t decoder_start_token_id = 0;
  int64_t pad_token_id = 0;
  // Whisper: the encoder reads log-mel input_features [batch, num_mel_bins,
  // 2 * max_source_positions] through two conv1d + GELU (the second of
  // stride 2), then adds encoder_positions; no token embeddings.
  bool audio_encoder = false;
  int64_t num_mel_bins = 0;
  int64_t max_source_positions = 0;
  io::Json raw;  // config.json as read
};

// Self- or cross-attention of one layer.
struct Seq2SeqAttention {
  Linear qkv;  // self: [q; k; v]; cross: q only
  Linear kv;   // cross only: [k; v] applied to the encoder output
  Linear o;
  DecoderNorm norm;  // the norm of this sub-block (pre or post)
};

struct Seq2SeqFfn {
  Linear up;    // gated: [gate; up]
  Linear down;
  DecoderNorm norm;
};

struct Seq2SeqLayer {
  Seq2SeqAttention self_attn;
  Seq2SeqAttention cross_attn;  // decoder layers only
  Seq2SeqFfn ffn;
};

struct Seq2SeqWeights {
  Tensor embed_tokens;  // [vocab, hidden] (shared by encoder and decoder)
  Tensor encoder_positions;  // [positions, hidden] (learned / sinusoidal)
  Tensor decoder_positions;
  Tensor encoder_relative_bias;  // [buckets, heads] (T5)
  Tensor decoder_relative_bias;
  DecoderNorm encoder_embed_norm, decoder_embed_norm;  // layernorm_embedding
  std::vector<Seq2SeqLayer> encoder_layers, decoder_layers;
  DecoderNorm encoder_final_norm, decoder_final_norm;
  Linear lm_head;
  Tensor final_logits_bias;  // [vocab] or undefined
  // Whisper's conv front end, as im2col linears: weight [out, 3 * in] with
  // column k * in + i = conv.weight[out, i, k].
  Linear conv1, conv2;
};

// The loader of one family: config.json -> Seq2SeqConfig and weights.
struct Seq2SeqFamily {
  std::string model_type;
  std::function<Seq2SeqConfig(const io::Json& config, const std::string& source)> parse_config;
  std::function<Seq2SeqWeights(const Seq2SeqConfig&, const io::WeightStore&)> load_weights;
};

// Families, one function per file.
// Weight loading shared by the families (seq2seq.cc).
// LayerNorm `<name>.weight` / `<name>.bias` of size dim.
DecoderNorm seq2seq_layer_norm(const WeightSource& src, const std::string& name, int64_t dim);
// BART-style layers (bart, mbart, marian, whisper): `encoder.layers.{i}.` and
// `decoder.layers.{i}.` under the base prefix, with self_attn / encoder_attn
// (q/k/v/out_proj and `<attn>_layer_norm`), fc1 / fc2 and final_layer_norm.
// `k_bias`: whether k_proj has a bias (whisper's has none).
void load_bart_style_layers(const Seq2SeqConfig& c, const WeightSource& src, bool k_bias, Seq2SeqWeights& w);
// The LM head: the checkpoint's `name` Linear when the config unties it
// (tie_word_embeddings false) and the checkpoint holds it, else embed_tokens.
void load_seq2seq_lm_head(const Seq2SeqConfig& c, const WeightSource& src, const std::string& name,
                          Seq2SeqWeights& w);

Seq2SeqFamily t5_family();       // t5.cc
Seq2SeqFamily bart_family();     // bart.cc
Seq2SeqFamily mbart_family();    // bart.cc
Seq2SeqFamily marian_family();   // bart.cc
Seq2SeqFamily whisper_family();  // whisper.cc
// The loader of `model_type`; Unsupported lists the supported ones.
const Seq2SeqFamily& seq2seq_family(const std::string& model_type);
std::vector<std::string> seq2seq_model_types();
bool is_seq2seq_model_type(const std::string& model_type);

// An encoded batch: the encoder's last hidden state and its mask.
struct EncoderOutput {
  Tensor hidden;  // [batch, seq, hidden] f32
  std::vector<int64_t> mask;  // [batch * seq], 1 = a real token
  int64_t batch = 0;
  int64_t seq = 0;
};

class Seq2SeqModel;

// The decoder of a Seq2SeqModel bound to one EncoderOutput: cache slot s
// belongs to input item s / slots_per_item (Generator hands each request
// consecutive slots). Cross-attention keys/values are computed once here.
class BoundDecoder final : public CausalLM {
 public:
  BoundDecoder(std::shared_ptr<const Seq2SeqModel> model, EncoderOutput encoded, int64_t slots_per_item);
  int64_t vocab_size() const override;
  int64_t max_positions() const override;
  size_t cache_bytes_per_position() const override;
  std::unique_ptr<KvCache> new_cache(int64_t slots, int64_t capacity) const override;
  Tensor step(KvCache& cache, const std::vector<StepSegment>& segments,
              const StepOptions& options = {}) const override;
  const std::string& model_type() const override;
  const EncoderOutput& encoded() const { return encoded_; }

 private:
  std::shared_ptr<const Seq2SeqModel> model_;
  EncoderOutput encoded_;
  int64_t slots_per_item_;
  // Per decoder layer: [batch, heads, seq, head_dim] keys and values.
  std::vector<Tensor> cross_k_, cross_v_;
};

class Seq2SeqModel : public std::enable_shared_from_this<Seq2SeqModel> {
 public:
  // config.json + the folder's weights.
  static std::shared_ptr<const Seq2SeqModel> load(const std::filesystem::path& dir);
  static std::shared_ptr<const Seq2SeqModel> load(const io::Json& config, const io::WeightStore& weights,
                                                  const std::string& source);
  Seq2SeqModel(Seq2SeqConfig config, Seq2SeqWeights weights);

  // Encodes a padded batch: ids [batch, seq], mask (null = all ones).
  // InvalidArgument names an id outside the vocabulary or a sequence past
  // the positions.
  EncoderOutput encode(const int64_t* ids, const int64_t* mask, int64_t batch, int64_t seq) const;
  // Encodes log-mel features [batch, mel_bins, frames] (an audio encoder:
  // whisper). InvalidArgument names a mel_bins or frames count other than
  // the config's (frames must be 2 * max_source_positions, as transformers
  // requires) or a text model.
  EncoderOutput encode_features(const float* features, int64_t batch, int64_t mel_bins, int64_t frames) const;
  // The decoder bound to `encoded` (see BoundDecoder).
  std::shared_ptr<const BoundDecoder> bind(EncoderOutput encoded, int64_t slots_per_item) const;

  const Seq2SeqConfig& config() const { return config_; }
  const Seq2SeqWeights& weights() const { return weights_; }

 private:
  friend class BoundDecoder;
  // The encoder layers (and final norm) over embedded x [batch, seq, hidden].
  void run_encoder_layers(EncoderOutput& out) const;
  Seq2SeqConfig config_;
  Seq2SeqWeights weights_;
};

// Sinusoidal table [n_pos, dim] as transformers' Marian builds it.
Tensor sinusoidal_positions(int64_t n_pos, int64_t dim);

}  // namespace optimum::models
