// The BART-shaped families: bart (post-LayerNorm, learned positions read at
// offset 2, layernorm_embedding), mbart (the same with pre-LayerNorm and a
// final layer_norm after each stack) and marian (post-LayerNorm, fixed
// sinusoidal positions, no layernorm_embedding). All scale q·k by
// head_dim**-0.5, multiply the embeddings by sqrt(d_model) with
// scale_embedding and add final_logits_bias to the logits. Keys and defaults
// are those of transformers' BartConfig, MBartConfig and MarianConfig.
#include <cmath>

#include "config_fields.h"
#include "optimum/models/architecture.h"
#include "optimum/models/seq2seq.h"

namespace optimum::models {

namespace {

struct BartDefaults {
  int64_t vocab_size = 50265;
  int64_t d_model = 1024;
  int64_t layers = 12;
  int64_t heads = 16;
  int64_t ffn = 4096;
  int64_t max_positions = 1024;
  const char* act = "gelu";
  bool scale_embedding = false;
  int64_t pad_token_id = 1;
  int64_t decoder_start_token_id = 2;
};

Seq2SeqConfig parse_bart_like(const io::Json& j, const std::string& source, const BartDefaults& d) {
  return io::with_json_context(source, [&] {
    if (!j.is_object()) throw FormatError(source + ": config must be a JSON object");
    Seq2SeqConfig c;
    c.vocab_size = int_or(j, "vocab_size", d.vocab_size);
    c.hidden_size = int_or(j, "d_model", d.d_model);
    c.encoder_layers = int_or(j, "encoder_layers", d.layers);
    c.decoder_layers = int_or(j, "decoder_layers", d.layers);
    c.encoder_heads = int_or(j, "encoder_attention_heads", d.heads);
    c.decoder_heads = int_or(j, "decoder_attention_heads", d.heads);
    c.encoder_ffn = int_or(j, "encoder_ffn_dim", d.ffn);
    c.decoder_ffn = int_or(j, "decoder_ffn_dim", d.ffn);
    c.max_position_embeddings = int_or(j, "max_position_embeddings", d.max_positions);
    for (const auto& [name, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                                  {"d_model", c.hidden_size}, {"encoder_layers", c.encoder_layers},
                                  {"decoder_layers", c.decoder_layers}, {"encoder_attention_heads", c.encoder_heads},
                                  {"decoder_attention_heads", c.decoder_heads}, {"encoder_ffn_dim", c.encoder_ffn},
                                  {"decoder_ffn_dim", c.decoder_ffn},
                                  {"max_position_embeddings", c.max_position_embeddings}}) {
      if (v <= 0) throw FormatError(source + ": " + name + " must be positive, got " + std::to_string(v));
    }
    if (c.hidden_size % c.encoder_heads != 0 || c.encoder_heads != c.decoder_heads) {
      throw Unsupported(source + ": d_model " + std::to_string(c.hidden_size) + " with encoder_attention_heads " +
                        std::to_string(c.encoder_heads) + " and decoder_attention_heads " +
                        std::to_string(c.decoder_heads) + " (the heads must divide d_model and be equal)");
    }
    c.head_dim = c.hidden_size / c.encoder_heads;
    const std::string act = present(j, "activation_function") ? j.at("activation_function").get<std::string>() : d.act;
    try {
      c.act = kernels::activation_from_name(act);
    } catch (const Unsupported& e) {
      throw Unsupported(source + ": activation_function: " + e.what());
    }
    c.norm = NormKind::LayerNorm;
    c.norm_eps = 1e-5;  // nn.LayerNorm's default
    c.attention_scale = std::pow(static_cast<double>(c.head_dim), -0.5);
    c.attention_bias = true;
    c.embed_scale = bool_or(j, "scale_embedding", d.scale_embedding) ? std::sqrt(static_cast<double>(c.hidden_size))
                                                                     : 1.0;
    c.final_logits_bias = true;
    c.pad_token_id = int_or(j, "pad_token_id", d.pad_token_id);
    // generate() falls back to bos_token_id when decoder_start_token_id is unset (mbart).
    c.decoder_start_token_id =
        int_or(j, "decoder_start_token_id", int_or(j, "bos_token_id", d.decoder_start_token_id));
    return c;
  });
}

Seq2SeqWeights load_bart_like(const Seq2SeqConfig& c, const io::WeightStore& store) {
  const WeightSource src(store, "model");
  const int64_t H = c.hidden_size;
  Seq2SeqWeights w;
  std::string embed = src.base("shared.weight");
  for (const std::string& n : {src.base("shared.weight"), src.base("encoder.embed_tokens.weight"),
                               src.base("decoder.embed_tokens.weight")}) {
    if (src.has(n)) {
      embed = n;
      break;
    }
  }
  w.embed_tokens = src.tensor(embed, {c.vocab_size, H});
  const int64_t n_pos = c.max_position_embeddings + c.position_offset;
  if (c.positions == Seq2SeqPositions::Sinusoidal) {
    // The table is computed, not read: bound it (a hostile max_position_embeddings).
    if (n_pos > (int64_t{1} << 20)) {
      throw FormatError(src.source() + ": max_position_embeddings " + std::to_string(c.max_position_embeddings) +
                        " is beyond the 1048576 sinusoidal positions this engine builds");
    }
    // Marian's table is fixed (not saved by transformers 5; older files hold the same values).
    w.encoder_positions = w.decoder_positions = sinusoidal_positions(n_pos, H);
  } else {
    w.encoder_positions = src.tensor(src.base("encoder.embed_positions.weight"), {n_pos, H});
    w.decoder_positions = src.tensor(src.base("decoder.embed_positions.weight"), {n_pos, H});
  }
  if (c.layernorm_embedding) {
    w.encoder_embed_norm = seq2seq_layer_norm(src, src.base("encoder.layernorm_embedding"), H);
    w.decoder_embed_norm = seq2seq_layer_norm(src, src.base("decoder.layernorm_embedding"), H);
  }
  load_bart_style_layers(c, src, /*k_bias=*/true, w);
  if (c.final_norms) {
    w.encoder_final_norm = seq2seq_layer_norm(src, src.base("encoder.layer_norm"), H);
    w.decoder_final_norm = seq2seq_layer_norm(src, src.base("decoder.layer_norm"), H);
  }
  load_seq2seq_lm_head(c, src, "lm_head", w);
  if (src.has("final_logits_bias")) {
    w.final_logits_bias = src.tensor("final_logits_bias", {1, c.vocab_size}).reshape({c.vocab_size});
  }
  return w;
}

}  // namespace

Seq2SeqFamily bart_family() {
  Seq2SeqFamily f;
  f.model_type = "bart";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    Seq2SeqConfig c = parse_bart_like(j, source, BartDefaults{});
    c.positions = Seq2SeqPositions::Learned;
    c.position_offset = 2;
    c.layernorm_embedding = true;
    return c;
  };
  f.load_weights = load_bart_like;
  return f;
}

