// DecoderModel: the shared decoder blocks and the ragged forward over a
// preallocated f32 KV cache. One step embeds every new token of every
// segment as one [rows, hidden] matrix, runs each layer's GEMMs over all
// rows at once, attention per (segment, head) over the slot's cache, and
// the lm_head only on the rows asked for.
#include "optimum/models/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "optimum/core/threading.h"
#include "optimum/kernels/decoder_ops.h"
#include "optimum/kernels/gemv.h"
#include "dense_kv_cache.h"
#include "optimum/models/decoder_native.h"
#include "optimum/models/native_files.h"

namespace optimum::models {

namespace {

// Uninitialized f32 scratch.
struct Buffer {
  std::unique_ptr<float[]> data;
  explicit Buffer(int64_t n) : data(new float[static_cast<size_t>(std::max<int64_t>(n, 1))]) {}
  float* get() const { return data.get(); }
};


// Applies `norm` to rows of x (stride ld) into out (stride ld_out).
void apply_norm(const DecoderConfig& c, const DecoderNorm& n, const float* x, int64_t ld, int64_t rows,
                int64_t cols, float* out, int64_t ld_out) {
  switch (c.norm) {
    case NormKind::RmsNorm:
      kernels::rms_norm(x, ld, n.weight.data<float>(), 0.0f, c.norm_eps, rows, cols, out, ld_out);
      return;
    case NormKind::RmsNormPlusOne:
      kernels::rms_norm(x, ld, n.weight.data<float>(), 1.0f, c.norm_eps, rows, cols, out, ld_out);
      return;
    case NormKind::LayerNorm:
      if (ld != cols || ld_out != cols) throw InvalidArgument("LayerNorm on strided rows");
      if (!n.bias.defined()) throw InvalidArgument("LayerNorm without a bias");
      kernels::layer_norm(x, nullptr, n.weight.data<float>(), n.bias.data<float>(), c.norm_eps, rows, cols, out);
      return;
  }
}

void softcap(float* x, int64_t n, double cap) {
  const auto c = static_cast<float>(cap);
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] / c) * c;
}

}  // namespace

DecoderModel::DecoderModel(DecoderConfig config, DecoderWeights weights, const DecoderLoadOptions& options)
    : config_(std::move(config)), weights_(std::move(weights)) {
  validate_decoder_config(config_, config_.model_type);
  if (static_cast<int64_t>(weights_.layers.size()) != config_.n_layers) {
    throw InvalidArgument("DecoderModel: " + std::to_string(weights_.layers.size()) + " layer weights for " +
                          std::to_string(config_.n_layers) + " layers");
  }
  auto pack = [&](Linear& l) {
    l.pack(options.compute);
    if (!options.keep_weights) {
      l.weight = Tensor();
      l.bias = Tensor();
      l.weight_scale = Tensor();
    }
  };
  // Decode runs every Linear on a few rows: f32 weights stay plain, where
  // they lie (kernels::gemv_f32), instead of a blocked copy.
  const kernels::FewRowsLayout few_rows;
  for (DecoderLayerWeights& l : weights_.layers) {
    pack(l.qkv);
    pack(l.o);
    pack(l.gate_up);
    pack(l.down);
  }
  if (weights_.lm_head.weight.defined()) pack(weights_.lm_head);
  for (const RopeConfig& r : config_.ropes) rope_tables_.push_back(rope_inv_freq(r, config_));
}

std::shared_ptr<const DecoderModel> DecoderModel::load(const io::Json& config, const io::WeightStore& weights,
                                                       const std::string& source,
                                                       const DecoderLoadOptions& options) {
  if (!config.is_object() || !config.contains("model_type") || !config.at("model_type").is_string()) {
    throw FormatError(source + ": config has no model_type string");
  }
  const DecoderFamily& family = decoder_family(config.at("model_type").get<std::string>());
  DecoderConfig c = family.parse_config(config, source);
  c.model_type = family.model_type;
  validate_decoder_config(c, source);
  DecoderWeights w = family.load_weights ? family.load_weights(c, weights)
                                         : load_decoder_weights(c, family.names, weights);
  return std::make_shared<const DecoderModel>(std::move(c), std::move(w), options);
}

std::shared_ptr<const DecoderModel> DecoderModel::load(const std::filesystem::path& dir,
                                                       const DecoderLoadOptions& options) {
  return load(dir, io::read_json(dir / "config.json"), options);
}

