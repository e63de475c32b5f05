// text-generation: transformers' TextGenerationPipeline over the decoder
// engine. An input is a prompt string or a chat (a list of {role, content}
// messages, rendered with the model's chat template); the answer is one
// {"generated_text": ...} per returned sequence: the prompt followed by the
// new text (return_full_text, the default), only the new text, or for a
// chat the messages with the assistant's answer appended. Generation
// options are generate()'s, over the model's generation_config.json and the
// pipeline's own defaults (max_new_tokens 256, sampling at temperature 0.7
// when the model's config does not say). A batch of inputs with the same
// options generates as one ragged batch.
#include <map>

#include "optimum/core/errors.h"
#include "optimum/generation/generate.h"
#include "optimum/generation/language_model.h"
#include "optimum/pipelines/text_generation.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

using generation::GenerationConfig;
using generation::LanguageModel;

// Options the pipeline itself reads; every other key goes to generate().
const std::set<std::string>& pipeline_keys() {
  static const std::set<std::string> keys = {"return_full_text", "return_text", "return_tensors", "prefix",
                                             "add_special_tokens", "continue_final_message", "skip_special_tokens",
                                             "clean_up_tokenization_spaces", "tools", "documents"};
  return keys;
}

std::set<std::string> known_keys() {
  std::set<std::string> keys = pipeline_keys();
  for (const auto& k : generation::generation_option_names()) keys.insert(k);
  return keys;
}

struct Prepared : PreparedInput {
  Json prompt;                  // the input as given (string or messages)
  bool chat = false;
  bool continue_final = false;
  std::vector<int64_t> ids;
  GenerationConfig config;
  std::string group;            // inputs with equal generate options run together
  bool full_text = true;
  bool tensors = false;
  bool skip_special = true;
  generation::GenerationOutput result;
};

