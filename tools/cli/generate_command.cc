// `generate`: text generation with a causal LM (folder, Hub id or GGUF
// file) from a prompt or a chat, printing the new text (streamed token by
// token with --stream) or one JSON line per returned sequence (--json).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/progress.h"
#include "optimum/core/errors.h"
#include "optimum/generation/generate.h"
#include "optimum/generation/language_model.h"
#include "optimum/io/json.h"

namespace optimum::cli {

namespace {

struct GenerateArgs {
  std::string model;
  generation::LanguageModelOptions load;
  std::optional<std::string> prompt;
  std::optional<std::string> chat;
  std::optional<int64_t> max_new_tokens, max_length, min_new_tokens, top_k, num_beams, num_return_sequences,
      no_repeat_ngram_size;
  std::optional<double> temperature, top_p, min_p, typical_p, repetition_penalty, length_penalty;
  std::optional<uint64_t> seed;
  bool do_sample = false;
  std::vector<std::string> stop;
  std::vector<std::string> options;  // key=value, value parsed as JSON when it is JSON
  bool stream = false;
  bool json = false;
  bool no_chat_template = false;
};

// --chat: a JSON list of messages, a JSON object (one message), or plain text (one user message).
io::OrderedJson chat_messages(const std::string& chat) {
  const std::string trimmed = chat.substr(std::min(chat.size(), chat.find_first_not_of(" \t\r\n")));
  if (!trimmed.empty() && (trimmed[0] == '[' || trimmed[0] == '{')) {
    io::OrderedJson j = generation::parse_ordered_json(chat, "--chat");
    if (j.is_object()) j = io::OrderedJson::array({j});
    for (const auto& m : j) {
      if (!m.is_object() || !m.contains("role")) {
        throw InvalidArgument("--chat: every message must be an object with a \"role\", got " + m.dump());
      }
    }
    return j;
  }
  return io::OrderedJson::array({{{"role", "user"}, {"content", chat}}});
}

io::Json generation_options(const GenerateArgs& a) {
  io::Json o = io::Json::object();
  auto put = [&o](const char* key, const auto& v) {
    if (v) o[key] = *v;
  };
  put("max_new_tokens", a.max_new_tokens);
  put("max_length", a.max_length);
  put("min_new_tokens", a.min_new_tokens);
  put("top_k", a.top_k);
  put("num_beams", a.num_beams);
  put("num_return_sequences", a.num_return_sequences);
  put("no_repeat_ngram_size", a.no_repeat_ngram_size);
  put("temperature", a.temperature);
  put("top_p", a.top_p);
  put("min_p", a.min_p);
  put("typical_p", a.typical_p);
  put("repetition_penalty", a.repetition_penalty);
  put("length_penalty", a.length_penalty);
  put("seed", a.seed);
  if (a.do_sample) o["do_sample"] = true;
  if (!a.stop.empty()) o["stop_strings"] = a.stop;
  for (const auto& kv : a.options) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw InvalidArgument("--option '" + kv + "': expected key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    io::Json v = io::Json::parse(value, nullptr, false);
    o[key] = v.is_discarded() ? io::Json(value) : v;
  }
  return o;
}

// Prints the text of a growing token list as it grows: the decoded text
// past what was printed, holding back an unfinished UTF-8 character (the
// decoder's U+FFFD at the end) until its next token arrives.
class TextPrinter {
 public:
  explicit TextPrinter(const generation::LanguageModel& lm) : lm_(lm) {}
  void put(int64_t token) {
    tokens_.push_back(token);
    emit(false);
  }
  void end() { emit(true); }

