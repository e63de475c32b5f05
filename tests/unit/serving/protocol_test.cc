// TorchServe bodies, multipart/form-data, KServe v1 and OpenAI embeddings.
#include <gtest/gtest.h>

#include <cstring>

#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "test_util.h"

namespace optimum::serving {
namespace {

using test_util::throws_with;

// ---------------- TorchServe ----------------

TEST(TorchServe, PlainTextIsOneInput) {
  auto call = torchserve_call("text/plain", "Hello world");
  ASSERT_EQ(call.inputs.size(), 1u);
  EXPECT_EQ(call.inputs[0], "Hello world");
  EXPECT_FALSE(call.batched);
  call = torchserve_call("", "{\"not\": json");  // no content type: text
  EXPECT_EQ(call.inputs[0], "{\"not\": json");
  call = torchserve_call("application/octet-stream", "bytes");
  EXPECT_EQ(call.inputs[0], "bytes");
}

TEST(TorchServe, ImageBodies) {
  const std::string png("\x89PNG\r\n\x1a\n\xff\x00", 10);
  auto call = torchserve_call("image/png", png, 1024, true);  // raw bytes, any non-JSON type
  ASSERT_EQ(call.inputs.size(), 1u);
  ASSERT_TRUE(call.inputs[0].is_binary());
  EXPECT_EQ(std::string(call.inputs[0].get_binary().begin(), call.inputs[0].get_binary().end()), png);
  EXPECT_TRUE(torchserve_call("", png, 1024, true).inputs[0].is_binary());
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("image/png", "", 1024, true); }, {"expected an encoded image"}));
  // the same body for a text model is refused as text
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { torchserve_call("image/png", png, 1024, false); }, {"UTF-8"}));
  // multipart: file parts are bytes; JSON stays JSON (image_inputs decodes base64)
  const std::string body = "--b\r\nContent-Type: image/png\r\n\r\n" + png +
                           "\r\n--b\r\nContent-Type: application/json\r\n\r\n\"aGk=\"\r\n--b--\r\n";
  call = torchserve_call("multipart/form-data; boundary=b", body, 1024, true);
  ASSERT_EQ(call.inputs.size(), 2u);
  EXPECT_TRUE(call.inputs[0].is_binary());
  EXPECT_EQ(call.inputs[1], "aGk=");
  image_inputs(call, "image-classification");
  EXPECT_EQ(std::string(call.inputs[1].get_binary().begin(), call.inputs[1].get_binary().end()), "hi");
}

TEST(ImageInputs, Base64OnlyNeverPaths) {
  InferCall call;
  call.inputs = {Json("aGk="), Json{{"b64", "aGk="}}};
  image_inputs(call, "image-classification");
  for (const auto& in : call.inputs) EXPECT_TRUE(in.is_binary());
  for (const Json& bad : {Json("/etc/passwd"), Json(3), Json{{"b64", 1}}, Json{{"path", "aGk="}}, Json("")}) {
    InferCall c;
    c.inputs = {bad};
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { image_inputs(c, "image-classification"); }, {"image-classification input 0"}))
        << bad.dump();
  }
}

TEST(TorchServe, JsonShapes) {
  auto call = torchserve_call("application/json", "\"just a string\"");
  ASSERT_EQ(call.inputs.size(), 1u);
  EXPECT_EQ(call.inputs[0], "just a string");

  call = torchserve_call("application/json; charset=utf-8", R"(["a", "b", "c"])");
  ASSERT_EQ(call.inputs.size(), 3u);
  EXPECT_TRUE(call.batched);
  EXPECT_EQ(call.inputs[2], "c");

  call = torchserve_call("application/json", R"({"question": "q?", "context": "c."})");
  ASSERT_EQ(call.inputs.size(), 1u);
  EXPECT_EQ(call.inputs[0]["question"], "q?");

  call = torchserve_call("APPLICATION/JSON", R"({"inputs": ["x", "y"], "parameters": {"top_k": 2}})");
  ASSERT_EQ(call.inputs.size(), 2u);
  EXPECT_EQ(call.options["top_k"], 2);

  call = torchserve_call("application/json", R"({"data": "one"})");
  ASSERT_EQ(call.inputs.size(), 1u);
  EXPECT_EQ(call.inputs[0], "one");
  EXPECT_FALSE(call.batched);
  call = torchserve_call("application/json", R"({"body": {"text": "t", "text_pair": "p"}})");
  EXPECT_EQ(call.inputs[0]["text_pair"], "p");
}