class TextGeneration : public Pipeline {
 public:
  TextGeneration(std::shared_ptr<const LanguageModel> lm, const Json& defaults) : lm_(std::move(lm)) {
    task_ = "text-generation";
    tokenizer_ = std::shared_ptr<const tokenizers::Tokenizer>(lm_, &lm_->tokenizer());
    set_defaults(defaults);
    // transformers' TextGenerationPipeline._default_generation_config, for
    // the keys the model's own generation config leaves unset.
    base_ = lm_->generation_config();
    const Json own = base_.to_json();
    if (!base_.max_new_tokens && !base_.max_length) base_.max_new_tokens = 256;
    if (!own.contains("do_sample") || !own.contains("temperature")) {
      base_.do_sample = true;
      base_.temperature = 0.7;
    }
  }

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    Options opts(task_, defaults_, without_batch_size(call), known_keys());
    auto p = std::make_unique<Prepared>();
    Json gen = Json::object();
    for (auto it = opts.merged().begin(); it != opts.merged().end(); ++it) {
      if (!pipeline_keys().count(it.key())) gen[it.key()] = it.value();
    }
    p->config = base_;
    p->config.update(gen, task_ + " options");
    p->config.validate();
    p->group = gen.dump();
    p->tensors = opts.get_bool("return_tensors", false);
    const bool return_text = opts.get_bool("return_text", true);
    p->full_text = opts.get_bool("return_full_text", true) && return_text;
    p->skip_special = opts.get_bool("skip_special_tokens", true);
    p->prompt = input;
    if (input.is_string()) {
      const std::string prefix = opts.get_string("prefix", "");
      p->ids = lm_->encode(prefix + input.get<std::string>(), opts.get_bool("add_special_tokens", true));
    } else if (input.is_array() || (input.is_object() && input.contains("messages"))) {
      const Json& messages = input.is_array() ? input : input["messages"];
      if (messages.empty() || !messages.is_array()) throw InvalidArgument(task_ + ": a chat needs at least one message");
      for (size_t i = 0; i < messages.size(); ++i) {
        if (!messages[i].is_object() || !messages[i].contains("role")) {
          throw InvalidArgument(task_ + ": chat message " + std::to_string(i) + " must be an object with a role");
        }
      }
      p->chat = true;
      p->prompt = messages;
      const Json& last = messages.back();
      p->continue_final = opts.has("continue_final_message") && !opts.get("continue_final_message").is_null()
                              ? opts.get_bool("continue_final_message", false)
                              : last.value("role", "") == "assistant";
      io::OrderedJson kwargs = io::OrderedJson::object();
      for (const char* k : {"tools", "documents"}) {
        if (opts.has(k) && !opts.get(k).is_null()) kwargs[k] = io::OrderedJson::parse(opts.get(k).dump());
      }
      const std::string text = lm_->apply_chat_template(io::OrderedJson::parse(messages.dump()), !p->continue_final,
                                                        kwargs, p->continue_final);
      p->ids = lm_->encode(text, false);
    } else {
      throw InvalidArgument(task_ + ": an input must be a prompt string or a list of chat messages, got " +
                            input.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    if (p->ids.empty()) throw InvalidArgument(task_ + ": the prompt tokenized to no tokens");
    tokenizers::Encoding e;
    e.ids.assign(p->ids.begin(), p->ids.end());
    p->encodings.push_back(std::move(e));
    return p;
  }

  void forward(std::span<PreparedInput* const> batch) const override {
    generate_by_group<Prepared>(batch, task_, [&](const std::vector<std::vector<int64_t>>& ids,
                                                  const generation::GenerationConfig& config) {
      return generation::generate(lm_->causal_lm(), ids, config);
    });
  }

  Json postprocess(PreparedInput& input) const override {
    auto& p = prepared_as<Prepared>(input, task_);
    Json records = Json::array();
    for (const auto& seq : p.result) {
      if (p.tensors) {
        std::vector<int64_t> all = p.ids;
        all.insert(all.end(), seq.tokens.begin(), seq.tokens.end());
        records.push_back({{"generated_token_ids", all}});
        continue;
      }
      std::string text = lm_->decode(seq.tokens, p.skip_special);
      Json generated;
      if (!p.full_text) {
        generated = text;
      } else if (!p.chat) {
        generated = p.prompt.get<std::string>() + text;
      } else if (p.continue_final) {
        generated = p.prompt;
        Json& last = generated.back();
        last["content"] = last.value("content", std::string()) + text;
      } else {
        generated = p.prompt;
        generated.push_back({{"role", "assistant"}, {"content", text}});
      }
      records.push_back({{"generated_text", std::move(generated)}});
    }
    return records;
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const size_t batch = batch_size_option(call).value_or(batch_size_);
    // A list of strings or of chats is a batch; a list of messages is one chat.
    const bool many = inputs.is_array() && !inputs.empty() && (inputs[0].is_string() || inputs[0].is_array());
    std::vector<std::unique_ptr<PreparedInput>> prepared;
    if (many) {
      for (const Json& item : inputs) prepared.push_back(preprocess(item, call));
      return Json(run_prepared(*this, std::move(prepared), batch));
    }
    prepared.push_back(preprocess(inputs, call));
    return std::move(run_prepared(*this, std::move(prepared), batch).front());
  }

 private:
  std::shared_ptr<const LanguageModel> lm_;
  GenerationConfig base_;
};

}  // namespace

std::unique_ptr<Pipeline> make_text_generation(const std::string& model, const PipelineOptions& options) {
  generation::LanguageModelOptions lo;
  Json defaults = options.defaults.is_null() ? Json::object() : options.defaults;
  if (defaults.contains("gguf_file")) {
    if (!defaults["gguf_file"].is_string()) throw InvalidArgument("text-generation: option 'gguf_file' must be a string");
    lo.gguf_file = defaults["gguf_file"].get<std::string>();
    defaults.erase("gguf_file");
  }
  if (options.load.dtype != "auto") lo.dtype = options.load.dtype;
  lo.hub = options.load.hub;
  lo.num_threads = options.load.num_threads;
  return std::make_unique<TextGeneration>(LanguageModel::from_pretrained(model, lo), defaults);
}

}  // namespace optimum::pipelines::detail

namespace optimum::pipelines {

std::unique_ptr<Pipeline> text_generation_pipeline(std::shared_ptr<const generation::LanguageModel> model,
                                                   const Json& defaults) {
  if (!model) throw InvalidArgument("text-generation: no model");
  return std::make_unique<detail::TextGeneration>(std::move(model), defaults.is_null() ? Json::object() : defaults);
}

}  // namespace optimum::pipelines
