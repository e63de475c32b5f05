// config.json parsing: every supported model_type with its own key names and
// defaults, unknown keys kept, and errors that name the key (or the
// model_type) at fault.
#include "optimum/config/config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"
#include "test_util.h"

namespace optimum::config {
namespace {

// The specs are the architecture registry's (models/architecture.h),
// registered before the first test (not during static initialization).
class RegistryEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { models::register_architectures(); }
};
const auto* const kRegistry = ::testing::AddGlobalTestEnvironment(new RegistryEnvironment);

using test_util::TempDir;
using test_util::in_quotes;
using test_util::throws_with;
using test_util::write_bytes;

// The required keys of a BERT-style config, small sizes.
Json bert_like(const std::string& model_type) {
  return {{"model_type", model_type},   {"vocab_size", 1000},         {"hidden_size", 64},
          {"num_hidden_layers", 2},     {"num_attention_heads", 4},   {"intermediate_size", 128}};
}

// DistilBERT spells the same fields dim / n_layers / n_heads / hidden_dim.
Json distilbert() {
  return {{"model_type", "distilbert"}, {"vocab_size", 1000}, {"dim", 64},
          {"n_layers", 3},              {"n_heads", 8},       {"hidden_dim", 256}};
}

TEST(Config, SupportedModelTypesAreSorted) {
  EXPECT_EQ(supported_model_types(),
            (std::vector<std::string>{"albert", "bert", "camembert", "distilbert", "electra",
                                      "mpnet", "roberta", "vit", "xlm-roberta"}));
}

// ViTConfig: no vocab_size; image_size / patch_size as one integer or [height, width];
// the position table is the patch count + CLS.
TEST(Config, VitReadsImageGeometry) {
  const EncoderConfig c = parse_config(Json{{"model_type", "vit"}, {"image_size", Json::array({34, 24})},
                                            {"patch_size", 8}, {"hidden_size", 48}},
                                       "vit/config.json");
  EXPECT_TRUE(c.is_vision());
  EXPECT_EQ(c.image_height, 34);
  EXPECT_EQ(c.image_width, 24);
  EXPECT_EQ(c.patch_height, 8);
  EXPECT_EQ(c.num_patches(), 4 * 3);
  EXPECT_EQ(c.max_position_embeddings, 13);
  EXPECT_EQ(c.num_channels, 3);
  EXPECT_EQ(c.vocab_size, 0);
  EXPECT_EQ(c.num_hidden_layers, 12);  // ViTConfig's default
  EXPECT_TRUE(c.qkv_bias);
  try {
    parse_config(Json{{"model_type", "vit"}, {"image_size", 16}, {"patch_size", 32}}, "vit/config.json");
    FAIL() << "a patch larger than the image was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("patch_size 32x32 exceeds image_size 16x16"), std::string::npos) << e.what();
  }
}

TEST(Config, BertWithDefaults) {
  const EncoderConfig c = parse_config(bert_like("bert"), "bert/config.json");
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.source, "bert/config.json");
  EXPECT_EQ(c.vocab_size, 1000);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.embedding_size, 64);  // no factorized embeddings
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.num_labels, 2);
  EXPECT_TRUE(c.id2label.empty());
  EXPECT_EQ(c.problem_type, "");
  EXPECT_TRUE(c.architectures.empty());
}

TEST(Config, BertExplicitValuesWin) {
  Json j = bert_like("bert");
  j["max_position_embeddings"] = 128;
  j["type_vocab_size"] = 1;
  j["pad_token_id"] = 3;
  j["layer_norm_eps"] = 1e-5;
  j["hidden_act"] = "relu";
  j["architectures"] = {"BertForMaskedLM", "BertModel"};
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.max_position_embeddings, 128);
  EXPECT_EQ(c.type_vocab_size, 1);
  EXPECT_EQ(c.pad_token_id, 3);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.hidden_act, "relu");
  EXPECT_EQ(c.architectures, (std::vector<std::string>{"BertForMaskedLM", "BertModel"}));
}

TEST(Config, IntegerLayerNormEpsIsANumber) {
  Json j = bert_like("bert");
  j["layer_norm_eps"] = 0;
  EXPECT_DOUBLE_EQ(parse_config(j, "config.json").layer_norm_eps, 0.0);
}

