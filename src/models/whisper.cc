// whisper: an audio encoder (conv1d k3 + GELU, conv1d k3 stride 2 + GELU,
// the stored sinusoidal embed_positions, pre-LayerNorm layers, a final
// layer_norm) and a pre-LayerNorm text decoder (learned positions from 0,
// no embedding scale, cross-attention, final layer_norm) with proj_out tied
// to the decoder's embed_tokens. Attention scales q by head_dim**-0.5; k_proj
// has no bias. Keys and defaults are those of transformers' WhisperConfig.
#include <cmath>

#include "config_fields.h"
#include "optimum/models/seq2seq.h"

namespace optimum::models {

namespace {

Seq2SeqConfig parse_whisper(const io::Json& j, const std::string& source) {
  return io::with_json_context(source, [&] {
    if (!j.is_object()) throw FormatError(source + ": config must be a JSON object");
    Seq2SeqConfig c;
    c.vocab_size = int_or(j, "vocab_size", 51865);
    c.num_mel_bins = int_or(j, "num_mel_bins", 80);
    c.hidden_size = int_or(j, "d_model", 384);
    c.encoder_layers = int_or(j, "encoder_layers", 4);
    c.decoder_layers = int_or(j, "decoder_layers", 4);
    c.encoder_heads = int_or(j, "encoder_attention_heads", 6);
    c.decoder_heads = int_or(j, "decoder_attention_heads", 6);
    c.encoder_ffn = int_or(j, "encoder_ffn_dim", 1536);
    c.decoder_ffn = int_or(j, "decoder_ffn_dim", 1536);
    c.max_source_positions = int_or(j, "max_source_positions", 1500);
    c.max_position_embeddings = int_or(j, "max_target_positions", 448);
    for (const auto& [name, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                                  {"num_mel_bins", c.num_mel_bins}, {"d_model", c.hidden_size},
                                  {"encoder_layers", c.encoder_layers}, {"decoder_layers", c.decoder_layers},
                                  {"encoder_attention_heads", c.encoder_heads},
                                  {"decoder_attention_heads", c.decoder_heads}, {"encoder_ffn_dim", c.encoder_ffn},
                                  {"decoder_ffn_dim", c.decoder_ffn}, {"max_source_positions", c.max_source_positions},
                                  {"max_target_positions", c.max_position_embeddings}}) {
      if (v <= 0) throw FormatError(source + ": " + name + " must be positive, got " + std::to_string(v));
    }
    // Bounds against hostile configs (the front end's buffers scale with them).
    if (c.max_source_positions > (int64_t{1} << 20) || c.num_mel_bins > 4096) {
      throw FormatError(source + ": max_source_positions " + std::to_string(c.max_source_positions) +
                        " / num_mel_bins " + std::to_string(c.num_mel_bins) + " are beyond this engine's limits");
    }
    if (c.hidden_size % c.encoder_heads != 0 || c.encoder_heads != c.decoder_heads) {
      throw Unsupported(source + ": d_model " + std::to_string(c.hidden_size) + " with encoder_attention_heads " +
                        std::to_string(c.encoder_heads) + " and decoder_attention_heads " +
                        std::to_string(c.decoder_heads) + " (the heads must divide d_model and be equal)");
    }
    c.head_dim = c.hidden_size / c.encoder_heads;
    const std::string act = present(j, "activation_function") ? j.at("activation_function").get<std::string>() : "gelu";
    try {
      c.act = kernels::activation_from_name(act);
    } catch (const Unsupported& e) {
      throw Unsupported(source + ": activation_function: " + e.what());
    }
    c.norm = NormKind::LayerNorm;
    c.norm_eps = 1e-5;
    c.pre_norm = true;
    c.final_norms = true;
    c.positions = Seq2SeqPositions::Learned;
    c.position_offset = 0;
    c.attention_scale = std::pow(static_cast<double>(c.head_dim), -0.5);
    c.attention_bias = true;
    c.embed_scale = 1.0;  // WhisperDecoder never multiplies by its embed_scale
    c.audio_encoder = true;
    c.pad_token_id = int_or(j, "pad_token_id", 50256);
    c.decoder_start_token_id = int_or(j, "decoder_start_token_id", 50257);
    return c;
  });
}

// conv.weight [out, in, 3] + bias as an im2col Linear [out, 3 * in].
Linear conv_as_linear(const WeightSource& src, const std::string& name, int64_t in, int64_t out) {
  const Tensor w = src.tensor(name + ".weight", {out, in, 3});
  Linear l;
  l.in = 3 * in;
  l.out = out;
  l.weight = Tensor::zeros(DType::F32, {out, 3 * in});
  l.bias = src.tensor(name + ".bias", {out});
  const float* s = w.data<float>();
  float* d = l.weight.mutable_data<float>();
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t k = 0; k < 3; ++k) d[o * 3 * in + k * in + i] = s[(o * in + i) * 3 + k];
    }
  }
  return l;
}

Seq2SeqWeights load_whisper(const Seq2SeqConfig& c, const io::WeightStore& store) {
  const WeightSource src(store, "model");
  const int64_t H = c.hidden_size;
  Seq2SeqWeights w;
  w.embed_tokens = src.tensor(src.base("decoder.embed_tokens.weight"), {c.vocab_size, H});
  w.encoder_positions = src.tensor(src.base("encoder.embed_positions.weight"), {c.max_source_positions, H});
  w.decoder_positions = src.tensor(src.base("decoder.embed_positions.weight"), {c.max_position_embeddings, H});
  w.conv1 = conv_as_linear(src, src.base("encoder.conv1"), c.num_mel_bins, H);
  w.conv2 = conv_as_linear(src, src.base("encoder.conv2"), H, H);
  load_bart_style_layers(c, src, /*k_bias=*/false, w);
  w.encoder_final_norm = seq2seq_layer_norm(src, src.base("encoder.layer_norm"), H);
  w.decoder_final_norm = seq2seq_layer_norm(src, src.base("decoder.layer_norm"), H);
  load_seq2seq_lm_head(c, src, "proj_out", w);
  return w;
}

}  // namespace

Seq2SeqFamily whisper_family() {
  Seq2SeqFamily f;
  f.model_type = "whisper";
  f.parse_config = parse_whisper;
  f.load_weights = load_whisper;
  return f;
}

}  // namespace optimum::models
