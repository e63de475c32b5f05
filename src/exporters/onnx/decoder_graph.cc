// The causal pre-norm decoder (llama and the families sharing its blocks,
// gpt2) as one ONNX graph in Optimum's merged-decoder form: input_ids,
// attention_mask [batch, past + sequence], position_ids and
// past_key_values.{i}.key/value in; logits (or last_hidden_state) and
// present.{i}.key/value out. Built from DecoderConfig and the loaded
// DecoderWeights with the shared block builders.
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

std::string norm(GraphBuilder& g, const models::DecoderConfig& c, const std::string& x, const models::DecoderNorm& n,
                 const std::string& name, int64_t dim) {
  if (c.norm == models::NormKind::LayerNorm) {
    models::Norm ln;
    ln.gamma = n.weight;
    ln.beta = n.bias.defined() ? n.bias : Tensor::zeros(DType::F32, {dim});
    ln.eps = c.norm_eps;
    ln.dim = dim;
    return layer_norm(g, x, ln, name);
  }
  return rms_norm(g, x, n.weight, c.norm_eps, c.norm == models::NormKind::RmsNormPlusOne, name);
}

// cap * tanh(x / cap).
std::string soft_cap(GraphBuilder& g, const std::string& x, double cap) {
  const std::string c = g.scalar("cap", static_cast<float>(cap), true);
  return g.node("Mul", {g.node("Tanh", {g.node("Div", {x, c})}), c});
}

struct Rope {
  std::string cos, sin;  // [B, 1, S, rotary_dims] in the compute type
  int64_t dims = 0;
};

// cos/sin of `positions` (f32 [B, S, 1]) for one RoPE setting, as transformers' rotary embedding.
Rope rope_tables(GraphBuilder& g, const models::DecoderConfig& c, const models::RopeConfig& rc,
                 const std::string& positions, size_t index) {
  if (rc.type == models::RopeType::Dynamic || rc.type == models::RopeType::LongRope) {
    throw Unsupported("ONNX export: rope_type " + std::string(rc.type == models::RopeType::Dynamic ? "dynamic" : "longrope") +
                      " of " + c.model_type + " depends on the sequence length and is not exported yet");
  }
  const models::RopeTable t = models::rope_inv_freq(rc, c);
  g.set_scope("/rotary_emb." + std::to_string(index));
  const std::string inv = g.weight_values("rotary_emb." + std::to_string(index) + ".inv_freq", t.inv_freq,
                                          {static_cast<int64_t>(t.inv_freq.size())}, true);
  const std::string freqs = g.node("Mul", {positions, inv});
  const std::string emb = g.node("Concat", {freqs, freqs}, {Attr::of("axis", int64_t{-1})});
  auto table = [&](const char* op) {
    std::string v = g.node(op, {emb});
    if (t.attention_scaling != 1.0f) v = g.node("Mul", {v, g.scalar("scaling", t.attention_scaling, true)});
    v = g.node("Reshape", {v, g.ints("rope_shape", {0, 1, -1, t.rotary_dims}, {4})});
    return g.cast(v, kF32, g.compute_type());
  };
  return {table("Cos"), table("Sin"), t.rotary_dims};
}

// x [B, heads, S, head_dim] rotated on its first rope.dims dims.
std::string apply_rope(GraphBuilder& g, const std::string& x, const Rope& rope, int64_t head_dim) {
  auto slice = [&](const std::string& v, int64_t from, int64_t to) {
    return g.node("Slice", {v, g.ints("starts", {from}, {1}), g.ints("ends", {to}, {1}), g.ints("axes", {3}, {1})});
  };
  const int64_t half = rope.dims / 2;
  const std::string rot = rope.dims == head_dim ? x : slice(x, 0, rope.dims);
  const std::string x1 = slice(rot, 0, half), x2 = slice(rot, half, rope.dims);
  const std::string rotated = g.node("Concat", {g.node("Neg", {x2}), x1}, {Attr::of("axis", int64_t{-1})});
  const std::string y =
      g.node("Add", {g.node("Mul", {rot, rope.cos}), g.node("Mul", {rotated, rope.sin})});
  if (rope.dims == head_dim) return y;
  return g.node("Concat", {y, slice(x, rope.dims, head_dim)}, {Attr::of("axis", int64_t{-1})});
}

