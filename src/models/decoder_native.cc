// Native decoder exports: engine-layout tensors with per-Linear precision,
// and copies of a DecoderModel with a precision plan (the accuracy guard's).
#include "optimum/models/decoder_native.h"

#include <map>

#include "optimum/core/errors.h"

namespace optimum::models {

namespace {

const char* const kLayerLinears[] = {"qkv", "o", "gate_up", "down"};

Linear* layer_linear(DecoderLayerWeights& l, const std::string& part) {
  if (part == "qkv") return &l.qkv;
  if (part == "o") return &l.o;
  if (part == "gate_up") return &l.gate_up;
  return &l.down;
}

std::string layer_prefix(size_t i) { return "layers." + std::to_string(i) + "."; }

// Norms of a layer by role, with whether the config gives the layer one.
std::vector<std::pair<std::string, DecoderNorm*>> layer_norms(const DecoderConfig& c, DecoderLayerWeights& l) {
  std::vector<std::pair<std::string, DecoderNorm*>> n = {{"attn_norm", &l.attn_norm}, {"mlp_norm", &l.mlp_norm}};
  if (c.sandwich_norms) {
    n.emplace_back("attn_out_norm", &l.attn_out_norm);
    n.emplace_back("mlp_out_norm", &l.mlp_out_norm);
  }
  if (c.qk_norm) {
    n.emplace_back("q_norm", &l.q_norm);
    n.emplace_back("k_norm", &l.k_norm);
  }
  return n;
}

std::string dtype_label(kernels::WeightType t) {
  return t == kernels::WeightType::S8 ? "int8" : std::string(kernels::weight_type_name(t));
}

kernels::WeightType type_of_label(const std::string& s, const std::string& source, const std::string& name) {
  if (s == "int8") return kernels::WeightType::S8;
  if (s == "bf16") return kernels::WeightType::BF16;
  if (s == "fp32") return kernels::WeightType::F32;
  throw FormatError(source + ": layout.linear_dtypes." + name + " is '" + s + "'; expected fp32, bf16 or int8");
}

bool tied(const DecoderWeights& w) {
  return w.lm_head.weight.defined() && w.embed_tokens.defined() && w.lm_head.weight.raw() == w.embed_tokens.raw();
}

void put_linear(std::vector<std::pair<std::string, Tensor>>& out, const std::string& name, const Linear& l) {
  if (!l.weight.defined()) {
    throw InvalidArgument("decoder_to_native: Linear '" + name +
                          "' has no weight (load the model with DecoderLoadOptions::keep_weights)");
  }
  out.emplace_back(name + ".weight", l.weight);
  if (l.weight_scale.defined()) out.emplace_back(name + ".weight_scale", l.weight_scale);
  if (l.bias.defined()) out.emplace_back(name + ".bias", l.bias);
}

void put_norm(std::vector<std::pair<std::string, Tensor>>& out, const std::string& name, const DecoderNorm& n) {
  out.emplace_back(name + ".weight", n.weight);
  if (n.bias.defined()) out.emplace_back(name + ".bias", n.bias);
}

class Reader {
 public:
  Reader(const io::WeightStore& store, std::string source) : store_(store), source_(std::move(source)) {}

  Tensor get(const std::string& name, const Shape& shape, DType dtype) const {
    if (!store_.contains(name)) throw FormatError(source_ + ": tensor '" + name + "' is missing from " + store_.source());
    Tensor t = store_.get(name);
    if (t.shape() != shape) {
      throw FormatError(source_ + ": tensor '" + name + "' in " + store_.source() + " has shape " +
                        shape_str(t.shape()) + ", expected " + shape_str(shape) + " from config.json");
    }
    if (t.dtype() != dtype) {
      throw FormatError(source_ + ": tensor '" + name + "' in " + store_.source() + " has dtype " +
                        std::string(dtype_name(t.dtype())) + ", expected " + std::string(dtype_name(dtype)) +
                        " from the layout");
    }
    return t;
  }

