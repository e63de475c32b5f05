// Seq2SeqModel: the shared encoder-decoder blocks (models/seq2seq.h). The
// encoder runs a padded batch once; the decoder runs ragged segments over a
// preallocated self-attention cache, as DecoderModel does, and attends to
// cross keys/values computed once per input item when the decoder is bound.
#include "optimum/models/seq2seq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/kernels/decoder_ops.h"
#include "optimum/models/architecture.h"
#include "optimum/models/native_files.h"
#include "optimum/models/seq2seq_native.h"
#include "config_fields.h"
#include "dense_kv_cache.h"

namespace optimum::models {

namespace {

std::vector<float> buffer(int64_t n) { return std::vector<float>(static_cast<size_t>(std::max<int64_t>(n, 1))); }

void apply_norm(const Seq2SeqConfig& c, const DecoderNorm& n, const float* x, int64_t rows, int64_t cols,
                float* out) {
  if (c.norm == NormKind::LayerNorm) {
    kernels::layer_norm(x, nullptr, n.weight.data<float>(), n.bias.data<float>(), c.norm_eps, rows, cols, out);
  } else {
    kernels::rms_norm(x, cols, n.weight.data<float>(), c.norm == NormKind::RmsNormPlusOne ? 1.0f : 0.0f,
                      c.norm_eps, rows, cols, out, cols);
  }
}

// transformers' T5Attention._relative_position_bucket (float32 arithmetic as torch does it).
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
  const int64_t large = std::min<int64_t>(max_exact + static_cast<int64_t>(scaled), num_buckets - 1);
  return bucket + large;
}

// Per-head bias of relative distances -span .. span: [heads, 2 * span + 1].
std::vector<float> relative_bias_table(const Seq2SeqConfig& c, const Tensor& table, int64_t heads, int64_t span,
                                       bool bidirectional) {
  const int64_t width = 2 * span + 1;
  std::vector<float> out(static_cast<size_t>(heads * width));
  const float* t = table.data<float>();
  for (int64_t r = -span; r <= span; ++r) {
    const int64_t b = relative_bucket(r, bidirectional, c.relative_buckets, c.relative_max_distance);
    for (int64_t h = 0; h < heads; ++h) out[static_cast<size_t>(h * width + r + span)] = t[b * heads + h];
  }
  return out;
}

// One attention problem: nq queries of one item against nk keys (per head
// [heads, ld_kv_pos, D] layouts), an optional key mask and relative bias.
struct AttnJob {
  const float* q = nullptr;  // row i, head h: q[i * ld_q + h * D]
  int64_t ld_q = 0;
  float* out = nullptr;
  int64_t ld_out = 0;
  int64_t nq = 0;
  const float* k = nullptr;  // head h, key j: k[(h * kv_stride + j) * D]
  const float* v = nullptr;
  int64_t kv_stride = 0;
  int64_t nk = 0;
  const int64_t* key_mask = nullptr;  // [nk]; null = all keys
  int64_t q_pos0 = 0;                 // position of query 0 (causal + relative bias)
  bool causal = false;
  const float* rel = nullptr;  // [heads, rel_width], centred at rel_span
  int64_t rel_width = 0;
  int64_t rel_span = 0;
};

void run_attention(const std::vector<AttnJob>& jobs, int64_t heads, int64_t D, float scale) {
  const auto n = static_cast<int64_t>(jobs.size()) * heads;
#pragma omp parallel for schedule(dynamic)
  for (int64_t t = 0; t < n; ++t) {
    const AttnJob& job = jobs[static_cast<size_t>(t / heads)];
    const int64_t h = t % heads;
    std::vector<float> scores(static_cast<size_t>(std::max<int64_t>(job.nk, 1)));
    const float* kh = job.k + h * job.kv_stride * D;
    const float* vh = job.v + h * job.kv_stride * D;
    for (int64_t i = 0; i < job.nq; ++i) {
      const float* qi = job.q + i * job.ld_q + h * D;
      const int64_t qpos = job.q_pos0 + i;
      const int64_t nk = job.causal ? std::min(job.nk, qpos + 1) : job.nk;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < nk; ++j) {
        if (job.key_mask != nullptr && job.key_mask[j] == 0) {
          scores[j] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float* kj = kh + j * D;
        float s = 0;
        for (int64_t d = 0; d < D; ++d) s += qi[d] * kj[d];
        s *= scale;
        if (job.rel != nullptr) s += job.rel[h * job.rel_width + (j - qpos) + job.rel_span];
        scores[j] = s;
        m = std::max(m, s);
      }
      float sum = 0;
      for (int64_t j = 0; j < nk; ++j) {
        const float e = scores[j] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(scores[j] - m);
        scores[j] = e;
        sum += e;
      }
      float* o = job.out + i * job.ld_out + h * D;
      std::fill_n(o, D, 0.0f);
      if (sum <= 0) continue;
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < nk; ++j) {
        const float p = scores[j] * inv;
        if (p == 0) continue;
        const float* vj = vh + j * D;
        for (int64_t d = 0; d < D; ++d) o[d] += p * vj[d];
      }
    }
  }
}

