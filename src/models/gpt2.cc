// gpt2: LayerNorm blocks, learned absolute positions (wpe), fused c_attn,
// gelu_new MLP, biases everywhere, lm_head tied to wte. Its key table is
// transformers' GPT2Config (n_embd, n_layer, n_head, n_inner, n_positions,
// activation_function, layer_norm_epsilon, scale_attn_weights,
// scale_attn_by_inverse_layer_idx; the attribute_map names hidden_size, ...
// are accepted too). The checkpoint's Conv1D weights
// are stored transposed ([in, out]); the load hook turns them into Linears.
#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {

namespace {

// A Conv1D (weight [in, out], bias [out]) as a Linear (weight [out, in]).
Linear conv1d(const WeightSource& src, const std::string& name, int64_t in, int64_t out) {
  const Tensor w = src.tensor(name + ".weight", {in, out});
  Tensor t = Tensor::zeros(DType::F32, {out, in});
  const float* s = w.data<float>();
  float* d = t.mutable_data<float>();
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) d[o * in + i] = s[i * out + o];
  }
  Linear l;
  l.weight = t;
  l.bias = src.tensor(name + ".bias", {out});
  l.in = in;
  l.out = out;
  return l;
}

DecoderNorm layer_norm(const WeightSource& src, const std::string& name, int64_t dim) {
  return DecoderNorm{src.tensor(name + ".weight", {dim}), src.tensor(name + ".bias", {dim})};
}

DecoderWeights load_gpt2(const DecoderConfig& c, const io::WeightStore& store) {
  WeightSource src(store, "transformer");
  const int64_t H = c.hidden_size;
  DecoderWeights w;
  w.embed_tokens = src.tensor(src.base("wte.weight"), {c.vocab_size, H});
  w.position_embeddings = src.tensor(src.base("wpe.weight"), {c.max_position_embeddings, H});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto name = [&](const std::string& leaf) { return src.base("h." + std::to_string(i) + "." + leaf); };
    DecoderLayerWeights l;
    l.attn_norm = layer_norm(src, name("ln_1"), H);
    l.mlp_norm = layer_norm(src, name("ln_2"), H);
    l.qkv = conv1d(src, name("attn.c_attn"), H, 3 * H);  // [q; k; v] along the output
    l.o = conv1d(src, name("attn.c_proj"), H, H);
    l.gate_up = conv1d(src, name("mlp.c_fc"), H, c.intermediate_size);
    l.down = conv1d(src, name("mlp.c_proj"), c.intermediate_size, H);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = layer_norm(src, src.base("ln_f"), H);
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.embed_tokens;
    w.lm_head.in = H;
    w.lm_head.out = c.vocab_size;
  } else if (src.has("lm_head.weight")) {
    w.lm_head = src.linear("lm_head", H, c.vocab_size, false);
  }
  return w;
}

// GPT2Config's keys: its own spellings first, the attribute_map names as aliases.
std::vector<config::KeySpec> gpt2_keys() {
  using config::KeyCheck;
  using config::KeyType;
  auto aliased = [](const char* field, const char* name, io::Json fallback) {
    config::KeySpec k = renamed(field, name, KeyType::Integer, std::move(fallback), KeyCheck::Positive);
    k.aliases = {field};
    return k;
  };
  config::KeySpec cross = key("add_cross_attention", KeyType::Boolean, false);
  cross.refused = true;
  cross.refused_why = "an encoder-decoder gpt2";
  // reorder_and_upcast_attn only changes the dtype of a mixed-precision softmax: f32 here anyway.
  config::KeySpec upcast = key("reorder_and_upcast_attn", KeyType::Boolean, false);
  upcast.ignored = true;
  return {
      key("vocab_size", KeyType::Integer, 50257, KeyCheck::Positive),
      aliased("hidden_size", "n_embd", 768),
      aliased("num_hidden_layers", "n_layer", 12),
      aliased("num_attention_heads", "n_head", 12),
      aliased("max_position_embeddings", "n_positions", 1024),
      renamed("intermediate_size", "n_inner", KeyType::Integer, nullptr, KeyCheck::Positive),  // None: 4 * n_embd
      renamed("hidden_act", "activation_function", KeyType::String, "gelu_new"),
      renamed("norm_eps", "layer_norm_epsilon", KeyType::Number, 1e-5, KeyCheck::NonNegative),
      key("tie_word_embeddings", KeyType::Boolean, true),
      key("scale_attn_weights", KeyType::Boolean, true),
      key("scale_attn_by_inverse_layer_idx", KeyType::Boolean, false),
      cross,
      upcast,
      fixed("attention_bias", true),
      fixed("mlp_bias", true),
  };
}

// GPT2Attention's checks and its per-layer scale.
void finish_gpt2(DecoderConfig& c, const config::KeyValues& v) {
  if (c.hidden_size % c.n_heads != 0) {
    throw FormatError(v.source() + ": n_embd " + std::to_string(c.hidden_size) + " is not a multiple of n_head " +
                      std::to_string(c.n_heads));
  }
  if (v.boolean("scale_attn_by_inverse_layer_idx")) {
    for (size_t i = 0; i < c.layers.size(); ++i) c.layers[i].attention_scale = c.attention_scale / static_cast<double>(i + 1);
  }
}

// Learned absolute positions, causal multi-head attention, plain MLP, pre-LayerNorm.
BlockOptions gpt2_blocks() {
  BlockOptions b = decoder_blocks();
  b.embeddings.positions = PositionKind::Learned;
  b.attention.grouped_kv = false;
  b.mlp.gated = false;
  b.norm.kind = NormKind::LayerNorm;
  return b;
}

}  // namespace

Architecture gpt2_architecture() {
  DecoderFamily f;
  f.model_type = "gpt2";
  f.finish = finish_gpt2;
  f.names.base_prefix = "transformer";
  f.names.embed_tokens = "wte.weight";
  f.names.position_embeddings = "wpe.weight";
  f.names.final_norm = "ln_f";
  f.names.layer = "h.{i}.";
  f.names.attn_norm = "ln_1";
  f.names.mlp_norm = "ln_2";
  f.names.qkv = "attn.c_attn";  // Conv1D: loaded by load_gpt2, transposed
  f.names.o = "attn.c_proj";
  f.names.up = "mlp.c_fc";
  f.names.down = "mlp.c_proj";
  f.load_weights = load_gpt2;
  config::ConfigSpec spec;
  spec.keys = gpt2_keys();
  return decoder_architecture(std::move(f), gpt2_blocks(), std::move(spec), /*position_ids=*/true,
                              /*text_classification=*/true);
}

}  // namespace optimum::models