  Linear linear(const std::string& name, int64_t in, int64_t out, bool bias, kernels::WeightType type) const {
    Linear l;
    l.in = in;
    l.out = out;
    const DType d = type == kernels::WeightType::S8 ? DType::I8
                    : type == kernels::WeightType::BF16 ? DType::BF16
                                                         : DType::F32;
    l.weight = get(name + ".weight", {out, in}, d);
    if (type == kernels::WeightType::S8) l.weight_scale = get(name + ".weight_scale", {out}, DType::F32);
    if (bias) l.bias = get(name + ".bias", {out}, DType::F32);
    return l;
  }

  DecoderNorm norm(const std::string& name, int64_t dim, bool bias) const {
    DecoderNorm n;
    n.weight = get(name + ".weight", {dim}, DType::F32);
    if (bias) n.bias = get(name + ".bias", {dim}, DType::F32);
    return n;
  }

 private:
  const io::WeightStore& store_;
  std::string source_;
};

}  // namespace

std::vector<std::string> decoder_linear_names(const DecoderWeights& weights) {
  std::vector<std::string> names;
  for (size_t i = 0; i < weights.layers.size(); ++i) {
    for (const char* part : kLayerLinears) names.push_back(layer_prefix(i) + part);
  }
  if (weights.lm_head.weight.defined() || weights.lm_head.packed.defined()) names.emplace_back("lm_head");
  return names;
}

PrecisionPlan decoder_uniform_plan(const DecoderWeights& weights, kernels::WeightType type) {
  PrecisionPlan plan;
  if (type == kernels::WeightType::F32) return plan;
  for (const std::string& n : decoder_linear_names(weights)) plan[n] = type;
  return plan;
}

std::shared_ptr<const DecoderModel> decoder_with_precision(const DecoderModel& model, const PrecisionPlan& plan,
                                                           const LinearConverter& convert) {
  DecoderWeights w = model.weights();
  auto replace = [&](const std::string& name, Linear& l) {
    auto it = plan.find(name);
    const kernels::WeightType type = it == plan.end() ? kernels::WeightType::F32 : it->second;
    if (!l.weight.defined()) {
      throw InvalidArgument("decoder_with_precision: Linear '" + name +
                            "' has no weight (load the model with DecoderLoadOptions::keep_weights)");
    }
    if (convert) {
      l = convert(name, l, type);
    } else if (!(type == kernels::WeightType::F32 && stored_type(l) == kernels::WeightType::F32 &&
                 l.packed.defined() && l.packed.type() == kernels::WeightType::F32)) {
      l = convert_linear(l, type);
    }
  };
  for (size_t i = 0; i < w.layers.size(); ++i) {
    for (const char* part : kLayerLinears) replace(layer_prefix(i) + part, *layer_linear(w.layers[i], part));
  }
  if (w.lm_head.weight.defined()) replace("lm_head", w.lm_head);
  DecoderLoadOptions o;
  o.keep_weights = true;
  return std::make_shared<const DecoderModel>(model.config(), std::move(w), o);
}

DecoderNativeLayout decoder_to_native(const DecoderModel& model) {
  const DecoderConfig& c = model.config();
  DecoderWeights w = model.weights();
  DecoderNativeLayout out;
  io::Json dtypes = io::Json::object();
  auto note = [&](const std::string& name, const Linear& l) {
    const kernels::WeightType t = stored_type(l);
    if (t != kernels::WeightType::F32) dtypes[name] = dtype_label(t);
  };
  out.tensors.emplace_back("embed_tokens", w.embed_tokens);
  if (c.positions == PositionKind::Learned) out.tensors.emplace_back("position_embeddings", w.position_embeddings);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    for (auto& [role, norm] : layer_norms(c, w.layers[i])) put_norm(out.tensors, layer_prefix(i) + role, *norm);
    for (const char* part : kLayerLinears) {
      const std::string name = layer_prefix(i) + part;
      const Linear& l = *layer_linear(w.layers[i], part);
      put_linear(out.tensors, name, l);
      note(name, l);
    }
  }
  put_norm(out.tensors, "final_norm", w.final_norm);
  const bool has_head = w.lm_head.weight.defined() || w.lm_head.packed.defined();
  const bool is_tied = tied(w);
  if (has_head && !is_tied) {
    put_linear(out.tensors, "lm_head", w.lm_head);
    note("lm_head", w.lm_head);
  }
  out.layout = {{"kind", kDecoderLayoutKind},
                {"version", kDecoderLayoutVersion},
                {"linear_dtypes", dtypes},
                {"has_lm_head", has_head},
                {"tied_lm_head", is_tied}};
  return out;
}

