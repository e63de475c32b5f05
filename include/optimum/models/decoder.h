// The generic decoder engine: one DecoderConfig describing every causal
// decoder family (llama, mistral, qwen2, qwen3, phi3, gemma, gemma3_text,
// gpt2), the DecoderFamily loader of each decoder entry of the architecture
// registry (config parser, weight-name table, optional weight-loading hook;
// models/architecture.h), and DecoderModel, the CausalLM that runs any of
// them over a preallocated f32 KV cache.
//
// A new family is one file that builds its Architecture entry and one line in
// register_architectures() (src/models/architecture.cc).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"
#include "optimum/kernels/matmul.h"
#include "optimum/kernels/ops.h"
#include "optimum/models/blocks.h"
#include "optimum/models/causal_lm.h"
#include "optimum/models/weights.h"

namespace optimum::models {

// ---------------------------------------------------------------- config

// transformers' ROPE_INIT_FUNCTIONS keys this engine implements.
enum class RopeType { Default, Linear, Dynamic, Llama3, Yarn, LongRope };

// One RoPE setting (transformers' `rope_parameters` dict after
// standardize_rope_params). inv_freq and the attention scaling are computed
// from it exactly as modeling_rope_utils does (rope_inv_freq below).
struct RopeConfig {
  RopeType type = RopeType::Default;
  double theta = 10000.0;                 // rope_theta
  double partial_rotary_factor = 1.0;     // rotary dims = int(head_dim * factor)
  double factor = 1.0;                    // linear / dynamic / llama3 / yarn
  int64_t original_max_position_embeddings = 0;  // llama3 / yarn
  double low_freq_factor = 1.0;           // llama3
  double high_freq_factor = 4.0;          // llama3
  // yarn; NaN = absent (transformers' None / missing key).
  double attention_factor = std::numeric_limits<double>::quiet_NaN();
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 0.0;                    // 0 = absent
  double mscale_all_dim = 0.0;            // 0 = absent
  bool truncate = true;
  // longrope (phi3): per-frequency divisors [rotary_dims / 2], short up to
  // original_max_position_embeddings positions, long past it (`factor`
  // defaults to max_position_embeddings / original_max_position_embeddings).
  std::vector<float> short_factor;
  std::vector<float> long_factor;
};

// Per-layer attention options.
struct DecoderLayerOptions {
  // 0: full causal attention; w > 0: a query at position p sees keys at
  // positions k with p - k < w (transformers' sliding_window_overlay).
  int64_t sliding_window = 0;
  // Index into DecoderConfig::ropes.
  int rope = 0;
  // Score multiplier of this layer; 0 = DecoderConfig::attention_scale
  // (gpt2's scale_attn_by_inverse_layer_idx sets one per layer).
  double attention_scale = 0.0;
};

// Everything the engine needs to know about a decoder checkpoint; a family's
// parse_config fills it from config.json with transformers' key names and
// defaults.
struct DecoderConfig {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  kernels::Activation act = kernels::Activation::Silu;
  // act(gate(x)) * up(x) (llama & co.) or act(up(x)) (gpt2).
  bool gated_mlp = true;
  NormKind norm = NormKind::RmsNorm;
  double norm_eps = 1e-6;
  PositionKind positions = PositionKind::Rope;
  // Distinct RoPE settings (gemma3: global and local); layers index them.
  std::vector<RopeConfig> ropes{RopeConfig{}};
  // One entry per layer (size n_layers).
  std::vector<DecoderLayerOptions> layers;
  // Scores are multiplied by this before softmax: head_dim^-0.5 or
  // query_pre_attn_scalar^-0.5 (gemma2/3).
  double attention_scale = 0.0;
  // cap * tanh(x / cap) on attention scores / final logits; 0 = off.
  double attn_logit_softcapping = 0.0;
  double final_logit_softcapping = 0.0;
  // Per-head norms of q and k before RoPE, over head_dim (qwen3, gemma3).
  bool qk_norm = false;
  // Norm after attention and after the MLP, before each residual add
  // (gemma2/3: post_attention_layernorm / post_feedforward_layernorm).
  bool sandwich_norms = false;
  // Embeddings multiplied by sqrt(hidden_size) (as an f32 scalar, gemma).
  bool scale_embeddings = false;
  bool tie_word_embeddings = false;
  bool attention_bias = false;      // q, k, v projections
  bool attention_out_bias = false;  // o projection
  bool mlp_bias = false;
  // config.json as read.
  io::Json raw;
};

// inv_freq [rotary_dims / 2] and the attention scaling (cos/sin multiplier)
// of `rope` as transformers computes them for a sequence of `seq_len`
// positions (only the dynamic type depends on it; 0 = at init).
struct RopeTable {
  std::vector<float> inv_freq;
  float attention_scaling = 1.0f;
  int64_t rotary_dims = 0;
};
RopeTable rope_inv_freq(const RopeConfig& rope, const DecoderConfig& config, int64_t seq_len = 0);

// Reads transformers' rope keys from a config.json object: `rope_parameters`
// (transformers 5; flat, or nested by layer type when `layer_type` is set)
// or the older `rope_theta` + `rope_scaling`, with standardize_rope_params'
// defaulting (rope_type from "type", original_max_position_embeddings from
// max_position_embeddings, top-level partial_rotary_factor). Unsupported
// names a rope_type outside RopeType. `default_theta` is the family's.
RopeConfig parse_rope(const io::Json& config, const std::string& source, double default_theta = 10000.0,
                      const std::string& layer_type = "");

// Checks sizes (positive, heads divisible by kv heads, layers vector size,
// rotary dims even and <= head_dim...); FormatError names the field and source.
void validate_decoder_config(const DecoderConfig& config, const std::string& source);

// ---------------------------------------------------------------- weights

// A norm's parameters (bias only for LayerNorm).
struct DecoderNorm {
  Tensor weight;  // [dim] f32
  Tensor bias;    // [dim] f32 or undefined
};

// One block, in the fused layouts the engine computes with.
struct DecoderLayerWeights {
  DecoderNorm attn_norm;      // before attention (input_layernorm)
  DecoderNorm attn_out_norm;  // after attention (sandwich_norms only)
  DecoderNorm mlp_norm;       // before the MLP
  DecoderNorm mlp_out_norm;   // after the MLP (sandwich_norms only)
  DecoderNorm q_norm;         // [head_dim] (qk_norm only)
  DecoderNorm k_norm;
  Linear qkv;      // [q; k; v] rows: (heads + 2 * kv_heads) * head_dim
  Linear o;        // heads * head_dim -> hidden
  Linear gate_up;  // gated: [gate; up] (2 * intermediate rows); plain: up only
  Linear down;     // intermediate -> hidden
};

struct DecoderWeights {
  Tensor embed_tokens;         // [vocab, hidden] f32
  Tensor position_embeddings;  // [max_positions, hidden] (PositionKind::Learned)
  std::vector<DecoderLayerWeights> layers;
  DecoderNorm final_norm;
  // [vocab, hidden]; undefined for a base-model checkpoint (no head).
  Linear lm_head;
};

// Checkpoint names of a family's weights, relative to the base model (the
// WeightSource base prefix: "model" for llama's LlamaModel inside
// LlamaForCausalLM). "{i}" in `layer` is the layer index. An empty name
// means the family has no such weight.
struct DecoderWeightNames {
  std::string base_prefix = "model";
  std::string embed_tokens = "embed_tokens.weight";
  std::string position_embeddings;  // gpt2: "wpe.weight"
  std::string final_norm = "norm";
  std::string lm_head = "lm_head";  // not under the base prefix
  std::string layer = "layers.{i}.";
  std::string attn_norm = "input_layernorm";
  std::string attn_out_norm;  // gemma2/3: "post_attention_layernorm"
  std::string mlp_norm = "post_attention_layernorm";  // gemma2/3: "pre_feedforward_layernorm"
  std::string mlp_out_norm;   // gemma2/3: "post_feedforward_layernorm"
  std::string q_norm = "self_attn.q_norm";
  std::string k_norm = "self_attn.k_norm";
  std::string q = "self_attn.q_proj";
  std::string k = "self_attn.k_proj";
  std::string v = "self_attn.v_proj";
  std::string qkv;  // fused checkpoint layer (phi3: "self_attn.qkv_proj"); then q/k/v unused
  std::string o = "self_attn.o_proj";
  std::string gate = "mlp.gate_proj";
  std::string up = "mlp.up_proj";
  std::string gate_up;  // fused checkpoint layer (phi3: "mlp.gate_up_proj", [gate; up])
  std::string down = "mlp.down_proj";
};

// Loads weights by `names` (f32, shape-checked against `config`), fusing q/k/v
// and gate/up; the lm_head is the embedding table when tied, undefined when
// the checkpoint is a base model without one. NotFound / FormatError name
// the tensor and the source.
DecoderWeights load_decoder_weights(const DecoderConfig& config, const DecoderWeightNames& names,
                                    const io::WeightStore& store);

// ---------------------------------------------------------------- registry

// The decoder loader of an architecture entry. Its config keys are the
// entry's spec table (Architecture::config, models/decoder_spec.h); only what
// no table says is a hook here.
struct DecoderFamily {
  std::string model_type;  // filled by the registry from the entry
  // config.json -> DecoderConfig: filled by the registry, read_decoder_config
  // over the entry's spec table and blocks, then `finish`. FormatError names
  // the source and the key.
  std::function<DecoderConfig(const io::Json& config, const std::string& source)> parse_config;
  // Optional: the type of layer `i` ("full_attention", "sliding_attention")
  // when config.json has no layer_types (Qwen2's max_window_layers, Gemma3's
  // sliding_window_pattern); null: every layer full.
  std::function<std::string(const config::KeyValues& values, int64_t layer)> layer_type;
  // Optional: what the family does after the generic reader (gpt2's per-layer
  // attention scale, its head-size check).
  std::function<void(DecoderConfig& config, const config::KeyValues& values)> finish;
  DecoderWeightNames names;
  // Optional: families whose checkpoints need more than renaming (gpt2's
  // transposed Conv1D weights); null = load_decoder_weights(config, names, store).
  std::function<DecoderWeights(const DecoderConfig&, const io::WeightStore&)> load_weights;
};

// The loader of `model_type` (architecture.cc); Unsupported lists the
// supported decoder model types.
const DecoderFamily& decoder_family(const std::string& model_type);
// Registered decoder model_types, sorted.
std::vector<std::string> decoder_model_types();
bool is_decoder_model_type(const std::string& model_type);

// ---------------------------------------------------------------- model

// Sees named intermediates of a forward (llama.cpp's `cb(cur, name, il)`):
// "embeddings" (layer -1, after scaling and positions) and "layer_output"
// (after each block, before the final norm): what transformers'
// output_hidden_states holds, to bisect a parity failure layer by layer.
// `data` is [rows, cols] and valid during the call only.
using DecoderTrace =
    std::function<void(const char* name, int64_t layer, const float* data, int64_t rows, int64_t cols)>;

struct DecoderLoadOptions {
  // Precision the projection Linears are packed in (F32 for now; BF16/S8
  // pack through PackedLinear as for the encoders).
  kernels::WeightType compute = kernels::WeightType::F32;
  // Keep each packed Linear's checkpoint `weight`/`bias` (export needs them);
  // by default they are released after packing, halving the resident weights.
  bool keep_weights = false;
};

// A decoder of any registered family behind the CausalLM interface.
class DecoderModel : public CausalLM {
 public:
  // config.json + the folder's weights (io::WeightStore::open_dir).
  static std::shared_ptr<const DecoderModel> load(const std::filesystem::path& dir,
                                                  const DecoderLoadOptions& options = {});
  // The same with dir's config.json already read (`config`): a checkpoint or
  // a native export (optimum_export.json).
  static std::shared_ptr<const DecoderModel> load(const std::filesystem::path& dir, const io::Json& config,
                                                  const DecoderLoadOptions& options = {});
  // A config object as config.json holds it and weights under the
  // checkpoint's names (GGUF conversion builds these in memory); `source`
  // names them in errors.
  static std::shared_ptr<const DecoderModel> load(const io::Json& config, const io::WeightStore& weights,
                                                  const std::string& source,
                                                  const DecoderLoadOptions& options = {});
  // From parts already made (families with their own conversion).
  DecoderModel(DecoderConfig config, DecoderWeights weights, const DecoderLoadOptions& options = {});

  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override { return config_.max_position_embeddings; }
  size_t cache_bytes_per_position() const override;
  std::unique_ptr<KvCache> new_cache(int64_t slots, int64_t capacity) const override;
  Tensor step(KvCache& cache, const std::vector<StepSegment>& segments,
              const StepOptions& options = {}) const override;
  const std::string& model_type() const override { return config_.model_type; }

  // The final-normed hidden states [rows, hidden] of every new token (rows
  // in segment order), appending to the cache as step() does: the base
  // model's last_hidden_state (feature extraction, last-token pooling).
  Tensor hidden_states(KvCache& cache, const std::vector<StepSegment>& segments,
                       const DecoderTrace& trace = nullptr) const;
  // Whether the checkpoint has an lm_head (or tied embeddings): step() needs one.
  bool has_lm_head() const { return weights_.lm_head.packed.defined(); }

  const DecoderConfig& config() const { return config_; }
  const DecoderWeights& weights() const { return weights_; }

 private:
  // Runs the blocks; returns the final-normed hidden rows [rows, hidden].
  Tensor forward(KvCache& cache, const std::vector<StepSegment>& segments, const DecoderTrace& trace) const;

  DecoderConfig config_;
  DecoderWeights weights_;
  std::vector<RopeTable> rope_tables_;  // inv_freq per config_.ropes entry, at load
};

}  // namespace optimum::models