 private:
  void emit(bool final) {
    const std::string text = lm_.decode(tokens_, true);
    static const std::string kReplacement = "\xEF\xBF\xBD";
    if (!final && text.size() >= kReplacement.size() &&
        text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0) {
      return;
    }
    if (text.size() > printed_ && text.compare(0, printed_, text, 0, printed_) == 0) {
      std::cout << text.substr(printed_) << std::flush;
      printed_ = text.size();
    }
  }
  const generation::LanguageModel& lm_;
  std::vector<int64_t> tokens_;
  size_t printed_ = 0;
};

void run_generate(const GenerateArgs& a) {
  if (a.prompt.has_value() == a.chat.has_value()) throw InvalidArgument("give exactly one of --prompt and --chat");
  if (a.stream && a.json) throw InvalidArgument("--stream and --json cannot be combined");
  // Option and chat errors before loading the model.
  const io::Json options = generation_options(a);
  generation::GenerationConfig config;
  config.update(options, "command-line options");
  config.validate();
  const io::OrderedJson messages = a.chat ? chat_messages(*a.chat) : io::OrderedJson();
  auto check_stream = [&a](const generation::GenerationConfig& c) {
    if (a.stream && (c.num_beams > 1 || c.num_return_sequences > 1)) {
      throw InvalidArgument("--stream needs one returned sequence without beam search (num_beams and "
                            "num_return_sequences 1)");
    }
  };
  check_stream(config);
  std::shared_ptr<const generation::LanguageModel> lm;
  {
    ProgressStep step("load", a.model);
    lm = generation::LanguageModel::from_pretrained(check_local_path(a.model, "model"), a.load);
  }
  config = lm->generation_config();
  config.update(options, "command-line options");
  config.validate();

  std::vector<int64_t> prompt;
  if (a.chat) {
    // As transformers' TextGenerationPipeline on a chat: the rendered
    // template with a generation prompt, tokenized without special tokens.
    const std::string text = lm->apply_chat_template(messages, true);
    prompt = lm->encode(text, false);
  } else {
    prompt = lm->encode(*a.prompt, true);
  }
  if (prompt.empty()) throw InvalidArgument("the prompt encodes to no tokens");

  generation::GenerateOptions go;
  go.decode = generation::tokenizer_decoder(lm->tokenizer());
  std::unique_ptr<TextPrinter> printer;
  if (a.stream) {
    check_stream(config);
    printer = std::make_unique<TextPrinter>(*lm);
    go.on_token = [&printer](const generation::TokenEvent& e) {
      printer->put(e.token);
      return true;
    };
  }
  const auto outputs = generation::generate(lm->causal_lm(), {prompt}, config, go);
  if (printer) {
    printer->end();
    std::cout << "\n" << std::flush;
    return;
  }
  for (const auto& seq : outputs.at(0)) {
    const std::string text = lm->decode(seq.tokens, true);
    if (a.json) {
      io::Json row = {{"text", text},
                      {"prompt_ids", prompt},
                      {"tokens", seq.tokens},
                      {"finish_reason", generation::finish_reason_name(seq.finish_reason)}};
      if (seq.sequence_score) row["sequence_score"] = *seq.sequence_score;
      std::cout << row.dump(-1, ' ', false, io::Json::error_handler_t::replace) << "\n";
    } else {
      std::cout << text << "\n";
    }
  }
  std::cout.flush();
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate text with a causal LM (folder, Hub id or GGUF file) from a prompt or a chat");
  cmd->add_option("model", a->model, "Model folder, Hub id or .gguf file")->required();
  cmd->add_option("--gguf-file,--gguf_file", a->load.gguf_file, "GGUF file inside the folder or Hub repository");
  cmd->add_option("--prompt,-p", a->prompt, "Prompt text (tokenized with the tokenizer's special tokens)");
  cmd->add_option("--chat", a->chat,
                  "A chat: JSON list of {role, content} messages, or plain text as one user message; rendered "
                  "with the model's chat template and a generation prompt");
  cmd->add_option("--max-new-tokens,--max_new_tokens", a->max_new_tokens, "New tokens at most");
  cmd->add_option("--max-length,--max_length", a->max_length, "Prompt + new tokens at most");
  cmd->add_option("--min-new-tokens,--min_new_tokens", a->min_new_tokens, "New tokens before eos is allowed");
  cmd->add_flag("--do-sample,--do_sample", a->do_sample, "Sample (else greedy / beam search)");
  cmd->add_option("--temperature", a->temperature, "Sampling temperature");
  cmd->add_option("--top-k,--top_k", a->top_k, "Sampling: keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p,--top_p", a->top_p, "Sampling: nucleus probability mass");
  cmd->add_option("--min-p,--min_p", a->min_p, "Sampling: minimum probability relative to the top token");
  cmd->add_option("--typical-p,--typical_p", a->typical_p, "Sampling: typical decoding mass");
  cmd->add_option("--repetition-penalty,--repetition_penalty", a->repetition_penalty, "Repetition penalty");
  cmd->add_option("--no-repeat-ngram-size,--no_repeat_ngram_size", a->no_repeat_ngram_size,
                  "Forbid repeating n-grams of this size");
  cmd->add_option("--num-beams,--num_beams", a->num_beams, "Beam search width");
  cmd->add_option("--num-return-sequences,--num_return_sequences", a->num_return_sequences,
                  "Sequences returned (one output line each)");
  cmd->add_option("--length-penalty,--length_penalty", a->length_penalty, "Beam search length penalty");
  cmd->add_option("--seed", a->seed, "Sampling seed (same seed, same text)");
  cmd->add_option("--stop", a->stop, "Stop string (repeatable)");
  cmd->add_option("--option", a->options, "Any other generation option as key=value (value parsed as JSON)");
  cmd->add_flag("--stream", a->stream, "Print the text token by token as it is generated");
  cmd->add_flag("--json", a->json, "One JSON line per sequence: text, prompt_ids, tokens, finish_reason");
  cmd->add_option("--dtype", a->load.dtype, "Precision of the Linears: fp32, bf16, int8")->capture_default_str();
  cmd->add_option("--revision", a->load.hub.revision, "Hub revision");
  cmd->add_option("--cache-dir,--cache_dir", a->load.hub.cache_dir, "Hub cache folder")->envname("HF_HUB_CACHE");
  cmd->add_option("--token", a->load.hub.token, "Hub token")->envname("HF_TOKEN");
  cmd->add_flag("--local-files-only,--local_files_only", a->load.hub.local_files_only, "Never touch the network");
  cmd->add_option("--threads", a->load.num_threads, "Compute threads (0: all cores)")
      ->envname("OPTIMUM_NUM_THREADS")
      ->capture_default_str();
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace optimum::cli
