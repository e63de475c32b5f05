#include "optimum/models/native_format.h"

#include "optimum/core/errors.h"
#include "optimum/models/precision.h"

namespace optimum::models {

namespace {

using io::Json;

std::string input_name(HeadInput in) {
  switch (in) {
    case HeadInput::Sequence:
      return "sequence";
    case HeadInput::FirstToken:
      return "first_token";
    case HeadInput::Pooled:
      return "pooled";
  }
  return "sequence";
}

class Writer {
 public:
  std::vector<std::pair<std::string, Tensor>> tensors;
  Json eps = Json::object();

  Json dtypes = Json::object();

  // The weight as stored (f32, bf16, or int8 + per-channel scales).
  void linear(const std::string& name, const Linear& l) {
    tensors.emplace_back(name + ".weight", l.weight);
    if (l.weight.dtype() == DType::I8) tensors.emplace_back(name + ".weight_scale", l.weight_scale);
    if (l.bias.defined()) tensors.emplace_back(name + ".bias", l.bias);
    dtypes[name] = std::string(kernels::weight_type_name(stored_type(l)));
  }
  void norm(const std::string& name, const Norm& n) {
    tensors.emplace_back(name + ".weight", n.gamma);
    tensors.emplace_back(name + ".bias", n.beta);
    eps[name] = n.eps;
  }
};

class Reader {
 public:
  Reader(const io::WeightStore& store, const Json& layout) : store_(store), layout_(layout) {}

  Tensor tensor(const std::string& name, const Shape& shape) const {
    if (!store_.contains(name)) throw FormatError("native weights " + store_.source() + " lack tensor '" + name + "'");
    Tensor t = store_.get(name);
    if (t.shape() != shape) {
      throw FormatError("native weights " + store_.source() + ": tensor '" + name + "' has shape " +
                        shape_str(t.shape()) + ", expected " + shape_str(shape));
    }
    return t.dtype() == DType::F32 ? t : t.to(DType::F32);
  }
  // A stored tensor of shape `shape` and dtype `dtype`, as stored (no conversion).
  Tensor stored(const std::string& name, const Shape& shape, DType dtype, const std::string& why) const {
    if (!store_.contains(name)) {
      throw FormatError("native weights " + store_.source() + " lack tensor '" + name + "' (" + why + ")");
    }
    Tensor t = store_.get(name);
    if (t.shape() != shape || t.dtype() != dtype) {
      throw FormatError("native weights " + store_.source() + ": tensor '" + name + "' is " +
                        std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + ", expected " +
                        std::string(dtype_name(dtype)) + " " + shape_str(shape) + " (" + why + ")");
    }
    return t;
  }
  // The precision the layout records for Linear `name` (fp32 when absent: version 1).
  kernels::WeightType linear_type(const std::string& name) const {
    if (!layout_.contains("linear_dtypes")) return kernels::WeightType::F32;
    const Json& d = layout_["linear_dtypes"];
    if (!d.is_object() || !d.contains(name)) return kernels::WeightType::F32;
    if (!d[name].is_string()) throw FormatError("native layout: linear_dtypes['" + name + "'] is not a string");
    const std::string v = d[name].get<std::string>();
    if (v != "fp32" && v != "bf16" && v != "int8") {
      throw FormatError("native layout: linear_dtypes['" + name + "'] is '" + v + "' (expected fp32, bf16 or int8)");
    }
    return kernels::weight_type_from_name(v);
  }
  Linear linear(const std::string& name, int64_t in, int64_t out) const {
    Linear l;
    l.in = in;
    l.out = out;
    switch (linear_type(name)) {
      case kernels::WeightType::F32:
        l.weight = tensor(name + ".weight", {out, in});
        break;
      case kernels::WeightType::BF16:
        l.weight = stored(name + ".weight", {out, in}, DType::BF16, "bf16 Linear '" + name + "'");
        break;
      case kernels::WeightType::S8:
        l.weight = stored(name + ".weight", {out, in}, DType::I8, "int8 Linear '" + name + "'");
        l.weight_scale = stored(name + ".weight_scale", {out}, DType::F32,
                                "per-output-channel scales of int8 Linear '" + name + "'");
        break;
    }
    if (store_.contains(name + ".bias")) l.bias = tensor(name + ".bias", {out});
    return l;
  }
  // A Linear whose sizes come from its stored weight.
  Linear linear_any(const std::string& name) const {
    if (!store_.contains(name + ".weight")) {
      throw FormatError("native weights " + store_.source() + " lack tensor '" + name + ".weight'");
    }
    const Tensor w = store_.get(name + ".weight");
    if (w.dim() != 2) throw FormatError("native weights " + store_.source() + ": '" + name + ".weight' is not 2-D");
    return linear(name, w.size(1), w.size(0));
  }
  Norm norm(const std::string& name, int64_t dim) const {
    Norm n;
    n.dim = dim;
    n.gamma = tensor(name + ".weight", {dim});
    n.beta = tensor(name + ".bias", {dim});
    const Json& eps = field("norm_eps");
    if (!eps.contains(name) || !eps[name].is_number()) {
      throw FormatError("native layout: norm_eps has no value for '" + name + "'");
    }
    n.eps = eps[name].get<double>();
    return n;
  }
  const Json& field(const std::string& key) const {
    if (!layout_.contains(key)) throw FormatError("native layout: missing field '" + key + "'");
    return layout_[key];
  }
  bool has(const std::string& name) const { return store_.contains(name); }

