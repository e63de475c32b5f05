// Decoders' config specs as data: every decoder entry of the registry holds
// its key table, the registry derives its parser (and the supported lists)
// from it, the defaults a parse gives are the table's, and the shared
// LlamaConfig table is what the families edit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"
#include "optimum/models/decoder_spec.h"

namespace optimum::models {
namespace {

int64_t table_int(const config::ConfigSpec& spec, const std::string& field) {
  const config::KeySpec* k = find_key(spec.keys, field);
  EXPECT_NE(k, nullptr) << spec.model_type << " " << field;
  return k == nullptr ? 0 : k->fallback.get<int64_t>();
}

TEST(DecoderSpecs, EveryDecoderEntryHoldsItsTable) {
  std::vector<std::string> decoders;
  for (const Architecture& a : architectures()) {
    if (!a.is_decoder()) continue;
    decoders.push_back(a.model_type);
    EXPECT_EQ(a.config.model_type, a.model_type);
    EXPECT_FALSE(a.config.keys.empty()) << a.model_type;
    ASSERT_TRUE(static_cast<bool>(a.decoder->parse_config)) << a.model_type;
    EXPECT_NO_THROW(check_decoder_spec(a.config)) << a.model_type;
    // The registry's lists derive from the entry.
    const auto all = supported_model_types();
    EXPECT_NE(std::find(all.begin(), all.end(), a.model_type), all.end());
    EXPECT_EQ(&decoder_family(a.model_type), &*a.decoder);
    EXPECT_FALSE(architecture_tasks(a).empty());
    // An empty config gets the table's defaults.
    const DecoderConfig c = a.decoder->parse_config({{"model_type", a.model_type}}, "config.json");
    EXPECT_EQ(c.model_type, a.model_type);
    EXPECT_EQ(c.vocab_size, table_int(a.config, "vocab_size")) << a.model_type;
    EXPECT_EQ(c.hidden_size, table_int(a.config, "hidden_size")) << a.model_type;
    EXPECT_EQ(c.n_layers, table_int(a.config, "num_hidden_layers")) << a.model_type;
    EXPECT_EQ(c.n_heads, table_int(a.config, "num_attention_heads")) << a.model_type;
    EXPECT_EQ(c.max_position_embeddings, table_int(a.config, "max_position_embeddings")) << a.model_type;
    EXPECT_EQ(static_cast<int64_t>(c.layers.size()), c.n_layers);
    EXPECT_NO_THROW(validate_decoder_config(c, "config.json")) << a.model_type;
    // The structure is the entry's blocks.
    EXPECT_EQ(c.positions, a.blocks.embeddings.positions) << a.model_type;
    EXPECT_EQ(c.norm, a.blocks.norm.kind) << a.model_type;
    EXPECT_EQ(c.gated_mlp, a.blocks.mlp.gated) << a.model_type;
    EXPECT_EQ(c.qk_norm, a.blocks.attention.qk_norm) << a.model_type;
    EXPECT_EQ(c.sandwich_norms, a.blocks.norm.sandwich) << a.model_type;
    EXPECT_EQ(c.scale_embeddings, a.blocks.embeddings.scaled) << a.model_type;
  }
  std::sort(decoders.begin(), decoders.end());
  EXPECT_EQ(decoders, decoder_model_types());
}

TEST(DecoderSpecs, DefaultsComeFromTheTable) {
  // Edit a table, parse with it: the default follows (no default lives in code).
  const Architecture& llama = architecture("llama");
  config::ConfigSpec spec = llama.config;
  spec.keys = with_defaults(spec.keys, {{"vocab_size", 1234}, {"num_hidden_layers", 3}});
  const DecoderConfig c = read_decoder_config(io::Json::object(), spec, llama.blocks, *llama.decoder, "config.json");
  EXPECT_EQ(c.vocab_size, 1234);
  EXPECT_EQ(c.layers.size(), 3u);
  // MistralConfig's defaults over LlamaConfig's.
  const DecoderConfig m = decoder_family("mistral").parse_config(io::Json::object(), "config.json");
  EXPECT_EQ(m.intermediate_size, 14336);
  EXPECT_EQ(m.n_heads_kv, 8);
  EXPECT_EQ(m.layers.at(0).sliding_window, 4096);
  const DecoderConfig none = decoder_family("mistral").parse_config({{"sliding_window", nullptr}}, "config.json");
  EXPECT_EQ(none.layers.at(0).sliding_window, 0);  // null = no window
}

TEST(DecoderSpecs, HostileValuesNameTheKey) {
  struct Case {
    const char* model_type;
    io::Json edit;
    const char* needle;
  };
  const Case cases[] = {
      {"llama", {{"hidden_size", "big"}}, "key 'hidden_size' must be an integer"},
      {"llama", {{"num_attention_heads", 0}}, "key 'num_attention_heads' must be positive"},
      {"llama", {{"rms_norm_eps", -1.0}}, "key 'rms_norm_eps' must be >= 0"},
      {"llama", {{"rope_scaling", "linear"}}, "key 'rope_scaling' must be an object"},
      {"llama", {{"num_hidden_layers", int64_t{1} << 40}}, "num_hidden_layers 1099511627776 is too large"},
      {"llama", {{"hidden_act", "nonesuch"}}, "hidden_act"},
      {"gpt2", {{"n_embd", -3}}, "key 'n_embd' must be positive"},
      {"gpt2", {{"activation_function", "nonesuch"}}, "activation_function"},
      {"gpt2", {{"add_cross_attention", true}}, "add_cross_attention = true is not supported"},
      {"gemma3_text", {{"query_pre_attn_scalar", 0}}, "key 'query_pre_attn_scalar' must be positive"},
      {"gemma3_text", {{"num_hidden_layers", 2}, {"layer_types", {"full_attention"}}}, "layer_types has 1 entries"},
      {"gemma3_text", {{"layer_types", {"full_attention", 3}}}, "key 'layer_types' must be a list of strings"},
      {"gemma3_text", {{"hidden_activation", 1}}, "key 'hidden_activation' must be a string"},
      {"qwen2", {{"use_sliding_window", "yes"}}, "key 'use_sliding_window' must be a boolean"},
      {"phi3", {{"sliding_window", -5}}, "key 'sliding_window' must be >= 0"},
      {"phi3", {{"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}}, "not supported for phi3"},
      {"gemma", {{"use_bidirectional_attention", true}}, "use_bidirectional_attention = true"},
  };
  for (const Case& t : cases) {
    io::Json j = t.edit;
    j["model_type"] = t.model_type;
    try {
      const DecoderConfig c = decoder_family(t.model_type).parse_config(j, "dir/config.json");
      validate_decoder_config(c, "dir/config.json");
      ADD_FAILURE() << t.model_type << " " << t.edit.dump() << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(t.needle), std::string::npos) << what;
      EXPECT_NE(what.find("dir/config.json"), std::string::npos) << what;
    }
  }
}

TEST(DecoderSpecs, IncompleteTableIsRefusedAtRegistration) {
  config::ConfigSpec spec;
  spec.model_type = "toy";
  spec.keys = without(llama_keys(), "max_position_embeddings");
  try {
    check_decoder_spec(spec);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("toy"), std::string::npos);
  }
  spec.keys = llama_keys();
  spec.rope.by_layer_type = {{"full_attention", "rope_theta"}, {"sliding_attention", "rope_local_base_freq"}};
  EXPECT_THROW(check_decoder_spec(spec), InvalidArgument);
}

TEST(DecoderSpecs, ANewArchitectureIsOneEntry) {
  // What a new family file builds: an entry from the shared table and its own
  // defaults; everything the engine reads follows from it.
  DecoderFamily f;
  f.model_type = "toy_llama";
  config::ConfigSpec spec;
  spec.keys = with_defaults(llama_keys(), {{"hidden_size", 64}, {"num_attention_heads", 4}, {"num_hidden_layers", 2}});
  const Architecture a = decoder_architecture(f, decoder_blocks(), spec, true, false);
  EXPECT_EQ(a.model_type, "toy_llama");
  EXPECT_EQ(a.config.keys.size(), llama_keys().size());
  const DecoderConfig c = read_decoder_config({{"head_dim", 8}}, a.config, a.blocks, *a.decoder, "config.json");
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_heads_kv, 4);
  EXPECT_DOUBLE_EQ(c.attention_scale, 1.0 / std::sqrt(8.0));
  EXPECT_EQ(a.exports.tasks, (std::vector<std::string>{"feature-extraction", "text-generation"}));
}

}  // namespace
}  // namespace optimum::models
