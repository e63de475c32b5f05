// Fuzz target: TorchServe /predictions bodies (text, JSON, multipart/form-data)
// and the other JSON front ends (KServe v1, OpenAI embeddings). The input's
// first line is the Content-Type header, the rest the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/serving/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  const std::string_view content_type = eol == std::string_view::npos ? std::string_view() : input.substr(0, eol);
  const std::string_view body = eol == std::string_view::npos ? input : input.substr(eol + 1);
  using namespace optimum::serving;
  optimum::fuzz::accept_or_refuse([&] {
    const auto parts = parse_multipart(content_type, body, 64);
    for (const auto& p : parts) {
      optimum::fuzz::touch(p.data.data(), p.data.size());
      optimum::fuzz::touch(p.name.data(), p.name.size());
    }
  });
  optimum::fuzz::accept_or_refuse([&] {
    const InferCall call = torchserve_call(content_type, body, 64);
    InferResult result;
    result.outputs = call.inputs;
    const std::string response = torchserve_response(call, result);
    optimum::fuzz::touch(response.data(), response.size());
  });
  optimum::fuzz::accept_or_refuse([&] {  // an image model's bodies: bytes, base64 strings, {"b64": ...}
    InferCall call = torchserve_call(content_type, body, 64, true);
    image_inputs(call, "image-classification");
    for (const auto& in : call.inputs) {
      if (!in.is_binary()) __builtin_trap();
      optimum::fuzz::touch(in.get_binary().data(), in.get_binary().size());
    }
  });
  optimum::fuzz::accept_or_refuse([&] {
    InferCall call = v1_call(body, 64);
    image_inputs(call, "image-classification");
  });
  optimum::fuzz::accept_or_refuse([&] {
    const InferCall call = v1_call(body, 64);
    InferResult result;
    result.outputs = call.inputs;
    const std::string response = v1_response(result);
    optimum::fuzz::touch(response.data(), response.size());
  });
  optimum::fuzz::accept_or_refuse([&] {
    const EmbeddingsCall call = openai_embeddings_call(body, 64);
    InferResult result;
    for (size_t i = 0; i < call.call.inputs.size(); ++i) result.outputs.push_back({0.5, -1.0, double(i)});
    result.tokens.assign(call.call.inputs.size(), 2);
    const std::string response = openai_embeddings_response(call, result);
    optimum::fuzz::touch(response.data(), response.size());
  });
  return 0;
}
