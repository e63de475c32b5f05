// Fuzz target: OpenAI /v1/completions and /v1/chat/completions request
// bodies. The first byte picks the route (odd: chat); every request that
// parses is answered whole and as stream chunks.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/serving/protocol_generate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chat = (data[0] & 1) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  using namespace optimum::serving;
  optimum::fuzz::accept_or_refuse([&] {
    const GenerateCall call = openai_generate_call(body, chat);
    std::vector<GeneratedChoice> choices;
    for (size_t i = 0; i < call.prompt_count() * static_cast<size_t>(call.n); ++i) {
      // Alternatives as the engine gives them: -inf for a token a warper removed.
      choices.push_back({call.model, "stop",
                         {{call.model, -1.0, {{call.model, -1.0}, {"", -INFINITY}, {"", -2.0}}, i}}});
    }
    const std::string whole = openai_generate_response(call, "id", 1, choices, {1, 1});
    optimum::fuzz::touch(whole.data(), whole.size());
    const std::string chunk = openai_generate_chunk(call, "id", 1, {0, call.model, true, "length", {}});
    optimum::fuzz::touch(chunk.data(), chunk.size());
  });
  return 0;
}
