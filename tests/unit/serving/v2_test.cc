// KServe Open Inference Protocol v2: JSON and binary-tensor requests and responses.
#include <gtest/gtest.h>

#include <cstring>

#include "optimum/core/errors.h"
#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"
#include "test_util.h"

namespace optimum::serving {
namespace {

using test_util::throws_with;

std::string le32(uint32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}

// A request as tritonclient.http builds it with binary_data=True.
std::pair<std::string, size_t> binary_request(const std::string& json, const std::string& binary) {
  return {json + binary, json.size()};
}

TEST(V2, ImageInputIsBytesOrBase64) {
  EXPECT_EQ(task_signature("image-classification").inputs[0].name, "image");
  const std::string png("\x89PNG\r\n\x1a\n", 8);
  const auto [body, len] = binary_request(
      R"({"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 20}}]})",
      le32(8) + png + le32(4) + "aGk=");
  InferCall call = v2_call(parse_v2_request(body, len), "image-classification");
  ASSERT_EQ(call.inputs.size(), 2u);
  EXPECT_TRUE(call.inputs[0].is_binary());
  EXPECT_EQ(call.inputs[1], "aGk=");  // base64 text: decoded by image_inputs
  image_inputs(call, "image-classification");
  EXPECT_EQ(std::string(call.inputs[1].get_binary().begin(), call.inputs[1].get_binary().end()), "hi");
  const auto fp32 = parse_v2_request(
      R"({"inputs": [{"name": "image", "shape": [1], "datatype": "FP32", "data": [1]}]})", std::nullopt);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { v2_call(fp32, "image-classification"); }, {"datatype FP32, expected BYTES"}));
  const auto text = parse_v2_request(
      R"({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}]})", std::nullopt);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { v2_call(text, "image-classification"); }, {"takes: image"}));
}

TEST(V2, JsonRequestFlatAndNested) {
  const auto r = parse_v2_request(R"({"id": "r1", "inputs": [
      {"name": "text", "shape": [2], "datatype": "BYTES", "data": ["hello", "world"]},
      {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2.5], [3, 4]]},
      {"name": "b", "shape": [1], "datatype": "BOOL", "data": [true]},
      {"name": "i", "shape": [3], "datatype": "INT64", "data": [-1, 0, 9007199254740991]}],
    "outputs": [{"name": "output", "parameters": {"binary_data": true}}],
    "parameters": {"top_k": 2}})",
                                  std::nullopt);
  EXPECT_EQ(r.id, "r1");
  ASSERT_EQ(r.inputs.size(), 4u);
  EXPECT_EQ(r.inputs[0].bytes, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(r.inputs[1].numbers, (std::vector<double>{1, 2.5, 3, 4}));
  EXPECT_EQ(r.inputs[1].element_count(), 4u);
  EXPECT_EQ(r.inputs[2].numbers, (std::vector<double>{1}));
  EXPECT_EQ(r.inputs[3].numbers[2], 9007199254740991.0);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].binary_data);
  EXPECT_FALSE(r.binary_data_output);
  EXPECT_EQ(r.parameters["top_k"], 2);
}

TEST(V2, BinaryRequest) {
  const std::string json =
      R"({"inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES", "parameters": {"binary_data_size": 14}},)"
      R"({"name": "f", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}],)"
      R"("parameters": {"binary_data_output": true}})";
  float f[2] = {1.5f, -2.0f};
  const std::string binary = le32(2) + "hi" + le32(4) + "t\xc3\xa9t" + std::string(reinterpret_cast<char*>(f), 8);
  ASSERT_EQ(binary.size(), 22u);
  const auto [body, len] = binary_request(json, binary);
  const auto r = parse_v2_request(body, len);
  EXPECT_TRUE(r.binary_data_output);
  EXPECT_EQ(r.inputs[0].bytes, (std::vector<std::string>{"hi", "t\xc3\xa9t"}));
  ASSERT_TRUE(r.inputs[1].raw);
  EXPECT_EQ(*r.inputs[1].raw, std::string(reinterpret_cast<char*>(f), 8));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { v2_call(r, "text-classification"); }, {"unexpected input 'f'"}));
}

