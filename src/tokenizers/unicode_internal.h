// Character classes some components need beyond unicode.h (internal to the
// tokenizers layer).
#pragma once

namespace optimum::tokenizers::unicode {

// Rust regex's \w, which tokenizers' Whitespace pre-tokenizer splits on:
// Alphabetic, marks, Nd, Pc and the joiners.
bool is_regex_word(char32_t c);
// unicode-normalization's is_combining_mark (Mn, Mc, Me), which the
// StripAccents normalizer removes; BertNormalizer removes only Mn.
bool is_combining_mark(char32_t c);
// UnicodeScripts' script class of c (tokenizers' own, older table): equal
// ids mean the same script; 0 is Script::Any.
int script_class(char32_t c);

}  // namespace optimum::tokenizers::unicode
