// Fuzz target: tokenizer.json loading and encoding. A file that loads
// encodes a few fixed texts (ASCII, accents, CJK, emoji, a pair) and a slice
// of the input itself (arbitrary, possibly invalid UTF-8), then decodes the ids.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/tokenizers/tokenizer.h"

namespace {

constexpr std::string_view kTexts[] = {
    "Hello, world! This is a test.",
    "  The quick brown fox   jumps over the lazy dog 123,456.78 ",
    "na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\xa4\x97 [MASK] <s> [CLS] don't",
    "",
};

// Largest slice of the input encoded as text.
constexpr size_t kMaxSlice = 256;

void encode_and_decode(const optimum::tokenizers::Tokenizer& tok, std::string_view text,
                       std::optional<std::string_view> pair = std::nullopt) {
  optimum::fuzz::accept_or_refuse([&] {
    const auto enc = tok.encode(text, pair);
    for (const auto& t : enc.tokens) optimum::fuzz::touch(t.data(), t.size());
    const std::string decoded = tok.decode(enc.ids);
    optimum::fuzz::touch(decoded.data(), decoded.size());
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static optimum::fuzz::InputFile file("tokenizer.json");
  const auto& path = file.write(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto tok = optimum::tokenizers::Tokenizer::from_file(path);
    for (std::string_view text : kTexts) encode_and_decode(tok, text);
    encode_and_decode(tok, kTexts[0], kTexts[2]);
    const size_t n = std::min(size, kMaxSlice);
    encode_and_decode(tok, std::string_view(reinterpret_cast<const char*>(data) + size - n, n));
  });
  return 0;
}
