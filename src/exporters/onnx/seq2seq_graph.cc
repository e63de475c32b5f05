// The encoder-decoders (t5, bart, mbart, marian: models/seq2seq.h) as
// Optimum's two ONNX files: encoder_model.onnx (input_ids, attention_mask ->
// last_hidden_state) and the decoder, either decoder_model.onnx (no past) or
// decoder_model_merged.onnx: past_key_values.{i}.decoder/encoder.key/value
// and use_cache_branch in, logits and present.{i}.* out. In the merged
// decoder one If on use_cache_branch chooses the cross-attention keys/values
// (the past's, or computed from encoder_hidden_states); the self-attention
// past is used only when use_cache_branch is true, so Optimum's dummy first
// past of any length is ignored. Built from Seq2SeqConfig and the loaded
// Seq2SeqWeights with the shared block builders.
#include <cmath>
#include <limits>

#include "blocks.h"
#include "onnx_internal.h"
#include "optimum/core/errors.h"

namespace optimum::exporters::onnx_export {

namespace {

constexpr int32_t kF32 = onnx::TensorProto_DataType_FLOAT;
constexpr int32_t kI64 = onnx::TensorProto_DataType_INT64;
constexpr int32_t kBool = onnx::TensorProto_DataType_BOOL;

using models::Seq2SeqConfig;
using models::Seq2SeqWeights;

std::string norm(GraphBuilder& g, const Seq2SeqConfig& c, const std::string& x, const models::DecoderNorm& n,
                 const std::string& name) {
  if (c.norm == models::NormKind::LayerNorm) {
    models::Norm ln;
    ln.gamma = n.weight;
    ln.beta = n.bias.defined() ? n.bias : Tensor::zeros(DType::F32, {c.hidden_size});
    ln.eps = c.norm_eps;
    ln.dim = c.hidden_size;
    return layer_norm(g, x, ln, name);
  }
  return rms_norm(g, x, n.weight, c.norm_eps, c.norm == models::NormKind::RmsNormPlusOne, name);
}

// T5's relative_position_bucket (models/seq2seq.cc computes the same).
int64_t relative_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  int64_t bucket = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    relative_position = std::abs(relative_position);
  } else {
    relative_position = -std::min<int64_t>(relative_position, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  if (relative_position < max_exact) return bucket + relative_position;
  const float a = std::log(static_cast<float>(relative_position) / static_cast<float>(max_exact));
  const auto denom = static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = a / denom * static_cast<float>(num_buckets - max_exact);
  return bucket + std::min<int64_t>(max_exact + static_cast<int64_t>(scaled), num_buckets - 1);
}

// T5's position bias [heads, S, T] (f32) for queries at `qpos` ([S] i64)
// and keys at `kpos` ([T] i64). Buckets saturate past max_distance, so a
// table over offsets [-max_distance, max_distance] indexed by the clipped
// offset k - q is exact.
std::string relative_bias(GraphBuilder& g, const Seq2SeqConfig& c, const Tensor& table, int64_t heads,
                          bool bidirectional, const std::string& qpos, const std::string& kpos,
                          const std::string& name) {
  const int64_t span = c.relative_max_distance;
  const int64_t width = 2 * span + 1;
  std::vector<float> values(static_cast<size_t>(width * heads));
  const float* t = table.data<float>();
  for (int64_t r = -span; r <= span; ++r) {
    const int64_t b = relative_bucket(r, bidirectional, c.relative_buckets, span);
    for (int64_t h = 0; h < heads; ++h) values[static_cast<size_t>((r + span) * heads + h)] = t[b * heads + h];
  }
  const std::string tab = g.weight_values(name + ".relative_attention_bias.by_offset", values, {width, heads}, true);
  const std::string rows = g.node("Reshape", {qpos, g.ints("column", {-1, 1}, {2})});
  const std::string offsets = g.cast(g.node("Sub", {kpos, rows}), kI64, kF32);  // [S, T]
  const std::string clipped = g.node("Clip", {offsets, g.scalar("lo", -static_cast<float>(span), true),
                                              g.scalar("hi", static_cast<float>(span), true)});
  const std::string idx = g.node("Add", {g.cast(clipped, kF32, kI64), g.scalar_i64("span", span)});
  const std::string bias = g.node("Gather", {tab, idx});  // [S, T, heads]
  return g.node("Transpose", {bias}, {Attr::of("perm", std::vector<int64_t>{2, 0, 1})});
}

// Padding mask [B, 1, 1, T] in f32: finfo(f32).min at masked keys.
std::string padding_bias(GraphBuilder& g, const std::string& mask) {
  const std::string m = g.cast(mask, kI64, kF32);
  const std::string inv = g.node("Sub", {g.scalar("one", 1.0f, true), m});
  const std::string neg = g.node("Mul", {inv, g.scalar("min", std::numeric_limits<float>::lowest(), true)});
  return g.node("Reshape", {neg, g.ints("mask_shape", {0, 1, 1, -1}, {4})});
}

// Token embeddings (* embed_scale), positions at `pos` ([S] i64) and layernorm_embedding.
std::string embed(GraphBuilder& g, const Seq2SeqConfig& c, const Seq2SeqWeights& w, const std::string& ids,
                  const std::string& pos, const Tensor& positions, const models::DecoderNorm& embed_norm,
                  const std::string& stack) {
  g.set_scope("/" + stack + "/embed_tokens");
  std::string x = g.node("Gather", {g.weight("shared.weight", w.embed_tokens), ids});
  if (c.embed_scale != 1.0) x = g.node("Mul", {x, g.scalar("embed_scale", static_cast<float>(c.embed_scale))});
  if (c.positions != models::Seq2SeqPositions::Relative) {
    g.set_scope("/" + stack + "/embed_positions");
    // Marian's sinusoidal table is one for both stacks.
    const std::string table_name = c.positions == models::Seq2SeqPositions::Sinusoidal
                                       ? "embed_positions.weight"
                                       : stack + ".embed_positions.weight";
    std::string p = pos;
    if (c.position_offset != 0) p = g.node("Add", {pos, g.scalar_i64("offset", c.position_offset)});
    x = g.node("Add", {x, g.node("Gather", {g.weight(table_name, positions), p})});
  }
  if (c.layernorm_embedding) x = norm(g, c, x, embed_norm, stack + ".layernorm_embedding");
  return x;
}

// Scaled dot-product attention: q [B, S, heads*D], k / v [B, heads, T, D].
std::string attend(GraphBuilder& g, const Seq2SeqConfig& c, int64_t heads, const std::string& q,
                   const std::string& k, const std::string& v, const std::string& bias) {
  const int64_t D = c.head_dim;
  const std::string qh = split_heads(g, q, heads, D);
  const std::string kt = g.node("Transpose", {k}, {Attr::of("perm", std::vector<int64_t>{0, 1, 3, 2})});
  std::string scores = g.node("MatMul", {qh, kt});
  if (c.attention_scale != 1.0) {
    scores = g.node("Mul", {scores, g.scalar("scale", static_cast<float>(c.attention_scale))});
  }
  const std::string probs = masked_softmax(g, scores, bias);
  return merge_heads(g, g.node("MatMul", {probs, v}), heads * D);
}

// Pre-norm: x + sub(norm(x)); post-norm: norm(x + sub(x)).
template <class Sub>
std::string residual(GraphBuilder& g, const Seq2SeqConfig& c, const models::DecoderNorm& n, const std::string& x,
                     const std::string& name, Sub sub) {
  if (c.pre_norm) return g.node("Add", {x, sub(norm(g, c, x, n, name))});
  return norm(g, c, g.node("Add", {x, sub(x)}), n, name);
}

std::string ffn(GraphBuilder& g, const Seq2SeqConfig& c, const models::Seq2SeqFfn& f, int64_t dim,
                const std::string& x, const std::string& name) {
  if (c.gated_mlp) {
    const std::string gate = activation(g, linear(g, x, slice_linear(f.up, 0, dim), name + ".wi_0"), c.act);
    const std::string up = linear(g, x, slice_linear(f.up, dim, dim), name + ".wi_1");
    return linear(g, g.node("Mul", {gate, up}), f.down, name + ".wo");
  }
  return linear(g, activation(g, linear(g, x, f.up, name + ".fc1"), c.act), f.down, name + ".fc2");
}

// Output dims of a spec: its axes symbolic (or fixed), the rest from `fixed`.
std::vector<int64_t> out_dims(const GraphShapes& shapes, const tasks::TensorSpec& spec, std::vector<int64_t> fixed) {
  const int rank = static_cast<int>(fixed.size());
  std::vector<int64_t> dims = shapes.input_dims(spec, rank);
  for (int i = 0; i < rank; ++i) {
    if (spec.axes.count(i) == 0) dims[static_cast<size_t>(i)] = fixed[static_cast<size_t>(i)];
  }
  return dims;
}

const tasks::TensorSpec& find_spec(const std::vector<tasks::TensorSpec>& specs, const std::string& name,
                                   const std::string& model_type) {
  for (const tasks::TensorSpec& s : specs) {
    if (s.name == name) return s;
  }
  throw Error("ONNX export: the export config of " + model_type + " has no '" + name + "'");
}

}  // namespace

BuiltGraph build_seq2seq_encoder_graph(GraphBuilder& g, const Seq2SeqSource& src, const tasks::ExportConfig& ec,
                                       const GraphShapes& shapes) {
  const Seq2SeqConfig& c = src.config;
  const Seq2SeqWeights& w = src.weights;
  BuiltGraph built;
  for (const tasks::TensorSpec& spec : ec.inputs) {
    g.add_input(spec.name, kI64, shapes.input_dims(spec, 2), shapes.dim_names(spec, 2));
    built.inputs.push_back(spec.name);
  }
  const std::string ids = find_spec(ec.inputs, "input_ids", c.model_type).name;
  const std::string mask = find_spec(ec.inputs, "attention_mask", c.model_type).name;
  g.set_scope("/encoder");
  const std::string seq =
      g.node("Gather", {g.node("Shape", {ids}), g.scalar_i64("seq_axis", 1)}, {Attr::of("axis", int64_t{0})});
  const std::string pos = g.node("Range", {g.scalar_i64("zero", 0), seq, g.scalar_i64("one", 1)});
  std::string x = embed(g, c, w, ids, pos, w.encoder_positions, w.encoder_embed_norm, "encoder");
  g.set_scope("/encoder/mask");
  std::string bias = padding_bias(g, mask);
  if (c.positions == models::Seq2SeqPositions::Relative) {
    const std::string rel =
        relative_bias(g, c, w.encoder_relative_bias, c.encoder_heads, true, pos, pos, "encoder");
    bias = g.node("Add", {bias, rel});
  }
  const int64_t NH = c.encoder_heads, D = c.head_dim;
  for (size_t i = 0; i < w.encoder_layers.size(); ++i) {
    const models::Seq2SeqLayer& l = w.encoder_layers[i];
    const std::string name = "encoder.layers." + std::to_string(i);
    g.set_scope("/" + name + "/self_attn");
    x = residual(g, c, l.self_attn.norm, x, name + ".self_attn_layer_norm", [&](const std::string& h) {
      const std::string q = linear(g, h, slice_linear(l.self_attn.qkv, 0, NH * D), name + ".self_attn.q_proj");
      const std::string k = split_heads(
          g, linear(g, h, slice_linear(l.self_attn.qkv, NH * D, NH * D), name + ".self_attn.k_proj"), NH, D);
      const std::string v = split_heads(
          g, linear(g, h, slice_linear(l.self_attn.qkv, 2 * NH * D, NH * D), name + ".self_attn.v_proj"), NH, D);
      return linear(g, attend(g, c, NH, q, k, v, bias), l.self_attn.o, name + ".self_attn.out_proj");
    });
    g.set_scope("/" + name + "/mlp");
    x = residual(g, c, l.ffn.norm, x, name + ".final_layer_norm",
                 [&](const std::string& h) { return ffn(g, c, l.ffn, c.encoder_ffn, h, name + ".mlp"); });
  }
  if (c.final_norms) {
    g.set_scope("/encoder");
    x = norm(g, c, x, w.encoder_final_norm, "encoder.layer_norm");
  }
  for (const tasks::TensorSpec& spec : ec.outputs) {
    if (spec.name != "last_hidden_state") {
      throw Unsupported("ONNX export: no encoder output '" + spec.name + "' for " + c.model_type);
    }
    g.add_output(x, spec.name, g.compute_type(), out_dims(shapes, spec, {-1, -1, c.hidden_size}),
                 shapes.dim_names(spec, 3));
    built.outputs.push_back(spec.name);
  }
  return built;
}

BuiltGraph build_seq2seq_decoder_graph(GraphBuilder& g, const Seq2SeqSource& src, const tasks::ExportConfig& ec,
                                       const GraphShapes& shapes) {
  const Seq2SeqConfig& c = src.config;
  const Seq2SeqWeights& w = src.weights;
  const int64_t NH = c.decoder_heads, D = c.head_dim, L = static_cast<int64_t>(w.decoder_layers.size());
  const bool past = ec.use_past;
  BuiltGraph built;
  for (const tasks::TensorSpec& spec : ec.expanded_decoder_inputs(L)) {
    if (spec.name == "use_cache_branch") {
      g.add_input(spec.name, kBool, {1}, {});
    } else if (spec.name == "input_ids" || spec.name == "encoder_attention_mask") {
      g.add_input(spec.name, kI64, shapes.input_dims(spec, 2), shapes.dim_names(spec, 2));
    } else if (spec.name == "encoder_hidden_states") {
      g.add_input(spec.name, g.compute_type(), out_dims(shapes, spec, {-1, -1, c.hidden_size}),
                  shapes.dim_names(spec, 3));
    } else {  // past_key_values.{i}.*
      g.add_input(spec.name, g.compute_type(), out_dims(shapes, spec, {-1, NH, -1, D}), shapes.dim_names(spec, 4));
    }
    built.inputs.push_back(spec.name);
  }
  auto past_name = [](int64_t i, const char* part) {
    return "past_key_values." + std::to_string(i) + "." + part;
  };
  const std::string ids = "input_ids";
  const std::string enc = "encoder_hidden_states";

  g.set_scope("/decoder");
  const std::string seq =
      g.node("Gather", {g.node("Shape", {ids}), g.scalar_i64("seq_axis", 1)}, {Attr::of("axis", int64_t{0})});
  // The past length used: the past's with use_cache_branch, else 0.
  std::string past_len = g.scalar_i64("no_past", 0);
  std::string past_len_1d;
  if (past) {
    const std::string stored = g.node("Gather", {g.node("Shape", {past_name(0, "decoder.key")}),
                                                 g.ints("past_axis", {2}, {1})},
                                      {Attr::of("axis", int64_t{0})});  // [1]
    past_len_1d = g.node("Mul", {stored, g.cast("use_cache_branch", kBool, kI64)});
    past_len = g.node("Reshape", {past_len_1d, g.ints("scalar_shape", {}, {0})});
  }
  const std::string total = g.node("Add", {past_len, seq});
  const std::string one = g.scalar_i64("one", 1);
  const std::string qpos = g.node("Range", {past_len, total, one});
  const std::string kpos = g.node("Range", {g.scalar_i64("zero", 0), total, one});
  std::string x = embed(g, c, w, ids, qpos, w.decoder_positions, w.decoder_embed_norm, "decoder");

  g.set_scope("/decoder/mask");
  // Causal: key j is masked for query at position p when j > p.
  const std::string later = g.node("Greater", {kpos, g.node("Reshape", {qpos, g.ints("column", {-1, 1}, {2})})});
  std::string self_bias =
      g.node("Where", {later, g.scalar("min", std::numeric_limits<float>::lowest(), true), g.scalar("zero", 0, true)});
  if (c.positions == models::Seq2SeqPositions::Relative) {
    self_bias = g.node("Add", {self_bias, relative_bias(g, c, w.decoder_relative_bias, NH, false, qpos, kpos,
                                                        "decoder")});
  }
  const std::string cross_bias = padding_bias(g, "encoder_attention_mask");

  // Cross-attention keys/values of every layer: from encoder_hidden_states,
  // or (merged decoder, use_cache_branch) the past's.
  auto computed_cross = [&]() {
    std::vector<std::string> kv;
    for (int64_t i = 0; i < L; ++i) {
      const models::Seq2SeqLayer& l = w.decoder_layers[static_cast<size_t>(i)];
      const std::string name = "decoder.layers." + std::to_string(i) + ".encoder_attn";
      g.set_scope("/" + name);
      kv.push_back(split_heads(g, linear(g, enc, slice_linear(l.cross_attn.kv, 0, NH * D), name + ".k_proj"), NH, D));
      kv.push_back(
          split_heads(g, linear(g, enc, slice_linear(l.cross_attn.kv, NH * D, NH * D), name + ".v_proj"), NH, D));
    }
    return kv;
  };
  std::vector<std::string> cross;
  if (past) {
    g.set_scope("/decoder/cross_cache");
    cross = g.if_node(
        "use_cache_branch",
        [&]() {
          std::vector<std::string> kv;
          for (int64_t i = 0; i < L; ++i) {
            kv.push_back(past_name(i, "encoder.key"));
            kv.push_back(past_name(i, "encoder.value"));
          }
          return kv;
        },
        computed_cross, g.compute_type());
  } else {
    cross = computed_cross();
  }

  std::map<std::string, std::string> values;
  for (int64_t i = 0; i < L; ++i) {
    const models::Seq2SeqLayer& l = w.decoder_layers[static_cast<size_t>(i)];
    const std::string name = "decoder.layers." + std::to_string(i);
    const std::string idx = std::to_string(i);
    g.set_scope("/" + name + "/self_attn");
    x = residual(g, c, l.self_attn.norm, x, name + ".self_attn_layer_norm", [&](const std::string& h) {
      const std::string q = linear(g, h, slice_linear(l.self_attn.qkv, 0, NH * D), name + ".self_attn.q_proj");
      std::string k = split_heads(
          g, linear(g, h, slice_linear(l.self_attn.qkv, NH * D, NH * D), name + ".self_attn.k_proj"), NH, D);
      std::string v = split_heads(
          g, linear(g, h, slice_linear(l.self_attn.qkv, 2 * NH * D, NH * D), name + ".self_attn.v_proj"), NH, D);
      if (past) {
        auto used = [&](const std::string& p) {
          return g.node("Slice", {p, g.ints("starts", {0}, {1}), past_len_1d, g.ints("axes", {2}, {1})});
        };
        k = g.node("Concat", {used(past_name(i, "decoder.key")), k}, {Attr::of("axis", int64_t{2})});
        v = g.node("Concat", {used(past_name(i, "decoder.value")), v}, {Attr::of("axis", int64_t{2})});
        values["present." + idx + ".decoder.key"] = k;
        values["present." + idx + ".decoder.value"] = v;
      }
      return linear(g, attend(g, c, NH, q, k, v, self_bias), l.self_attn.o, name + ".self_attn.out_proj");
    });
    g.set_scope("/" + name + "/encoder_attn");
    const std::string ck = cross[static_cast<size_t>(2 * i)], cv = cross[static_cast<size_t>(2 * i + 1)];
    values["present." + idx + ".encoder.key"] = ck;
    values["present." + idx + ".encoder.value"] = cv;
    x = residual(g, c, l.cross_attn.norm, x, name + ".encoder_attn_layer_norm", [&](const std::string& h) {
      const std::string q = linear(g, h, l.cross_attn.qkv, name + ".encoder_attn.q_proj");
      return linear(g, attend(g, c, NH, q, ck, cv, cross_bias), l.cross_attn.o, name + ".encoder_attn.out_proj");
    });
    g.set_scope("/" + name + "/mlp");
    x = residual(g, c, l.ffn.norm, x, name + ".final_layer_norm",
                 [&](const std::string& h) { return ffn(g, c, l.ffn, c.decoder_ffn, h, name + ".mlp"); });
  }
  g.set_scope("/lm_head");
  if (c.final_norms) x = norm(g, c, x, w.decoder_final_norm, "decoder.layer_norm");
  if (c.output_scale != 1.0) x = g.node("Mul", {x, g.scalar("output_scale", static_cast<float>(c.output_scale))});
  std::string logits = linear(g, x, w.lm_head, "lm_head");
  if (w.final_logits_bias.defined()) logits = g.node("Add", {logits, g.weight("final_logits_bias", w.final_logits_bias)});
  values["logits"] = logits;

  for (const tasks::TensorSpec& spec : ec.expanded_decoder_outputs(L)) {
    auto it = values.find(spec.name);
    if (it == values.end()) throw Error("ONNX export: no decoder value for output '" + spec.name + "'");
    std::vector<int64_t> fixed = spec.name == "logits" ? std::vector<int64_t>{-1, -1, c.vocab_size}
                                                       : std::vector<int64_t>{-1, NH, -1, D};
    const int rank = static_cast<int>(fixed.size());
    g.add_output(it->second, spec.name, g.compute_type(), out_dims(shapes, spec, fixed), shapes.dim_names(spec, rank));
    built.outputs.push_back(spec.name);
  }
  return built;
}

}  // namespace optimum::exporters::onnx_export