std::shared_ptr<const DecoderModel> DecoderModel::load(const std::filesystem::path& dir, const io::Json& config,
                                                       const DecoderLoadOptions& options) {
  const std::filesystem::path config_path = dir / "config.json";
  // An unsupported model_type is reported before looking for weights.
  if (config.is_object() && config.contains("model_type") && config.at("model_type").is_string()) {
    decoder_family(config.at("model_type").get<std::string>());
  }
  // A native export (exporters/decoder_export.h): engine-layout weights, per-Linear precisions.
  if (const io::Json layout = native_decoder_layout(dir); !layout.is_null()) {
    if (!config.is_object() || !config.contains("model_type") || !config.at("model_type").is_string()) {
      throw FormatError(config_path.string() + ": config has no model_type string");
    }
    const DecoderFamily& family = decoder_family(config.at("model_type").get<std::string>());
    DecoderConfig c = family.parse_config(config, config_path.string());
    c.model_type = family.model_type;
    validate_decoder_config(c, config_path.string());
    const std::string record = (dir / "optimum_export.json").string();
    DecoderWeights w = decoder_from_native(
        c, open_native_weights(dir, io::read_json(dir / "optimum_export.json"), record), layout, record);
    return std::make_shared<const DecoderModel>(std::move(c), std::move(w), options);
  }
  return load(config, io::WeightStore::open_dir(dir), config_path.string(), options);
}

size_t DecoderModel::cache_bytes_per_position() const {
  return static_cast<size_t>(2 * config_.n_layers * config_.n_heads_kv * config_.head_dim) * sizeof(float);
}

std::unique_ptr<KvCache> DecoderModel::new_cache(int64_t slots, int64_t capacity) const {
  const int64_t max_positions = config_.positions == PositionKind::Learned ? config_.max_position_embeddings : -1;
  return DenseKvCache::make(slots, capacity, max_positions, cache_bytes_per_position(), config_.n_layers,
                            config_.n_heads_kv, config_.head_dim);
}

Tensor DecoderModel::hidden_states(KvCache& cache, const std::vector<StepSegment>& segments,
                                   const DecoderTrace& trace) const {
  return forward(cache, segments, trace);
}

Tensor DecoderModel::step(KvCache& cache, const std::vector<StepSegment>& segments,
                          const StepOptions& options) const {
  if (!has_lm_head()) {
    throw Unsupported(config_.model_type + ": the checkpoint has no lm_head (a base model): use hidden_states()");
  }
  Tensor hidden = forward(cache, segments, nullptr);
  const int64_t h = config_.hidden_size;
  std::vector<int64_t> pick;  // rows of `hidden` that get logits
  int64_t row = 0;
  for (const StepSegment& s : segments) {
    if (options.all_logits) {
      for (int64_t j = 0; j < s.count; ++j) pick.push_back(row + j);
    } else {
      pick.push_back(row + s.count - 1);
    }
    row += s.count;
  }
  const auto n = static_cast<int64_t>(pick.size());
  const float* src = hidden.data<float>();
  Buffer x(n * h);
  for (int64_t i = 0; i < n; ++i) std::copy_n(src + pick[i] * h, h, x.get() + i * h);
  Tensor logits = Tensor::zeros(DType::F32, {n, config_.vocab_size});
  float* out = logits.mutable_data<float>();
  weights_.lm_head.forward(x.get(), n, out);
  if (config_.final_logit_softcapping > 0) softcap(out, n * config_.vocab_size, config_.final_logit_softcapping);
  return logits;
}

