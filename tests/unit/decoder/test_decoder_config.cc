// DecoderConfig parsing: transformers' key names and defaults per family,
// both RoPE layouts (rope_parameters and rope_theta + rope_scaling), the
// registry's errors.
#include <gtest/gtest.h>

#include <cmath>

#include "optimum/core/errors.h"
#include "optimum/models/decoder.h"

namespace optimum::models {
namespace {

TEST(DecoderConfig, LlamaDefaultsAndDerivedFields) {
  const io::Json j = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 4},
                      {"num_hidden_layers", 2}};
  const DecoderConfig c = decoder_family("llama").parse_config(j, "config.json");
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.n_heads_kv, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.layers.size(), 2u);
  EXPECT_EQ(c.ropes.at(0).type, RopeType::Default);
  EXPECT_DOUBLE_EQ(c.ropes.at(0).theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.attention_scale, 0.25);
}

TEST(DecoderConfig, BothRopeLayouts) {
  const io::Json v5 = {{"max_position_embeddings", 100},
                       {"rope_parameters", {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                            {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}}}};
  const RopeConfig a = parse_rope(v5, "config.json");
  EXPECT_EQ(a.type, RopeType::Llama3);
  EXPECT_DOUBLE_EQ(a.theta, 500000.0);
  EXPECT_EQ(a.original_max_position_embeddings, 100);  // defaulted from max_position_embeddings
  const io::Json v4 = {{"rope_theta", 2000.0}, {"rope_scaling", {{"type", "linear"}, {"factor", 3.0}}}};
  const RopeConfig b = parse_rope(v4, "config.json");
  EXPECT_EQ(b.type, RopeType::Linear);
  EXPECT_DOUBLE_EQ(b.theta, 2000.0);
  EXPECT_DOUBLE_EQ(b.factor, 3.0);
}

TEST(DecoderConfig, QwenSlidingLayers) {
  const io::Json j = {{"model_type", "qwen2"}, {"hidden_size", 32},      {"num_attention_heads", 2},
                      {"num_hidden_layers", 3}, {"use_sliding_window", true}, {"sliding_window", 6},
                      {"max_window_layers", 1}};
  const DecoderConfig c = decoder_family("qwen2").parse_config(j, "config.json");
  EXPECT_EQ(c.layers[0].sliding_window, 0);
  EXPECT_EQ(c.layers[1].sliding_window, 6);
  EXPECT_EQ(c.layers[2].sliding_window, 6);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.attention_out_bias);
}

TEST(DecoderConfig, ErrorsNameTheValue) {
  try {
    decoder_family("nonesuch");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("nonesuch"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("qwen3"), std::string::npos);
  }
  const io::Json bad = {{"rope_parameters", {{"rope_type", "longrope2"}}}};
  try {
    parse_rope(bad, "x/config.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("longrope2"), std::string::npos);
  }
  io::Json j = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 6},
                {"num_key_value_heads", 4}, {"num_hidden_layers", 2}};
  const DecoderConfig c = decoder_family("llama").parse_config(j, "config.json");
  EXPECT_THROW(validate_decoder_config(c, "config.json"), FormatError);
}

TEST(DecoderConfig, YarnAttentionScaling) {
  DecoderConfig c;
  c.head_dim = 16;
  c.max_position_embeddings = 128;
  RopeConfig r;
  r.type = RopeType::Yarn;
  r.factor = 4.0;
  r.original_max_position_embeddings = 32;
  const RopeTable t = rope_inv_freq(r, c);
  EXPECT_NEAR(t.attention_scaling, 0.1 * std::log(4.0) + 1.0, 1e-6);
  EXPECT_EQ(t.inv_freq.size(), 8u);
}

}  // namespace
}  // namespace optimum::models
