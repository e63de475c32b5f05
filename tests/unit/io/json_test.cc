// JSON helpers: errors name the file (and the parser's position), and
// write_json output reads back unchanged.
#include "optimum/io/json.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum::io {
namespace {

using test_util::read_bytes;
using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

TEST(Json, ReadsAFile) {
  TempDir dir;
  write_bytes(dir / "c.json", R"({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}})");
  const Json j = read_json(dir / "c.json");
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j["b"][0], true);
  EXPECT_TRUE(j["b"][1].is_null());
  EXPECT_EQ(j["b"][2], "x");
  EXPECT_EQ(j["c"]["d"], 2.5);
}

TEST(Json, MissingFileThrowsNotFoundNamingIt) {
  TempDir dir;
  const auto p = dir / "absent.json";
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)read_json(p); }, {p.string()}));
}

TEST(Json, MalformedFileThrowsFormatErrorNamingIt) {
  TempDir dir;
  const auto p = dir / "bad.json";
  write_bytes(p, "{\"a\": 1,\n \"b\": }");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_json(p); }, {p.string(), "line 2"}));
  write_bytes(p, "");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_json(p); }, {p.string()}));
  write_bytes(p, "{} {}");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_json(p); }, {p.string()}));
}

// nlohmann copies and prints values recursively: a hostile file nested a
// million deep must be refused before it can overflow the stack.
TEST(Json, DeepNestingIsRefused) {
  TempDir dir;
  const auto p = dir / "deep.json";
  const size_t depth = 1'000'000;
  write_bytes(p, "{\"a\": " + std::string(depth, '[') + std::string(depth, ']') + "}");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_json(p); }, {p.string(), "nested deeper"}));
  // 1000 levels are fine, and brackets inside strings do not count.
  const std::string ok = std::string(999, '[') + "\"[[[{{{\\\"[[[\"" + std::string(999, ']');
  const Json j = parse_json(ok, "ok");
  const Json* inner = &j;
  for (int i = 0; i < 998; ++i) inner = &(*inner)[0];
  EXPECT_EQ((*inner)[0], "[[[{{{\"[[[");
  EXPECT_TRUE(throws_with<FormatError>(
      [] { (void)parse_json(std::string(1001, '[') + std::string(1001, ']'), "src"); },
      {"src", "1000"}));
}

TEST(Json, DirectoryIsAnErrorNotACrash) {
  TempDir dir;
  EXPECT_TRUE(throws_with<Error>([&] { (void)read_json(dir.path()); }, {dir.path().string()}));
}

TEST(Json, ParseJsonNamesTheSource) {
  EXPECT_EQ(parse_json("[1, 2]", "inline")[1], 2);
  EXPECT_TRUE(throws_with<FormatError>([] { (void)parse_json("[1, 2", "my-source.json"); },
                                       {"my-source.json"}));
}

TEST(Json, WriteThenReadRoundTrips) {
  TempDir dir;
  const Json value = {{"name", "bert"}, {"n", 12}, {"eps", 1e-12}, {"list", {1, 2, 3}},
                      {"nested", {{"unicode", "\xc3\xa9\xe2\x82\xac"}}}};
  const auto p = dir / "out.json";
  write_json(p, value);
  EXPECT_EQ(read_json(p), value);
  const std::string text = read_bytes(p);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\n  \"eps\""), std::string::npos) << "2-space indent:\n" << text;
  write_json(p, Json::array());  // truncates the previous content
  EXPECT_EQ(read_json(p), Json::array());
}

TEST(Json, WriteIntoMissingFolderThrowsIoError) {
  TempDir dir;
  const auto p = dir / "no" / "out.json";
  EXPECT_TRUE(throws_with<IoError>([&] { write_json(p, Json::object()); }, {p.string()}));
}

// ---- one bounded, typed reading layer (issue 11) -----------------------------

// A FIFO must not block the reader (no writer ever comes) and /dev/zero behind
// a symlink must not be read without bound: only regular files are read.
TEST(Json, OnlyRegularFilesAreRead) {
  TempDir dir;
  const auto fifo = dir / "config.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(throws_with<IoError>([&] { (void)read_json(fifo); }, {fifo.string(), "not a regular file"}));
  const auto zero = dir / "tokenizer.json";
  std::filesystem::create_symlink("/dev/zero", zero);
  EXPECT_TRUE(throws_with<IoError>([&] { (void)read_json(zero); }, {zero.string(), "not a regular file"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // A symlink to a regular file is followed.
  write_bytes(dir / "real.json", "{\"a\": 1}");
  std::filesystem::create_symlink(dir / "real.json", dir / "link.json");
  EXPECT_EQ(read_json(dir / "link.json")["a"], 1);
}

TEST(Json, FilesOverTheSizeCapAreRefused) {
  TempDir dir;
  const auto p = dir / "big.json";
  std::string text(1002, ' ');
  text.front() = '[';
  text.back() = ']';
  write_bytes(p, text);
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_json(p, {.max_bytes = 100}); }, {p.string(), "100 bytes"}));
  EXPECT_EQ(read_json(p, {.max_bytes = 1002}), Json::array());
  EXPECT_EQ(kMaxJsonFileSize, uint64_t{1} << 30);
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_text_file(p, 10); }, {p.string(), "limit"}));
}

// nlohmann stops at a NUL byte as if the input ended there.
TEST(Json, NulBytesAreRefused) {
  EXPECT_TRUE(throws_with<FormatError>([] { (void)parse_json(std::string("{}\0\0\0", 5), "padded"); },
                                       {"padded", "NUL byte at byte 2"}));
  EXPECT_TRUE(throws_with<FormatError>([] { (void)parse_json(std::string("{}\0garbage", 10), "x"); }, {"NUL"}));
}

