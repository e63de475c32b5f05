#include "optimum/models/encoder.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "optimum/core/errors.h"

namespace optimum::models {

namespace {

// Token id that marks padding when positions are derived from input_ids:
// config.pad_token_id (RoBERTa family), except MPNet, whose embeddings
// hard-code padding_idx = 1 whatever the config says.
int64_t padding_index(const config::EncoderConfig& c) { return c.model_type == "mpnet" ? 1 : c.pad_token_id; }

// MPNet's relative_position_bucket (bidirectional, 32 buckets, max distance
// 128), in f32 as transformers computes it.
int64_t relative_bucket(int64_t relative_position) {
  constexpr int64_t kBuckets = 32 / 2;
  constexpr int64_t kMaxExact = kBuckets / 2;
  constexpr int64_t kMaxDistance = 128;
  int64_t ret = 0;
  int64_t n = -relative_position;
  if (n < 0) ret += kBuckets;
  n = std::abs(n);
  if (n < kMaxExact) return ret + n;
  const float ratio = std::log(static_cast<float>(n) / static_cast<float>(kMaxExact)) /
                      static_cast<float>(std::log(static_cast<double>(kMaxDistance) / kMaxExact));
  int64_t large = kMaxExact + static_cast<int64_t>(ratio * static_cast<float>(kBuckets - kMaxExact));
  if (large > kBuckets - 1) large = kBuckets - 1;
  return ret + large;
}

void check_range(const int64_t* values, int64_t n, int64_t limit, const char* input, const char* field) {
  if (values == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    if (values[i] < 0 || values[i] >= limit) {
      throw InvalidArgument(std::string(input) + " value " + std::to_string(values[i]) + " at flat index " +
                            std::to_string(i) + " is outside [0, " + std::to_string(limit) + ") (" + field + ")");
    }
  }
}

// The weights fit the shapes the forward indexes them with (a backstop to
// the loaders' per-tensor checks: a mismatch would read out of bounds).
void check_weights(const config::EncoderConfig& c, const EncoderWeights& w) {
  const int64_t e = c.embedding_size;
  const int64_t h = c.hidden_size;
  auto fail = [&](const std::string& what) {
    throw FormatError(c.source + ": the weights do not match the config: " + what);
  };
  auto shape = [&](const Tensor& t, const Shape& want, const char* name) {
    if (t.shape() != want || t.dtype() != DType::F32) {
      fail(std::string(name) + " is " + std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) +
           ", expected F32 " + shape_str(want));
    }
  };
  auto linear = [&](const Linear& l, int64_t in, int64_t out, const std::string& name) {
    if (l.in != in || l.out != out || l.weight.shape() != Shape{out, in}) {
      fail(name + " maps " + std::to_string(l.in) + " -> " + std::to_string(l.out) + ", expected " +
           std::to_string(in) + " -> " + std::to_string(out));
    }
  };
  auto norm = [&](const Norm& n, int64_t dim, const std::string& name) {
    if (n.dim != dim || n.gamma.shape() != Shape{dim} || n.beta.shape() != Shape{dim}) {
      fail(name + " normalizes width " + std::to_string(n.dim) + ", expected " + std::to_string(dim));
    }
  };
  if (w.patch_embedding) {
    if (!c.is_vision()) fail("patch embeddings for a text config (no image_size / patch_size)");
    linear(*w.patch_embedding, c.num_channels * c.patch_height * c.patch_width, h, "the patch embedding");
    shape(w.cls_token, {h}, "cls_token");
    if (w.word_embeddings.defined()) fail("both word and patch embeddings");
  } else if (c.is_vision()) {
    fail("a vision config (image_size, patch_size) without patch embeddings");
  } else if (w.word_embeddings.defined() && w.word_embeddings.dtype() == DType::I8) {
    if (w.word_embeddings.shape() != Shape{c.vocab_size, e} || !w.word_embedding_scale.defined()) {
      fail("word embeddings are I8 " + shape_str(w.word_embeddings.shape()) + ", expected I8 [" +
           std::to_string(c.vocab_size) + ", " + std::to_string(e) + "] with per-row scales");
    }
    shape(w.word_embedding_scale, {c.vocab_size}, "word embedding scales");
  } else {
    shape(w.word_embeddings, {c.vocab_size, e}, "word embeddings");
  }
  shape(w.position_embeddings, {c.max_position_embeddings, e}, "position embeddings");
  if (w.token_type_embeddings.defined()) {
    shape(w.token_type_embeddings, {c.type_vocab_size, e}, "token-type embeddings");
  }
  if (!w.patch_embedding || w.embedding_norm.dim != 0) norm(w.embedding_norm, e, "the embedding LayerNorm");
  if (w.final_norm.dim != 0) norm(w.final_norm, h, "the final LayerNorm");
  if (w.embedding_project) {
    linear(*w.embedding_project, e, h, "the embedding projection");
  } else if (e != h) {
    fail("embedding_size " + std::to_string(e) + " differs from hidden_size " + std::to_string(h) +
         " without an embedding projection");
  }
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const std::string p = "layer " + std::to_string(i) + " ";
    const EncoderLayer& l = w.layers[i];
    linear(l.qkv, h, 3 * h, p + "qkv");
    linear(l.attn_out, h, h, p + "attn_out");
    norm(l.attn_norm, h, p + "attn_norm");
    linear(l.ffn_in, h, c.intermediate_size, p + "ffn_in");
    linear(l.ffn_out, c.intermediate_size, h, p + "ffn_out");
    norm(l.ffn_norm, h, p + "ffn_norm");
  }
  for (size_t idx : w.layer_order) {
    if (idx >= w.layers.size()) fail("layer_order names layer " + std::to_string(idx));
  }
  if (w.relative_attention_bias.defined()) {
    shape(w.relative_attention_bias, {c.relative_attention_num_buckets, c.num_attention_heads},
          "relative_attention_bias");
    if (c.relative_attention_num_buckets < 32) {
      fail("relative_attention_num_buckets " + std::to_string(c.relative_attention_num_buckets) +
           " is below the 32 buckets MPNet's position bias uses");
    }
  }
  if (w.pooler) linear(*w.pooler, h, c.pooler_output_size > 0 ? c.pooler_output_size : h, "the pooler");
}