TEST(TorchServe, HostileBodies) {
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("text/plain", ""); }, {"empty"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "  \n"); }, {"empty"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("text/plain", "ab\xff\xfe"); },
                                           {"request body", "UTF-8", "byte 2"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("text/plain", "\xc0\xaf"); }, {"UTF-8"}));  // overlong
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("text/plain", "\xed\xa0\x80"); }, {"UTF-8"}));  // surrogate
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "{\"a\": "); }, {"JSON"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "\"\xff\""); }, {"request body"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "[]"); }, {"empty list"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "null"); }, {"null"}));
  EXPECT_TRUE(
      throws_with<InvalidArgument>([] { torchserve_call("application/json", R"({"inputs": [1], "parameters": 3})"); },
                                   {"parameters"}));
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { torchserve_call("application/json", deep); }, {"nested deeper"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { torchserve_call("application/json", "[1,2,3]", 2); },
                                           {"3 inputs", "limit of 2"}));
}

TEST(TorchServe, ResponseIsTheResultOrTheList) {
  InferCall one;
  one.inputs = {"a"};
  InferResult r;
  r.outputs = {Json{{"label", "POSITIVE"}, {"score", 0.5}}};
  EXPECT_EQ(torchserve_response(one, r), R"({"label":"POSITIVE","score":0.5})");
  one.batched = true;
  EXPECT_EQ(torchserve_response(one, r), R"([{"label":"POSITIVE","score":0.5}])");
  InferCall two;
  two.inputs = {"a", "b"};
  EXPECT_THROW(torchserve_response(two, r), ServingError);
  r.outputs.push_back(Json("bad \xff piece"));
  EXPECT_EQ(torchserve_response(two, r), "[{\"label\":\"POSITIVE\",\"score\":0.5},\"bad \xEF\xBF\xBD piece\"]");
}

// ---------------- multipart ----------------

std::string form(const std::string& boundary, const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string body = "preamble\r\n";
  for (const auto& [headers, data] : parts) body += "--" + boundary + "\r\n" + headers + "\r\n\r\n" + data + "\r\n";
  return body + "--" + boundary + "--\r\nepilogue";
}

TEST(Multipart, Parts) {
  const std::string body = form("XyZ", {{"Content-Disposition: form-data; name=\"data\"", "first text"},
                                        {"content-disposition: form-data; name=\"f\"; filename=\"a;b.txt\"\r\n"
                                         "Content-Type: text/plain",
                                         "line1\r\nline2 --XyZ not a boundary"},
                                        {"Content-Disposition: form-data; name=j\r\nContent-Type: application/json",
                                         "{\"text\": \"t\"}"}});
  const auto parts = parse_multipart("multipart/form-data; boundary=\"XyZ\"", body);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "data");
  EXPECT_EQ(parts[0].data, "first text");
  EXPECT_EQ(parts[1].filename, "a;b.txt");
  EXPECT_EQ(parts[1].content_type, "text/plain");
  EXPECT_EQ(parts[1].data, "line1\r\nline2 --XyZ not a boundary");
  EXPECT_EQ(parts[2].name, "j");

  const auto call = torchserve_call("multipart/form-data; boundary=XyZ", body);
  ASSERT_EQ(call.inputs.size(), 3u);
  EXPECT_TRUE(call.batched);
  EXPECT_EQ(call.inputs[0], "first text");
  EXPECT_EQ(call.inputs[2]["text"], "t");
  // Empty part data and a part without headers.
  const auto empty = parse_multipart("multipart/form-data; boundary=b", "--b\r\n\r\n\r\n--b--");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].data, "");
}

TEST(Multipart, Hostile) {
  const std::string ok = form("b", {{"Content-Disposition: form-data; name=\"x\"", "v"}});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data", ok); }, {"no boundary"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data; boundary=", ok); },
                                           {"no boundary"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { parse_multipart("multipart/form-data; boundary=" + std::string(71, 'a'), ok); }, {"70"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data; boundary=other", ok); },
                                           {"no boundary 'other'"}));
  // Unterminated: no closing delimiter.
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { parse_multipart("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data\r\n\r\nvalue"); },
      {"part 0", "unterminated"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { parse_multipart("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data"); },
      {"unterminated headers"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data; boundary=b", "--bX"); },
                                           {"no CRLF"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data; boundary=b", "--b--"); },
                                           {"no parts"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { parse_multipart("multipart/form-data; boundary=b", "--b\r\nno colon\r\n\r\nv\r\n--b--"); },
      {"without ':'"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        parse_multipart("multipart/form-data; boundary=b", "--b\r\nX: " + std::string(20000, 'h') + "\r\n\r\nv\r\n--b--");
      },
      {"headers longer"}));
  std::string many;
  for (int i = 0; i < 5; ++i) many += "--b\r\n\r\nv\r\n";
  many += "--b--";
  EXPECT_EQ(parse_multipart("multipart/form-data; boundary=b", many).size(), 5u);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { parse_multipart("multipart/form-data; boundary=b", many, 4); },
                                           {"more than 4 parts"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { torchserve_call("multipart/form-data; boundary=b", "--b\r\n\r\n\xff\r\n--b--"); },
      {"multipart part 0", "UTF-8"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        torchserve_call("multipart/form-data; boundary=b",
                        "--b\r\nContent-Type: application/json\r\n\r\n{bad\r\n--b--");
      },
      {"multipart part 0"}));
}

