// Native encoder-decoder exports (models/seq2seq_native.h): engine-layout
// tensors with per-Linear precision, and copies of a Seq2SeqModel with a
// precision plan (the accuracy guard's).
#include "optimum/models/seq2seq_native.h"

#include <algorithm>
#include <functional>

#include "optimum/core/errors.h"

namespace optimum::models {

namespace {

std::string dtype_label(kernels::WeightType t) {
  return t == kernels::WeightType::S8 ? "int8" : std::string(kernels::weight_type_name(t));
}

bool tied(const Seq2SeqWeights& w) {
  return w.lm_head.weight.defined() && w.embed_tokens.defined() && w.lm_head.weight.raw() == w.embed_tokens.raw();
}

// Every projection Linear of `w` with its plan name (a tied lm_head excluded).
void for_each_linear(Seq2SeqWeights& w, const std::function<void(const std::string&, Linear&)>& fn) {
  for (size_t i = 0; i < w.encoder_layers.size(); ++i) {
    Seq2SeqLayer& l = w.encoder_layers[i];
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    fn(p + "self_attn.qkv", l.self_attn.qkv);
    fn(p + "self_attn.o", l.self_attn.o);
    fn(p + "ffn.up", l.ffn.up);
    fn(p + "ffn.down", l.ffn.down);
  }
  for (size_t i = 0; i < w.decoder_layers.size(); ++i) {
    Seq2SeqLayer& l = w.decoder_layers[i];
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    fn(p + "self_attn.qkv", l.self_attn.qkv);
    fn(p + "self_attn.o", l.self_attn.o);
    fn(p + "cross_attn.q", l.cross_attn.qkv);
    fn(p + "cross_attn.kv", l.cross_attn.kv);
    fn(p + "cross_attn.o", l.cross_attn.o);
    fn(p + "ffn.up", l.ffn.up);
    fn(p + "ffn.down", l.ffn.down);
  }
  if (!tied(w) && w.lm_head.weight.defined()) fn("lm_head", w.lm_head);
}

// Every norm of `w` with its tensor prefix (those the config gives the model).
void for_each_norm(const Seq2SeqConfig& c, Seq2SeqWeights& w,
                   const std::function<void(const std::string&, DecoderNorm&)>& fn) {
  if (c.layernorm_embedding) {
    fn("encoder.embed_norm", w.encoder_embed_norm);
    fn("decoder.embed_norm", w.decoder_embed_norm);
  }
  for (size_t i = 0; i < w.encoder_layers.size(); ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    fn(p + "self_attn.norm", w.encoder_layers[i].self_attn.norm);
    fn(p + "ffn.norm", w.encoder_layers[i].ffn.norm);
  }
  for (size_t i = 0; i < w.decoder_layers.size(); ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    fn(p + "self_attn.norm", w.decoder_layers[i].self_attn.norm);
    fn(p + "cross_attn.norm", w.decoder_layers[i].cross_attn.norm);
    fn(p + "ffn.norm", w.decoder_layers[i].ffn.norm);
  }
  if (c.final_norms) {
    fn("encoder.final_norm", w.encoder_final_norm);
    fn("decoder.final_norm", w.decoder_final_norm);
  }
}

// [out, in] of each Linear name for config `c`.
std::pair<int64_t, int64_t> linear_shape(const Seq2SeqConfig& c, const std::string& name) {
  const bool enc = name.starts_with("encoder.");
  const int64_t H = c.hidden_size, D = c.head_dim;
  const int64_t inner = (enc ? c.encoder_heads : c.decoder_heads) * D;
  const int64_t ffn = enc ? c.encoder_ffn : c.decoder_ffn;
  if (name == "lm_head") return {c.vocab_size, H};
  if (name.ends_with("self_attn.qkv")) return {3 * inner, H};
  if (name.ends_with("cross_attn.q")) return {inner, H};
  if (name.ends_with("cross_attn.kv")) return {2 * inner, H};
  if (name.ends_with(".o")) return {H, inner};
  if (name.ends_with("ffn.up")) return {(c.gated_mlp ? 2 : 1) * ffn, H};
  return {H, ffn};  // ffn.down
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

  Tensor rows(const std::string& name, int64_t cols) const {
    if (!store_.contains(name)) throw FormatError(source_ + ": tensor '" + name + "' is missing from " + store_.source());
    Tensor t = store_.get(name);
    if (t.dtype() != DType::F32 || t.shape().size() != 2 || t.shape()[0] < 1 || t.shape()[1] != cols) {
      throw FormatError(source_ + ": tensor '" + name + "' in " + store_.source() + " is " +
                        std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + ", expected F32 [n, " +
                        std::to_string(cols) + "]");
    }
    return t;
  }

  bool has(const std::string& name) const { return store_.contains(name); }

 private:
  const io::WeightStore& store_;
  std::string source_;
};

}  // namespace

std::vector<std::string> seq2seq_linear_names(const Seq2SeqWeights& weights) {
  std::vector<std::string> names;
  Seq2SeqWeights w = weights;  // shallow: tensors share storage
  for_each_linear(w, [&](const std::string& n, Linear&) { names.push_back(n); });
  return names;
}

std::shared_ptr<const Seq2SeqModel> seq2seq_with_precision(const Seq2SeqModel& model, const PrecisionPlan& plan,
                                                           const LinearConverter& convert) {
  Seq2SeqWeights w = model.weights();
  for_each_linear(w, [&](const std::string& name, Linear& l) {
    auto it = plan.find(name);
    const kernels::WeightType type = it == plan.end() ? kernels::WeightType::F32 : it->second;
    if (type == kernels::WeightType::F32 && stored_type(l) == kernels::WeightType::F32) return;
    l = convert ? convert(name, l, type) : convert_linear(l, type);
  });
  return std::make_shared<const Seq2SeqModel>(model.config(), std::move(w));
}

Seq2SeqNativeLayout seq2seq_to_native(const Seq2SeqModel& model) {
  const Seq2SeqConfig& c = model.config();
  Seq2SeqWeights w = model.weights();
  Seq2SeqNativeLayout out;
  io::Json dtypes = io::Json::object();
  out.tensors.emplace_back("embed_tokens", w.embed_tokens);
  if (c.positions == Seq2SeqPositions::Learned) {
    out.tensors.emplace_back("encoder.positions", w.encoder_positions);
    out.tensors.emplace_back("decoder.positions", w.decoder_positions);
  } else if (c.positions == Seq2SeqPositions::Relative) {
    out.tensors.emplace_back("encoder.relative_bias", w.encoder_relative_bias);
    out.tensors.emplace_back("decoder.relative_bias", w.decoder_relative_bias);
  }
  for_each_norm(c, w, [&](const std::string& name, DecoderNorm& n) {
    out.tensors.emplace_back(name + ".weight", n.weight);
    if (n.bias.defined()) out.tensors.emplace_back(name + ".bias", n.bias);
  });
  for_each_linear(w, [&](const std::string& name, Linear& l) {
    if (!l.weight.defined()) throw InvalidArgument("seq2seq_to_native: Linear '" + name + "' has no weight");
    out.tensors.emplace_back(name + ".weight", l.weight);
    if (l.weight_scale.defined()) out.tensors.emplace_back(name + ".weight_scale", l.weight_scale);
    if (l.bias.defined()) out.tensors.emplace_back(name + ".bias", l.bias);
    const kernels::WeightType t = stored_type(l);
    if (t != kernels::WeightType::F32) dtypes[name] = dtype_label(t);
  });
  if (w.final_logits_bias.defined()) out.tensors.emplace_back("final_logits_bias", w.final_logits_bias);
  out.layout = {{"kind", kSeq2SeqLayoutKind},
                {"version", kSeq2SeqLayoutVersion},
                {"linear_dtypes", dtypes},
                {"tied_lm_head", tied(w)},
                {"final_logits_bias", w.final_logits_bias.defined()}};
  return out;
}

Seq2SeqWeights seq2seq_from_native(const Seq2SeqConfig& c, const io::WeightStore& store, const io::Json& layout,
                                   const std::string& source) {
  if (!layout.is_object() || layout.value("kind", std::string()) != kSeq2SeqLayoutKind) {
    throw FormatError(source + ": layout.kind is not \"" + std::string(kSeq2SeqLayoutKind) + "\"");
  }
  if (!layout.contains("version") || !layout.at("version").is_number_integer() ||
      layout.at("version").get<int64_t>() != kSeq2SeqLayoutVersion) {
    throw FormatError(source + ": layout.version must be " + std::to_string(kSeq2SeqLayoutVersion) +
                      " (an export of another optimum-cpp version: export it again)");
  }
  const io::Json dtypes = layout.value("linear_dtypes", io::Json::object());
  if (!dtypes.is_object()) throw FormatError(source + ": layout.linear_dtypes must be an object");
  const auto flag = [&](const char* key) {
    if (!layout.contains(key) || !layout.at(key).is_boolean()) {
      throw FormatError(source + ": layout." + key + " must be true or false");
    }
    return layout.at(key).get<bool>();
  };
  const bool is_tied = flag("tied_lm_head");
  const bool has_bias = flag("final_logits_bias");
  const Reader r(store, source);
  const int64_t H = c.hidden_size;
  Seq2SeqWeights w;
  w.embed_tokens = r.get("embed_tokens", {c.vocab_size, H}, DType::F32);
  const int64_t n_pos = c.max_position_embeddings + c.position_offset;
  if (c.positions == Seq2SeqPositions::Learned) {
    w.encoder_positions = r.get("encoder.positions", {n_pos, H}, DType::F32);
    w.decoder_positions = r.get("decoder.positions", {n_pos, H}, DType::F32);
  } else if (c.positions == Seq2SeqPositions::Relative) {
    w.encoder_relative_bias = r.get("encoder.relative_bias", {c.relative_buckets, c.encoder_heads}, DType::F32);
    w.decoder_relative_bias = r.get("decoder.relative_bias", {c.relative_buckets, c.decoder_heads}, DType::F32);
  } else {
    if (n_pos > (int64_t{1} << 20)) {
      throw FormatError(source + ": max_position_embeddings " + std::to_string(c.max_position_embeddings) +
                        " is beyond the 1048576 sinusoidal positions this engine builds");
    }
    w.encoder_positions = w.decoder_positions = sinusoidal_positions(n_pos, H);
  }
  w.encoder_layers.resize(static_cast<size_t>(c.encoder_layers));
  w.decoder_layers.resize(static_cast<size_t>(c.decoder_layers));
  const bool ln = c.norm == NormKind::LayerNorm;
  for_each_norm(c, w, [&](const std::string& name, DecoderNorm& n) {
    n.weight = r.get(name + ".weight", {H}, DType::F32);
    if (ln) n.bias = r.get(name + ".bias", {H}, DType::F32);
  });
  // Mark the lm_head untied before visiting the Linears: tied means "read nothing".
  if (!is_tied) w.lm_head.weight = Tensor::zeros(DType::F32, {1});
  std::vector<std::string> known;
  for_each_linear(w, [&](const std::string& name, Linear& l) {
    known.push_back(name);
    kernels::WeightType type = kernels::WeightType::F32;
    if (dtypes.contains(name)) {
      const io::Json& v = dtypes.at(name);
      const std::string s = v.is_string() ? v.get<std::string>() : std::string();
      if (s == "int8") {
        type = kernels::WeightType::S8;
      } else if (s == "bf16") {
        type = kernels::WeightType::BF16;
      } else if (s != "fp32") {
        throw FormatError(source + ": layout.linear_dtypes." + name + " must be fp32, bf16 or int8");
      }
    }
    const auto [out, in] = linear_shape(c, name);
    const DType d = type == kernels::WeightType::S8     ? DType::I8
                    : type == kernels::WeightType::BF16 ? DType::BF16
                                                        : DType::F32;
    Linear lin;
    lin.in = in;
    lin.out = out;
    lin.weight = r.get(name + ".weight", {out, in}, d);
    if (type == kernels::WeightType::S8) lin.weight_scale = r.get(name + ".weight_scale", {out}, DType::F32);
    const bool bias = c.attention_bias && name != "lm_head";
    if (bias) lin.bias = r.get(name + ".bias", {out}, DType::F32);
    l = std::move(lin);
  });
  for (auto it = dtypes.begin(); it != dtypes.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      throw FormatError(source + ": layout.linear_dtypes names '" + it.key() + "', which is not a Linear of this " +
                        c.model_type + " (" + std::to_string(c.encoder_layers) + " encoder and " +
                        std::to_string(c.decoder_layers) + " decoder layers)");
    }
  }
  if (is_tied) {
    w.lm_head.weight = w.embed_tokens;
    w.lm_head.in = H;
    w.lm_head.out = c.vocab_size;
  }
  if (has_bias) w.final_logits_bias = r.get("final_logits_bias", {c.vocab_size}, DType::F32);
  return w;
}

io::Json native_seq2seq_layout(const std::filesystem::path& dir) {
  const std::filesystem::path meta_path = dir / "optimum_export.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(meta_path, ec)) return nullptr;
  const io::Json meta = io::read_json(meta_path);
  if (!meta.is_object() || meta.value("format", std::string()) != "optimum-cpp-native") return nullptr;
  const auto layout = meta.find("layout");
  if (layout == meta.end() || !layout->is_object() || layout->value("kind", std::string()) != kSeq2SeqLayoutKind) {
    return nullptr;
  }
  return *layout;
}

}  // namespace optimum::models