TEST(Config, RobertaFamilyPadsWithOne) {
  for (const char* type : {"roberta", "xlm-roberta", "camembert"}) {
    const EncoderConfig c = parse_config(bert_like(type), "config.json");
    EXPECT_EQ(c.model_type, type);
    EXPECT_EQ(c.pad_token_id, 1) << type;
    EXPECT_EQ(c.hidden_size, 64) << type;
    EXPECT_EQ(c.embedding_size, 64) << type;
  }
  // roberta-base's own config.json values.
  Json j = bert_like("roberta");
  j["max_position_embeddings"] = 514;
  j["type_vocab_size"] = 1;
  j["layer_norm_eps"] = 1e-05;
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.max_position_embeddings, 514);
  EXPECT_EQ(c.type_vocab_size, 1);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
}

TEST(Config, DistilBertKeyNames) {
  Json j = distilbert();
  j["activation"] = "relu";
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.intermediate_size, 256);
  EXPECT_EQ(c.hidden_act, "relu");
  EXPECT_EQ(c.embedding_size, 64);
  EXPECT_EQ(c.type_vocab_size, 0);  // no token types
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(parse_config(distilbert(), "config.json").hidden_act, "gelu");
}

TEST(Config, ElectraEmbeddingSizeAndSummary) {
  Json j = bert_like("electra");
  j["embedding_size"] = 32;
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.embedding_size, 32);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.summary_type, "first");
  EXPECT_TRUE(c.summary_use_proj);
  EXPECT_EQ(c.summary_activation, "gelu");
  EXPECT_FALSE(c.summary_proj_to_labels);
  // ElectraConfig's default embedding_size.
  EXPECT_EQ(parse_config(bert_like("electra"), "config.json").embedding_size, 128);

  j["summary_type"] = "mean";
  j["summary_use_proj"] = false;
  j["summary_activation"] = "tanh";
  j["summary_proj_to_labels"] = true;
  const EncoderConfig s = parse_config(j, "config.json");
  EXPECT_EQ(s.summary_type, "mean");
  EXPECT_FALSE(s.summary_use_proj);
  EXPECT_EQ(s.summary_activation, "tanh");
  EXPECT_TRUE(s.summary_proj_to_labels);
}

TEST(Config, AlbertGroupsAndDefaults) {
  const EncoderConfig d = parse_config(bert_like("albert"), "config.json");
  EXPECT_EQ(d.hidden_act, "gelu_new");
  EXPECT_EQ(d.embedding_size, 128);
  EXPECT_EQ(d.num_hidden_groups, 1);
  EXPECT_EQ(d.inner_group_num, 1);

  Json j = bert_like("albert");
  j["embedding_size"] = 16;
  j["num_hidden_groups"] = 2;
  j["inner_group_num"] = 3;
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.embedding_size, 16);
  EXPECT_EQ(c.num_hidden_groups, 2);
  EXPECT_EQ(c.inner_group_num, 3);

  j["num_hidden_groups"] = 0;
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); },
                                       {"'num_hidden_groups'"}));
}

TEST(Config, MpnetBuckets) {
  const EncoderConfig d = parse_config(bert_like("mpnet"), "config.json");
  EXPECT_EQ(d.relative_attention_num_buckets, 32);
  EXPECT_EQ(d.pad_token_id, 1);
  Json j = bert_like("mpnet");
  j["relative_attention_num_buckets"] = 64;
  EXPECT_EQ(parse_config(j, "config.json").relative_attention_num_buckets, 64);
}

TEST(Config, UnknownKeysAreKeptInRaw) {
  Json j = bert_like("bert");
  j["my_custom_key"] = {{"nested", 42}};
  j["initializer_range"] = 0.02;
  j["hidden_dropout_prob"] = 0.1;
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.raw, j);
  EXPECT_EQ(c.raw["my_custom_key"]["nested"], 42);
  EXPECT_EQ(c.raw["initializer_range"], 0.02);
}

TEST(Config, MissingRequiredKeyIsNamed) {
  for (const char* key :
       {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"}) {
    Json j = bert_like("bert");
    j.erase(key);
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "m/config.json"); },
                                         {"m/config.json", in_quotes(key), "bert"}))
        << key;
    j[key] = nullptr;  // an explicit null is as good as missing
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "m/config.json"); },
                                         {in_quotes(key)}))
        << key;
  }
}