// ---------------- KServe v1 ----------------

TEST(V1, InstancesAndPredictions) {
  const auto call = v1_call(R"({"instances": ["a", {"text": "b", "text_pair": "c"}]})");
  ASSERT_EQ(call.inputs.size(), 2u);
  EXPECT_EQ(call.inputs[1]["text_pair"], "c");
  InferResult r;
  r.outputs = {Json::array({1, 2}), Json("x")};
  EXPECT_EQ(v1_response(r), R"({"predictions":[[1,2],"x"]})");
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call("[1]"); }, {"instances"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call(R"({"inputs": []})"); }, {"missing \"instances\""}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call(R"({"instances": "a"})"); }, {"must be a list"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call(R"({"instances": []})"); }, {"empty"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call(R"({"instances": [null]})"); }, {"instances[0]"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call(R"({"instances": [1, 2, 3]})", 2); }, {"limit of 2"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { v1_call("{"); }, {"v1 predict request"}));
}

// ---------------- OpenAI ----------------

TEST(OpenAI, EmbeddingsRequest) {
  auto e = openai_embeddings_call(R"({"input": "hello", "model": "minilm"})");
  ASSERT_EQ(e.call.inputs.size(), 1u);
  EXPECT_FALSE(e.call.batched);
  EXPECT_EQ(e.model, "minilm");
  EXPECT_FALSE(e.base64);
  EXPECT_FALSE(e.dimensions);
  e = openai_embeddings_call(
      R"({"input": ["a", "b"], "model": "m", "encoding_format": "base64", "dimensions": 384, "user": "u"})");
  EXPECT_EQ(e.call.inputs.size(), 2u);
  EXPECT_TRUE(e.base64);
  EXPECT_EQ(e.dimensions, 384);

  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"model": "m"})"); }, {"missing \"input\""}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"input": "a"})"); }, {"missing \"model\""}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"input": [1, 2], "model": "m"})"); },
                                           {"input[0]", "token-id"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"input": [[1, 2]], "model": "m"})"); },
                                           {"token-id"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"input": "", "model": "m"})"); },
                                           {"empty string"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call(R"({"input": [], "model": "m"})"); },
                                           {"empty list"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { openai_embeddings_call(R"({"input": "a", "model": "m", "encoding_format": "int8"})"); },
      {"encoding_format", "int8"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { openai_embeddings_call(R"({"input": "a", "model": "m", "dimensions": -3})"); }, {"dimensions"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { openai_embeddings_call(R"({"input": "a", "model": "m", "dimensions": 1.5})"); }, {"dimensions"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { openai_embeddings_call(R"({"input": ["a", "b", "c"], "model": "m"})", 2); }, {"limit of 2"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { openai_embeddings_call("[]"); }, {"JSON object"}));
}

TEST(OpenAI, EmbeddingsResponse) {
  EmbeddingsCall call;
  call.model = "m";
  call.call.inputs = {"a", "b"};
  InferResult r;
  r.outputs = {Json::array({1.0, -0.5}), Json::array({Json::array({0.25, 2.0})})};
  r.tokens = {3, 4};
  const Json j = Json::parse(openai_embeddings_response(call, r));
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "m");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 7);
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1]["object"], "embedding");
  EXPECT_EQ(j["data"][1]["index"], 1);
  EXPECT_EQ(j["data"][1]["embedding"], Json::array({0.25, 2.0}));

  call.base64 = true;
  const Json b = Json::parse(openai_embeddings_response(call, r));
  // 1.0f, -0.5f little-endian: 00 00 80 3f, 00 00 00 bf.
  EXPECT_EQ(b["data"][0]["embedding"], "AACAPwAAAL8=");

  r.outputs[1] = Json("not an embedding");
  EXPECT_THROW(openai_embeddings_response(call, r), ServingError);
}

TEST(OpenAI, ErrorBody) {
  const Json j = Json::parse(openai_error("model 'x' not found", "NotFound", 404));
  EXPECT_EQ(j["error"]["message"], "model 'x' not found");
  EXPECT_EQ(j["error"]["type"], "NotFound");
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["code"], 404);
}

}  // namespace
}  // namespace optimum::serving
