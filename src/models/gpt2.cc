// gpt2: LayerNorm blocks, learned absolute positions (wpe), fused c_attn,
// gelu_new MLP, biases everywhere, lm_head tied to wte. Keys and defaults are
// those of transformers' GPT2Config (n_embd, n_layer, n_head, n_inner,
// n_positions, activation_function, layer_norm_epsilon, scale_attn_weights,
// scale_attn_by_inverse_layer_idx; the attribute_map names hidden_size, ...
// are accepted too). The checkpoint's Conv1D weights
// are stored transposed ([in, out]); the load hook turns them into Linears.
#include <cmath>

#include "config_fields.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

// `key`, else its attribute_map alias, else `def`.
int64_t int_key(const io::Json& j, const char* key, const char* alias, int64_t def) {
  if (present(j, key)) return j.at(key).get<int64_t>();
  if (present(j, alias)) return j.at(alias).get<int64_t>();
  return def;
}

DecoderConfig parse_gpt2(const io::Json& j, const std::string& source) {
  return io::with_json_context(source, [&] {
    if (!j.is_object()) throw FormatError(source + ": config must be a JSON object");
    DecoderConfig c;
    c.vocab_size = int_key(j, "vocab_size", "vocab_size", 50257);
    c.hidden_size = int_key(j, "n_embd", "hidden_size", 768);
    c.n_layers = int_key(j, "n_layer", "num_hidden_layers", 12);
    c.n_heads = int_key(j, "n_head", "num_attention_heads", 12);
    c.n_heads_kv = c.n_heads;
    c.max_position_embeddings = int_key(j, "n_positions", "max_position_embeddings", 1024);
    // n_inner: None -> 4 * n_embd.
    c.intermediate_size = present(j, "n_inner") ? j.at("n_inner").get<int64_t>() : 4 * c.hidden_size;
    if (c.n_heads <= 0 || c.hidden_size % c.n_heads != 0) {
      throw FormatError(source + ": n_embd " + std::to_string(c.hidden_size) + " is not a multiple of n_head " +
                        std::to_string(c.n_heads));
    }
    c.head_dim = c.hidden_size / c.n_heads;
    const std::string act = present(j, "activation_function") ? j.at("activation_function").get<std::string>()
                                                               : "gelu_new";
    try {
      c.act = kernels::activation_from_name(act);
    } catch (const Unsupported& e) {
      throw Unsupported(source + ": activation_function: " + e.what());
    }
    c.gated_mlp = false;
    c.norm = NormKind::LayerNorm;
    c.norm_eps = present(j, "layer_norm_epsilon") ? j.at("layer_norm_epsilon").get<double>() : 1e-5;
    c.positions = PositionKind::Learned;
    c.layers.assign(static_cast<size_t>(std::max<int64_t>(c.n_layers, 0)), DecoderLayerOptions{});
    c.attention_scale =
        bool_or(j, "scale_attn_weights", true) ? std::pow(static_cast<double>(c.head_dim), -0.5) : 1.0;
    if (bool_or(j, "scale_attn_by_inverse_layer_idx", false)) {
      for (size_t i = 0; i < c.layers.size(); ++i) {
        c.layers[i].attention_scale = c.attention_scale / static_cast<double>(i + 1);
      }
    }
    // Cross-attention has no place in a decoder-only engine.
    if (bool_or(j, "add_cross_attention", false)) {
      throw Unsupported(source + ": add_cross_attention = true (an encoder-decoder gpt2) is not supported");
    }
    // reorder_and_upcast_attn only changes the dtype of a mixed-precision softmax: f32 here anyway.
    c.tie_word_embeddings = bool_or(j, "tie_word_embeddings", true);
    c.attention_bias = c.attention_out_bias = c.mlp_bias = true;
    c.raw = j;
    return c;
  });
}

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
  f.parse_config = parse_gpt2;
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
  return decoder_architecture(std::move(f), gpt2_blocks(), /*position_ids=*/true, /*text_classification=*/true);
}

}  // namespace optimum::models
