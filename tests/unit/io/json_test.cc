// JSON helpers: errors name the file (and the parser's position), and
// write_json output reads back unchanged.
#include "optimum/io/json.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace optimum::io
