// UTF-8 and Unicode character properties (utf8proc), with the definitions
// the Rust standard library and tokenizers use (char::is_whitespace,
// is_alphanumeric, BERT's punctuation and CJK tests).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::tokenizers::unicode {

// Decodes one code point at `pos`, advancing it. Invalid bytes decode as
// U+FFFD and advance by one byte.
char32_t next_char(std::string_view s, size_t& pos);
// Byte length of the UTF-8 encoding of c.
size_t char_len(char32_t c);
// Appends the UTF-8 encoding of c.
void append_utf8(std::string& out, char32_t c);
std::string to_utf8(char32_t c);
// All code points of s.
std::u32string decode(std::string_view s);
// True if s is valid UTF-8.
bool is_valid_utf8(std::string_view s);
// Byte offsets -> character offsets table: result[b] = number of chars
// before byte b (size s.size() + 1).
std::vector<size_t> byte_to_char_index(std::string_view s);

bool is_whitespace(char32_t c);   // Rust char::is_whitespace (White_Space property)
bool is_alphabetic(char32_t c);   // Rust char::is_alphabetic
bool is_numeric(char32_t c);      // Rust char::is_numeric (Nd, Nl, No)
bool is_alphanumeric(char32_t c);
bool is_control(char32_t c);      // BERT's _is_control: Cc/Cf/Cn/Co except \t \n \r
bool is_punctuation(char32_t c);  // BERT's: ASCII punctuation or Unicode P*
bool is_chinese_char(char32_t c); // BERT's CJK ideograph blocks
bool is_mark_nonspacing(char32_t c);  // category Mn (StripAccents)
// Rust char::to_lowercase (may yield several chars).
std::u32string to_lowercase(char32_t c);

}  // namespace optimum::tokenizers::unicode
