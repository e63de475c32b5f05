// Continuous batching for text generation (private to src/serving): one
// thread owns a generation::Generator over a KV cache of `slots` sequences
// of `capacity` positions, allocated once (the memory budget). Requests
// wait in a bounded queue (429 past it), join the running batch between
// decode steps when enough slots are free, stream their text as it is
// decoded, and leave when they finish, are cancelled or their client goes
// away (the slot is free for the next step). A request's tokens do not
// depend on what else is in the batch (ragged segments, per-request RNG).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "optimum/generation/generate.h"
#include "optimum/io/json.h"
#include "optimum/serving/metrics.h"
#include "optimum/serving/protocol_generate.h"

namespace optimum::serving::detail {

// What the server needs of a text-generation model besides the network:
// the LM, its generation defaults and the text codecs of its tokenizer and
// chat template.
struct TextGenerationBackend {
  std::shared_ptr<const models::CausalLM> model;
  generation::GenerationConfig defaults;  // generation_config.json
  // Prompt text -> ids with the tokenizer's special tokens (completions).
  std::function<std::vector<int64_t>(const std::string&)> encode;
  // Rendered chat text -> ids without adding special tokens (the template
  // writes them), as apply_chat_template(tokenize=True) does.
  std::function<std::vector<int64_t>(const std::string&)> encode_rendered;
  // Generated ids -> text, special tokens skipped.
  std::function<std::string(const std::vector<int64_t>&)> decode;
  // messages, tools, template kwargs, add_generation_prompt, continue_final_message -> text.
  // Unset: the model has no chat template (chat requests get 400).
  std::function<std::string(const io::Json&, const io::Json&, const io::Json&, bool, bool)> render_chat;
};

// Where one request's answer goes (filled by the route).
struct GenerationSink {
  // A choice's new text (streaming only; `first` once per choice).
  std::function<void(size_t choice, const std::string& delta, bool first,
                     const std::vector<TokenLogprob>& logprobs)> on_delta;
  // The last text of a choice and why it ended (streaming only).
  std::function<void(size_t choice, const std::string& finish_reason)> on_finish;
  // Whole answer (always called once when no error: streaming routes send
  // the usage chunk and [DONE] from it).
  std::function<void(std::vector<GeneratedChoice> choices, Usage usage)> on_done;
  std::function<void(std::exception_ptr)> on_error;
  std::shared_ptr<std::atomic<bool>> cancelled;  // the client went away
};

class GenerationModel {
 public:
  struct Options {
    int64_t slots = 8;            // sequences decoded together (KV cache slots)
    int64_t capacity = 2048;      // positions per slot (prompt + new tokens)
    size_t max_queue = 100;       // requests waiting for slots; 429 past it
  };
  // `metrics` (may be null) gets the engine's state after every step under
  // `name`/`version`.
  GenerationModel(std::string name, std::string version, TextGenerationBackend backend, Options options,
                  Metrics* metrics = nullptr);
  ~GenerationModel();
  GenerationModel(const GenerationModel&) = delete;
  GenerationModel& operator=(const GenerationModel&) = delete;

  // Tokenizes and validates `call` (400 naming the field: prompt too long
  // for the capacity, n larger than the slots, no chat template) and queues
  // it; 429 when the queue is full. The sink is called from the generation
  // thread.
  void submit(GenerateCall call, GenerationSink sink);
  // Fails what is queued or running with 503 and joins the thread.
  void stop();

  const std::string& name() const { return name_; }
  size_t cache_bytes() const;
  int64_t running() const { return running_.load(); }
  const Options& options() const { return options_; }
  // Counters and gauges (what the metrics show).
  GenerationStats stats() const;

 private:
  struct Job;
  void loop();
  void admit(std::unique_lock<std::mutex>& lock);
  void start(const std::shared_ptr<Job>& job);
  void finish(const std::shared_ptr<Job>& job);
  void publish();

  std::string name_;
  std::string version_;
  Metrics* metrics_ = nullptr;
  TextGenerationBackend backend_;
  Options options_;
  std::unique_ptr<generation::Generator> generator_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> active_;  // generation thread only
  bool stopping_ = false;
  std::atomic<int64_t> running_{0};
  std::atomic<uint64_t> requests_{0}, prompt_tokens_{0}, generated_tokens_{0};
  std::thread thread_;
};

}  // namespace optimum::serving::detail