void run_ffn(const Seq2SeqConfig& c, const Seq2SeqFfn& f, int64_t ffn, const float* x, int64_t rows, float* out) {
  if (c.gated_mlp) {
    std::vector<float> gu = buffer(rows * 2 * ffn), a = buffer(rows * ffn);
    f.up.forward(x, rows, gu.data());
    kernels::gated_activation(gu.data(), rows, ffn, c.act, a.data());
    f.down.forward(a.data(), rows, out);
  } else {
    std::vector<float> u = buffer(rows * ffn);
    f.up.forward(x, rows, u.data(), c.act);
    f.down.forward(u.data(), rows, out);
  }
}

// out = x + sub(x) with the family's norm placement: pre-norm
// x + sub(norm(x)); post-norm norm(x + sub(x)). In place on x.
template <class Sub>
void residual_block(const Seq2SeqConfig& c, const DecoderNorm& norm, float* x, int64_t rows, Sub sub) {
  const int64_t H = c.hidden_size;
  std::vector<float> h = buffer(rows * H), o = buffer(rows * H);
  if (c.pre_norm) {
    apply_norm(c, norm, x, rows, H, h.data());
    sub(h.data(), o.data());
    for (int64_t i = 0; i < rows * H; ++i) x[i] += o[static_cast<size_t>(i)];
  } else {
    sub(x, o.data());
    for (int64_t i = 0; i < rows * H; ++i) x[i] += o[static_cast<size_t>(i)];
    apply_norm(c, norm, x, rows, H, x);
  }
}

// Token embeddings * scale + positions (+ layernorm_embedding) of `count`
// tokens at positions pos0 ...
void embed(const Seq2SeqConfig& c, const Seq2SeqWeights& w, const Tensor& positions, const int64_t* ids,
           int64_t count, int64_t pos0, float* x) {
  const int64_t H = c.hidden_size;
  const float* emb = w.embed_tokens.data<float>();
  const auto scale = static_cast<float>(c.embed_scale);
  for (int64_t j = 0; j < count; ++j) {
    float* xr = x + j * H;
    const float* er = emb + ids[j] * H;
    for (int64_t e = 0; e < H; ++e) xr[e] = er[e] * scale;
    if (c.positions != Seq2SeqPositions::Relative) {
      const float* pe = positions.data<float>() + (pos0 + j + c.position_offset) * H;
      for (int64_t e = 0; e < H; ++e) xr[e] += pe[e];
    }
  }
}

void check_ids(const Seq2SeqConfig& c, const int64_t* ids, int64_t n, const char* what) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= c.vocab_size) {
      throw InvalidArgument(std::string(what) + ": token id " + std::to_string(ids[i]) +
                            " outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    }
  }
}


// rows of [.., heads * D] (stride ld) -> [heads, n, D] at dst.
void to_head_major(const float* src, int64_t ld, int64_t n, int64_t heads, int64_t D, float* dst) {
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t h = 0; h < heads; ++h) std::copy_n(src + j * ld + h * D, D, dst + (h * n + j) * D);
  }
}

}  // namespace

