// The declarative key tables (config::KeySpec, read_keys): spellings and
// aliases, defaults, explicit nulls, types, range checks, refused values and
// per-layer lists, each error naming the key.
#include <gtest/gtest.h>

#include "optimum/config/config.h"
#include "optimum/core/errors.h"

namespace optimum::config {
namespace {

KeySpec spec(const std::string& field, const std::string& key, KeyType type, Json fallback,
             KeyCheck check = KeyCheck::None) {
  KeySpec k;
  k.field = field;
  k.key = key;
  k.type = type;
  k.fallback = std::move(fallback);
  k.check = check;
  return k;
}

std::vector<KeySpec> table() {
  KeySpec hidden = spec("hidden_size", "n_embd", KeyType::Integer, 768, KeyCheck::Positive);
  hidden.aliases = {"hidden_size"};
  KeySpec window = spec("sliding_window", "sliding_window", KeyType::Integer, 4096, KeyCheck::NonNegative);
  window.null_means = 0;
  KeySpec cross = spec("add_cross_attention", "add_cross_attention", KeyType::Boolean, false);
  cross.refused = true;
  cross.refused_why = "an encoder-decoder";
  KeySpec types = spec("layer_types", "layer_types", KeyType::StringList, nullptr);
  types.per_layer = true;
  return {hidden,
          window,
          cross,
          types,
          spec("norm_eps", "rms_norm_eps", KeyType::Number, 1e-6, KeyCheck::NonNegative),
          spec("act", "hidden_act", KeyType::String, "silu"),
          spec("rope_scaling", "rope_scaling", KeyType::Object, nullptr),
          spec("attention_bias", "", KeyType::Boolean, true)};
}

std::string error_of(const Json& j, int64_t n_layers = -1) {
  try {
    read_keys(j, table(), "dir/config.json", n_layers);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(KeyTable, DefaultsSpellingsAndAliases) {
  const KeyValues d = read_keys(Json::object(), table(), "config.json");
  EXPECT_EQ(d.integer("hidden_size"), 768);
  EXPECT_EQ(d.integer("sliding_window"), 4096);
  EXPECT_DOUBLE_EQ(d.number("norm_eps"), 1e-6);
  EXPECT_EQ(d.string("act"), "silu");
  EXPECT_TRUE(d.boolean("attention_bias"));  // fixed by the family
  EXPECT_FALSE(d.has("layer_types"));
  EXPECT_TRUE(d.declared("layer_types"));
  EXPECT_FALSE(d.declared("vocab_size"));
  EXPECT_THROW(d.integer("vocab_size"), InvalidArgument);  // not in the table: a programming error
  EXPECT_THROW(d.strings("layer_types"), FormatError);      // absent without default

  const KeyValues given = read_keys({{"n_embd", 64}, {"hidden_size", 32}, {"rms_norm_eps", 1e-5}}, table(), "c");
  EXPECT_EQ(given.integer("hidden_size"), 64);  // the family's spelling first
  EXPECT_EQ(given.key("hidden_size"), "n_embd");
  const KeyValues alias = read_keys({{"hidden_size", 32}, {"attention_bias", false}}, table(), "c");
  EXPECT_EQ(alias.integer("hidden_size"), 32);
  EXPECT_EQ(alias.key("hidden_size"), "hidden_size");
  EXPECT_TRUE(alias.boolean("attention_bias"));  // a fixed field reads no key
  const KeyValues integral = read_keys({{"n_embd", 64.0}}, table(), "c");
  EXPECT_EQ(integral.integer("hidden_size"), 64);
}

TEST(KeyTable, NullIsAbsentUnlessTheKeySaysOtherwise) {
  const KeyValues v = read_keys({{"n_embd", nullptr}, {"sliding_window", nullptr}}, table(), "c");
  EXPECT_EQ(v.integer("hidden_size"), 768);   // null = the default
  EXPECT_EQ(v.integer("sliding_window"), 0);  // null = none (MistralConfig)
}

TEST(KeyTable, ErrorsNameTheKeyAndSource) {
  EXPECT_NE(error_of({{"n_embd", "big"}}).find("key 'n_embd' must be an integer, got \"big\""), std::string::npos);
  EXPECT_NE(error_of({{"hidden_size", 0}}).find("key 'hidden_size' must be positive, got 0"), std::string::npos);
  EXPECT_NE(error_of({{"n_embd", 2.5}}).find("'n_embd' must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"sliding_window", -1}}).find("'sliding_window' must be >= 0"), std::string::npos);
  EXPECT_NE(error_of({{"rms_norm_eps", "x"}}).find("'rms_norm_eps' must be a number"), std::string::npos);
  EXPECT_NE(error_of({{"hidden_act", 3}}).find("'hidden_act' must be a string"), std::string::npos);
  EXPECT_NE(error_of({{"rope_scaling", "linear"}}).find("'rope_scaling' must be an object"), std::string::npos);
  EXPECT_NE(error_of({{"layer_types", {"full", 1}}}).find("'layer_types' must be a list of strings"),
            std::string::npos);
  EXPECT_NE(error_of({{"layer_types", {"a", "b"}}}, 3).find("layer_types has 2 entries for 3 layers"),
            std::string::npos);
  EXPECT_EQ(error_of({{"layer_types", {"a", "b", "c"}}}, 3), "");
  const std::string refused = error_of({{"add_cross_attention", true}});
  EXPECT_NE(refused.find("add_cross_attention = true is not supported (an encoder-decoder)"), std::string::npos);
  EXPECT_THROW(read_keys({{"add_cross_attention", true}}, table(), "c"), Unsupported);
  for (const std::string& e : {error_of({{"n_embd", "big"}}), refused}) {
    EXPECT_EQ(e.rfind("dir/config.json: ", 0), 0u) << e;
  }
  EXPECT_THROW(read_keys(Json::array(), table(), "c"), FormatError);
}

TEST(KeyTable, WithDefaultAndDuplicates) {
  const std::vector<KeySpec> t = with_default(table(), "hidden_size", 1024);
  EXPECT_EQ(read_keys(Json::object(), t, "c").integer("hidden_size"), 1024);
  EXPECT_THROW(with_default(table(), "nonesuch", 1), InvalidArgument);
  std::vector<KeySpec> twice = table();
  twice.push_back(twice.front());
  EXPECT_THROW(read_keys(Json::object(), twice, "c"), InvalidArgument);
}

}  // namespace
}  // namespace optimum::config