// Positions from the padding index start at pad_token_id: it must index
// the position table (transformers fails too: an assertion or an index error).
void check_padding_index(const config::EncoderConfig& c) {
  const int64_t pad = padding_index(c);
  if (pad < 0 || pad >= c.max_position_embeddings) {
    throw FormatError(c.source + ": pad_token_id " + std::to_string(pad) + " is outside [0, " +
                      std::to_string(c.max_position_embeddings) + "): model_type '" + c.model_type +
                      "' derives position ids from it (max_position_embeddings)");
  }
}

}  // namespace

Encoder::Encoder(const config::EncoderConfig& config, EncoderWeights weights, PositionStyle positions,
                 kernels::WeightType compute)
    : config_(config),
      weights_(std::move(weights)),
      positions_(positions),
      act_(kernels::activation_from_name(config.hidden_act)),
      pooler_act_(kernels::activation_from_name(config.pooler_act)) {
  check_weights(config_, weights_);
  if (positions_ == PositionStyle::FromPaddingIndex) check_padding_index(config_);
  for (EncoderLayer& l : weights_.layers) {
    for (Linear* lin : {&l.qkv, &l.attn_out, &l.ffn_in, &l.ffn_out}) lin->pack(compute);
  }
  // Run once per call on few rows: kept in f32 whatever the compute precision.
  if (weights_.embedding_project) weights_.embedding_project->pack(kernels::WeightType::F32);
  if (weights_.patch_embedding) weights_.patch_embedding->pack(kernels::WeightType::F32);
  if (weights_.pooler) weights_.pooler->pack(kernels::WeightType::F32);
}

