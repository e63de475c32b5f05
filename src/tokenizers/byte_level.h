// GPT-2's byte <-> unicode mapping used by the ByteLevel pre-tokenizer,
// normalizer and decoder (internal to the tokenizers layer).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace optimum::tokenizers {

// For each byte value, the UTF-8 encoding of the printable character that
// stands for it (tokenizers' bytes_char()).
const std::array<std::string, 256>& bytes_to_unicode_strings();
// The byte a mapped character stands for; nullopt for other characters.
std::optional<uint8_t> unicode_to_byte(char32_t c);

}  // namespace optimum::tokenizers
