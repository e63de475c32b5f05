// Loading tokenizer.json and the legacy folder files: the standard BERT
// template (object-form pieces, as every tokenizers-saved BERT has), ids that
// must fit 32 bits, bounded padding/truncation settings, nlohmann type errors
// named by file and JSON path, and files that are not regular. These run under
// ASan/UBSan in `make asan-test` (the template once read a destroyed temporary).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/tokenizers/tokenizer.h"
#include "test_util.h"

namespace optimum::tokenizers {
namespace {

using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

// A BERT tokenizer.json as tokenizers 0.23 saves it (TemplateProcessing with
// {"SpecialToken": ...} / {"Sequence": ...} pieces).
io::Json bert_json() {
  return io::parse_json(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "##s": 6}}
  })", "bert");
}

TEST(TokenizerJson, StandardBertTemplate) {
  const Tokenizer t = Tokenizer::from_json(bert_json(), "tokenizer.json");
  const Encoding e = t.encode("Hello worlds", std::string_view("hello"), true);
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{2, 4, 5, 6, 3, 4, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<uint32_t>{0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "hello", "world", "##s", "[SEP]", "hello", "[SEP]"}));
}

// nlohmann's get<uint32_t>() truncated 2^32 + 5 to 5; tokenizers refuses it.
// encode_batch with per-call EncodeSettings equals the same settings
// configured on the tokenizer (enable_truncation / enable_padding), leaves the
// tokenizer's own settings alone, and refuses a stride beyond the window.
TEST(TokenizerJson, PerCallSettingsEqualConfiguredOnesAndChangeNothing) {
  const Tokenizer t = Tokenizer::from_json(bert_json(), "tokenizer.json");
  Tokenizer configured = Tokenizer::from_json(bert_json(), "tokenizer.json");
  const std::vector<EncodeInput> in = {{"hello worlds hello worlds", std::nullopt},
                                       {"hello", std::string("worlds worlds hello")},
                                       {"world", std::nullopt}};
  TruncationParams trunc;
  trunc.max_length = 6;
  trunc.stride = 1;
  PaddingParams pad;
  pad.pad_id = 0;
  pad.pad_token = "[PAD]";
  EncodeSettings settings;
  settings.truncation = trunc;
  settings.padding = pad;
  configured.enable_truncation(trunc);
  configured.enable_padding(pad);
  const auto got = t.encode_batch(in, settings);
  const auto want = configured.encode_batch(in, true);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ids, want[i].ids) << i;
    EXPECT_EQ(got[i].attention_mask, want[i].attention_mask) << i;
    ASSERT_EQ(got[i].overflowing.size(), want[i].overflowing.size()) << i;
    for (size_t k = 0; k < got[i].overflowing.size(); ++k) {
      EXPECT_EQ(got[i].overflowing[k].ids, want[i].overflowing[k].ids);
    }
  }
  EXPECT_FALSE(t.truncation().has_value());
  EXPECT_FALSE(t.padding().has_value());
  // No settings: the configured ones do not apply either (a transformers call without truncation).
  const auto plain = configured.encode_batch(in, EncodeSettings{});
  EXPECT_EQ(plain[0].ids, t.encode("hello worlds hello worlds").ids);
  settings.truncation->stride = 9;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { t.encode_batch(in, settings); }, {"stride"}));
}

TEST(TokenizerJson, IdsBeyond32BitsOrNegativeAreRefused) {
  for (const io::Json& id : {io::Json(4294967301ull), io::Json(-1)}) {
    io::Json j = bert_json();
    j["added_tokens"][1]["id"] = id;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); },
                                         {"tok.json", "[CLS]", id.dump()}));
    j = bert_json();
    j["post_processor"]["special_tokens"]["[SEP]"]["ids"][0] = id;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); },
                                         {"tok.json", "[SEP]", id.dump()}));
    j = bert_json();
    j["post_processor"]["single"][1]["Sequence"]["type_id"] = id;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); }, {"type_id", id.dump()}));
    j = bert_json();
    j["model"]["vocab"]["hello"] = id;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); }, {"hello", id.dump()}));
  }
  io::Json j = bert_json();
  j["post_processor"]["single"] = "[CLS]:4294967296 $A [SEP]";
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); }, {"[CLS]:4294967296"}));
}

