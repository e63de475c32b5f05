// The serving protocol codecs from the command line, so that Python tests can
// check them against the real clients (tritonclient, openai) without a server:
//   serving_protocol_tool v2-request BODY HEADER_LENGTH|- TASK
//       -> {"request": {...}, "call": {"inputs", "options"}} (or "call_error")
//   serving_protocol_tool v2-response BODY HEADER_LENGTH|- RESULTS TASK OUT
//       -> writes the response body to OUT, prints {"header_length": n|null}
//   serving_protocol_tool openai-response REQUEST RESULTS  -> the response body
//   serving_protocol_tool torchserve CONTENT_TYPE BODY     -> {"inputs", "options", "batched"}
// RESULTS is {"outputs": [...], "tokens": [...]}. A refused input prints
// {"error": {"type", "message"}} and exits 2.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "optimum/serving/protocol.h"
#include "optimum/serving/status.h"

namespace {

using optimum::serving::Json;
namespace serving = optimum::serving;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<size_t> header_length(const std::string& arg) {
  if (arg == "-") return std::nullopt;
  return std::stoull(arg);
}

// Bytes as a JSON array of numbers (BYTES elements need not be UTF-8).
Json byte_list(const std::string& s) {
  Json out = Json::array();
  for (unsigned char c : s) out.push_back(c);
  return out;
}

Json tensor_json(const serving::V2Tensor& t) {
  Json j = {{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}, {"parameters", t.parameters}};
  Json bytes = Json::array();
  for (const auto& b : t.bytes) bytes.push_back(byte_list(b));
  j["bytes"] = bytes;
  j["numbers"] = t.numbers;
  j["raw"] = t.raw ? byte_list(*t.raw) : Json(nullptr);
  return j;
}

serving::InferResult results(const std::string& path) {
  const Json j = Json::parse(read_file(path));
  serving::InferResult r;
  r.outputs = j.at("outputs").get<std::vector<Json>>();
  if (j.contains("tokens")) r.tokens = j.at("tokens").get<std::vector<size_t>>();
  return r;
}

int run(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "v2-request" && argc == 5) {
    const auto request = serving::parse_v2_request(read_file(argv[2]), header_length(argv[3]));
    Json inputs = Json::array();
    for (const auto& t : request.inputs) inputs.push_back(tensor_json(t));
    Json outputs = Json::array();
    for (const auto& o : request.outputs) outputs.push_back({{"name", o.name}, {"binary_data", o.binary_data}});
    Json out = {{"request",
                 {{"id", request.id},
                  {"parameters", request.parameters},
                  {"binary_data_output", request.binary_data_output},
                  {"inputs", inputs},
                  {"outputs", outputs}}}};
    try {
      const auto call = serving::v2_call(request, argv[4]);
      out["call"] = {{"inputs", call.inputs}, {"options", call.options}};
    } catch (const optimum::Error& e) {
      out["call_error"] = e.what();
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (mode == "v2-response" && argc == 7) {
    const auto request = serving::parse_v2_request(read_file(argv[2]), header_length(argv[3]));
    const auto response = serving::v2_response(request, results(argv[4]), "model", "1", argv[5]);
    const auto [body, length] = serving::serialize_v2_response(response);
    std::ofstream(argv[6], std::ios::binary) << body;
    std::cout << Json{{"header_length", length ? Json(*length) : Json(nullptr)}}.dump() << "\n";
    return 0;
  }
  if (mode == "openai-response" && argc == 4) {
    const auto call = serving::openai_embeddings_call(read_file(argv[2]));
    std::cout << serving::openai_embeddings_response(call, results(argv[3])) << "\n";
    return 0;
  }
  if (mode == "torchserve" && argc == 4) {
    const auto call = serving::torchserve_call(argv[2], read_file(argv[3]));
    std::cout << Json{{"inputs", call.inputs}, {"options", call.options}, {"batched", call.batched}}.dump() << "\n";
    return 0;
  }
  std::cerr << "usage: see the comment at the top of tests/serving/protocol_tool.cc\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const optimum::Error& e) {
    const auto status = serving::classify(std::current_exception());
    std::cout << Json{{"error", {{"type", status.type}, {"message", status.message}, {"http", status.http}}}}.dump()
              << "\n";
    return 2;
  }
}