 private:
  const io::WeightStore& store_;
  const Json& layout_;
};

}  // namespace

NativeLayout to_native(const Encoder& encoder, const Head& head, bool uses_token_types) {
  const EncoderWeights& w = encoder.weights();
  Writer out;
  out.tensors.emplace_back("embeddings.word.weight", w.word_embeddings);
  out.tensors.emplace_back("embeddings.position.weight", w.position_embeddings);
  if (w.token_type_embeddings.defined()) out.tensors.emplace_back("embeddings.token_type.weight", w.token_type_embeddings);
  out.norm("embeddings.norm", w.embedding_norm);
  if (w.embedding_project) out.linear("embeddings.project", *w.embedding_project);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    const EncoderLayer& l = w.layers[i];
    out.linear(p + "qkv", l.qkv);
    out.linear(p + "attn_out", l.attn_out);
    out.norm(p + "attn_norm", l.attn_norm);
    out.linear(p + "ffn_in", l.ffn_in);
    out.linear(p + "ffn_out", l.ffn_out);
    out.norm(p + "ffn_norm", l.ffn_norm);
  }
  if (w.relative_attention_bias.defined()) {
    out.tensors.emplace_back("encoder.relative_attention_bias", w.relative_attention_bias);
  }
  if (w.pooler) out.linear("pooler", *w.pooler);
  Json steps = Json::array();
  for (size_t j = 0; j < head.steps.size(); ++j) {
    const HeadStep& s = head.steps[j];
    const std::string name = "head." + std::to_string(j);
    switch (s.kind) {
      case HeadStep::Kind::Linear:
        out.linear(name, s.linear);
        steps.push_back({{"kind", "linear"}, {"name", name}});
        break;
      case HeadStep::Kind::Activation:
        steps.push_back({{"kind", "activation"}, {"activation", kernels::activation_name(s.activation)}});
        break;
      case HeadStep::Kind::Norm:
        out.norm(name, s.norm);
        steps.push_back({{"kind", "norm"}, {"name", name}, {"dim", s.norm.dim}});
        break;
    }
  }
  NativeLayout result;
  result.layout = {{"format", kNativeFormat},
                   {"layout_version", kNativeLayoutVersion},
                   {"positions", encoder.positions() == PositionStyle::Absolute ? "absolute" : "from_padding_index"},
                   {"uses_token_types", uses_token_types},
                   {"num_layers", w.layers.size()},
                   {"layer_order", w.layer_order},
                   {"norm_eps", out.eps},
                   {"linear_dtypes", out.dtypes},
                   {"head", {{"task", tasks::task_name(head.task)}, {"input", input_name(head.input)}, {"steps", steps}}}};
  result.tensors = std::move(out.tensors);
  return result;
}