// padding.Fixed = -1 surfaced as std::length_error("vector::_M_fill_insert").
TEST(TokenizerJson, NegativeOrAbsurdLengthsAreRefused) {
  const io::Json padding = {{"strategy", "BatchLongest"}, {"direction", "Right"}, {"pad_to_multiple_of", nullptr},
                            {"pad_id", 0},                {"pad_type_id", 0},     {"pad_token", "[PAD]"}};
  const io::Json truncation = {{"max_length", 8}, {"stride", 0}, {"strategy", "LongestFirst"}, {"direction", "Right"}};
  struct Case {
    const char* section;
    io::Json base;
    io::Json::json_pointer field;
    io::Json value;
    const char* named;
  };
  const std::vector<Case> cases = {
      {"padding", padding, io::Json::json_pointer("/strategy"), {{"Fixed", -1}}, "Fixed"},
      {"padding", padding, io::Json::json_pointer("/strategy"), {{"Fixed", 1ull << 40}}, "Fixed"},
      {"padding", padding, io::Json::json_pointer("/strategy"), {{"Fixed", "8"}}, "Fixed"},
      {"padding", padding, io::Json::json_pointer("/pad_to_multiple_of"), -8, "pad_to_multiple_of"},
      {"padding", padding, io::Json::json_pointer("/pad_id"), -1, "pad_id"},
      {"padding", padding, io::Json::json_pointer("/pad_type_id"), 1ull << 33, "pad_type_id"},
      {"truncation", truncation, io::Json::json_pointer("/stride"), -1, "stride"},
      {"truncation", truncation, io::Json::json_pointer("/max_length"), -1, "max_length"},
  };
  for (const Case& c : cases) {
    io::Json j = bert_json();
    j[c.section] = c.base;
    j[c.section][c.field] = c.value;
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); },
                                         {"tok.json", c.section, c.named}))
        << c.section << c.field.to_string() << " = " << c.value.dump();
  }
  io::Json j = bert_json();
  j["padding"] = padding;
  j["padding"]["strategy"] = {{"Fixed", 6}};
  const Encoding e = Tokenizer::from_json(j, "tok.json").encode("hello", std::nullopt, true);
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{2, 4, 3, 0, 0, 0}));
}

// A wrong JSON type that only nlohmann notices (value("special", false) on a
// string) names the file and the JSON path instead of escaping as type_error.
TEST(TokenizerJson, TypeErrorsNameFileAndJsonPath) {
  io::Json j = bert_json();
  j["added_tokens"][0]["special"] = "yes";
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_json(j, "tok.json"); },
                                       {"tok.json: /added_tokens/0/special: type must be boolean, but is string"}));
}

TEST(TokenizerJson, FilesThatAreNotRegularOrOutOfRange) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::mkfifo((dir / "tokenizer.json").c_str(), 0600), 0);
  EXPECT_TRUE(throws_with<IoError>([&] { (void)Tokenizer::from_file(dir / "tokenizer.json"); },
                                   {"tokenizer.json", "not a regular file"}));
  TempDir legacy;
  std::filesystem::create_symlink("/dev/zero", legacy / "vocab.txt");
  EXPECT_TRUE(throws_with<IoError>([&] { (void)Tokenizer::from_pretrained(legacy.path()); },
                                   {"vocab.txt", "not a regular file"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // tokenizers (serde_json) refuses a number beyond double's range.
  TempDir big;
  std::string text = bert_json().dump();
  text.insert(text.size() - 1, R"(, "extra": [1e400])");
  write_bytes(big / "tokenizer.json", text);
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)Tokenizer::from_file(big / "tokenizer.json"); },
                                       {"tokenizer.json", "/extra/0", "out of range"}));
}

}  // namespace
}  // namespace optimum::tokenizers
