#include "optimum/models/native_format.h"

#include "optimum/core/errors.h"
#include "optimum/models/precision.h"
#include "optimum/models/registry.h"

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
  Reader(const io::WeightStore& store, const Json& layout, std::string source)
      : store_(store), layout_(layout), source_(std::move(source)) {}

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
    if (!d[name].is_string()) {
      throw FormatError(source_ + ": layout.linear_dtypes['" + name + "'] is not a string");
    }
    const std::string v = d[name].get<std::string>();
    if (v != "fp32" && v != "bf16" && v != "int8") {
      throw FormatError(source_ + ": layout.linear_dtypes['" + name + "'] is '" + v +
                        "' (expected fp32, bf16 or int8)");
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
    if (!eps.is_object() || !eps.contains(name) || !eps[name].is_number()) {
      throw FormatError(source_ + ": field 'layout.norm_eps' has no number for '" + name + "'");
    }
    n.eps = eps[name].get<double>();
    return n;
  }
  const Json& field(const std::string& key) const {
    if (!layout_.contains(key)) throw FormatError(source_ + ": field 'layout." + key + "' is missing");
    return layout_[key];
  }
  bool has(const std::string& name) const { return store_.contains(name); }

 private:
  const io::WeightStore& store_;
  const Json& layout_;
  std::string source_;
};

}  // namespace

NativeLayout to_native(const Encoder& encoder, const Head& head, bool uses_token_types) {
  const EncoderWeights& w = encoder.weights();
  Writer out;
  if (w.patch_embedding) {
    out.linear("embeddings.patch", *w.patch_embedding);
    out.tensors.emplace_back("embeddings.cls_token", w.cls_token);
  } else {
    out.tensors.emplace_back("embeddings.word.weight", w.word_embeddings);
    if (w.word_embeddings.dtype() == DType::I8) {
      out.tensors.emplace_back("embeddings.word.weight_scale", w.word_embedding_scale);
    }
  }
  out.tensors.emplace_back("embeddings.position.weight", w.position_embeddings);
  if (w.token_type_embeddings.defined()) out.tensors.emplace_back("embeddings.token_type.weight", w.token_type_embeddings);
  if (w.embedding_norm.dim != 0) out.norm("embeddings.norm", w.embedding_norm);
  if (w.final_norm.dim != 0) out.norm("encoder.final_norm", w.final_norm);
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
                   {"pre_norm", w.pre_norm},
                   {"num_layers", w.layers.size()},
                   {"layer_order", w.layer_order},
                   {"norm_eps", out.eps},
                   {"linear_dtypes", out.dtypes},
                   {"head", {{"task", tasks::task_name(head.task)}, {"input", input_name(head.input)}, {"steps", steps}}}};
  result.tensors = std::move(out.tensors);
  return result;
}

