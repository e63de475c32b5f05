// The tokenizer a GGUF file embeds in its metadata (llama.cpp's
// `tokenizer.ggml.*` keys), converted into a tokenizer.json document the way
// transformers' `AutoTokenizer.from_pretrained(dir, gguf_file=NAME)` builds its
// backend tokenizer (transformers/integrations/gguf/gguf_tokenizer_mapping.py
// and the tokenizer class AutoTokenizer picks for the architecture), plus the
// tokenizer_config settings it derives (special tokens, add_bos_token,
// add_eos_token, chat_template, padding_side).
//
// The conversion works on the GGUF key/value table as JSON
// (io::GgufFile::metadata(): integers, doubles, bools, strings and arrays of
// them); tokenizer_from_gguf_file reads it from a file. Tokenizer models: "gpt2" (byte-level BPE)
// and "llama" (sentencepiece BPE; gemma/gemma2/gemma3 and phi3 architectures
// get their own variants); others are Unsupported. Malformed metadata
// (missing or mistyped keys, length mismatches, ids out of range, malformed
// merges) is a FormatError naming `source` and the key.
#pragma once

#include <filesystem>
#include <string>

#include "optimum/io/json.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::tokenizers {

// The tokenizer.json document (version, added_tokens, normalizer,
// pre_tokenizer, post_processor, decoder, model) transformers' backend
// tokenizer serializes to for this metadata.
io::Json gguf_tokenizer_json(const io::Json& metadata, const std::string& source);

// The tokenizer_config settings transformers derives from this metadata:
// bos/eos/unk/pad tokens (and Gemma's mask token), add_bos_token (true by
// default for a "llama" vocabulary), add_eos_token, chat_template (from
// `tokenizer.chat_template`), padding_side of the tokenizer class; no
// model_max_length (transformers leaves it unbounded). `raw` holds the same
// as a tokenizer_config.json object.
TokenizerConfig gguf_tokenizer_config(const io::Json& metadata, const std::string& source);

// gguf_tokenizer_json loaded as a Tokenizer, with gguf_tokenizer_config applied.
Tokenizer tokenizer_from_gguf(const io::Json& metadata, const std::string& source);

// The tokenizer embedded in the GGUF file at `path` (read with io::GgufFile;
// errors name the file).
Tokenizer tokenizer_from_gguf_file(const std::filesystem::path& path);

}  // namespace optimum::tokenizers