void Encoder::validate(const EncoderInputs& in) const {
  if (is_vision()) {
    if (in.pixel_values == nullptr) throw InvalidArgument("missing required input 'pixel_values'");
    if (in.channels != config_.num_channels) {
      throw InvalidArgument("input 'pixel_values' has " + std::to_string(in.channels) +
                            " channels; the model expects " + std::to_string(config_.num_channels) +
                            " (num_channels)");
    }
    if (in.height != config_.image_height || in.width != config_.image_width) {
      throw InvalidArgument("input 'pixel_values' image size " + std::to_string(in.height) + "x" +
                            std::to_string(in.width) + " does not match the model's " +
                            std::to_string(config_.image_height) + "x" + std::to_string(config_.image_width) +
                            " (image_size; interpolate_pos_encoding is not supported)");
    }
    if (in.seq != config_.num_patches() + 1) {
      throw InvalidArgument("vision sequence length " + std::to_string(in.seq) + " is not the " +
                            std::to_string(config_.num_patches()) + " patches + CLS");
    }
    return;
  }
  if (in.input_ids == nullptr) throw InvalidArgument("missing required input 'input_ids'");
  const int64_t n = in.batch * in.seq;
  check_range(in.input_ids, n, config_.vocab_size, "input_ids", "vocab_size");
  const int64_t types = weights_.token_type_embeddings.defined() ? config_.type_vocab_size : 1;
  check_range(in.token_type_ids, n, types, "token_type_ids", "type_vocab_size");
  check_range(in.position_ids, n, config_.max_position_embeddings, "position_ids",
              "max_position_embeddings");
  if (in.attention_mask != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      if (in.attention_mask[i] != 0 && in.attention_mask[i] != 1) {
        throw InvalidArgument("attention_mask value " + std::to_string(in.attention_mask[i]) +
                              " at flat index " + std::to_string(i) + " is not 0 or 1");
      }
    }
  }
  if (in.position_ids == nullptr) {
    const int64_t offset = positions_ == PositionStyle::FromPaddingIndex ? padding_index(config_) + 1 : 0;
    if (in.seq + offset > config_.max_position_embeddings) {
      throw InvalidArgument("sequence length " + std::to_string(in.seq) + " exceeds the model's " +
                            std::to_string(config_.max_position_embeddings - offset) +
                            " positions (max_position_embeddings)");
    }
  }
}

Tensor Encoder::embed_patches(const EncoderInputs& in) const {
  const int64_t ch = in.channels, height = in.height, width = in.width;
  const int64_t ph = config_.patch_height, pw = config_.patch_width;
  const int64_t gh = height / ph, gw = width / pw, patches = gh * gw;
  const int64_t k = ch * ph * pw;
  const int64_t hidden = config_.hidden_size;
  // im2col: one row per patch, flattened (channel, row, column) as Conv2d's weight.
  Tensor cols = Tensor::zeros(DType::F32, {in.batch * patches, k});
  float* cp = cols.mutable_data<float>();
  const float* px = in.pixel_values;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < in.batch * patches; ++r) {
    const int64_t b = r / patches, py = (r % patches) / gw, pxi = (r % patches) % gw;
    float* row = cp + r * k;
    for (int64_t c = 0; c < ch; ++c) {
      for (int64_t ky = 0; ky < ph; ++ky) {
        const float* src = px + ((b * ch + c) * height + py * ph + ky) * width + pxi * pw;
        std::memcpy(row + (c * ph + ky) * pw, src, static_cast<size_t>(pw) * sizeof(float));
      }
    }
  }
  Tensor proj = Tensor::zeros(DType::F32, {in.batch * patches, hidden});
  weights_.patch_embedding->forward(cp, in.batch * patches, proj.mutable_data<float>());
  // [CLS, patches...] + positions.
  const int64_t seq = patches + 1;
  Tensor out = Tensor::zeros(DType::F32, {in.batch * seq, hidden});
  float* o = out.mutable_data<float>();
  const float* pr = proj.data<float>();
  const float* pos = weights_.position_embeddings.data<float>();
  const float* cls = weights_.cls_token.data<float>();
  for (int64_t b = 0; b < in.batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const float* src = s == 0 ? cls : pr + (b * patches + s - 1) * hidden;
      float* dst = o + (b * seq + s) * hidden;
      for (int64_t j = 0; j < hidden; ++j) dst[j] = src[j] + pos[s * hidden + j];
    }
  }
  if (weights_.embedding_norm.dim != 0) weights_.embedding_norm.forward(o, nullptr, in.batch * seq, o);
  return out;
}

