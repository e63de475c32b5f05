// Fuzz target: a chat template (the first line of the input is a JSON array of
// messages when it parses as one), compiled and rendered with small limits.
// A TemplateError or InvalidArgument is a clean refusal; anything else, a
// hang or unbounded growth is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/generation/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  optimum::fuzz::accept_or_refuse([&] {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array(
        {{{"role", "system"}, {"content", "sys"}}, {{"role", "user"}, {"content", "Hi 😀"}},
         {{"role", "assistant"}, {"content", "Hello"}, {"reasoning_content", "r"}}});
    std::string_view source = input;
    const size_t nl = input.find('\n');
    if (nl != std::string_view::npos && nl > 0 && input[0] == '[') {
      try {
        messages = optimum::generation::parse_ordered_json(input.substr(0, nl), "fuzz messages");
        source = input.substr(nl + 1);
      } catch (const optimum::Error&) {
      }
    }
    optimum::generation::jinja::Limits limits;
    limits.max_output_bytes = 1 << 20;
    limits.max_loop_iterations = 20'000;
    limits.max_call_depth = 16;
    limits.max_range = 10'000;
    const optimum::generation::ChatTemplate chat_template(source, limits);
    const auto out = chat_template.render(
        messages, true, nlohmann::ordered_json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"enable_thinking", false}});
    optimum::fuzz::touch(out.data(), out.size());
  });
  return 0;
}