TEST(Config, DistilBertMissingKeyUsesItsOwnName) {
  for (const char* key : {"dim", "n_layers", "n_heads", "hidden_dim", "vocab_size"}) {
    Json j = distilbert();
    j.erase(key);
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); },
                                         {in_quotes(key), "distilbert"}))
        << key;
  }
  // BERT's spelling does not stand in for DistilBERT's.
  Json j = distilbert();
  j.erase("dim");
  j["hidden_size"] = 64;
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); }, {"'dim'"}));
}

TEST(Config, MissingOrBadModelType) {
  Json j = bert_like("bert");
  j.erase("model_type");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "x.json"); },
                                       {"x.json", "'model_type'"}));
  j["model_type"] = 3;
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "x.json"); },
                                       {"x.json", "'model_type'"}));
  EXPECT_TRUE(throws_with<FormatError>([] { (void)parse_config(Json::array(), "x.json"); },
                                       {"x.json"}));
}

TEST(Config, WrongTypeIsNamed) {
  const std::vector<std::pair<std::string, Json>> cases = {
      {"hidden_size", "64"},          {"hidden_size", 64.5},           {"vocab_size", true},
      {"num_attention_heads", Json::array({4})},   {"layer_norm_eps", "1e-12"},     {"hidden_act", 5},
      {"max_position_embeddings", "512"}, {"pad_token_id", 1.5},       {"type_vocab_size", "2"},
      {"summary_use_proj", "yes"},    {"summary_type", 1},             {"embedding_size", "128"},
  };
  for (const auto& [key, value] : cases) {
    Json j = bert_like("electra");
    j[key] = value;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "e/config.json"); },
                                         {"e/config.json", in_quotes(key)}))
        << key << " = " << value.dump();
  }
  Json d = distilbert();
  d["dim"] = "64";
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(d, "config.json"); }, {"'dim'"}));
  d = distilbert();
  d["activation"] = 1;
  EXPECT_TRUE(
      throws_with<FormatError>([&] { (void)parse_config(d, "config.json"); }, {"'activation'"}));
}

TEST(Config, NonPositiveSizesAreRejected) {
  for (const char* key : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                          "intermediate_size", "max_position_embeddings"}) {
    for (int v : {0, -4}) {
      Json j = bert_like("bert");
      j[key] = v;
      EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); },
                                           {in_quotes(key)}))
          << key << " = " << v;
    }
  }
}

TEST(Config, UnknownModelTypeListsSupported) {
  Json j = bert_like("gpt2");
  EXPECT_TRUE(throws_with<Unsupported>(
      [&] { (void)parse_config(j, "g/config.json"); },
      {"g/config.json", "'gpt2'", "albert, bert, camembert, distilbert, electra, mpnet, roberta, "
                                  "vit, xlm-roberta"}));
}

TEST(Config, HiddenSizeMustBeMultipleOfHeads) {
  Json j = bert_like("bert");
  j["hidden_size"] = 66;
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); },
                                       {"hidden_size", "66", "num_attention_heads", "4"}));
  Json d = distilbert();
  d["dim"] = 60;  // 60 % 8 != 0
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(d, "config.json"); }, {"60"}));
}

TEST(Config, Id2LabelSetsNumLabels) {
  Json j = bert_like("bert");
  j["id2label"] = {{"0", "NEG"}, {"1", "NEU"}, {"2", "POS"}};
  j["label2id"] = {{"NEG", 0}, {"NEU", 1}, {"POS", 2}};
  const EncoderConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.num_labels, 3);
  EXPECT_EQ(c.id2label.at(0), "NEG");
  EXPECT_EQ(c.id2label.at(2), "POS");

  Json n = bert_like("bert");
  n["num_labels"] = 5;
  EXPECT_EQ(parse_config(n, "config.json").num_labels, 5);
  n["id2label"] = nullptr;  // transformers writes null when unset
  EXPECT_EQ(parse_config(n, "config.json").num_labels, 5);
}