TEST(V2, HostileRequests) {
  auto bad = [](const std::string& body, std::optional<size_t> len, std::vector<std::string> needles) {
    return throws_with<InvalidArgument>([&] { parse_v2_request(body, len); }, needles);
  };
  EXPECT_TRUE(bad("", std::nullopt, {"empty"}));
  EXPECT_TRUE(bad("[1]", std::nullopt, {"JSON object"}));
  EXPECT_TRUE(bad("{\"inputs\": [", std::nullopt, {"v2 inference request"}));
  EXPECT_TRUE(bad("{}", std::nullopt, {"missing \"inputs\""}));
  EXPECT_TRUE(bad(R"({"inputs": []})", std::nullopt, {"empty"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"shape": [1], "datatype": "BYTES", "data": ["a"]}]})", std::nullopt,
                  {"inputs[0]", "missing \"name\""}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "STRING", "data": ["a"]}]})", std::nullopt,
                  {"'t'", "unknown datatype 'STRING'"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [-1], "datatype": "BYTES", "data": ["a"]}]})", std::nullopt,
                  {"'t'", "negative"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1.5], "datatype": "BYTES", "data": ["a"]}]})", std::nullopt,
                  {"shape"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [18446744073709551615], "datatype": "BYTES", "data": []}]})",
                  std::nullopt, {"shape"}));
  // Huge shapes: refused by count, nothing allocated from the shape.
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [4294967296, 4294967296], "datatype": "FP32", "data": [1]}]})",
                  std::nullopt, {"more than"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1000000000], "datatype": "FP32", "data": [1]}]})",
                  std::nullopt, {"holds 1 elements", "needs 1000000000"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "FP32", "data": [1, 2]}]})", std::nullopt,
                  {"more elements than shape [1]"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "data": [1]}]})", std::nullopt,
                  {"must be strings"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "INT8", "data": [300]}]})", std::nullopt,
                  {"out of range for INT8"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "UINT32", "data": [-1]}]})", std::nullopt,
                  {"out of range"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "INT32", "data": [1.5]}]})", std::nullopt,
                  {"integers"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BOOL", "data": [1]}]})", std::nullopt,
                  {"true or false"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES"}]})", std::nullopt,
                  {"no \"data\""}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "parameters": 1, "data": ["a"]}]})",
                  std::nullopt, {"parameters"}));
  std::string rank = R"({"inputs": [{"name": "t", "datatype": "BYTES", "data": ["a"], "shape": [)";
  for (int i = 0; i < 40; ++i) rank += i ? ",1" : "1";
  EXPECT_TRUE(bad(rank + "]}]}", std::nullopt, {"40 dimensions"}));
  const std::string deep = R"({"inputs": [{"name": "t", "shape": [1], "datatype": "FP32", "data": )" +
                           std::string(200, '[') + "1" + std::string(200, ']') + "}]}";
  EXPECT_TRUE(bad(deep, std::nullopt, {"nested deeper"}));
  EXPECT_TRUE(throws_with<Unsupported>(
      [] {
        parse_v2_request(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES",)"
                         R"("parameters": {"shared_memory_region": "r"}}]})",
                         std::nullopt);
      },
      {"shared memory"}));
  EXPECT_TRUE(bad(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "data": ["a"]}],)"
                  R"("outputs": [{"name": "output"}, {"name": "output"}]})",
                  std::nullopt, {"outputs[1]", "'output' requested twice"}));
  EXPECT_TRUE(throws_with<Unsupported>(
      [] {
        parse_v2_request(R"({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "data": ["a"]}],)"
                         R"("outputs": [{"name": "output", "parameters": {"classification": 3}}]})",
                         std::nullopt);
      },
      {"classification"}));

  // Binary: header length past the body, sizes past the buffer, truncated
  // lengths, count and size mismatches, leftover bytes.
  const auto bytes_input = [](size_t size, const std::string& shape) {
    return R"({"inputs": [{"name": "text", "shape": )" + shape +
           R"(, "datatype": "BYTES", "parameters": {"binary_data_size": )" + std::to_string(size) + "}}]}";
  };
  std::string json = bytes_input(6, "[1]");
  EXPECT_TRUE(bad(json + le32(2) + "hi", json.size() + 7, {"Inference-Header-Content-Length", "exceeds"}));
  EXPECT_TRUE(bad(json + le32(2), json.size(), {"binary_data_size 6 exceeds the 4 bytes"}));
  EXPECT_TRUE(bad(json + le32(9) + "hi", json.size(), {"'text'", "length 9 past the end"}));
  json = bytes_input(3, "[1]");
  EXPECT_TRUE(bad(json + std::string("\x02\x00\x00", 3), json.size(), {"truncated 4-byte length"}));
  json = bytes_input(6, "[2]");
  EXPECT_TRUE(bad(json + le32(2) + "hi", json.size(), {"1 elements, its shape needs 2"}));
  json = bytes_input(12, "[1]");
  EXPECT_TRUE(bad(json + le32(2) + "hi" + le32(2) + "yo", json.size(), {"bytes left after the 1 elements"}));
  json = bytes_input(6, "[1]");
  EXPECT_TRUE(bad(json + le32(2) + "hi" + "extra", json.size(), {"5 bytes of binary data after"}));
  json = bytes_input(6, "[1000000000000]");
  EXPECT_TRUE(bad(json + le32(2) + "hi", json.size(), {"1 elements, its shape needs 1000000000000"}));
  json = R"({"inputs": [{"name": "f", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]})";
  EXPECT_TRUE(bad(json + std::string(8, '\0'), json.size(), {"binary_data_size 8 does not match shape [3]"}));
  json = R"({"inputs": [{"name": "f", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": -4}}]})";
  EXPECT_TRUE(bad(json, json.size(), {"binary_data_size must be"}));
  json = R"({"inputs": [{"name": "f", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}]})";
  EXPECT_TRUE(bad(json + "abcd", json.size(), {"both"}));
}