struct DecoderInputsGraph {
  std::string ids, mask, positions;  // positions: int64 [B, S]
  std::string seq, total;            // scalars S and past + S
  bool past = false;
};

// f32 additive mask [B, 1, S, T]: causal (by cache index), padding, and a
// sliding window of `window` keys when > 0 (transformers' sliding_window_overlay).
std::string attention_mask(GraphBuilder& g, const DecoderInputsGraph& in, int64_t window) {
  g.set_scope(window > 0 ? "/mask/sliding_" + std::to_string(window) : "/mask/full");
  const std::string zero = g.scalar_i64("zero", 0), one = g.scalar_i64("one", 1);
  const std::string past = g.node("Sub", {in.total, in.seq});
  const std::string kj = g.node("Range", {zero, in.total, one});
  const std::string qi = g.node("Reshape", {g.node("Add", {g.node("Range", {zero, in.seq, one}), past}),
                                            g.ints("column", {-1, 1}, {2})});
  std::string allowed = g.node("Not", {g.node("Greater", {kj, qi})});
  if (window > 0) {
    allowed = g.node("And", {allowed, g.node("Greater", {kj, g.node("Sub", {qi, g.scalar_i64("window", window)})})});
  }
  const std::string pad = g.node("Reshape", {g.cast(in.mask, kI64, kBool), g.ints("mask_shape", {0, 1, 1, -1}, {4})});
  allowed = g.node("And", {allowed, pad});
  return g.node("Where", {allowed, g.scalar("zero_f", 0.0f, true),
                          g.scalar("min", std::numeric_limits<float>::lowest(), true)});
}

}  // namespace