Tensor Encoder::embed(const EncoderInputs& in) const {
  if (is_vision()) return embed_patches(in);
  const int64_t e = config_.embedding_size;
  const int64_t tokens = in.batch * in.seq;
  Tensor out = Tensor::zeros(DType::F32, {tokens, e});
  float* o = out.mutable_data<float>();
  // int8 exports store the table as I8 rows with one scale each, dequantized here.
  const bool word_i8 = weights_.word_embeddings.dtype() == DType::I8;
  const float* word = word_i8 ? nullptr : weights_.word_embeddings.data<float>();
  const int8_t* word_q = word_i8 ? weights_.word_embeddings.data<int8_t>() : nullptr;
  const float* word_scale = word_i8 ? weights_.word_embedding_scale.data<float>() : nullptr;
  const float* pos = weights_.position_embeddings.data<float>();
  const float* type =
      weights_.token_type_embeddings.defined() ? weights_.token_type_embeddings.data<float>() : nullptr;
  const int64_t pad = padding_index(config_);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < in.batch; ++b) {
    int64_t running = 0;  // cumsum of non-pad tokens for FromPaddingIndex
    for (int64_t s = 0; s < in.seq; ++s) {
      const int64_t t = b * in.seq + s;
      const int64_t id = in.input_ids[t];
      int64_t p;
      if (in.position_ids != nullptr) {
        p = in.position_ids[t];
      } else if (positions_ == PositionStyle::Absolute) {
        p = s;
      } else if (id != pad) {
        p = pad + ++running;
      } else {
        p = pad;
      }
      const float* pe = pos + p * e;
      float* row = o + t * e;
      if (word_i8) {
        const int8_t* q = word_q + id * e;
        const float s = word_scale[id];
        for (int64_t c = 0; c < e; ++c) row[c] = static_cast<float>(q[c]) * s + pe[c];
      } else {
        const float* w = word + id * e;
        for (int64_t c = 0; c < e; ++c) row[c] = w[c] + pe[c];
      }
      if (type != nullptr) {
        const float* te = type + (in.token_type_ids != nullptr ? in.token_type_ids[t] : 0) * e;
        for (int64_t c = 0; c < e; ++c) row[c] += te[c];
      }
    }
  }
  weights_.embedding_norm.forward(o, nullptr, tokens, o);
  if (!weights_.embedding_project) return out;
  Tensor projected = Tensor::zeros(DType::F32, {tokens, config_.hidden_size});
  weights_.embedding_project->forward(o, tokens, projected.mutable_data<float>());
  return projected;
}

Tensor Encoder::position_bias(int64_t seq) const {
  const int64_t heads = config_.num_attention_heads;
  Tensor bias = Tensor::zeros(DType::F32, {heads, seq, seq});
  float* out = bias.mutable_data<float>();
  const float* table = weights_.relative_attention_bias.data<float>();
  for (int64_t i = 0; i < seq; ++i) {
    for (int64_t j = 0; j < seq; ++j) {
      const int64_t bucket = relative_bucket(j - i);
      for (int64_t h = 0; h < heads; ++h) out[(h * seq + i) * seq + j] = table[bucket * heads + h];
    }
  }
  return bias;
}

