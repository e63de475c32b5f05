// The bidirectional post-norm encoder (BERT and the families sharing its
// blocks) as an ONNX graph: embeddings, layers of attention + MLP, the
// pooler and the task head, from the loaded EncoderWeights and Head.
#include <cmath>
#include <limits>

#include "blocks.h"
#include "onnx_internal.h"
#include "optimum/core/errors.h"

namespace optimum::exporters::onnx_export {

namespace {

constexpr int32_t kF32 = onnx::TensorProto_DataType_FLOAT;
constexpr int32_t kI64 = onnx::TensorProto_DataType_INT64;

// MPNet's relative_position_bucket (bidirectional, 32 buckets, max distance
// 128), in f32 as transformers computes it (models/encoder.cc runs the same).
int32_t relative_bucket(int64_t relative_position) {
  constexpr int64_t kBuckets = 32 / 2;
  constexpr int64_t kMaxExact = kBuckets / 2;
  constexpr int64_t kMaxDistance = 128;
  int64_t ret = 0;
  int64_t n = -relative_position;
  if (n < 0) ret += kBuckets;
  n = std::abs(n);
  if (n < kMaxExact) return static_cast<int32_t>(ret + n);
  const float ratio = std::log(static_cast<float>(n) / static_cast<float>(kMaxExact)) /
                      static_cast<float>(std::log(static_cast<double>(kMaxDistance) / kMaxExact));
  int64_t large = kMaxExact + static_cast<int64_t>(ratio * static_cast<float>(kBuckets - kMaxExact));
  if (large > kBuckets - 1) large = kBuckets - 1;
  return static_cast<int32_t>(ret + large);
}

// Token id that marks padding when positions come from input_ids (MPNet hard-codes 1).
int64_t padding_index(const config::EncoderConfig& c) { return c.model_type == "mpnet" ? 1 : c.pad_token_id; }

struct EncoderInputsGraph {
  std::string ids, mask, token_types;  // [rows, S]; mask/token_types empty when not inputs
  std::string seq;                     // scalar S
};

std::string embeddings(GraphBuilder& g, const config::EncoderConfig& c, const models::EncoderWeights& w,
                       models::PositionStyle positions, const EncoderInputsGraph& in) {
  g.set_scope("/embeddings");
  std::string x = g.node("Gather", {g.weight("embeddings.word_embeddings.weight", w.word_embeddings), in.ids});
  std::string pos_ids;
  if (positions == models::PositionStyle::Absolute) {
    pos_ids = g.node("Range", {g.scalar_i64("start", 0), in.seq, g.scalar_i64("delta", 1)});
  } else {
    // pad + cumsum(ids != pad) for real tokens, pad for padding (create_position_ids_from_input_ids).
    const std::string pad = g.scalar_i64("pad", padding_index(c));
    const std::string real = g.cast(g.node("Not", {g.node("Equal", {in.ids, pad})}), onnx::TensorProto_DataType_BOOL, kI64);
    const std::string cum = g.node("CumSum", {real, g.scalar_i64("axis", 1)});
    pos_ids = g.node("Add", {g.node("Mul", {cum, real}), pad});
  }
  x = g.node("Add", {x, g.node("Gather", {g.weight("embeddings.position_embeddings.weight", w.position_embeddings), pos_ids})});
  if (w.token_type_embeddings.defined()) {
    const Tensor& table = w.token_type_embeddings;
    if (!in.token_types.empty()) {
      x = g.node("Add", {x, g.node("Gather", {g.weight("embeddings.token_type_embeddings.weight", table), in.token_types})});
    } else {
      // Not an export input: transformers' default, all zeros (row 0).
      const int64_t e = table.size(1);
      x = g.node("Add", {x, g.weight("embeddings.token_type_embeddings.row0",
                                     Tensor::from_data(DType::F32, {e}, table.data<float>()))});
    }
  }
  x = layer_norm(g, x, w.embedding_norm, "embeddings.LayerNorm");
  if (w.embedding_project) x = linear(g, x, *w.embedding_project, "embeddings.project");
  return x;
}

// ViT's embeddings: Conv(kernel = stride = patch) over pixel_values, the
// patches as a sequence after the CLS token, plus the learned positions
// (the checkpoint's image size: no interpolation, as transformers' default).
std::string patch_embeddings(GraphBuilder& g, const config::EncoderConfig& c, const models::EncoderWeights& w,
                             const std::string& pixels) {
  g.set_scope("/embeddings/patch_embeddings");
  const models::Linear& p = *w.patch_embedding;
  const int64_t h = c.hidden_size, ph = c.patch_height, pw = c.patch_width;
  const std::string kernel =
      g.weight("embeddings.patch_embeddings.projection.weight", p.weight.reshape({h, c.num_channels, ph, pw}));
  const std::string conv = g.node("Conv", {pixels, kernel, g.weight("embeddings.patch_embeddings.projection.bias", p.bias)},
                                  {Attr::of("kernel_shape", std::vector<int64_t>{ph, pw}),
                                   Attr::of("strides", std::vector<int64_t>{ph, pw})});
  // [B, h, H/ph, W/pw] -> [B, patches, h]
  const std::string flat = g.node("Reshape", {conv, g.ints("flat_shape", {0, 0, -1}, {3})});
  const std::string seq = g.node("Transpose", {flat}, {Attr::of("perm", std::vector<int64_t>{0, 2, 1})});
  g.set_scope("/embeddings");
  const std::string batch = g.node("Slice", {g.node("Shape", {pixels}), g.ints("batch_start", {0}, {1}),
                                             g.ints("batch_end", {1}, {1}), g.ints("batch_axis", {0}, {1})});
  const std::string cls_shape = g.node("Concat", {batch, g.ints("cls_rest", {1, h}, {2})}, {Attr::of("axis", int64_t{0})});
  const std::string cls = g.node("Expand", {g.weight("embeddings.cls_token", w.cls_token.reshape({1, 1, h})), cls_shape});
  const std::string x = g.node("Concat", {cls, seq}, {Attr::of("axis", int64_t{1})});
  const int64_t n = w.position_embeddings.size(0);
  return g.node("Add", {x, g.weight("embeddings.position_embeddings", w.position_embeddings.reshape({1, n, h}))});
}

// Additive attention bias in f32, broadcastable to [rows, heads, S, S]:
// the padding mask (finfo(f32).min at masked keys, as transformers) plus
// MPNet's relative position bias; empty when there is neither.
std::string attention_bias(GraphBuilder& g, const models::EncoderWeights& w,
                           const EncoderInputsGraph& in) {
  g.set_scope("/encoder/mask");
  std::string bias;
  if (!in.mask.empty()) {
    const std::string m = g.cast(in.mask, kI64, kF32);
    const std::string inv = g.node("Sub", {g.scalar("one", 1.0f, true), m});
    const std::string neg =
        g.node("Mul", {inv, g.scalar("min", std::numeric_limits<float>::lowest(), true)});
    bias = g.node("Reshape", {neg, g.ints("mask_shape", {0, 1, 1, -1}, {4})});
  }
  if (w.relative_attention_bias.defined()) {
    g.set_scope("/encoder/relative_attention_bias");
    // Buckets depend on j - i only and saturate past the max distance (128):
    // a table over j - i in [-128, 128], indexed by the clipped offsets.
    constexpr int64_t kMaxOffset = 128;
    std::vector<int32_t> buckets;
    for (int64_t d = -kMaxOffset; d <= kMaxOffset; ++d) buckets.push_back(relative_bucket(d));
    const std::string table = g.ints32("buckets", buckets, {2 * kMaxOffset + 1});
    const std::string zero = g.scalar_i64("zero", 0), one = g.scalar_i64("one", 1);
    const std::string pos = g.node("Range", {zero, in.seq, one});
    const std::string rows = g.node("Reshape", {pos, g.ints("column", {-1, 1}, {2})});
    const std::string offsets = g.cast(g.node("Sub", {pos, rows}), kI64, kF32);  // [S, S]: j - i
    const std::string clipped =
        g.node("Clip", {offsets, g.scalar("lo", -static_cast<float>(kMaxOffset), true),
                        g.scalar("hi", static_cast<float>(kMaxOffset), true)});
    const std::string idx = g.node("Gather", {table, g.node("Add", {g.cast(clipped, kF32, kI64),
                                                                  g.scalar_i64("offset", kMaxOffset)})});
    const std::string values = g.node(
        "Gather", {g.weight("encoder.relative_attention_bias.weight", w.relative_attention_bias, false, true), idx});
    const std::string rel = g.node("Transpose", {values}, {Attr::of("perm", std::vector<int64_t>{2, 0, 1})});
    bias = bias.empty() ? rel : g.node("Add", {bias, rel});
  }
  return bias;
}

std::string encoder_layer(GraphBuilder& g, const config::EncoderConfig& c, const models::EncoderLayer& l,
                          const std::string& name, const std::string& x, const std::string& bias,
                          kernels::Activation act, bool pre_norm) {
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, hd = c.head_dim();
  g.set_scope("/" + name + "/attention");
  // Pre-norm (ViT): x + attn(norm_before(x)), then + mlp(norm_after(.)).
  const std::string xin = pre_norm ? layer_norm(g, x, l.attn_norm, name + ".layernorm_before") : x;
  const std::string q = split_heads(g, linear(g, xin, slice_linear(l.qkv, 0, h), name + ".attention.query"), heads, hd);
  const std::string k =
      split_heads(g, linear(g, xin, slice_linear(l.qkv, h, h), name + ".attention.key"), heads, hd, true);
  const std::string v =
      split_heads(g, linear(g, xin, slice_linear(l.qkv, 2 * h, h), name + ".attention.value"), heads, hd);
  const std::string scores =
      g.node("Div", {g.node("MatMul", {q, k}), g.scalar("sqrt_head_dim", static_cast<float>(std::sqrt(hd)))});
  const std::string probs = masked_softmax(g, scores, bias);
  const std::string ctx = merge_heads(g, g.node("MatMul", {probs, v}), h);
  const std::string attn = linear(g, ctx, l.attn_out, name + ".attention.output.dense");
  if (pre_norm) {
    const std::string a = g.node("Add", {attn, x});
    g.set_scope("/" + name + "/mlp");
    const std::string normed = layer_norm(g, a, l.ffn_norm, name + ".layernorm_after");
    const std::string inter = activation(g, linear(g, normed, l.ffn_in, name + ".intermediate.dense"), act);
    return g.node("Add", {linear(g, inter, l.ffn_out, name + ".output.dense"), a});
  }
  const std::string a = layer_norm(g, g.node("Add", {attn, x}), l.attn_norm, name + ".attention.output.LayerNorm");
  g.set_scope("/" + name + "/mlp");
  const std::string inter = activation(g, linear(g, a, l.ffn_in, name + ".intermediate.dense"), act);
  const std::string out = linear(g, inter, l.ffn_out, name + ".output.dense");
  return layer_norm(g, g.node("Add", {out, a}), l.ffn_norm, name + ".output.LayerNorm");
}

}  // namespace

BuiltGraph build_encoder_graph(GraphBuilder& g, const EncoderSource& src, const tasks::ExportConfig& ec,
                               const GraphShapes& shapes) {
  const config::EncoderConfig& c = src.config;
  const models::EncoderWeights& w = src.weights;
  const bool choices = ec.task == "multiple-choice";
  BuiltGraph built;
  EncoderInputsGraph in;
  std::string ids_raw;
  std::string pixels;
  for (const tasks::TensorSpec& spec : ec.inputs) {
    if (spec.name == "pixel_values") {
      if (!w.patch_embedding) throw Unsupported("ONNX export: " + c.model_type + " has no patch embeddings for pixel_values");
      g.add_input(spec.name, g.compute_type(), shapes.input_dims(spec, 4), shapes.dim_names(spec, 4));
      built.inputs.push_back(spec.name);
      pixels = spec.name;
      continue;
    }
    const std::vector<int64_t> dims = shapes.input_dims(spec, choices ? 3 : 2);
    g.add_input(spec.name, kI64, dims, shapes.dim_names(spec, choices ? 3 : 2));
    built.inputs.push_back(spec.name);
    g.set_scope("/inputs");
    // Multiple choice: [batch, choices, S] flattened to [batch*choices, S].
    const std::string flat = choices ? g.node("Flatten", {spec.name}, {Attr::of("axis", int64_t{2})}) : spec.name;
    if (spec.name == "input_ids") {
      in.ids = flat;
      ids_raw = spec.name;
    } else if (spec.name == "attention_mask") {
      in.mask = flat;
    } else if (spec.name == "token_type_ids") {
      in.token_types = flat;
    } else {
      throw Unsupported("ONNX export: no graph input for '" + spec.name + "' of " + c.model_type);
    }
  }
  std::string x, bias;
  if (!pixels.empty()) {
    x = patch_embeddings(g, c, w, pixels);
  } else {
    if (in.ids.empty()) throw Error("ONNX export: the export config of " + c.model_type + " has no input_ids");
    g.set_scope("/inputs");
    in.seq = g.node("Gather", {g.node("Shape", {in.ids}), g.scalar_i64("seq_axis", 1)}, {Attr::of("axis", int64_t{0})});
    x = embeddings(g, c, w, src.positions, in);
    bias = attention_bias(g, w, in);
  }
  const kernels::Activation act = kernels::activation_from_name(c.hidden_act);
  for (size_t step = 0; step < w.layer_order.size(); ++step) {
    const size_t idx = w.layer_order[step];
    x = encoder_layer(g, c, w.layers[idx], "encoder.layer." + std::to_string(idx), x, bias, act, w.pre_norm);
  }

  if (w.final_norm.dim > 0) {
    g.set_scope("/encoder");
    x = layer_norm(g, x, w.final_norm, "layernorm");
  }
  g.set_scope("/head");
  const kernels::Activation pooler_act = kernels::activation_from_name(c.pooler_act);
  auto first_token = [&] { return g.node("Gather", {x, g.scalar_i64("first", 0)}, {Attr::of("axis", int64_t{1})}); };
  auto pooled = [&] {
    if (!w.pooler) throw Unsupported(c.source + ": the checkpoint has no pooler weights");
    return activation(g, linear(g, first_token(), *w.pooler, "pooler.dense"), pooler_act);
  };
  std::map<std::string, std::string> values;
  const models::Head& head = src.head;
  if (ec.task == "feature-extraction") {
    values["last_hidden_state"] = x;
    if (w.pooler) values["pooler_output"] = pooled();
  } else {
    std::string head_in = x;
    if (head.input == models::HeadInput::FirstToken) head_in = first_token();
    if (head.input == models::HeadInput::Pooled) head_in = pooled();
    const std::string y = head_steps(g, head_in, head, "head");
    if (ec.task == "question-answering") {
      values["start_logits"] = g.node("Gather", {y, g.scalar_i64("start", 0)}, {Attr::of("axis", int64_t{2})});
      values["end_logits"] = g.node("Gather", {y, g.scalar_i64("end", 1)}, {Attr::of("axis", int64_t{2})});
    } else if (choices) {
      const std::string bc = g.node("Slice", {g.node("Shape", {ids_raw}), g.ints("starts", {0}, {1}),
                                              g.ints("ends", {2}, {1}), g.ints("axes", {0}, {1})});
      values["logits"] = g.node("Reshape", {y, bc});
    } else {
      values["logits"] = y;
    }
  }
  const int64_t labels = head.out_features(c.hidden_size);
  for (const tasks::TensorSpec& spec : ec.outputs) {
    auto it = values.find(spec.name);
    if (it == values.end()) continue;  // pooler_output of a checkpoint without a pooler
    std::vector<int64_t> fixed;
    if (spec.name == "last_hidden_state") fixed = {-1, -1, c.hidden_size};
    else if (spec.name == "pooler_output") fixed = {-1, c.hidden_size};
    else if (spec.name == "start_logits" || spec.name == "end_logits") fixed = {-1, -1};
    else if (ec.task == "text-classification" || ec.task == "image-classification") fixed = {-1, labels};
    else if (choices) fixed = {-1, -1};
    else fixed = {-1, -1, labels};
    const int rank = static_cast<int>(fixed.size());
    std::vector<int64_t> dims = shapes.input_dims(spec, rank);
    for (int i = 0; i < rank; ++i) {
      if (spec.axes.count(i) == 0) dims[static_cast<size_t>(i)] = fixed[static_cast<size_t>(i)];
    }
    g.add_output(it->second, spec.name, g.compute_type(), dims, shapes.dim_names(spec, rank));
    built.outputs.push_back(spec.name);
  }
  return built;
}

}  // namespace optimum::exporters::onnx_export
