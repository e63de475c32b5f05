// A GGUF file as transformers loads it with `from_pretrained(..., gguf_file=...)`
// (transformers 5.23: integrations/ggml.py's GGUF_CONFIG_MAPPING and
// modeling_gguf_pytorch_utils.load_gguf_checkpoint for the architectures
// that take its legacy path): the config dict, and the weights dequantized to
// f32 under their Hugging Face names, with llama's q/k rows un-permuted and
// gemma3's norm offsets removed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "optimum/io/gguf.h"
#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"

namespace optimum::models {

// What transformers takes from a GGUF file.
struct GgufCheckpoint {
  // load_gguf_checkpoint(path)["config"]: metadata keys renamed (model_type,
  // hidden_size, ..., bos/eos/unk/pad_token_id from the tokenizer keys),
  // tie_word_embeddings (no output.weight tensor), vocab_size (from the token
  // list when the file has no <arch>.vocab_size). Defaults of the config
  // class are not filled in: this is what config.json would hold.
  io::Json config;
  // f32 tensors named as the ForCausalLM model's state_dict (lm_head.weight,
  // model.layers.N....); GGUF tensors the model has no parameter for are left out.
  io::WeightStore weights;
  // GenerationConfig.from_model_config's keys present in `config`
  // (bos_token_id, eos_token_id, pad_token_id).
  io::Json generation_config;
  // chat_template, add_bos_token, add_eos_token when the file has them.
  io::Json tokenizer_config;
  // general.architecture as written in the file ("llama", "gemma3", ...).
  std::string architecture;
};

// GGUF architectures load_gguf_checkpoint converts: gemma3, llama, phi3, qwen2, qwen3.
std::vector<std::string> gguf_supported_architectures();

// Opens, validates and converts `file`. FormatError for a malformed file or a
// tensor that does not fit the config; Unsupported naming the architecture
// (and listing the supported ones) or naming a tensor and its ggml type.
GgufCheckpoint load_gguf_checkpoint(const std::filesystem::path& file);
// The same from a file already opened (its metadata then also serves the tokenizer).
GgufCheckpoint load_gguf_checkpoint(const io::GgufFile& gguf);

}  // namespace optimum::models