Tensor sinusoidal_positions(int64_t n_pos, int64_t dim) {
  Tensor t = Tensor::zeros(DType::F32, {n_pos, dim});
  float* out = t.mutable_data<float>();
  const int64_t sentinel = dim % 2 == 0 ? dim / 2 : dim / 2 + 1;
  for (int64_t p = 0; p < n_pos; ++p) {
    for (int64_t j = 0; j < dim; ++j) {
      const double enc = static_cast<double>(p) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
      if (j % 2 == 0) {
        out[p * dim + j / 2] = static_cast<float>(std::sin(enc));
      } else {
        out[p * dim + sentinel + j / 2] = static_cast<float>(std::cos(enc));
      }
    }
  }
  return t;
}

DecoderNorm seq2seq_layer_norm(const WeightSource& src, const std::string& name, int64_t dim) {
  return DecoderNorm{src.tensor(name + ".weight", {dim}), src.tensor(name + ".bias", {dim})};
}

namespace {

Seq2SeqAttention bart_style_attention(const Seq2SeqConfig& c, const WeightSource& src, const std::string& p,
                                      bool cross, bool k_bias) {
  const int64_t H = c.hidden_size;
  Seq2SeqAttention a;
  const Linear q = src.linear(p + ".q_proj", H, H);
  Linear k = src.linear(p + ".k_proj", H, H, k_bias);
  if (!k_bias) k.bias = Tensor::zeros(DType::F32, {H});  // fused with the biased q / v
  const Linear v = src.linear(p + ".v_proj", H, H);
  if (cross) {
    a.qkv = q;
    a.kv = fuse_linears({&k, &v});
  } else {
    a.qkv = fuse_linears({&q, &k, &v});
  }
  a.o = src.linear(p + ".out_proj", H, H);
  a.norm = seq2seq_layer_norm(src, p + "_layer_norm", H);
  return a;
}

}  // namespace

void load_bart_style_layers(const Seq2SeqConfig& c, const WeightSource& src, bool k_bias, Seq2SeqWeights& w) {
  const int64_t H = c.hidden_size;
  auto ffn = [&](const std::string& p, int64_t dim) {
    Seq2SeqFfn f;
    f.up = src.linear(p + "fc1", H, dim);
    f.down = src.linear(p + "fc2", dim, H);
    f.norm = seq2seq_layer_norm(src, p + "final_layer_norm", H);
    return f;
  };
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    const std::string p = src.base("encoder.layers." + std::to_string(i) + ".");
    Seq2SeqLayer l;
    l.self_attn = bart_style_attention(c, src, p + "self_attn", false, k_bias);
    l.ffn = ffn(p, c.encoder_ffn);
    w.encoder_layers.push_back(std::move(l));
  }
  for (int64_t i = 0; i < c.decoder_layers; ++i) {
    const std::string p = src.base("decoder.layers." + std::to_string(i) + ".");
    Seq2SeqLayer l;
    l.self_attn = bart_style_attention(c, src, p + "self_attn", false, k_bias);
    l.cross_attn = bart_style_attention(c, src, p + "encoder_attn", true, k_bias);
    l.ffn = ffn(p, c.decoder_ffn);
    w.decoder_layers.push_back(std::move(l));
  }
}

void load_seq2seq_lm_head(const Seq2SeqConfig& c, const WeightSource& src, const std::string& name,
                          Seq2SeqWeights& w) {
  if (!bool_or(c.raw, "tie_word_embeddings", true) && src.has(name + ".weight")) {
    w.lm_head = src.linear(name, c.hidden_size, c.vocab_size, false);
  } else {
    w.lm_head.weight = w.embed_tokens;
    w.lm_head.in = c.hidden_size;
    w.lm_head.out = c.vocab_size;
  }
}

const Seq2SeqFamily& seq2seq_family(const std::string& model_type) {
  // The loaders of the text encoder-decoders are entries of the architecture
  // registry (models/architecture.h); whisper (speech) loads here too but has
  // no export rows yet, so it is not an entry.
  const Architecture* a = find_architecture(model_type);
  if (a != nullptr && a->seq2seq) return *a->seq2seq;
  static const Seq2SeqFamily whisper = whisper_family();
  if (model_type == whisper.model_type) return whisper;
  std::string list;
  for (const std::string& t : seq2seq_model_types()) list += (list.empty() ? "" : ", ") + t;
  throw Unsupported("model_type '" + model_type + "' is not a supported encoder-decoder (supported: " + list + ")");
}