NativeModel from_native(const io::WeightStore& store, const Json& layout, const config::EncoderConfig& c) {
  Reader r(store, layout);
  if (!layout.is_object() || layout.value("format", "") != kNativeFormat) {
    throw FormatError("native layout: field 'format' is not '" + std::string(kNativeFormat) + "'");
  }
  const int version = layout.value("layout_version", 0);
  if (version != 1 && version != kNativeLayoutVersion) {
    throw Unsupported("native layout version " + layout.value("layout_version", Json(0)).dump() +
                      " is not supported (this build reads versions 1 to " + std::to_string(kNativeLayoutVersion) +
                      "): export the model again");
  }
  NativeModel m;
  const int64_t e = c.embedding_size;
  const int64_t h = c.hidden_size;
  EncoderWeights& w = m.weights;
  w.word_embeddings = r.tensor("embeddings.word.weight", {c.vocab_size, e});
  w.position_embeddings = r.tensor("embeddings.position.weight", {c.max_position_embeddings, e});
  if (r.has("embeddings.token_type.weight")) {
    w.token_type_embeddings = r.tensor("embeddings.token_type.weight", {c.type_vocab_size, e});
  }
  w.embedding_norm = r.norm("embeddings.norm", e);
  if (r.has("embeddings.project.weight")) w.embedding_project = r.linear("embeddings.project", e, h);
  const auto n_layers = r.field("num_layers").get<size_t>();
  for (size_t i = 0; i < n_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    EncoderLayer l;
    l.qkv = r.linear(p + "qkv", h, 3 * h);
    l.attn_out = r.linear(p + "attn_out", h, h);
    l.attn_norm = r.norm(p + "attn_norm", h);
    l.ffn_in = r.linear(p + "ffn_in", h, c.intermediate_size);
    l.ffn_out = r.linear(p + "ffn_out", c.intermediate_size, h);
    l.ffn_norm = r.norm(p + "ffn_norm", h);
    w.layers.push_back(std::move(l));
  }
  w.layer_order = r.field("layer_order").get<std::vector<size_t>>();
  for (size_t idx : w.layer_order) {
    if (idx >= n_layers) throw FormatError("native layout: layer_order names layer " + std::to_string(idx));
  }
  if (r.has("encoder.relative_attention_bias")) {
    w.relative_attention_bias =
        r.tensor("encoder.relative_attention_bias", {c.relative_attention_num_buckets, c.num_attention_heads});
  }
  if (r.has("pooler.weight")) w.pooler = r.linear("pooler", h, h);
  m.positions = r.field("positions").get<std::string>() == "absolute" ? PositionStyle::Absolute
                                                                      : PositionStyle::FromPaddingIndex;
  m.uses_token_types = r.field("uses_token_types").get<bool>();
  const Json& head = r.field("head");
  m.head.task = tasks::task_from_name(head.at("task").get<std::string>());
  const std::string input = head.at("input").get<std::string>();
  m.head.input = input == "pooled" ? HeadInput::Pooled
                                   : (input == "first_token" ? HeadInput::FirstToken : HeadInput::Sequence);
  for (const Json& s : head.at("steps")) {
    const std::string kind = s.at("kind").get<std::string>();
    if (kind == "linear") {
      m.head.steps.push_back(HeadStep::dense(r.linear_any(s.at("name").get<std::string>())));
    } else if (kind == "activation") {
      m.head.steps.push_back(HeadStep::act(kernels::activation_from_name(s.at("activation").get<std::string>())));
    } else if (kind == "norm") {
      m.head.steps.push_back(HeadStep::layer_norm(r.norm(s.at("name").get<std::string>(), s.at("dim").get<int64_t>())));
    } else {
      throw FormatError("native layout: unknown head step kind '" + kind + "'");
    }
  }
  return m;
}

}  // namespace optimum::models
