// A causal language model with everything generation needs next to it: the
// engine (models::DecoderModel), its tokenizer, chat template and generation
// defaults, loaded from a checkpoint folder, a Hub id or a GGUF file (as
// transformers' from_pretrained(..., gguf_file=NAME) reads one: config,
// dequantized weights, the embedded tokenizer and chat template). The
// Python AutoModelForCausalLM, `optimum-cpp generate`, the text-generation
// pipeline and the server's OpenAI routes all load through this.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/generation/chat_template.h"
#include "optimum/generation/generation_config.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/decoder.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::generation {

struct LanguageModelOptions {
  // A GGUF file: its name inside the folder or Hub repository `model_id`
  // names. Empty: `model_id` is a checkpoint folder or Hub id (or itself a
  // path to a .gguf file).
  std::string gguf_file;
  // Precision of the projection Linears: "fp32" (default), "bf16", "int8".
  std::string dtype = "fp32";
  modeling::ResolveOptions hub;
  int num_threads = 0;  // 0 keeps the current setting
};

class LanguageModel {
 public:
  // Loads a checkpoint folder (config.json + weights + tokenizer files +
  // generation_config.json), a Hub id (downloaded into the shared cache) or a
  // GGUF file. Unsupported names a model_type / GGUF architecture the engine
  // lacks; NotFound names a missing file.
  static std::shared_ptr<const LanguageModel> from_pretrained(const std::string& model_id,
                                                             const LanguageModelOptions& options = {});

  std::shared_ptr<const models::CausalLM> causal_lm() const { return model_; }
  // The model behind OptimizedModel's session interface (a DecoderSession,
  // text-generation): a folder or Hub id loads through
  // OptimizedModel::from_pretrained like every architecture; a GGUF file's
  // decoder, converted in memory, is wrapped in the same session type.
  std::shared_ptr<const modeling::OptimizedModel> optimized_model() const { return optimized_; }
  const models::DecoderModel& model() const { return *model_; }
  const tokenizers::Tokenizer& tokenizer() const { return *tokenizer_; }
  // generation_config.json (or config.json's generation keys, or what
  // transformers derives from a GGUF file).
  const GenerationConfig& generation_config() const { return generation_config_; }
  // Null when the model has no chat template.
  const ChatTemplate* chat_template() const { return chat_template_.get(); }
  // config.json as the model holds it.
  const io::Json& config() const { return model_->config().raw; }
  // The folder or GGUF file loaded.
  const std::filesystem::path& path() const { return path_; }
  bool is_gguf() const { return gguf_; }

  // Token ids of `text` (with the tokenizer's special tokens when asked).
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Text of `ids`.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;
  // tokenizer.apply_chat_template(messages, tokenize=False, ...): the
  // tokenizer's special tokens (bos_token, eos_token, ...) are template
  // variables, `kwargs` (tools, documents, enable_thinking, ...) override
  // them. InvalidArgument when the model has no chat template.
  std::string apply_chat_template(const io::OrderedJson& messages, bool add_generation_prompt = false,
                                  const io::OrderedJson& kwargs = io::OrderedJson::object(),
                                  bool continue_final_message = false) const;

  // Writes a checkpoint folder transformers and this engine load:
  // config.json, model.safetensors (f32, the checkpoint's names),
  // tokenizer.json, tokenizer_config.json (with the chat template),
  // generation_config.json. What `optimum-cpp export --gguf-file` writes.
  void save_pretrained(const std::filesystem::path& dir) const;

 private:
  LanguageModel() = default;
  std::shared_ptr<const modeling::OptimizedModel> optimized_;
  std::shared_ptr<const models::DecoderModel> model_;  // the session's engine
  std::shared_ptr<const tokenizers::Tokenizer> tokenizer_;
  std::shared_ptr<const ChatTemplate> chat_template_;
  GenerationConfig generation_config_;
  io::Json generation_json_ = io::Json::object();
  io::Json tokenizer_json_;  // GGUF: the converted tokenizer.json document
  std::optional<io::WeightStore> weights_;  // GGUF: the converted weights (for save_pretrained)
  std::filesystem::path path_;
  bool gguf_ = false;
};

}  // namespace optimum::generation