Seq2SeqFamily mbart_family() {
  Seq2SeqFamily f;
  f.model_type = "mbart";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    Seq2SeqConfig c = parse_bart_like(j, source, BartDefaults{});
    c.positions = Seq2SeqPositions::Learned;
    c.position_offset = 2;
    c.layernorm_embedding = true;
    c.pre_norm = true;
    c.final_norms = true;
    return c;
  };
  f.load_weights = load_bart_like;
  return f;
}

Seq2SeqFamily marian_family() {
  Seq2SeqFamily f;
  f.model_type = "marian";
  f.parse_config = [](const io::Json& j, const std::string& source) {
    BartDefaults d;
    d.vocab_size = 58101;
    d.pad_token_id = 58100;
    d.decoder_start_token_id = 58100;
    Seq2SeqConfig c = parse_bart_like(j, source, d);
    if (present(j, "decoder_vocab_size") && j.at("decoder_vocab_size").get<int64_t>() != c.vocab_size) {
      throw Unsupported(source + ": decoder_vocab_size " + std::to_string(j.at("decoder_vocab_size").get<int64_t>()) +
                        " differs from vocab_size " + std::to_string(c.vocab_size) +
                        " (separate decoder embeddings are not supported)");
    }
    c.positions = Seq2SeqPositions::Sinusoidal;
    return c;
  };
  f.load_weights = load_bart_like;
  return f;
}

namespace {

BlockOptions bart_blocks(PositionKind positions, bool pre_norm) {
  BlockOptions b;
  b.embeddings.positions = positions;
  b.embeddings.norm = positions == PositionKind::Learned;  // layernorm_embedding
  b.norm.kind = NormKind::LayerNorm;
  b.norm.pre_norm = pre_norm;
  b.norm.final_norm = pre_norm;
  return b;
}

}  // namespace

Architecture bart_architecture() { return seq2seq_architecture(bart_family(), bart_blocks(PositionKind::Learned, false)); }

Architecture mbart_architecture() {
  return seq2seq_architecture(mbart_family(), bart_blocks(PositionKind::Learned, true));
}

Architecture marian_architecture() {
  return seq2seq_architecture(marian_family(), bart_blocks(PositionKind::Sinusoidal, false));
}

}  // namespace optimum::models