TEST(Config, BadId2Label) {
  const std::vector<Json> bad = {Json{{"x", "A"}}, Json{{"1a", "A"}}, Json{{"0", 1}},
                                 Json::array({"A", "B"})};
  for (const Json& labels : bad) {
    Json j = bert_like("bert");
    j["id2label"] = labels;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "l/config.json"); },
                                         {"l/config.json", "id2label"}))
        << labels.dump();
  }
}

TEST(Config, ProblemType) {
  for (const char* type : {"single_label_classification", "multi_label_classification",
                           "regression"}) {
    Json j = bert_like("bert");
    j["problem_type"] = type;
    EXPECT_EQ(parse_config(j, "config.json").problem_type, type);
  }
  Json j = bert_like("bert");
  j["problem_type"] = nullptr;
  EXPECT_EQ(parse_config(j, "config.json").problem_type, "");
  j["problem_type"] = "multi_label";
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)parse_config(j, "config.json"); },
                                       {"'problem_type'", "'multi_label'"}));
}

TEST(Config, LoadFromFolderOrFile) {
  TempDir dir;
  Json j = distilbert();
  j["architectures"] = {"DistilBertForSequenceClassification"};
  io::write_json(dir / "config.json", j);
  const EncoderConfig c = load_config(dir.path());
  EXPECT_EQ(c.model_type, "distilbert");
  EXPECT_EQ(c.source, (dir / "config.json").string());
  EXPECT_EQ(c.architectures.front(), "DistilBertForSequenceClassification");
  EXPECT_EQ(load_config(dir / "config.json").hidden_size, 64);
}

TEST(Config, LoadMissingFolderOrFileThrowsNotFound) {
  TempDir dir;
  const auto missing = dir / "no-such-model";
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)load_config(missing); }, {missing.string()}));
  // A folder without config.json names the file it looked for.
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)load_config(dir.path()); },
                                    {(dir / "config.json").string()}));
}

TEST(Config, DeeplyNestedConfigIsRefusedNotACrash) {
  TempDir dir;
  const size_t depth = 500'000;
  write_bytes(dir / "config.json", R"({"model_type": "bert", "hidden_size": )" +
                                       std::string(depth, '[') + std::string(depth, ']') + "}");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)load_config(dir.path()); },
                                       {(dir / "config.json").string()}));
}

TEST(Config, LoadMalformedOrInvalidFileNamesIt) {
  TempDir dir;
  write_bytes(dir / "config.json", "{\"model_type\": \"bert\",");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)load_config(dir.path()); },
                                       {(dir / "config.json").string()}));
  Json j = bert_like("bert");
  j.erase("hidden_size");
  io::write_json(dir / "config.json", j);
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)load_config(dir.path()); },
                                       {(dir / "config.json").string(), "'hidden_size'"}));
}

// transformers (Python's json) reads 1e400 as inf and loads such a config;
// nlohmann threw out_of_range 406 (std::terminate in the CLI).
TEST(Config, OutOfRangeNumbersLoadAsInfinity) {
  TempDir dir;
  std::string text = bert_like("bert").dump();
  text.insert(text.size() - 1, R"(, "layer_norm_eps": 1e400, "extra": [-1e999])");
  write_bytes(dir / "config.json", text);
  const EncoderConfig c = load_config(dir.path());
  EXPECT_EQ(c.layer_norm_eps, HUGE_VAL);
  EXPECT_EQ(c.raw["extra"][0].get<double>(), -HUGE_VAL);
}

// config.json as a symlink to /dev/zero grew without bound; as a FIFO it hung.
TEST(Config, ConfigThatIsNotARegularFileIsRefusedAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  TempDir fifo_dir;
  ASSERT_EQ(::mkfifo((fifo_dir / "config.json").c_str(), 0600), 0);
  EXPECT_TRUE(throws_with<IoError>([&] { (void)load_config(fifo_dir.path()); },
                                   {(fifo_dir / "config.json").string(), "not a regular file"}));
  TempDir zero_dir;
  std::filesystem::create_symlink("/dev/zero", zero_dir / "config.json");
  EXPECT_TRUE(throws_with<IoError>([&] { (void)load_config(zero_dir.path()); },
                                   {(zero_dir / "config.json").string(), "not a regular file"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace optimum::config