namespace {

// Per-thread activation buffers, grown to the largest call seen and reused:
// a forward allocates (and zero-fills) nothing but its result.
float* workspace(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats + 16) buf.resize(floats + 16);
  auto p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

// y += x over n floats (pre-norm residual adds).
void add_residual(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

Tensor view(float* data, int64_t rows, int64_t cols) {
  return Tensor::borrow(DType::F32, {rows, cols}, std::shared_ptr<const void>(data, [](const void*) {}), data);
}

}  // namespace

Encoder::Packing Encoder::plan_packing(const EncoderInputs& in) const {
  Packing p;
  if (!in.skip_padding || in.attention_mask == nullptr) return p;
  p.lengths.resize(static_cast<size_t>(in.batch));
  p.offsets.resize(static_cast<size_t>(in.batch) + 1, 0);
  for (int64_t b = 0; b < in.batch; ++b) {
    const int64_t* m = in.attention_mask + b * in.seq;
    int64_t len = 0;
    while (len < in.seq && m[len] == 1) ++len;
    // Only right padding packs: a row whose first token is padding, or with
    // attended tokens after a gap, keeps the padded path (its first token or
    // relative positions would change).
    if (len == 0) return {};
    for (int64_t s = len; s < in.seq; ++s) {
      if (m[s] != 0) return {};
    }
    p.lengths[static_cast<size_t>(b)] = len;
    p.offsets[static_cast<size_t>(b) + 1] = p.offsets[static_cast<size_t>(b)] + len;
  }
  if (p.offsets.back() == in.batch * in.seq) return {};  // no padding to skip
  p.tokens = p.offsets.back();
  return p;
}

Tensor Encoder::forward(const EncoderInputs& in, const ForwardHook* hook) const {
  validate(in);
  const int64_t hidden = config_.hidden_size;
  const int64_t heads = config_.num_attention_heads;
  const int64_t inter_size = config_.intermediate_size;
  auto emit = [&](std::string_view name, int64_t layer, const float* data, int64_t rows, int64_t cols) {
    if (hook != nullptr) (*hook)(name, layer, view(const_cast<float*>(data), rows, cols));
  };

  const Packing packing = plan_packing(in);
  const bool packed = packing.tokens > 0;
  const int64_t padded_tokens = in.batch * in.seq;
  const int64_t tokens = packed ? packing.tokens : padded_tokens;

  Tensor x = embed(in);
  if (packed) {
    // Gather the attended tokens of every item into consecutive rows.
    Tensor gathered = Tensor::zeros(DType::F32, {tokens, hidden});
    const float* src = x.data<float>();
    float* dst = gathered.mutable_data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < in.batch; ++b) {
      std::memcpy(dst + packing.offsets[static_cast<size_t>(b)] * hidden, src + b * in.seq * hidden,
                  static_cast<size_t>(packing.lengths[static_cast<size_t>(b)] * hidden) * sizeof(float));
    }
    x = std::move(gathered);
  }
  emit("embeddings", -1, x.data<float>(), tokens, hidden);
  Tensor bias;
  if (weights_.relative_attention_bias.defined()) bias = position_bias(in.seq);

