// The Hub's upload-side answers (optimum/hub/lfs_protocol.h): what a
// well-formed reply gives, and a clear FormatError for each malformed one.
#include "optimum/hub/lfs_protocol.h"

#include <gtest/gtest.h>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum::hub::lfs {
namespace {

using test_util::throws_with;

const std::string kA(64, 'a');
const std::string kB(64, 'b');
const std::string kEndpoint = "http://127.0.0.1:8080";

std::map<std::string, BatchObject> batch(const std::string& objects) {
  return parse_batch_reply(R"({"objects": [)" + objects + "]}", {{kA, 300000}, {kB, 1}}, kEndpoint);
}

TEST(LfsProtocol, Preupload) {
  const auto modes = parse_preupload_reply(
      R"({"files": [{"path": "a.txt", "uploadMode": "regular", "shouldIgnore": false},
                    {"path": "w.bin", "uploadMode": "lfs", "shouldIgnore": null},
                    {"path": "x.tmp", "uploadMode": "lfs", "shouldIgnore": true}]})",
      {"a.txt", "w.bin", "x.tmp"});
  EXPECT_FALSE(modes.at("a.txt").lfs);
  EXPECT_TRUE(modes.at("w.bin").lfs);
  EXPECT_FALSE(modes.at("w.bin").ignore);
  EXPECT_TRUE(modes.at("x.tmp").ignore);
  EXPECT_TRUE(throws_with<FormatError>([] { parse_preupload_reply(R"({"files": []})", {"a.txt"}); },
                                       {"does not classify", "a.txt"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] { parse_preupload_reply(R"({"files": [{"path": "a", "uploadMode": "xet"}]})", {"a"}); },
      {"uploadMode", "xet"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] {
        parse_preupload_reply(R"({"files": [{"path": "a", "uploadMode": "lfs", "shouldIgnore": 1}]})", {"a"});
      },
      {"shouldIgnore"}));
  EXPECT_TRUE(throws_with<FormatError>([] { parse_preupload_reply("[1]", {"a"}); }, {"\"files\""}));
  EXPECT_TRUE(throws_with<FormatError>([] { parse_preupload_reply("{", {"a"}); }, {"preupload reply"}));
}

TEST(LfsProtocol, BatchReply) {
  const auto objects = batch(R"({"oid": ")" + kA + R"(", "size": 300000, "actions": {
      "upload": {"href": "https://huggingface.co/put?sig=1", "header": {"X-A": "1", "chunk_size": 7}},
      "verify": {"href": "https://hub.example/verify"}}},
    {"oid": ")" + kB + R"(", "size": 1})");
  const BatchObject& a = objects.at(kA);
  ASSERT_TRUE(a.upload && a.verify);
  EXPECT_EQ(a.upload->href, kEndpoint + "/put?sig=1");  // moved to the custom endpoint
  EXPECT_EQ(a.upload->header.at("chunk_size"), "7");
  EXPECT_EQ(a.verify->href, "https://hub.example/verify");
  EXPECT_FALSE(objects.at(kB).upload);  // already stored
  EXPECT_FALSE(objects.at(kB).error);

  const auto refused =
      batch(R"({"oid": ")" + kA + R"(", "size": 300000, "error": {"code": 422, "message": "no"}},
                                {"oid": ")" +
            kB + R"(", "size": 1})");
  EXPECT_EQ(refused.at(kA).error.value_or(""), "422 no");
}