std::vector<std::string> seq2seq_model_types() {
  std::vector<std::string> out{"whisper"};
  for (const Architecture& a : architectures()) {
    if (a.seq2seq) out.push_back(a.model_type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_seq2seq_model_type(const std::string& model_type) {
  const auto types = seq2seq_model_types();
  return std::find(types.begin(), types.end(), model_type) != types.end();
}

Seq2SeqModel::Seq2SeqModel(Seq2SeqConfig config, Seq2SeqWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)) {
  auto pack = [](Linear& l) {
    if (l.weight.defined()) l.pack(kernels::WeightType::F32);
  };
  for (auto* layers : {&weights_.encoder_layers, &weights_.decoder_layers}) {
    for (Seq2SeqLayer& l : *layers) {
      for (Linear* lin : {&l.self_attn.qkv, &l.self_attn.o, &l.cross_attn.qkv, &l.cross_attn.kv, &l.cross_attn.o,
                          &l.ffn.up, &l.ffn.down}) {
        pack(*lin);
      }
    }
  }
  pack(weights_.lm_head);
  pack(weights_.conv1);
  pack(weights_.conv2);
}

std::shared_ptr<const Seq2SeqModel> Seq2SeqModel::load(const io::Json& config, const io::WeightStore& weights,
                                                       const std::string& source) {
  if (!config.is_object() || !config.contains("model_type") || !config.at("model_type").is_string()) {
    throw FormatError(source + ": config has no model_type string");
  }
  const Seq2SeqFamily& family = seq2seq_family(config.at("model_type").get<std::string>());
  Seq2SeqConfig c = family.parse_config(config, source);
  c.model_type = family.model_type;
  c.raw = config;
  Seq2SeqWeights w = family.load_weights(c, weights);
  return std::make_shared<const Seq2SeqModel>(std::move(c), std::move(w));
}

std::shared_ptr<const Seq2SeqModel> Seq2SeqModel::load(const std::filesystem::path& dir) {
  const io::Json config = io::read_json(dir / "config.json");
  const std::string source = (dir / "config.json").string();
  if (config.is_object() && config.contains("model_type") && config.at("model_type").is_string()) {
    seq2seq_family(config.at("model_type").get<std::string>());
  }
  // A native export (models/seq2seq_native.h): engine-layout weights.
  const io::Json layout = native_seq2seq_layout(dir);
  if (!layout.is_null()) {
    const Seq2SeqFamily& family = seq2seq_family(config.at("model_type").get<std::string>());
    Seq2SeqConfig c = family.parse_config(config, source);
    c.model_type = family.model_type;
    c.raw = config;
    const std::string record = (dir / "optimum_export.json").string();
    const io::WeightStore store = open_native_weights(dir, io::read_json(dir / "optimum_export.json"), record);
    Seq2SeqWeights w = seq2seq_from_native(c, store, layout, record);
    return std::make_shared<const Seq2SeqModel>(std::move(c), std::move(w));
  }
  return load(config, io::WeightStore::open_dir(dir), source);
}

EncoderOutput Seq2SeqModel::encode(const int64_t* ids, const int64_t* mask, int64_t batch, int64_t seq) const {
  const Seq2SeqConfig& c = config_;
  if (c.audio_encoder) {
    throw InvalidArgument("encode: " + c.model_type + " encodes input_features (log-mel), not input_ids");
  }
  if (batch <= 0 || seq <= 0) {
    throw InvalidArgument("encode: input_ids must be non-empty, got [" + std::to_string(batch) + ", " +
                          std::to_string(seq) + "]");
  }
  check_ids(c, ids, batch * seq, "encode");
  if (c.max_position_embeddings > 0 && seq > c.max_position_embeddings) {
    throw InvalidArgument("encode: sequence length " + std::to_string(seq) + " exceeds max_position_embeddings " +
                          std::to_string(c.max_position_embeddings));
  }
  bind_workers();
  const int64_t H = c.hidden_size, rows = batch * seq;
  EncoderOutput out;
  out.batch = batch;
  out.seq = seq;
  out.mask.assign(static_cast<size_t>(rows), 1);
  if (mask != nullptr) std::copy_n(mask, rows, out.mask.begin());
  out.hidden = Tensor::zeros(DType::F32, {batch, seq, H});
  float* x = out.hidden.mutable_data<float>();
  for (int64_t b = 0; b < batch; ++b) embed(c, weights_, weights_.encoder_positions, ids + b * seq, seq, 0, x + b * seq * H);
  if (c.layernorm_embedding) apply_norm(c, weights_.encoder_embed_norm, x, rows, H, x);
  run_encoder_layers(out);
  return out;
}

EncoderOutput Seq2SeqModel::encode_features(const float* features, int64_t batch, int64_t mel_bins,
                                            int64_t frames) const {
  const Seq2SeqConfig& c = config_;
  if (!c.audio_encoder) {
    throw InvalidArgument("encode_features: " + c.model_type + " encodes input_ids, not input_features");
  }
  if (batch <= 0) throw InvalidArgument("encode_features: input_features has no items");
  if (mel_bins != c.num_mel_bins) {
    throw InvalidArgument("encode_features: input_features has " + std::to_string(mel_bins) +
                          " mel bins, the model's num_mel_bins is " + std::to_string(c.num_mel_bins));
  }
  if (frames != 2 * c.max_source_positions) {
    throw InvalidArgument("encode_features: input_features has " + std::to_string(frames) +
                          " frames; the model expects " + std::to_string(2 * c.max_source_positions) +
                          " (2 * max_source_positions: pad or truncate to 30 s with the feature extractor)");
  }
  bind_workers();
  const int64_t H = c.hidden_size, M = mel_bins, T = frames, S = c.max_source_positions;
  EncoderOutput out;
  out.batch = batch;
  out.seq = S;
  out.mask.assign(static_cast<size_t>(batch * S), 1);
  out.hidden = Tensor::zeros(DType::F32, {batch, S, H});
  float* x = out.hidden.mutable_data<float>();
  // conv1 (k 3, pad 1, stride 1) and conv2 (k 3, pad 1, stride 2) as
  // im2col GEMMs, each followed by exact GELU.
  std::vector<float> cols = buffer(T * 3 * std::max(M, H)), h1 = buffer(T * H);
  for (int64_t b = 0; b < batch; ++b) {
    const float* f = features + b * M * T;
    for (int64_t t = 0; t < T; ++t) {
      float* row = cols.data() + t * 3 * M;
      for (int64_t k = 0; k < 3; ++k) {
        const int64_t src = t + k - 1;
        float* dst = row + k * M;
        if (src < 0 || src >= T) {
          std::fill_n(dst, M, 0.0f);
        } else {
          for (int64_t i = 0; i < M; ++i) dst[i] = f[i * T + src];
        }
      }
    }
    weights_.conv1.forward(cols.data(), T, h1.data(), kernels::Activation::Gelu);
    for (int64_t t = 0; t < S; ++t) {
      float* row = cols.data() + t * 3 * H;
      for (int64_t k = 0; k < 3; ++k) {
        const int64_t src = 2 * t + k - 1;
        float* dst = row + k * H;
        if (src < 0 || src >= T) {
          std::fill_n(dst, H, 0.0f);
        } else {
          std::copy_n(h1.data() + src * H, H, dst);
        }
      }
    }
    float* xb = x + b * S * H;
    weights_.conv2.forward(cols.data(), S, xb, kernels::Activation::Gelu);
    const float* pe = weights_.encoder_positions.data<float>();
    for (int64_t i = 0; i < S * H; ++i) xb[i] += pe[i];
  }
  run_encoder_layers(out);
  return out;
}

void Seq2SeqModel::run_encoder_layers(EncoderOutput& out) const {
  const Seq2SeqConfig& c = config_;
  const int64_t batch = out.batch, seq = out.seq;
  const int64_t H = c.hidden_size, NH = c.encoder_heads, D = c.head_dim, rows = batch * seq;
  float* x = out.hidden.mutable_data<float>();
  std::vector<float> rel;
  if (c.positions == Seq2SeqPositions::Relative) {
    rel = relative_bias_table(c, weights_.encoder_relative_bias, NH, seq, /*bidirectional=*/true);
  }
  const int64_t qkv_cols = 3 * NH * D;
  std::vector<float> qkv = buffer(rows * qkv_cols), kh = buffer(rows * NH * D), vh = buffer(rows * NH * D),
                     att = buffer(rows * NH * D);
  for (const Seq2SeqLayer& l : weights_.encoder_layers) {
    residual_block(c, l.self_attn.norm, x, rows, [&](const float* in, float* o) {
      l.self_attn.qkv.forward(in, rows, qkv.data());
      std::vector<AttnJob> jobs(static_cast<size_t>(batch));
      for (int64_t b = 0; b < batch; ++b) {
        const float* base = qkv.data() + b * seq * qkv_cols;
        to_head_major(base + NH * D, qkv_cols, seq, NH, D, kh.data() + b * seq * NH * D);
        to_head_major(base + 2 * NH * D, qkv_cols, seq, NH, D, vh.data() + b * seq * NH * D);
        AttnJob& j = jobs[static_cast<size_t>(b)];
        j.q = base;
        j.ld_q = qkv_cols;
        j.out = att.data() + b * seq * NH * D;
        j.ld_out = NH * D;
        j.nq = seq;
        j.k = kh.data() + b * seq * NH * D;
        j.v = vh.data() + b * seq * NH * D;
        j.kv_stride = seq;
        j.nk = seq;
        j.key_mask = out.mask.data() + b * seq;
        if (!rel.empty()) {
          j.rel = rel.data();
          j.rel_width = 2 * seq + 1;
          j.rel_span = seq;
        }
      }
      run_attention(jobs, NH, D, static_cast<float>(c.attention_scale));
      l.self_attn.o.forward(att.data(), rows, o);
    });
    residual_block(c, l.ffn.norm, x, rows,
                   [&](const float* in, float* o) { run_ffn(c, l.ffn, c.encoder_ffn, in, rows, o); });
  }
  if (c.final_norms) apply_norm(c, weights_.encoder_final_norm, x, rows, H, x);
}

std::shared_ptr<const BoundDecoder> Seq2SeqModel::bind(EncoderOutput encoded, int64_t slots_per_item) const {
  return std::make_shared<const BoundDecoder>(shared_from_this(), std::move(encoded), slots_per_item);
}

BoundDecoder::BoundDecoder(std::shared_ptr<const Seq2SeqModel> model, EncoderOutput encoded, int64_t slots_per_item)
    : model_(std::move(model)), encoded_(std::move(encoded)), slots_per_item_(slots_per_item) {
  if (slots_per_item_ < 1) throw InvalidArgument("bind: slots_per_item must be >= 1");
  const Seq2SeqConfig& c = model_->config_;
  const int64_t NH = c.decoder_heads, D = c.head_dim, B = encoded_.batch, S = encoded_.seq, rows = B * S;
  if (encoded_.hidden.shape() != Shape{B, S, c.hidden_size}) {
    throw InvalidArgument("bind: encoder output of shape " + shape_str(encoded_.hidden.shape()) +
                          " does not match the model's hidden size " + std::to_string(c.hidden_size));
  }
  bind_workers();
  std::vector<float> kv = buffer(rows * 2 * NH * D);
  for (const Seq2SeqLayer& l : model_->weights_.decoder_layers) {
    l.cross_attn.kv.forward(encoded_.hidden.data<float>(), rows, kv.data());
    Tensor k = Tensor::zeros(DType::F32, {B, NH, S, D});
    Tensor v = Tensor::zeros(DType::F32, {B, NH, S, D});
    for (int64_t b = 0; b < B; ++b) {
      to_head_major(kv.data() + b * S * 2 * NH * D, 2 * NH * D, S, NH, D, k.mutable_data<float>() + b * NH * S * D);
      to_head_major(kv.data() + b * S * 2 * NH * D + NH * D, 2 * NH * D, S, NH, D,
                    v.mutable_data<float>() + b * NH * S * D);
    }
    cross_k_.push_back(std::move(k));
    cross_v_.push_back(std::move(v));
  }
}

int64_t BoundDecoder::vocab_size() const { return model_->config_.vocab_size; }
int64_t BoundDecoder::max_positions() const {
  const Seq2SeqConfig& c = model_->config_;
  return c.max_position_embeddings > 0 ? c.max_position_embeddings : 0;
}
const std::string& BoundDecoder::model_type() const { return model_->config_.model_type; }
size_t BoundDecoder::cache_bytes_per_position() const {
  const Seq2SeqConfig& c = model_->config_;
  return static_cast<size_t>(2 * c.decoder_layers * c.decoder_heads * c.head_dim) * sizeof(float);
}

std::unique_ptr<KvCache> BoundDecoder::new_cache(int64_t slots, int64_t capacity) const {
  const Seq2SeqConfig& c = model_->config_;
  if (slots > encoded_.batch * slots_per_item_) {
    throw InvalidArgument("new_cache: " + std::to_string(slots) + " slots for " + std::to_string(encoded_.batch) +
                          " encoded items of " + std::to_string(slots_per_item_) + " slots each");
  }
  return DenseKvCache::make(slots, capacity, c.max_position_embeddings > 0 ? c.max_position_embeddings : -1,
                            cache_bytes_per_position(), c.decoder_layers, c.decoder_heads, c.head_dim);
}

Tensor BoundDecoder::step(KvCache& cache_base, const std::vector<StepSegment>& segments,
                          const StepOptions& options) const {
  const Seq2SeqConfig& c = model_->config_;
  const Seq2SeqWeights& w = model_->weights_;
  auto* cache = dynamic_cast<DenseKvCache*>(&cache_base);
  if (cache == nullptr || !cache->fits(c.decoder_layers, c.decoder_heads, c.head_dim)) {
    throw InvalidArgument("step: the cache was not made by this decoder's new_cache");
  }
  if (segments.empty()) throw InvalidArgument("step: no segments");
  std::set<int64_t> seen;
  int64_t rows = 0, longest = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const StepSegment& s = segments[i];
    if (s.slot < 0 || s.slot >= cache->slots()) {
      throw InvalidArgument("step: slot " + std::to_string(s.slot) + " outside the cache's [0, " +
                            std::to_string(cache->slots()) + ")");
    }
    if (!seen.insert(s.slot).second) throw InvalidArgument("step: slot " + std::to_string(s.slot) + " appears twice");
    if (s.count <= 0 || s.tokens == nullptr) {
      throw InvalidArgument("step: segment " + std::to_string(i) + " has no tokens");
    }
    const int64_t past = cache->length(s.slot);
    if (s.count > cache->capacity() - past) {
      throw InvalidArgument("step: slot " + std::to_string(s.slot) + " holds " + std::to_string(past) + " + " +
                            std::to_string(s.count) + " new tokens, over its capacity " +
                            std::to_string(cache->capacity()));
    }
    check_ids(c, s.tokens, s.count, "step");
    rows += s.count;
    longest = std::max(longest, past + s.count);
  }
  bind_workers();
  const int64_t H = c.hidden_size, NH = c.decoder_heads, D = c.head_dim, S = encoded_.seq;
  const int64_t qkv_cols = 3 * NH * D;
  std::vector<float> xs = buffer(rows * H);
  float* x = xs.data();
  {
    int64_t r = 0;
    for (const StepSegment& s : segments) {
      embed(c, w, w.decoder_positions, s.tokens, s.count, cache->length(s.slot), x + r * H);
      r += s.count;
    }
  }
  if (c.layernorm_embedding) apply_norm(c, w.decoder_embed_norm, x, rows, H, x);
  std::vector<float> rel;
  if (c.positions == Seq2SeqPositions::Relative) {
    rel = relative_bias_table(c, w.decoder_relative_bias, NH, longest, /*bidirectional=*/false);
  }
  std::vector<float> qkv = buffer(rows * qkv_cols), q = buffer(rows * NH * D), att = buffer(rows * NH * D);
  std::vector<AttnJob> jobs(segments.size());
  for (int64_t layer = 0; layer < c.decoder_layers; ++layer) {
    const Seq2SeqLayer& l = w.decoder_layers[static_cast<size_t>(layer)];
    residual_block(c, l.self_attn.norm, x, rows, [&](const float* in, float* o) {
      l.self_attn.qkv.forward(in, rows, qkv.data());
      int64_t r0 = 0;
      for (size_t si = 0; si < segments.size(); ++si) {
        const StepSegment& s = segments[si];
        const int64_t past = cache->length(s.slot);
        float* kc = cache->k(s.slot, layer);
        float* vc = cache->v(s.slot, layer);
        for (int64_t j = 0; j < s.count; ++j) {
          const float* row = qkv.data() + (r0 + j) * qkv_cols;
          for (int64_t h = 0; h < NH; ++h) {
            std::copy_n(row + NH * D + h * D, D, kc + (h * cache->capacity() + past + j) * D);
            std::copy_n(row + 2 * NH * D + h * D, D, vc + (h * cache->capacity() + past + j) * D);
          }
        }
        AttnJob& jb = jobs[si];
        jb = AttnJob{};
        jb.q = qkv.data() + r0 * qkv_cols;
        jb.ld_q = qkv_cols;
        jb.out = att.data() + r0 * NH * D;
        jb.ld_out = NH * D;
        jb.nq = s.count;
        jb.k = kc;
        jb.v = vc;
        jb.kv_stride = cache->capacity();
        jb.nk = past + s.count;
        jb.q_pos0 = past;
        jb.causal = true;
        if (!rel.empty()) {
          jb.rel = rel.data();
          jb.rel_width = 2 * longest + 1;
          jb.rel_span = longest;
        }
        r0 += s.count;
      }
      run_attention(jobs, NH, D, static_cast<float>(c.attention_scale));
      l.self_attn.o.forward(att.data(), rows, o);
    });
    residual_block(c, l.cross_attn.norm, x, rows, [&](const float* in, float* o) {
      l.cross_attn.qkv.forward(in, rows, q.data());
      int64_t r0 = 0;
      for (size_t si = 0; si < segments.size(); ++si) {
        const StepSegment& s = segments[si];
        const int64_t item = s.slot / slots_per_item_;
        AttnJob& jb = jobs[si];
        jb = AttnJob{};
        jb.q = q.data() + r0 * NH * D;
        jb.ld_q = NH * D;
        jb.out = att.data() + r0 * NH * D;
        jb.ld_out = NH * D;
        jb.nq = s.count;
        jb.k = cross_k_[static_cast<size_t>(layer)].data<float>() + item * NH * S * D;
        jb.v = cross_v_[static_cast<size_t>(layer)].data<float>() + item * NH * S * D;
        jb.kv_stride = S;
        jb.nk = S;
        jb.key_mask = encoded_.mask.data() + item * S;
        r0 += s.count;
      }
      run_attention(jobs, NH, D, static_cast<float>(c.attention_scale));
      l.cross_attn.o.forward(att.data(), rows, o);
    });
    residual_block(c, l.ffn.norm, x, rows,
                   [&](const float* in, float* o) { run_ffn(c, l.ffn, c.decoder_ffn, in, rows, o); });
  }
  for (const StepSegment& s : segments) cache->set_length(s.slot, cache->length(s.slot) + s.count);
  if (c.final_norms) apply_norm(c, w.decoder_final_norm, x, rows, H, x);

  std::vector<int64_t> pick;
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
  std::vector<float> sel = buffer(n * H);
  const auto out_scale = static_cast<float>(c.output_scale);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = 0; e < H; ++e) sel[static_cast<size_t>(i * H + e)] = x[pick[i] * H + e] * out_scale;
  }
  Tensor logits = Tensor::zeros(DType::F32, {n, c.vocab_size});
  float* lo = logits.mutable_data<float>();
  w.lm_head.forward(sel.data(), n, lo);
  if (w.final_logits_bias.defined()) {
    const float* fb = w.final_logits_bias.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t v = 0; v < c.vocab_size; ++v) lo[i * c.vocab_size + v] += fb[v];
    }
  }
  return logits;
}

}  // namespace optimum::models