// Python's json (so transformers) reads 1e400 as inf; serde_json (tokenizers,
// safetensors) refuses it. nlohmann itself threw out_of_range 406, outside
// the project's errors.
TEST(Json, OutOfRangeNumbers) {
  const std::string text = R"({"eps": 1e400, "neg": -1E+999, "list": [1, 2e308], "ok": 1e-400, "s": "1e400"})";
  const Json j = parse_json(text, "config.json");
  EXPECT_EQ(j["eps"].get<double>(), HUGE_VAL);
  EXPECT_EQ(j["neg"].get<double>(), -HUGE_VAL);
  EXPECT_EQ(j["list"][1].get<double>(), HUGE_VAL);
  EXPECT_EQ(j["list"][0], 1);
  EXPECT_EQ(j["ok"].get<double>(), 0.0);
  EXPECT_EQ(j["s"], "1e400");
  const std::string digits(400, '9');
  EXPECT_EQ(parse_json("[" + digits + "]", "x")[0].get<double>(), HUGE_VAL);
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { (void)parse_json(text, "tokenizer.json", {NumberOverflow::kReject}); },
      {"tokenizer.json", "out of range"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] { (void)parse_json(R"({"model": {"dropout": [0, 1e400]}})", "tokenizer.json", {NumberOverflow::kReject}); },
      {"tokenizer.json: /model/dropout/1: number 1e400 is out of range"}));
  // Nothing else changes: a file without such numbers parses as before.
  EXPECT_EQ(parse_json(R"([1.5e300, -2, "e"])", "x", {NumberOverflow::kReject}), Json::parse(R"([1.5e300, -2, "e"])"));
}

// label2id's first "entail..." key depends on file order; the ordered read
// has the same limits and number semantics as read_json.
TEST(Json, OrderedReadKeepsKeyOrderWithTheSameLimits) {
  TempDir dir;
  write_bytes(dir / "config.json", R"({"label2id": {"zz": 0, "entail_z": 1, "entail_a": 2}, "eps": 1e400})");
  const OrderedJson j = read_ordered_json(dir / "config.json");
  std::vector<std::string> keys;
  for (const auto& [key, value] : j["label2id"].items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"zz", "entail_z", "entail_a"}));
  EXPECT_EQ(j["eps"].get<double>(), HUGE_VAL);
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { (void)read_ordered_json(dir / "config.json", {NumberOverflow::kReject}); },
      {(dir / "config.json").string() + ": /eps: number 1e400 is out of range"}));
  const auto fifo = dir / "fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(throws_with<IoError>([&] { (void)read_ordered_json(fifo); }, {fifo.string(), "not a regular file"}));
  write_bytes(dir / "bad.json", "{\"a\": ");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)read_ordered_json(dir / "bad.json"); },
                                       {"malformed JSON in " + (dir / "bad.json").string()}));
}

TEST(Json, DepthLimitIsAnOption) {
  EXPECT_EQ(parse_json("[[[1]]]", "x", {.max_depth = 3})[0][0][0], 1);
  EXPECT_TRUE(throws_with<FormatError>([] { (void)parse_json("[[[[1]]]]", "x", {.max_depth = 3}); },
                                       {"nested deeper than 3"}));
}

// Type and range errors of nlohmann (get<T>(), at()) become FormatError naming
// the source and the JSON path (JSON_DIAGNOSTICS is on for every target).
TEST(Json, WithJsonContextNamesFileAndPath) {
  const Json j = parse_json(R"({"model": {"vocab": {"foo": "x"}}, "list": [1, 2]})", "tokenizer.json");
  EXPECT_TRUE(throws_with<FormatError>([&] { with_json_context("tokenizer.json", [&] { return j["model"]["vocab"]["foo"].get<int>(); }); },
                                       {"tokenizer.json: /model/vocab/foo: type must be number, but is string"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { with_json_context("a.json", [&] { return j.at("list").at(5).get<int>(); }); },
                                       {"a.json: /list: array index 5 is out of range"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { with_json_context("a.json", [&] { return j.at("nope").get<int>(); }); },
                                       {"a.json: ", "key 'nope' not found"}));
  // The project's own errors pass through.
  EXPECT_TRUE(throws_with<NotFound>([&] { with_json_context("a.json", [&]() -> int { throw NotFound("x"); }); }, {"x"}));
  EXPECT_EQ(with_json_context("a.json", [&] { return j["list"][1].get<int>(); }), 2);
}

TEST(Json, ParseErrorsQuoteInvalidUtf8AsEscapes) {
  try {
    (void)parse_json("{\"a\": \xff\xfe}", "bad.json");
    FAIL() << "accepted";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\\xff"), std::string::npos) << what;
    EXPECT_EQ(what.find('\xff'), std::string::npos) << what;
  }
}

TEST(Json, TypedIdsRefuseWhatDoesNotFit) {
  EXPECT_EQ(json_u32(Json(5), "id"), 5u);
  EXPECT_EQ(json_u32(Json(4294967295ull), "id"), 4294967295u);
  for (const Json& bad : {Json(4294967301ull), Json(-1), Json(1.5), Json("5"), Json::array()}) {
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)json_u32(bad, "id of token 'x'"); }, {"id of token 'x'"}))
        << bad.dump();
  }
  EXPECT_EQ(json_count(Json(7), "n", 10), 7u);
  EXPECT_TRUE(throws_with<FormatError>([] { (void)json_count(Json(-1), "padding: Fixed", 10); }, {"padding: Fixed", "-1"}));
  EXPECT_TRUE(throws_with<FormatError>([] { (void)json_count(Json(11), "n", 10); }, {"[0, 10]"}));
}

}  // namespace
}  // namespace optimum::io
