// The gpt2, phi3, gemma and gemma3_text config parsers (transformers' key
// names, aliases and conversions) and the classification head's pooling
// rule. Numerical parity with transformers is tests/decoders/test_families.py.
#include <gtest/gtest.h>

#include <cmath>

#include "optimum/core/errors.h"
#include "optimum/models/decoder.h"
#include "optimum/models/decoder_heads.h"

namespace optimum::models {
namespace {

DecoderConfig parse(const std::string& type, const io::Json& j) {
  return decoder_family(type).parse_config(j, "config.json");
}

TEST(DecoderFamilies, Registered) {
  for (const char* t : {"gpt2", "phi3", "gemma", "gemma3_text"}) EXPECT_TRUE(is_decoder_model_type(t)) << t;
}

TEST(DecoderFamilies, Gpt2KeysAndAliases) {
  const DecoderConfig a = parse("gpt2", {{"n_embd", 64}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", 32}});
  EXPECT_EQ(a.hidden_size, 64);
  EXPECT_EQ(a.intermediate_size, 256);  // n_inner None -> 4 * n_embd
  EXPECT_EQ(a.head_dim, 16);
  EXPECT_EQ(a.max_position_embeddings, 32);
  EXPECT_EQ(a.positions, PositionKind::Learned);
  EXPECT_EQ(a.norm, NormKind::LayerNorm);
  EXPECT_FALSE(a.gated_mlp);
  EXPECT_TRUE(a.tie_word_embeddings);
  const DecoderConfig b = parse("gpt2", {{"hidden_size", 48}, {"num_hidden_layers", 3}, {"num_attention_heads", 3},
                                         {"scale_attn_weights", false}, {"scale_attn_by_inverse_layer_idx", true}});
  EXPECT_EQ(b.hidden_size, 48);
  EXPECT_EQ(b.n_layers, 3);
  EXPECT_DOUBLE_EQ(b.attention_scale, 1.0);
  EXPECT_DOUBLE_EQ(b.layers.at(2).attention_scale, 1.0 / 3.0);
  EXPECT_THROW(parse("gpt2", {{"n_embd", 64}, {"n_head", 5}}), FormatError);
  EXPECT_THROW(parse("gpt2", {{"add_cross_attention", true}}), Unsupported);
}

TEST(DecoderFamilies, Phi3RenamesSuAndYarnToLongrope) {
  for (const char* type : {"su", "yarn", "longrope"}) {
    const io::Json j = {{"hidden_size", 64}, {"num_attention_heads", 4}, {"num_hidden_layers", 1},
                        {"max_position_embeddings", 64}, {"original_max_position_embeddings", 16},
                        {"rope_scaling", {{"type", type}, {"short_factor", {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}},
                                          {"long_factor", {2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0}}}}};
    const DecoderConfig c = parse("phi3", j);
    ASSERT_EQ(c.ropes.at(0).type, RopeType::LongRope) << type;
    EXPECT_EQ(c.ropes[0].original_max_position_embeddings, 16);
    EXPECT_DOUBLE_EQ(c.ropes[0].factor, 4.0);  // max / original
    EXPECT_NEAR(c.ropes[0].attention_factor, std::sqrt(1 + std::log(4.0) / std::log(16.0)), 1e-12);
    // Short factors up to the original length, long ones past it.
    const RopeTable s = rope_inv_freq(c.ropes[0], c, 16);
    const RopeTable l = rope_inv_freq(c.ropes[0], c, 17);
    EXPECT_FLOAT_EQ(l.inv_freq.at(3), s.inv_freq.at(3) / 2.0f);
  }
  const io::Json dyn = {{"rope_parameters", {{"rope_type", "dynamic"}, {"factor", 2.0}}}};
  EXPECT_THROW(parse("phi3", dyn), Unsupported);
}

TEST(DecoderFamilies, GemmaAndGemma3Defaults) {
  const DecoderConfig g = parse("gemma", {{"num_hidden_layers", 1}});
  EXPECT_EQ(g.norm, NormKind::RmsNormPlusOne);
  EXPECT_TRUE(g.scale_embeddings);
  EXPECT_EQ(g.head_dim, 256);
  EXPECT_EQ(g.act, kernels::Activation::GeluTanh);
  const DecoderConfig c = parse("gemma3_text", {{"num_hidden_layers", 7}, {"rope_theta", 5000.0},
                                                {"rope_local_base_freq", 700.0},
                                                {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}}});
  EXPECT_TRUE(c.qk_norm && c.sandwich_norms);
  EXPECT_DOUBLE_EQ(c.attention_scale, 1.0 / 16.0);  // query_pre_attn_scalar 256
  ASSERT_EQ(c.ropes.size(), 2u);
  EXPECT_EQ(c.ropes[0].type, RopeType::Linear);  // rope_scaling: full layers only
  EXPECT_DOUBLE_EQ(c.ropes[0].theta, 5000.0);
  EXPECT_EQ(c.ropes[1].type, RopeType::Default);
  EXPECT_DOUBLE_EQ(c.ropes[1].theta, 700.0);
  for (int i = 0; i < 7; ++i) {  // every 6th layer full
    const bool full = (i + 1) % 6 == 0;
    EXPECT_EQ(c.layers[i].sliding_window, full ? 0 : 4096) << i;
    EXPECT_EQ(c.layers[i].rope, full ? 0 : 1) << i;
  }
  EXPECT_THROW(parse("gemma3_text", {{"num_hidden_layers", 2}, {"layer_types", {"full_attention"}}}), FormatError);
  EXPECT_THROW(parse("gemma3_text", {{"use_bidirectional_attention", true}}), Unsupported);
  EXPECT_THROW(parse("gemma", {{"use_bidirectional_attention", true}}), Unsupported);
}

TEST(DecoderHeads, LastNonPadTokenAsTransformers) {
  const int64_t right[] = {5, 6, 7, 0, 0};
  const int64_t left[] = {0, 0, 5, 6, 7};
  const int64_t pads[] = {0, 0, 0};
  EXPECT_EQ(last_non_pad_token(right, 5, 0), 2);
  EXPECT_EQ(last_non_pad_token(left, 5, 0), 4);
  EXPECT_EQ(last_non_pad_token(pads, 3, 0), 0);           // argmax of zeros
  EXPECT_EQ(last_non_pad_token(right, 5, std::nullopt), 4);  // no pad id: the last column
}

}  // namespace
}  // namespace optimum::models