namespace {

// Typed fields of the export record; FormatError names the record and the
// JSON path ("layout.head.steps[1].kind").
class Fields {
 public:
  explicit Fields(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw FormatError(source_ + ": field '" + path + "' " + what);
  }
  const Json& at(const Json& obj, const std::string& key, const std::string& path) const {
    if (!obj.is_object()) fail(path, "is not a JSON object");
    if (!obj.contains(key)) fail(path + "." + key, "is missing");
    return obj[key];
  }
  std::string string(const Json& obj, const std::string& key, const std::string& path) const {
    const Json& v = at(obj, key, path);
    if (!v.is_string()) fail(path + "." + key, "must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  bool boolean(const Json& obj, const std::string& key, const std::string& path) const {
    const Json& v = at(obj, key, path);
    if (!v.is_boolean()) fail(path + "." + key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  // A non-negative integer below `limit`.
  int64_t index(const Json& v, const std::string& path, int64_t limit) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= limit) {
      fail(path, "must be an integer in [0, " + std::to_string(limit) + "), got " + v.dump());
    }
    return v.get<int64_t>();
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// Width the head of `task` must end with, and the rows it may read.
struct HeadShape {
  int64_t width;
  std::string width_from;  // the config field (or constant) that fixes it
  bool sequence;           // true: every token; false: one row per item
};

HeadShape expected_head(tasks::Task task, const config::EncoderConfig& c) {
  switch (task) {
    case tasks::Task::QuestionAnswering:
      return {2, "start and end logits", true};
    case tasks::Task::TokenClassification:
      return {c.num_labels, "config num_labels", true};
    case tasks::Task::FillMask:
      return {c.vocab_size, "config vocab_size", true};
    case tasks::Task::TextClassification:
    case tasks::Task::ImageClassification:
      return {c.num_labels, "config num_labels", false};
    case tasks::Task::MultipleChoice:
      return {1, "one score per choice", false};
    case tasks::Task::FeatureExtraction:
    case tasks::Task::TextGeneration:
    case tasks::Task::Text2TextGeneration:
      break;
  }
  return {c.hidden_size, "hidden_size", true};
}

// The head's steps chain from the encoder's hidden size to the width its
// task needs, reading the rows the task reads.
void check_head(const Head& head, const config::EncoderConfig& c, bool has_pooler, const Fields& f) {
  const std::string path = "layout.head";
  if (head.task == tasks::Task::FeatureExtraction) {
    if (!head.steps.empty()) f.fail(path + ".steps", "must be empty for task 'feature-extraction'");
    return;
  }
  const HeadShape want = expected_head(head.task, c);
  const std::string task = tasks::task_name(head.task);
  if (want.sequence != (head.input == HeadInput::Sequence)) {
    const std::string rows = want.sequence ? "'sequence'" : "'first_token' or 'pooled'";
    f.fail(path + ".input", "must be " + rows + " for task '" + task + "'");
  }
  if (head.input == HeadInput::Pooled && !has_pooler) {
    f.fail(path + ".input", "is 'pooled' but the weights have no pooler");
  }
  if (want.width < 1) {
    throw FormatError(c.source + ": task '" + task + "' needs " + want.width_from + " >= 1, got " +
                      std::to_string(want.width));
  }
  int64_t width = c.hidden_size;
  bool any_linear = false;
  for (size_t j = 0; j < head.steps.size(); ++j) {
    const HeadStep& s = head.steps[j];
    const std::string step = path + ".steps[" + std::to_string(j) + "]";
    if (s.kind == HeadStep::Kind::Linear) {
      if (s.linear.in != width) {
        f.fail(step, "is a Linear of input width " + std::to_string(s.linear.in) + " fed rows of width " +
                         std::to_string(width));
      }
      if (s.linear.out < 1) f.fail(step, "is a Linear of output width " + std::to_string(s.linear.out));
      width = s.linear.out;
      any_linear = true;
    } else if (s.kind == HeadStep::Kind::Norm && s.norm.dim != width) {
      f.fail(step + ".dim", "is " + std::to_string(s.norm.dim) + " but the rows it normalizes have width " +
                                std::to_string(width));
    }
  }
  if (!any_linear || width != want.width) {
    f.fail(path + ".steps", "end with width " + std::to_string(width) + "; task '" + task + "' needs " +
                                std::to_string(want.width) + " (" + want.width_from + ")");
  }
}


NativeModel from_native_checked(const io::WeightStore& store, const Json& layout,
                                const config::EncoderConfig& c, const std::string& source) {
  const Fields f(source);
  if (!layout.is_object()) f.fail("layout", "is not a JSON object");
  if (!layout.contains("format") || layout["format"] != kNativeFormat) {
    f.fail("layout.format", "is not '" + std::string(kNativeFormat) + "'");
  }
  const Json& version_field = layout.contains("layout_version") ? layout["layout_version"] : Json(0);
  const int64_t version = version_field.is_number_integer() ? version_field.get<int64_t>() : 0;
  if (version != 1 && version != kNativeLayoutVersion) {
    throw Unsupported(source + ": native layout version " + version_field.dump() +
                      " is not supported (this build reads versions 1 to " + std::to_string(kNativeLayoutVersion) +
                      "): export the model again");
  }
  Reader r(store, layout, source);
  NativeModel m;
  const int64_t e = c.embedding_size;
  const int64_t h = c.hidden_size;
  EncoderWeights& w = m.weights;

  // Layers: exactly the plan the family derives from config.json, checked
  // before any weight is read (a long layer_order would run that many layers).
  const LayerPlan plan = blocks::layer_plan(find_family(c.model_type), c);
  const int64_t n_layers =
      f.index(f.at(layout, "num_layers", "layout"), "layout.num_layers", kMaxLayerRuns + 1);
  if (static_cast<size_t>(n_layers) != plan.distinct) {
    f.fail("layout.num_layers", "is " + std::to_string(n_layers) + " but " + c.source + " gives " +
                                    std::to_string(plan.distinct) + " distinct layers");
  }
  const Json& order = f.at(layout, "layer_order", "layout");
  if (!order.is_array()) f.fail("layout.layer_order", "is not a list");
  if (order.size() != plan.order.size()) {
    f.fail("layout.layer_order", "has " + std::to_string(order.size()) + " entries but " + c.source +
                                     " (num_hidden_layers " + std::to_string(c.num_hidden_layers) + ") runs " +
                                     std::to_string(plan.order.size()) + " layers");
  }
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string path = "layout.layer_order[" + std::to_string(i) + "]";
    const auto idx = static_cast<size_t>(f.index(order[i], path, n_layers));
    if (idx != plan.order[i]) {
      f.fail(path, "is " + std::to_string(idx) + " but model_type '" + c.model_type + "' runs layer " +
                       std::to_string(plan.order[i]) + " there");
    }
  }
  w.layer_order = plan.order;

  const std::string positions = f.string(layout, "positions", "layout");
  if (positions != "absolute" && positions != "from_padding_index") {
    f.fail("layout.positions", "is '" + positions + "' (expected absolute or from_padding_index)");
  }
  m.positions = positions == "absolute" ? PositionStyle::Absolute : PositionStyle::FromPaddingIndex;
  m.uses_token_types = f.boolean(layout, "uses_token_types", "layout");

  // Version 2 layouts written before vision encoders have no pre_norm field: post-norm.
  w.pre_norm = layout.contains("pre_norm") && f.boolean(layout, "pre_norm", "layout");
  if (c.is_vision()) {
    if (!r.has("embeddings.patch.weight")) {
      throw FormatError("native weights " + store.source() + " lack tensor 'embeddings.patch.weight': " + c.source +
                        " describes a vision model (image_size, patch_size)");
    }
    w.patch_embedding = r.linear("embeddings.patch", c.num_channels * c.patch_height * c.patch_width, h);
    w.cls_token = r.tensor("embeddings.cls_token", {h});
  } else if (r.has("embeddings.word.weight_scale")) {  // int8 exports: I8 rows + per-row scales
    w.word_embeddings = r.stored("embeddings.word.weight", {c.vocab_size, e}, DType::I8,
                                 "int8 word embeddings: embeddings.word.weight_scale is present");
    w.word_embedding_scale = r.stored("embeddings.word.weight_scale", {c.vocab_size}, DType::F32,
                                      "one scale per word-embedding row");
  } else {
    w.word_embeddings = r.tensor("embeddings.word.weight", {c.vocab_size, e});
  }
  w.position_embeddings = r.tensor("embeddings.position.weight", {c.max_position_embeddings, e});
  if (m.uses_token_types != r.has("embeddings.token_type.weight")) {
    f.fail("layout.uses_token_types", std::string("is ") + (m.uses_token_types ? "true" : "false") +
                                          " but the weights " + (m.uses_token_types ? "lack" : "have") +
                                          " 'embeddings.token_type.weight'");
  }
  if (m.uses_token_types) {
    if (c.type_vocab_size <= 0) {
      throw FormatError(c.source + ": type_vocab_size " + std::to_string(c.type_vocab_size) +
                        " must be positive: the export adds token-type embeddings");
    }
    w.token_type_embeddings = r.tensor("embeddings.token_type.weight", {c.type_vocab_size, e});
  }
  if (!c.is_vision() || r.has("embeddings.norm.weight")) w.embedding_norm = r.norm("embeddings.norm", e);
  if (r.has("encoder.final_norm.weight")) w.final_norm = r.norm("encoder.final_norm", h);
  if (r.has("embeddings.project.weight")) {
    w.embedding_project = r.linear("embeddings.project", e, h);
  } else if (e != h) {
    throw FormatError(store.source() + " lacks tensor 'embeddings.project.weight': " + c.source +
                      " has embedding_size " + std::to_string(e) + " and hidden_size " + std::to_string(h));
  }
  for (int64_t i = 0; i < n_layers; ++i) {
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
  if (r.has("encoder.relative_attention_bias")) {
    w.relative_attention_bias =
        r.tensor("encoder.relative_attention_bias", {c.relative_attention_num_buckets, c.num_attention_heads});
  }
  if (r.has("pooler.weight")) w.pooler = r.linear("pooler", h, c.pooler_output_size > 0 ? c.pooler_output_size : h);

  const Json& head = f.at(layout, "head", "layout");
  const std::string task = f.string(head, "task", "layout.head");
  try {
    m.head.task = tasks::task_from_name(task);
  } catch (const Unsupported& err) {
    throw FormatError(source + ": field 'layout.head.task': " + err.what());
  }
  const std::string input = f.string(head, "input", "layout.head");
  if (input == "pooled") {
    m.head.input = HeadInput::Pooled;
  } else if (input == "first_token") {
    m.head.input = HeadInput::FirstToken;
  } else if (input == "sequence") {
    m.head.input = HeadInput::Sequence;
  } else {
    f.fail("layout.head.input", "is '" + input + "' (expected sequence, first_token or pooled)");
  }
  const Json& steps = f.at(head, "steps", "layout.head");
  if (!steps.is_array()) f.fail("layout.head.steps", "is not a list");
  for (size_t j = 0; j < steps.size(); ++j) {
    const std::string path = "layout.head.steps[" + std::to_string(j) + "]";
    const Json& s = steps[j];
    const std::string kind = f.string(s, "kind", path);
    if (kind == "linear") {
      m.head.steps.push_back(HeadStep::dense(r.linear_any(f.string(s, "name", path))));
    } else if (kind == "activation") {
      const std::string act = f.string(s, "activation", path);
      try {
        m.head.steps.push_back(HeadStep::act(kernels::activation_from_name(act)));
      } catch (const Unsupported& err) {
        throw FormatError(source + ": field '" + path + ".activation': " + err.what());
      }
    } else if (kind == "norm") {
      const Json& dim = f.at(s, "dim", path);
      if (!dim.is_number_integer() || dim.get<int64_t>() < 1) {
        f.fail(path + ".dim", "must be a positive integer");
      }
      m.head.steps.push_back(HeadStep::layer_norm(r.norm(f.string(s, "name", path), dim.get<int64_t>())));
    } else {
      f.fail(path + ".kind", "is '" + kind + "' (expected linear, activation or norm)");
    }
  }
  check_head(m.head, c, w.pooler.has_value(), f);
  return m;
}

}  // namespace

NativeModel from_native(const io::WeightStore& store, const Json& layout, const config::EncoderConfig& c,
                        const std::string& source) {
  // A wrong JSON type that a typed getter did not anticipate still names the file and path.
  return io::with_json_context(source, [&] { return from_native_checked(store, layout, c, source); });
}

}  // namespace optimum::models