BuiltGraph build_decoder_graph(GraphBuilder& g, const DecoderSource& src, const tasks::ExportConfig& ec,
                               const GraphShapes& shapes) {
  const models::DecoderConfig& c = src.config;
  const models::DecoderWeights& w = src.weights;
  const int64_t heads = c.n_heads, kv = c.n_heads_kv, hd = c.head_dim;
  const bool lm = ec.task.starts_with("text-generation");
  if (!lm && !ec.task.starts_with("feature-extraction")) {
    throw Unsupported("ONNX export of " + c.model_type + " for task '" + ec.task + "' is not implemented yet");
  }
  if (lm && !w.lm_head.weight.defined()) {
    throw Unsupported("ONNX export: the " + c.model_type + " checkpoint has no lm_head for " + ec.task +
                      " (export feature-extraction)");
  }
  BuiltGraph built;
  DecoderInputsGraph in;
  in.past = ec.use_past;
  const std::string B = "batch_size";
  for (const tasks::TensorSpec& spec : ec.expanded_inputs(c.n_layers)) {
    std::vector<int64_t> dims;
    std::vector<std::string> names;
    if (spec.name.starts_with("past_key_values.")) {
      dims = {shapes.axis_size(B), kv, shapes.axis_size("past_sequence_length"), hd};
      g.add_input(spec.name, g.compute_type(), dims, shapes.dim_names(spec, 4));
    } else {
      g.add_input(spec.name, kI64, shapes.input_dims(spec, 2), shapes.dim_names(spec, 2));
      if (spec.name == "input_ids") in.ids = spec.name;
      if (spec.name == "attention_mask") in.mask = spec.name;
      if (spec.name == "position_ids") in.positions = spec.name;
    }
    built.inputs.push_back(spec.name);
  }
  g.set_scope("/inputs");
  auto dim = [&](const std::string& x, int64_t axis) {
    return g.node("Gather", {g.node("Shape", {x}), g.scalar_i64("axis", axis)}, {Attr::of("axis", int64_t{0})});
  };
  in.seq = dim(in.ids, 1);
  in.total = dim(in.mask, 1);
  if (in.positions.empty()) {
    // Optimum's decoders without position_ids: positions past .. past + S - 1 (left padding not honoured, as transformers' default).
    const std::string past = g.node("Sub", {in.total, in.seq});
    in.positions = g.node("Reshape", {g.node("Range", {past, in.total, g.scalar_i64("one", 1)}),
                                      g.ints("row", {1, -1}, {2})});
  }

  g.set_scope("/embed_tokens");
  std::string x = g.node("Gather", {g.weight("model.embed_tokens.weight", w.embed_tokens), in.ids});
  if (c.scale_embeddings) {
    // transformers multiplies by sqrt(hidden) rounded to the compute type.
    x = g.node("Mul", {x, g.scalar("normalizer", static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size))))});
  }
  std::vector<Rope> ropes;
  if (c.positions == models::PositionKind::Learned) {
    x = g.node("Add", {x, g.node("Gather", {g.weight("model.wpe.weight", w.position_embeddings), in.positions})});
  } else if (c.positions == models::PositionKind::Rope) {
    g.set_scope("/rotary_emb");
    const std::string pos = g.node("Reshape", {g.cast(in.positions, kI64, kF32), g.ints("pos_shape", {0, 0, 1}, {3})});
    for (size_t i = 0; i < c.ropes.size(); ++i) ropes.push_back(rope_tables(g, c, c.ropes[i], pos, i));
  }
  std::map<int64_t, std::string> masks;  // by sliding window (0: full)
  for (const models::DecoderLayerOptions& lo : c.layers) {
    if (masks.count(lo.sliding_window) == 0) masks[lo.sliding_window] = attention_mask(g, in, lo.sliding_window);
  }

  std::vector<std::string> presents;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const models::DecoderLayerWeights& l = w.layers[static_cast<size_t>(i)];
    const models::DecoderLayerOptions& lo = c.layers[static_cast<size_t>(i)];
    const std::string p = "model.layers." + std::to_string(i);
    g.set_scope("/" + p + "/self_attn");
    const std::string h = norm(g, c, x, l.attn_norm, p + ".input_layernorm", c.hidden_size);
    std::string q = split_heads(g, linear(g, h, slice_linear(l.qkv, 0, heads * hd), p + ".self_attn.q_proj"), heads, hd);
    std::string k = split_heads(g, linear(g, h, slice_linear(l.qkv, heads * hd, kv * hd), p + ".self_attn.k_proj"), kv, hd);
    std::string v = split_heads(g, linear(g, h, slice_linear(l.qkv, (heads + kv) * hd, kv * hd), p + ".self_attn.v_proj"), kv, hd);
    if (c.qk_norm) {
      q = norm(g, c, q, l.q_norm, p + ".self_attn.q_norm", hd);
      k = norm(g, c, k, l.k_norm, p + ".self_attn.k_norm", hd);
    }
    if (!ropes.empty()) {
      const Rope& rope = ropes.at(static_cast<size_t>(lo.rope));
      q = apply_rope(g, q, rope, hd);
      k = apply_rope(g, k, rope, hd);
    }
    if (in.past) {
      k = g.node("Concat", {"past_key_values." + std::to_string(i) + ".key", k}, {Attr::of("axis", int64_t{2})});
      v = g.node("Concat", {"past_key_values." + std::to_string(i) + ".value", v}, {Attr::of("axis", int64_t{2})});
      presents.push_back(k);
      presents.push_back(v);
    }
    // Grouped-query attention without repeating k/v: q's heads grouped by kv head.
    const std::string qg = kv == heads ? q : g.node("Reshape", {q, g.ints("group_q", {0, kv, -1, hd}, {4})});
    const std::string kt = g.node("Transpose", {k}, {Attr::of("perm", std::vector<int64_t>{0, 1, 3, 2})});
    std::string scores = g.node("MatMul", {qg, kt});
    if (kv != heads) scores = g.node("Reshape", {scores, g.ints("ungroup_scores", {0, heads, -1, 0}, {4})});
    const double scale = lo.attention_scale != 0 ? lo.attention_scale : c.attention_scale;
    scores = g.node("Mul", {scores, g.scalar("scale", static_cast<float>(scale))});
    if (c.attn_logit_softcapping > 0) {
      scores = g.cast(soft_cap(g, g.cast(scores, g.compute_type(), kF32), c.attn_logit_softcapping), kF32,
                      g.compute_type());
    }
    std::string probs = masked_softmax(g, scores, masks.at(lo.sliding_window));
    if (kv != heads) probs = g.node("Reshape", {probs, g.ints("group_probs", {0, kv, -1, 0}, {4})});
    std::string ctx = g.node("MatMul", {probs, v});
    if (kv != heads) ctx = g.node("Reshape", {ctx, g.ints("ungroup_ctx", {0, heads, -1, hd}, {4})});
    std::string attn = linear(g, merge_heads(g, ctx, heads * hd), l.o, p + ".self_attn.o_proj");
    if (c.sandwich_norms) attn = norm(g, c, attn, l.attn_out_norm, p + ".post_attention_layernorm", c.hidden_size);
    x = g.node("Add", {x, attn});

    g.set_scope("/" + p + "/mlp");
    const std::string m = norm(g, c, x, l.mlp_norm, p + ".pre_feedforward_layernorm", c.hidden_size);
    std::string inter;
    if (c.gated_mlp) {
      const int64_t n = c.intermediate_size;
      const std::string gate = linear(g, m, slice_linear(l.gate_up, 0, n), p + ".mlp.gate_proj");
      const std::string up = linear(g, m, slice_linear(l.gate_up, n, n), p + ".mlp.up_proj");
      inter = g.node("Mul", {activation(g, gate, c.act), up});
    } else {
      inter = activation(g, linear(g, m, l.gate_up, p + ".mlp.up_proj"), c.act);
    }
    std::string out = linear(g, inter, l.down, p + ".mlp.down_proj");
    if (c.sandwich_norms) out = norm(g, c, out, l.mlp_out_norm, p + ".post_feedforward_layernorm", c.hidden_size);
    x = g.node("Add", {x, out});
  }
  g.set_scope("/model/norm");
  x = norm(g, c, x, w.final_norm, "model.norm", c.hidden_size);
  std::map<std::string, std::string> values;
  if (lm) {
    g.set_scope("/lm_head");
    std::string logits = linear(g, x, w.lm_head, "lm_head");
    if (c.final_logit_softcapping > 0) {
      logits = g.cast(soft_cap(g, g.cast(logits, g.compute_type(), kF32), c.final_logit_softcapping), kF32,
                      g.compute_type());
    }
    values["logits"] = logits;
  } else {
    values["last_hidden_state"] = x;
  }
  size_t present_index = 0;
  for (const tasks::TensorSpec& spec : ec.expanded_outputs(c.n_layers)) {
    std::vector<int64_t> dims;
    std::string value;
    if (spec.name.starts_with("present.")) {
      value = presents.at(present_index++);
      dims = {shapes.axis_size(B), kv, shapes.axis_size("past_sequence_length + sequence_length"), hd};
    } else {
      value = values.at(spec.name);
      dims = shapes.input_dims(spec, 3);
      if (spec.axes.count(1) == 0) {
        // feature-extraction-with-past: [batch, sequence, hidden] with only the batch axis named.
        dims[1] = shapes.axis_size("sequence_length");
      }
      dims[2] = lm ? c.vocab_size : c.hidden_size;
    }
    std::vector<std::string> names = shapes.dim_names(spec, static_cast<int>(dims.size()));
    if (spec.name.starts_with("present.")) {
      dims[0] = shapes.axis_size(B);
    } else if (spec.axes.count(1) == 0 && shapes.dynamic) {
      names[1] = "sequence_length";
    }
    g.add_output(value, spec.name, g.compute_type(), dims, names);
    built.outputs.push_back(spec.name);
  }
  return built;
}

}  // namespace optimum::exporters::onnx_export