TEST(V2, CallFromSignature) {
  auto req = parse_v2_request(
      R"({"inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES", "data": ["a", "b"]}],
          "parameters": {"top_k": 3, "binary_data_output": true, "priority": 1, "triton_x": 2}})",
      std::nullopt);
  auto call = v2_call(req, "text-classification");
  EXPECT_EQ(call.inputs, (std::vector<Json>{"a", "b"}));
  EXPECT_EQ(call.options, (Json{{"top_k", 3}}));

  req = parse_v2_request(R"({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]},
                                         {"name": "text_pair", "shape": [1], "datatype": "BYTES", "data": ["b"]}]})",
                         std::nullopt);
  call = v2_call(req, "text-classification");
  EXPECT_EQ(call.inputs[0], (Json{{"text", "a"}, {"text_pair", "b"}}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { v2_call(req, "token-classification"); },
                                           {"unexpected input 'text_pair'"}));

  req = parse_v2_request(R"({"inputs": [{"name": "question", "shape": [1], "datatype": "BYTES", "data": ["q"]},
                                         {"name": "context", "shape": [1], "datatype": "BYTES", "data": ["c"]}]})",
                         std::nullopt);
  call = v2_call(req, "question-answering");
  EXPECT_EQ(call.inputs[0], (Json{{"question", "q"}, {"context", "c"}}));

  auto bad_call = [](const std::string& body, const std::string& task, std::vector<std::string> needles) {
    const auto r = parse_v2_request(body, std::nullopt);
    return throws_with<InvalidArgument>([&] { v2_call(r, task); }, needles);
  };
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "question", "shape": [1], "datatype": "BYTES", "data": ["q"]}]})",
                       "question-answering", {"missing input 'context'"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "question", "shape": [1], "datatype": "BYTES", "data": ["q"]},
                                      {"name": "context", "shape": [2], "datatype": "BYTES", "data": ["c", "d"]}]})",
                       "question-answering", {"'question' has 1 elements"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1]}]})",
                       "text-embedding", {"input 'text'", "datatype FP32, expected BYTES"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "text", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]})",
                       "text-embedding", {"shape [1, 2]"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "text", "shape": [0], "datatype": "BYTES", "data": []}]})",
                       "text-embedding", {"no elements"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]},
                                      {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}]})",
                       "text-embedding", {"given twice"}));
  EXPECT_TRUE(bad_call(R"({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}],
                           "outputs": [{"name": "logits"}]})",
                       "text-embedding", {"unknown output 'logits'"}));
  // Invalid UTF-8 only arrives in binary BYTES.
  const std::string json =
      R"({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 11}}]})";
  const auto r = parse_v2_request(json + le32(1) + "a" + le32(2) + "\xff\xfe", json.size());
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { v2_call(r, "text-embedding"); },
                                           {"input 'text' element 1", "UTF-8"}));
}