  // bf16 layers read bf16 inputs that their producers (LayerNorm, attention,
  // the bf16 ffn_in) write next to the f32 values, instead of converting.
  bool any_bf16 = false;
  for (const EncoderLayer& l : weights_.layers) {
    any_bf16 = any_bf16 || l.qkv.is_bf16() || l.attn_out.is_bf16() || l.ffn_in.is_bf16() || l.ffn_out.is_bf16();
  }
  const auto t = static_cast<size_t>(tokens);
  const auto hd = static_cast<size_t>(hidden);
  const auto id = static_cast<size_t>(inter_size);
  const size_t f32_floats = t * (3 * hd + 3 * hd + id);
  const size_t bf16_halves = any_bf16 ? t * (3 * hd + id) : 0;
  float* qkv = workspace(f32_floats + (bf16_halves + 1) / 2 + 16);
  float* ctx = qkv + t * 3 * hd;
  float* attn = ctx + t * hd;
  float* ffn = attn + t * hd;
  float* inter = ffn + t * hd;
  uint16_t* h_b = nullptr;
  uint16_t* ctx_b = nullptr;
  uint16_t* attn_b = nullptr;
  uint16_t* inter_b = nullptr;
  if (any_bf16) {
    auto base = reinterpret_cast<uintptr_t>(inter + t * id);
    h_b = reinterpret_cast<uint16_t*>((base + 63) & ~uintptr_t{63});
    ctx_b = h_b + t * hd;
    attn_b = ctx_b + t * hd;
    inter_b = attn_b + t * hd;
  }
  auto linear = [&](const Linear& l, const float* xf, const uint16_t* xb, float* y, kernels::Activation act) {
    if (xb != nullptr && l.is_bf16()) {
      l.packed.forward_bf16(xb, tokens, y, act);
    } else {
      l.forward(xf, tokens, y, act);
    }
  };
  float* h = x.mutable_data<float>();
  if (any_bf16) kernels::to_bf16(h, tokens * hidden, h_b);
  for (size_t step = 0; step < weights_.layer_order.size(); ++step) {
    const EncoderLayer& layer = weights_.layers[weights_.layer_order[step]];
    const auto il = static_cast<int64_t>(step);
    if (weights_.pre_norm) {
      // ViT: norm the sub-block input (into the ffn scratch), keep h as the residual.
      layer.attn_norm.forward(h, nullptr, tokens, ffn, h_b);
      linear(layer.qkv, ffn, h_b, qkv, kernels::Activation::Identity);
    } else {
      linear(layer.qkv, h, h_b, qkv, kernels::Activation::Identity);
    }
    kernels::AttentionArgs args;
    args.q = qkv;
    args.k = qkv + hidden;
    args.v = qkv + 2 * hidden;
    args.ld_qkv = 3 * hidden;
    args.mask = in.attention_mask;
    args.bias = bias.defined() ? bias.data<float>() : nullptr;
    args.batch = in.batch;
    args.seq = in.seq;
    args.heads = heads;
    args.head_dim = hidden / heads;
    args.out = ctx;
    args.out_bf16 = ctx_b;
    // Between reduced-precision Linears (bf16 or int8), attention runs in bf16 too.
    args.bf16 = layer.qkv.is_reduced() && layer.attn_out.is_reduced();
    if (packed) {
      args.offsets = packing.offsets.data();
      args.lengths = packing.lengths.data();
    }
    kernels::attention(args);
    emit("attention_context", il, ctx, tokens, hidden);
    linear(layer.attn_out, ctx, ctx_b, attn, kernels::Activation::Identity);
    if (weights_.pre_norm) {
      add_residual(attn, h, tokens * hidden);
      emit("attention_output", il, attn, tokens, hidden);
      layer.ffn_norm.forward(attn, nullptr, tokens, ffn, attn_b);
      linear(layer.ffn_in, ffn, attn_b, inter, act_);
      layer.ffn_out.forward(inter, tokens, ffn);
      add_residual(ffn, attn, tokens * hidden);
      std::memcpy(h, ffn, static_cast<size_t>(tokens * hidden) * sizeof(float));
      emit("layer_output", il, h, tokens, hidden);
      continue;
    }
    layer.attn_norm.forward(attn, h, tokens, attn, attn_b);
    emit("attention_output", il, attn, tokens, hidden);
    if (layer.ffn_in.is_bf16() && layer.ffn_out.is_bf16()) {
      layer.ffn_in.packed.forward_bf16(attn_b, tokens, inter_b, act_);  // GELU output straight to bf16
      layer.ffn_out.packed.forward_bf16(inter_b, tokens, ffn);
    } else {
      linear(layer.ffn_in, attn, attn_b, inter, act_);
      layer.ffn_out.forward(inter, tokens, ffn);
    }
    layer.ffn_norm.forward(ffn, attn, tokens, h, h_b);
    emit("layer_output", il, h, tokens, hidden);
  }
  if (weights_.final_norm.dim != 0) weights_.final_norm.forward(h, nullptr, tokens, h);
  if (!packed) return x;
  // Back to [batch*seq, hidden]; padding positions (never computed) are zero.
  Tensor out = Tensor::zeros(DType::F32, {padded_tokens, hidden});
  float* o = out.mutable_data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < in.batch; ++b) {
    std::memcpy(o + b * in.seq * hidden, h + packing.offsets[static_cast<size_t>(b)] * hidden,
                static_cast<size_t>(packing.lengths[static_cast<size_t>(b)] * hidden) * sizeof(float));
  }
  return out;
}

Tensor first_tokens(const Tensor& hidden, int64_t batch, int64_t seq) {
  const int64_t width = hidden.size(-1);
  Tensor out = Tensor::zeros(DType::F32, {batch, width});
  for (int64_t b = 0; b < batch; ++b) {
    std::memcpy(out.mutable_data<float>() + b * width, hidden.data<float>() + b * seq * width,
                static_cast<size_t>(width) * sizeof(float));
  }
  return out;
}

Tensor Encoder::pool(const Tensor& hidden, int64_t batch, int64_t seq) const {
  if (!weights_.pooler) throw Unsupported(config_.model_type + " checkpoint has no pooler weights");
  Tensor cls = first_tokens(hidden, batch, seq);
  Tensor out = Tensor::zeros(DType::F32, {batch, weights_.pooler->out});
  weights_.pooler->forward(cls.data<float>(), batch, out.mutable_data<float>());
  kernels::apply_activation(out.mutable_data<float>(), out.numel(), pooler_act_);
  return out;
}

}  // namespace optimum::models