Tensor DecoderModel::forward(KvCache& cache_base, const std::vector<StepSegment>& segments,
                            const DecoderTrace& trace) const {
  const DecoderConfig& c = config_;
  auto* cache = dynamic_cast<DenseKvCache*>(&cache_base);
  if (cache == nullptr || !cache->fits(c.n_layers, c.n_heads_kv, c.head_dim)) {
    throw InvalidArgument("step: the cache was not made by this model's new_cache");
  }
  if (segments.empty()) throw InvalidArgument("step: no segments");
  // Validate everything before touching the cache.
  std::set<int64_t> slots;
  int64_t rows = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const StepSegment& s = segments[i];
    if (s.slot < 0 || s.slot >= cache->slots()) {
      throw InvalidArgument("step: slot " + std::to_string(s.slot) + " outside the cache's [0, " +
                            std::to_string(cache->slots()) + ")");
    }
    if (!slots.insert(s.slot).second) throw InvalidArgument("step: slot " + std::to_string(s.slot) + " appears twice");
    if (s.count <= 0 || s.tokens == nullptr) {
      throw InvalidArgument("step: segment " + std::to_string(i) + " (slot " + std::to_string(s.slot) +
                            ") has no tokens (count " + std::to_string(s.count) + ")");
    }
    const int64_t past = cache->length(s.slot);
    if (s.count > cache->capacity() - past) {
      throw InvalidArgument("step: slot " + std::to_string(s.slot) + " holds " + std::to_string(past) + " + " +
                            std::to_string(s.count) + " new tokens, over its capacity " +
                            std::to_string(cache->capacity()));
    }
    for (int64_t j = 0; j < s.count; ++j) {
      if (s.tokens[j] < 0 || s.tokens[j] >= c.vocab_size) {
        throw InvalidArgument("step: token id " + std::to_string(s.tokens[j]) + " outside the vocabulary [0, " +
                              std::to_string(c.vocab_size) + ")");
      }
    }
    rows += s.count;
  }
  bind_workers();
  const int64_t H = c.hidden_size, D = c.head_dim, NH = c.n_heads, NKV = c.n_heads_kv;
  const int64_t q_cols = NH * D, kv_cols = NKV * D, qkv_cols = q_cols + 2 * kv_cols;
  const int64_t I = c.intermediate_size;

  // Embeddings (scaled, plus learned positions).
  Tensor x_t = Tensor::zeros(DType::F32, {rows, H});
  float* x = x_t.mutable_data<float>();
  {
    const float* emb = weights_.embed_tokens.data<float>();
    const float scale = static_cast<float>(std::sqrt(static_cast<double>(H)));
    int64_t r = 0;
    for (const StepSegment& s : segments) {
      const int64_t past = cache->length(s.slot);
      for (int64_t j = 0; j < s.count; ++j, ++r) {
        float* xr = x + r * H;
        std::copy_n(emb + s.tokens[j] * H, H, xr);
        if (c.scale_embeddings) {
          for (int64_t e = 0; e < H; ++e) xr[e] *= scale;
        }
        if (c.positions == PositionKind::Learned) {
          const float* pe = weights_.position_embeddings.data<float>() + (past + j) * H;
          for (int64_t e = 0; e < H; ++e) xr[e] += pe[e];
        }
      }
    }
  }

  if (trace) trace("embeddings", -1, x, rows, H);

  // cos/sin per distinct RoPE setting: [rows, rotary/2].
  std::vector<std::vector<float>> cos_t(c.ropes.size()), sin_t(c.ropes.size());
  if (c.positions == PositionKind::Rope) {
    for (size_t ri = 0; ri < c.ropes.size(); ++ri) {
      const RopeTable& base = rope_tables_[ri];
      const int64_t half = base.rotary_dims / 2;
      cos_t[ri].resize(static_cast<size_t>(rows * half));
      sin_t[ri].resize(static_cast<size_t>(rows * half));
      int64_t r = 0;
      for (const StepSegment& s : segments) {
        const int64_t past = cache->length(s.slot);
        RopeTable dyn;
        const RopeTable* t = &base;
        // transformers' dynamic NTK recomputes inv_freq for the sequence length once it passes
        // max_position_embeddings.
        if (c.ropes[ri].type == RopeType::Dynamic && past + s.count > c.max_position_embeddings) {
          dyn = rope_inv_freq(c.ropes[ri], c, past + s.count);
          t = &dyn;
        }
        // longrope switches to its long factors past the original length (per sequence here,
        // per batch in transformers: the same for a batch of one).
        if (c.ropes[ri].type == RopeType::LongRope && past + s.count > c.ropes[ri].original_max_position_embeddings) {
          dyn = rope_inv_freq(c.ropes[ri], c, past + s.count);
          t = &dyn;
        }
        for (int64_t j = 0; j < s.count; ++j, ++r) {
          const auto pos = static_cast<float>(past + j);
          for (int64_t i = 0; i < half; ++i) {
            const float angle = t->inv_freq[i] * pos;
            cos_t[ri][r * half + i] = static_cast<float>(std::cos(angle)) * t->attention_scaling;
            sin_t[ri][r * half + i] = static_cast<float>(std::sin(angle)) * t->attention_scaling;
          }
        }
      }
    }
  }

  Buffer h(rows * H);
  Buffer qkv(rows * qkv_cols);
  Buffer attn(rows * q_cols);
  Buffer o(rows * H);
  Buffer gu(rows * (c.gated_mlp ? 2 * I : I));
  Buffer act(c.gated_mlp ? rows * I : 1);

  std::vector<kernels::CachedAttentionSegment> att_segments(segments.size());
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const DecoderLayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
    const DecoderLayerOptions& opt = c.layers[static_cast<size_t>(layer)];
    apply_norm(c, w.attn_norm, x, H, rows, H, h.get(), H);
    w.qkv.forward(h.get(), rows, qkv.get());
    float* q = qkv.get();
    float* k = q + q_cols;
    float* v = k + kv_cols;
    if (c.qk_norm) {
      for (int64_t r = 0; r < rows; ++r) {
        apply_norm(c, w.q_norm, q + r * qkv_cols, D, NH, D, q + r * qkv_cols, D);
        apply_norm(c, w.k_norm, k + r * qkv_cols, D, NKV, D, k + r * qkv_cols, D);
      }
    }
    if (c.positions == PositionKind::Rope) {
      const auto ri = static_cast<size_t>(opt.rope);
      const int64_t rot = rope_tables_[ri].rotary_dims;
      kernels::rope_apply(q, qkv_cols, rows, NH, D, rot, cos_t[ri].data(), sin_t[ri].data());
      kernels::rope_apply(k, qkv_cols, rows, NKV, D, rot, cos_t[ri].data(), sin_t[ri].data());
    }
    // New keys and values into the cache.
    int64_t r0 = 0;
    for (size_t si = 0; si < segments.size(); ++si) {
      const StepSegment& s = segments[si];
      const int64_t past = cache->length(s.slot);
      float* kc = cache->k(s.slot, layer);
      float* vc = cache->v(s.slot, layer);
      for (int64_t j = 0; j < s.count; ++j) {
        const float* kr = k + (r0 + j) * qkv_cols;
        const float* vr = v + (r0 + j) * qkv_cols;
        for (int64_t hk = 0; hk < NKV; ++hk) {
          std::copy_n(kr + hk * D, D, kc + (hk * cache->capacity() + past + j) * D);
          std::copy_n(vr + hk * D, D, vc + (hk * cache->capacity() + past + j) * D);
        }
      }
      att_segments[si] = {r0, s.count, past, kc, vc};
      r0 += s.count;
    }
    kernels::CachedAttentionArgs a;
    a.q = q;
    a.ld_q = qkv_cols;
    a.out = attn.get();
    a.ld_out = q_cols;
    a.segments = att_segments.data();
    a.n_segments = static_cast<int64_t>(att_segments.size());
    a.heads = NH;
    a.heads_kv = NKV;
    a.head_dim = D;
    a.capacity = cache->capacity();
    a.scale = static_cast<float>(opt.attention_scale > 0 ? opt.attention_scale : c.attention_scale);
    a.softcap = static_cast<float>(c.attn_logit_softcapping);
    a.sliding_window = opt.sliding_window;
    kernels::cached_attention(a);
    w.o.forward(attn.get(), rows, o.get());
    if (c.sandwich_norms) apply_norm(c, w.attn_out_norm, o.get(), H, rows, H, o.get(), H);
    for (int64_t i = 0; i < rows * H; ++i) x[i] += o.get()[i];

    apply_norm(c, w.mlp_norm, x, H, rows, H, h.get(), H);
    if (c.gated_mlp) {
      w.gate_up.forward(h.get(), rows, gu.get());
      kernels::gated_activation(gu.get(), rows, I, c.act, act.get());
      w.down.forward(act.get(), rows, o.get());
    } else {
      w.gate_up.forward(h.get(), rows, gu.get(), c.act);
      w.down.forward(gu.get(), rows, o.get());
    }
    if (c.sandwich_norms) apply_norm(c, w.mlp_out_norm, o.get(), H, rows, H, o.get(), H);
    for (int64_t i = 0; i < rows * H; ++i) x[i] += o.get()[i];
    if (trace) trace("layer_output", layer, x, rows, H);
  }
  for (const StepSegment& s : segments) cache->set_length(s.slot, cache->length(s.slot) + s.count);
  apply_norm(c, weights_.final_norm, x, H, rows, H, x, H);
  return x_t;
}

}  // namespace optimum::models