TEST(V2, Signatures) {
  const auto e = task_signature("text-embedding", 384);
  ASSERT_EQ(e.outputs.size(), 1u);
  EXPECT_EQ(e.outputs[0].name, "embedding");
  EXPECT_EQ(e.outputs[0].datatype, "FP32");
  EXPECT_EQ(e.outputs[0].shape, (std::vector<int64_t>{-1, 384}));
  EXPECT_EQ(e.inputs[0].name, "text");
  EXPECT_EQ(e.inputs[0].datatype, "BYTES");
  const auto c = task_signature("text-classification");
  EXPECT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.outputs[0].name, "output");
  EXPECT_EQ(c.outputs[0].datatype, "BYTES");
  EXPECT_EQ(c.outputs[0].shape, (std::vector<int64_t>{-1}));
  const auto q = task_signature("question-answering");
  EXPECT_EQ(q.inputs[1].name, "context");
}

TEST(V2, ResponsesJsonAndBinary) {
  auto req = parse_v2_request(R"({"id": "7", "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
                                  "data": ["a", "b"]}]})",
                              std::nullopt);
  InferResult result;
  result.outputs = {Json::array({0.5, 1.0}), Json::array({-1.0, 0.1})};
  auto response = v2_response(req, result, "minilm", "1", "text-embedding");
  auto [body, len] = serialize_v2_response(response);
  EXPECT_FALSE(len);
  Json j = Json::parse(body);
  EXPECT_EQ(j["model_name"], "minilm");
  EXPECT_EQ(j["model_version"], "1");
  EXPECT_EQ(j["id"], "7");
  EXPECT_EQ(j["outputs"][0]["name"], "embedding");
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["shape"], Json::array({2, 2}));
  EXPECT_EQ(j["outputs"][0]["data"][3].get<double>(), static_cast<double>(0.1f));

  req.binary_data_output = true;
  response = v2_response(req, result, "minilm", "1", "text-embedding");
  std::tie(body, len) = serialize_v2_response(response);
  ASSERT_TRUE(len);
  j = Json::parse(body.substr(0, *len));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 16);
  EXPECT_FALSE(j["outputs"][0].contains("data"));
  float f[4];
  ASSERT_EQ(body.size() - *len, 16u);
  std::memcpy(f, body.data() + *len, 16);
  EXPECT_EQ(f[1], 1.0f);
  EXPECT_EQ(f[3], 0.1f);

  req.binary_data_output = false;
  req.outputs = {{"output", true}};
  result.outputs = {Json{{"label", "A"}}, Json::array({Json{{"label", "B"}}})};
  response = v2_response(req, result, "clf", "", "text-classification");
  std::tie(body, len) = serialize_v2_response(response);
  ASSERT_TRUE(len);
  const std::string raw = body.substr(*len);
  EXPECT_EQ(decode_bytes_raw(raw, 2, "output"),
            (std::vector<std::string>{R"({"label":"A"})", R"([{"label":"B"}])"}));
  req.outputs = {{"output", false}};
  std::tie(body, len) = serialize_v2_response(v2_response(req, result, "clf", "", "text-classification"));
  j = Json::parse(body);
  EXPECT_EQ(j["outputs"][0]["data"][0], R"({"label":"A"})");
  EXPECT_EQ(j["outputs"][0]["shape"], Json::array({2}));

  result.outputs = {Json::array({1.0}), Json::array({1.0, 2.0})};
  EXPECT_THROW(v2_response(parse_v2_request(R"({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
                                  "data": ["a", "b"]}]})",
                                            std::nullopt),
                           result, "m", "1", "text-embedding"),
               ServingError);
  EXPECT_EQ(v2_error("bad input"), R"({"error":"bad input"})");
}

TEST(V2, BytesRawRoundTrip) {
  const std::vector<std::string> elements = {"", "a", std::string("\0\xff", 2), std::string(70000, 'x')};
  const std::string raw = encode_bytes_raw(elements);
  EXPECT_EQ(raw.substr(0, 4), le32(0));
  EXPECT_EQ(raw.substr(4, 5), le32(1) + "a");
  EXPECT_EQ(decode_bytes_raw(raw, 4, "t"), elements);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { decode_bytes_raw(raw, 3, "t"); }, {"tensor 't'", "left after"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { decode_bytes_raw(raw, 5, "t"); }, {"4 elements"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { decode_bytes_raw(raw.substr(0, raw.size() - 1), 4, "t"); },
                                           {"element 3", "past the end"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { decode_bytes_raw(le32(0xFFFFFFFF), 1, "t"); }, {"past the end"}));
  EXPECT_EQ(decode_bytes_raw("", 0, "t").size(), 0u);
  // A huge expected count with a tiny buffer allocates nothing big.
  EXPECT_THROW(decode_bytes_raw(le32(0), size_t{1} << 60, "t"), InvalidArgument);
}

}  // namespace
}  // namespace optimum::serving
