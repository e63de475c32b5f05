// t5: T5LayerNorm (RMS, no mean subtraction, no bias), relative position
// buckets (bidirectional in the encoder, causal in the decoder; the bias
// table lives in block 0 and is shared by every layer), unscaled attention
// without biases, relu (v1.0) or gated-gelu (v1.1 / flan) MLP, and the
// d_model**-0.5 scaling of the decoder output when scale_decoder_outputs
// (transformers 5; older configs: tie_word_embeddings not false). Keys and
// defaults are those of transformers' T5Config.
#include <cmath>

#include "config_fields.h"
#include "optimum/models/architecture.h"
#include "optimum/models/seq2seq.h"

namespace optimum::models {

namespace {

Seq2SeqConfig parse_t5(const io::Json& j, const std::string& source) {
  return io::with_json_context(source, [&] {
    if (!j.is_object()) throw FormatError(source + ": config must be a JSON object");
    Seq2SeqConfig c;
    c.vocab_size = int_or(j, "vocab_size", 32128);
    c.hidden_size = int_or(j, "d_model", 512);
    c.head_dim = int_or(j, "d_kv", 64);
    c.encoder_ffn = c.decoder_ffn = int_or(j, "d_ff", 2048);
    c.encoder_layers = int_or(j, "num_layers", 6);
    c.decoder_layers = int_or(j, "num_decoder_layers", c.encoder_layers);
    c.encoder_heads = c.decoder_heads = int_or(j, "num_heads", 8);
    c.relative_buckets = int_or(j, "relative_attention_num_buckets", 32);
    c.relative_max_distance = int_or(j, "relative_attention_max_distance", 128);
    c.norm_eps = num_or(j, "layer_norm_epsilon", 1e-6);
    const std::string proj = present(j, "feed_forward_proj") ? j.at("feed_forward_proj").get<std::string>() : "relu";
    const auto dash = proj.find('-');
    std::string act = proj;
    if (dash != std::string::npos) {
      if (proj.substr(0, dash) != "gated" || proj.find('-', dash + 1) != std::string::npos) {
        throw FormatError(source + ": feed_forward_proj '" + proj + "' is not of the form gated-{ACT} or {ACT}");
      }
      c.gated_mlp = true;
      act = proj == "gated-gelu" ? "gelu_new" : proj.substr(dash + 1);
    }
    try {
      c.act = kernels::activation_from_name(act);
    } catch (const Unsupported& e) {
      throw Unsupported(source + ": feed_forward_proj: " + e.what());
    }
    for (const auto& [name, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                                  {"d_model", c.hidden_size}, {"d_kv", c.head_dim}, {"d_ff", c.encoder_ffn},
                                  {"num_layers", c.encoder_layers}, {"num_decoder_layers", c.decoder_layers},
                                  {"num_heads", c.encoder_heads},
                                  {"relative_attention_num_buckets", c.relative_buckets},
                                  {"relative_attention_max_distance", c.relative_max_distance}}) {
      if (v <= 0) throw FormatError(source + ": " + name + " must be positive, got " + std::to_string(v));
    }
    if (c.relative_buckets < 4) {
      throw FormatError(source + ": relative_attention_num_buckets must be >= 4, got " +
                        std::to_string(c.relative_buckets));
    }
    // Distances past num_buckets / 2 fall in the logarithmic buckets, whose formula needs
    // max_distance above every exact range (else buckets would go negative).
    if (c.relative_max_distance <= c.relative_buckets / 2) {
      throw FormatError(source + ": relative_attention_max_distance " + std::to_string(c.relative_max_distance) +
                        " must exceed relative_attention_num_buckets / 2 (" + std::to_string(c.relative_buckets / 2) +
                        ")");
    }
    c.norm = NormKind::RmsNorm;
    c.pre_norm = true;
    c.final_norms = true;
    c.positions = Seq2SeqPositions::Relative;
    c.attention_scale = 1.0;
    c.attention_bias = false;
    const bool scale = present(j, "scale_decoder_outputs") ? j.at("scale_decoder_outputs").get<bool>()
                                                           : bool_or(j, "tie_word_embeddings", true);
    c.output_scale = scale ? std::pow(static_cast<double>(c.hidden_size), -0.5) : 1.0;
    c.pad_token_id = int_or(j, "pad_token_id", 0);
    c.decoder_start_token_id = int_or(j, "decoder_start_token_id", c.pad_token_id);
    return c;
  });
}

DecoderNorm rms(const WeightSource& src, const std::string& name, int64_t dim) {
  return DecoderNorm{src.tensor(name + ".weight", {dim}), Tensor()};
}

Seq2SeqFfn t5_ffn(const Seq2SeqConfig& c, const WeightSource& src, const std::string& p, int64_t ffn) {
  const int64_t H = c.hidden_size;
  Seq2SeqFfn f;
  if (c.gated_mlp) {
    const Linear gate = src.linear(p + "DenseReluDense.wi_0", H, ffn, false);
    const Linear up = src.linear(p + "DenseReluDense.wi_1", H, ffn, false);
    f.up = fuse_linears({&gate, &up});
  } else {
    f.up = src.linear(p + "DenseReluDense.wi", H, ffn, false);
  }
  f.down = src.linear(p + "DenseReluDense.wo", ffn, H, false);
  f.norm = rms(src, p + "layer_norm", H);
  return f;
}

Seq2SeqAttention t5_attention(const Seq2SeqConfig& c, const WeightSource& src, const std::string& p, int64_t heads,
                              bool cross) {
  const int64_t H = c.hidden_size, inner = heads * c.head_dim;
  Seq2SeqAttention a;
  const Linear q = src.linear(p + ".q", H, inner, false);
  const Linear k = src.linear(p + ".k", H, inner, false);
  const Linear v = src.linear(p + ".v", H, inner, false);
  if (cross) {
    a.qkv = q;
    a.kv = fuse_linears({&k, &v});
  } else {
    a.qkv = fuse_linears({&q, &k, &v});
  }
  a.o = src.linear(p + ".o", inner, H, false);
  return a;
}

Seq2SeqWeights load_t5(const Seq2SeqConfig& c, const io::WeightStore& store) {
  const WeightSource src(store, "");
  const int64_t H = c.hidden_size;
  Seq2SeqWeights w;
  const char* embed_names[] = {"shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
  std::string embed = embed_names[0];
  for (const char* n : embed_names) {
    if (src.has(n)) {
      embed = n;
      break;
    }
  }
  w.embed_tokens = src.tensor(embed, {c.vocab_size, H});
  w.encoder_relative_bias = src.tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                       {c.relative_buckets, c.encoder_heads});
  w.decoder_relative_bias = src.tensor("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                       {c.relative_buckets, c.decoder_heads});
  for (int64_t i = 0; i < c.encoder_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    Seq2SeqLayer l;
    l.self_attn = t5_attention(c, src, p + "0.SelfAttention", c.encoder_heads, false);
    l.self_attn.norm = rms(src, p + "0.layer_norm", H);
    l.ffn = t5_ffn(c, src, p + "1.", c.encoder_ffn);
    w.encoder_layers.push_back(std::move(l));
  }
  for (int64_t i = 0; i < c.decoder_layers; ++i) {
    const std::string p = "decoder.block." + std::to_string(i) + ".layer.";
    Seq2SeqLayer l;
    l.self_attn = t5_attention(c, src, p + "0.SelfAttention", c.decoder_heads, false);
    l.self_attn.norm = rms(src, p + "0.layer_norm", H);
    l.cross_attn = t5_attention(c, src, p + "1.EncDecAttention", c.decoder_heads, true);
    l.cross_attn.norm = rms(src, p + "1.layer_norm", H);
    l.ffn = t5_ffn(c, src, p + "2.", c.decoder_ffn);
    w.decoder_layers.push_back(std::move(l));
  }
  w.encoder_final_norm = rms(src, "encoder.final_layer_norm", H);
  w.decoder_final_norm = rms(src, "decoder.final_layer_norm", H);
  // transformers 5 ties the head to `shared`; a checkpoint of an untied
  // config (tie_word_embeddings false, as t5 v1.1 / flan wrote them) keeps
  // its own lm_head.
  load_seq2seq_lm_head(c, src, "lm_head", w);
  return w;
}

}  // namespace

Seq2SeqFamily t5_family() {
  Seq2SeqFamily f;
  f.model_type = "t5";
  f.parse_config = parse_t5;
  f.load_weights = load_t5;
  return f;
}

Architecture t5_architecture() {
  BlockOptions b;
  b.embeddings.positions = PositionKind::None;  // a bucketed relative bias on the scores
  b.attention.relative_bias = true;
  b.norm.kind = NormKind::RmsNorm;
  b.norm.pre_norm = true;
  b.norm.final_norm = true;
  return seq2seq_architecture(t5_family(), b);
}

}  // namespace optimum::models
