// Model folders without tokenizer.json, and the folder-level files that
// transformers reads next to it (tokenizer_config.json,
// special_tokens_map.json, added_tokens.json).
#pragma once

#include <filesystem>

#include "optimum/tokenizers/tokenizer.h"

namespace optimum::tokenizers::legacy {

// The tokenizer.json transformers would build from vocab.txt (BERT
// WordPiece) or vocab.json + merges.txt (GPT-2 / RoBERTa byte-level BPE).
// NotFound names the folder and the files looked for.
Json convert_folder(const std::filesystem::path& folder);

// Reads the folder-level files into tokenizer.config() and adds the special
// and added tokens they declare that the tokenizer does not have yet.
void apply_folder_config(const std::filesystem::path& folder, Tokenizer& tokenizer);

}  // namespace optimum::tokenizers::legacy
