// Fuzz target: KServe v2 inference requests, JSON and binary-tensor. An input
// that starts with '#' has the Inference-Header-Content-Length as its first
// line ("#123\n"), then the body; any other input is a plain JSON body. Each
// request that parses goes through v2_call for every task signature and, when
// that succeeds, through v2_response and serialize_v2_response (image tasks:
// through image_inputs too).
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/serving/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::optional<size_t> header_length;
  if (body.starts_with("#")) {
    const size_t eol = body.find('\n');
    if (eol == std::string_view::npos) return 0;
    size_t n = 0;
    const auto [p, ec] = std::from_chars(body.data() + 1, body.data() + eol, n);
    if (ec != std::errc() || p != body.data() + eol) return 0;
    header_length = n;
    body.remove_prefix(eol + 1);
  }
  using namespace optimum::serving;
  optimum::fuzz::accept_or_refuse([&] {
    const V2Request request = parse_v2_request(body, header_length);
    for (const auto& t : request.inputs) {
      for (const auto& b : t.bytes) optimum::fuzz::touch(b.data(), b.size());
      if (t.raw) optimum::fuzz::touch(t.raw->data(), t.raw->size());
    }
    for (const char* task : {"text-embedding", "question-answering", "text-classification", "image-classification"}) {
      optimum::fuzz::accept_or_refuse([&] {
        InferCall call = v2_call(request, task);
        if (task_takes_images(task)) image_inputs(call, task);
        InferResult result;
        for (size_t i = 0; i < call.inputs.size(); ++i) {
          result.outputs.push_back(std::string_view(task) == "text-embedding" ? Json{0.25, double(i)} : call.inputs[i]);
        }
        const auto [out, length] = serialize_v2_response(v2_response(request, result, "m", "1", task));
        optimum::fuzz::touch(out.data(), out.size());
        if (length && *length > out.size()) __builtin_trap();
      });
    }
  });
  return 0;
}