DecoderWeights decoder_from_native(const DecoderConfig& c, const io::WeightStore& store, const io::Json& layout,
                                   const std::string& source) {
  if (!layout.is_object() || layout.value("kind", std::string()) != kDecoderLayoutKind) {
    throw FormatError(source + ": layout.kind is not \"" + std::string(kDecoderLayoutKind) + "\"");
  }
  const io::Json dtypes = layout.value("linear_dtypes", io::Json::object());
  if (!dtypes.is_object()) throw FormatError(source + ": layout.linear_dtypes must be an object");
  auto type_of = [&](const std::string& name) {
    if (!dtypes.contains(name)) return kernels::WeightType::F32;
    if (!dtypes.at(name).is_string()) throw FormatError(source + ": layout.linear_dtypes." + name + " must be a string");
    return type_of_label(dtypes.at(name).get<std::string>(), source, name);
  };
  const auto flag = [&](const char* key) {
    if (!layout.contains(key) || !layout.at(key).is_boolean()) {
      throw FormatError(source + ": layout." + key + " must be true or false");
    }
    return layout.at(key).get<bool>();
  };
  const bool has_head = flag("has_lm_head");
  const bool is_tied = flag("tied_lm_head");
  const Reader r(store, source);
  const int64_t H = c.hidden_size, D = c.head_dim;
  const int64_t q_out = c.n_heads * D, kv_out = c.n_heads_kv * D;
  const bool ln = c.norm == NormKind::LayerNorm;
  DecoderWeights w;
  w.embed_tokens = r.get("embed_tokens", {c.vocab_size, H}, DType::F32);
  if (c.positions == PositionKind::Learned) {
    w.position_embeddings = r.get("position_embeddings", {c.max_position_embeddings, H}, DType::F32);
  }
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    DecoderLayerWeights& l = w.layers[i];
    const std::string p = layer_prefix(i);
    for (auto& [role, norm] : layer_norms(c, l)) {
      const bool head_norm = role == "q_norm" || role == "k_norm";
      *norm = r.norm(p + role, head_norm ? D : H, ln);
    }
    l.qkv = r.linear(p + "qkv", H, q_out + 2 * kv_out, c.attention_bias, type_of(p + "qkv"));
    l.o = r.linear(p + "o", q_out, H, c.attention_out_bias, type_of(p + "o"));
    l.gate_up = r.linear(p + "gate_up", H, (c.gated_mlp ? 2 : 1) * c.intermediate_size, c.mlp_bias,
                         type_of(p + "gate_up"));
    l.down = r.linear(p + "down", c.intermediate_size, H, c.mlp_bias, type_of(p + "down"));
  }
  w.final_norm = r.norm("final_norm", H, ln);
  if (has_head && is_tied) {
    w.lm_head.weight = w.embed_tokens;
    w.lm_head.in = H;
    w.lm_head.out = c.vocab_size;
  } else if (has_head) {
    w.lm_head = r.linear("lm_head", H, c.vocab_size, false, type_of("lm_head"));
  }
  return w;
}

io::Json native_decoder_layout(const std::filesystem::path& dir) {
  const std::filesystem::path meta_path = dir / "optimum_export.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(meta_path, ec)) return nullptr;
  const io::Json meta = io::read_json(meta_path);
  if (!meta.is_object() || meta.value("format", std::string()) != "optimum-cpp-native") return nullptr;
  const auto layout = meta.find("layout");
  if (layout == meta.end() || !layout->is_object() || layout->value("kind", std::string()) != kDecoderLayoutKind) {
    return nullptr;
  }
  return *layout;
}

}  // namespace optimum::models