TEST(LfsProtocol, MalformedBatchReplies) {
  const std::string b = R"({"oid": ")" + kB + R"(", "size": 1})";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {R"({"oid": ")" + kA + R"(", "size": -1}, )" + b, {"\"size\"", "-1", "300000"}},
      {R"({"oid": ")" + kA + R"(", "size": 1e30}, )" + b, {"\"size\""}},
      {R"({"oid": ")" + kA + R"(", "size": 300000.0}, )" + b, {"\"size\""}},
      {R"({"oid": ")" + std::string(64, 'c') + R"(", "size": 1}, )" + b, {"not asked for"}},
      {b + ", " + b, {"listed twice"}},
      {b, {"missing", kA}},
      {R"({"oid": ")" + kA + R"(", "size": 300000, "actions": {"verify": {"href": "http://x"}}}, )" + b,
       {"no \"upload\""}},
      {R"({"oid": ")" + kA + R"(", "size": 300000, "actions": {"upload": {"href": 5}}}, )" + b, {"\"href\""}},
      {R"({"oid": ")" + kA +
           R"(", "size": 300000, "actions": {"upload": {"href": "file:///etc/passwd"}}}, )" + b,
       {"only http and https", "file:///etc/passwd"}},
      {R"({"oid": ")" + kA + R"(", "size": 300000, "actions": {"upload": {"href": "javascript:x"}}}, )" + b,
       {"only http and https"}},
      {R"({"oid": ")" + kA + R"(", "size": 300000, "actions": {"upload": {"href": "http://a b"}}}, )" + b,
       {"only http and https"}},
      {R"({"oid": ")" + kA +
           R"(", "size": 300000, "actions": {"upload": {"href": "http://x", "header": [1]}}}, )" + b,
       {"\"header\"", "not an object"}},
      {R"({"oid": ")" + kA +
           R"(", "size": 300000, "actions": {"upload": {"href": "http://x", "header": {"k": -1}}}}, )" + b,
       {"neither a string nor a count"}},
  };
  for (const auto& [objects, needles] : cases) {
    EXPECT_TRUE(throws_with<FormatError>([&] { batch(objects); }, needles)) << objects;
  }
  EXPECT_TRUE(throws_with<FormatError>([] { parse_batch_reply(R"({"objects": 5})", {}, kEndpoint); },
                                       {"\"objects\""}));
}

TEST(LfsProtocol, MultipartPlan) {
  Action upload{
      "http://hub/complete",
      {{"chunk_size", "100"}, {"3", "http://s3/3"}, {"1", "http://s3/1"}, {"2", "https://huggingface.co/2"}}};
  const auto plan = multipart_plan(upload, 250, kEndpoint);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->chunk_size, 100u);
  EXPECT_EQ(plan->part_urls, (std::vector<std::string>{"http://s3/1", kEndpoint + "/2", "http://s3/3"}));
  EXPECT_FALSE(multipart_plan(Action{"http://x", {}}, 250, kEndpoint));     // basic transfer
  EXPECT_EQ(multipart_plan(upload, 300, kEndpoint)->part_urls.size(), 3u);  // an exact multiple
  EXPECT_TRUE(
      throws_with<FormatError>([&] { multipart_plan(upload, 301, kEndpoint); }, {"3 part URLs for 4 parts"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { multipart_plan(upload, 200, kEndpoint); }, {"part '3'"}));
  for (const char* bad : {"0", "-5", "", "1.5", "99999999999999999999"}) {
    upload.header["chunk_size"] = bad;
    EXPECT_TRUE(throws_with<FormatError>([&] { multipart_plan(upload, 250, kEndpoint); }, {"chunk_size"}))
        << bad;
  }
  upload.header = {{"chunk_size", "1"}, {"1", "http://s3/1"}};
  EXPECT_TRUE(throws_with<FormatError>([&] { multipart_plan(upload, 300'000, kEndpoint); },
                                       {"300000 parts", "limit of 10000"}));
  upload.header = {{"chunk_size", "100"}, {"01", "http://s3/1"}};
  EXPECT_TRUE(throws_with<FormatError>([&] { multipart_plan(upload, 100, kEndpoint); }, {"part '01'"}));
  upload.header = {{"chunk_size", "100"}, {"1", "ftp://s3/1"}};
  EXPECT_TRUE(
      throws_with<FormatError>([&] { multipart_plan(upload, 100, kEndpoint); }, {"only http and https"}));
}

TEST(LfsProtocol, ActionHeadersAndEndpoint) {
  const Action action{"http://x", {{"X-Amz-Acl", "private"}, {"chunk_size", "5"}, {"1", "http://p"}}};
  EXPECT_EQ(action_headers(action), std::vector<std::string>{"X-Amz-Acl: private"});
  EXPECT_TRUE(throws_with<FormatError>([] { action_headers(Action{"http://x", {{"X-A", "a\r\nEvil: 1"}}}); },
                                       {"X-A", "not a valid HTTP header"}));
  EXPECT_TRUE(throws_with<FormatError>([] { action_headers(Action{"http://x", {{"Bad Name", "1"}}}); },
                                       {"Bad Name"}));
  EXPECT_EQ(fix_endpoint("https://huggingface.co/x", kEndpoint), kEndpoint + "/x");
  EXPECT_EQ(fix_endpoint("https://huggingface.co.evil/x", kEndpoint), "https://huggingface.co.evil/x");
  EXPECT_EQ(fix_endpoint("https://huggingface.co/x", "https://huggingface.co"), "https://huggingface.co/x");
}

}  // namespace
}  // namespace optimum::hub::lfs
