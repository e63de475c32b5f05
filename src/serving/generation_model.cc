#include "generation_model.h"

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/serving/status.h"

namespace optimum::serving::detail {

namespace {

// Bytes at the end of `text` that may still change when more tokens come:
// a U+FFFD a byte-level decoder writes for an unfinished character, and the
// longest suffix that starts one of the stop strings.
size_t unstable_tail(const std::string& text, const std::vector<std::string>& stop) {
  size_t hold = 0;
  static const std::string kReplacement = "\xEF\xBF\xBD";
  if (text.size() >= kReplacement.size() && text.compare(text.size() - 3, 3, kReplacement) == 0) hold = 3;
  for (const auto& s : stop) {
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k) {
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

// Code points of UTF-8 text (OpenAI's text_offset counts characters, as
// Python's len() does; a broken sequence counts its lead bytes).
size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (const char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

const char* finish_name(generation::FinishReason r) {
  return r == generation::FinishReason::kLength ? "length" : "stop";
}

}  // namespace

struct GenerationModel::Job {
  GenerateCall call;
  GenerationSink sink;
  generation::GenerationConfig config;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<int64_t> requests;  // Generator ids of the started prompts
  size_t started = 0;
  struct Choice {
    std::vector<int64_t> ids;
    std::string text;
    size_t emitted = 0;
    bool first = true;
    bool done = false;
    bool stopped = false;  // a stop string ended it
    std::string finish_reason;
    std::vector<TokenLogprob> logprobs;
    size_t token_chars = 0;  // characters of the token texts so far (text_offset of the next one)
  };
  std::vector<Choice> choices;  // prompt-major: prompt p, sample s -> p*n + s
  int64_t prompt_tokens = 0;
  bool failed = false;
  bool cancelled() const { return sink.cancelled && sink.cancelled->load(); }
  // Every choice of prompt `p` ended at a stop string.
  bool all_stopped(size_t p) const {
    const auto n = static_cast<size_t>(call.n);
    for (size_t s = 0; s < n; ++s)
      if (!choices[p * n + s].stopped) return false;
    return true;
  }
};

GenerationModel::GenerationModel(std::string name, std::string version, TextGenerationBackend backend,
                                 Options options, Metrics* metrics)
    : name_(std::move(name)),
      version_(std::move(version)),
      metrics_(metrics),
      backend_(std::move(backend)),
      options_(options) {
  if (!backend_.model) throw InvalidArgument("generation model " + name_ + ": no model");
  if (options_.slots < 1) throw InvalidArgument("generation model " + name_ + ": slots must be at least 1");
  const int64_t positions = backend_.model->max_positions();
  if (positions > 0) options_.capacity = std::min(options_.capacity, positions);
  if (options_.capacity < 2) throw InvalidArgument("generation model " + name_ + ": capacity must be at least 2");
  if (options_.max_queue < 1) throw InvalidArgument("generation model " + name_ + ": the queue must hold at least 1 request");
  generator_ = std::make_unique<generation::Generator>(backend_.model, options_.slots, options_.capacity);
  publish();
  thread_ = std::thread([this] { loop(); });
}

GenerationStats GenerationModel::stats() const {
  GenerationStats s;
  s.requests = requests_.load();
  s.prompt_tokens = prompt_tokens_.load();
  s.generated_tokens = generated_tokens_.load();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.queued = queue_.size();
  }
  s.running = static_cast<size_t>(std::max<int64_t>(running_.load(), 0));
  s.slots = options_.slots;
  s.capacity = options_.capacity;
  s.cache_bytes = cache_bytes();
  return s;
}

void GenerationModel::publish() {
  if (metrics_) metrics_->generation(name_, version_, stats());
}

GenerationModel::~GenerationModel() { stop(); }

size_t GenerationModel::cache_bytes() const {
  return backend_.model->cache_bytes_per_position() * static_cast<size_t>(options_.slots * options_.capacity);
}

void GenerationModel::submit(GenerateCall call, GenerationSink sink) {
  auto job = std::make_shared<Job>();
  const std::string what = call.chat ? "chat completion request" : "completion request";
  if (call.chat) {
    if (!backend_.render_chat) {
      throw ServingError(Code::BadRequest, "model " + name_ + " has no chat template; use /v1/completions");
    }
    const std::string text = backend_.render_chat(call.messages, call.tools, call.chat_template_kwargs,
                                                  call.add_generation_prompt, call.continue_final_message);
    job->prompts.push_back(backend_.encode_rendered(text));
  } else {
    for (size_t i = 0; i < call.prompt_count(); ++i) {
      job->prompts.push_back(call.prompt_is_ids[i] ? call.prompt_ids[i] : backend_.encode(call.prompts[i]));
    }
  }
  const int64_t vocab = backend_.model->vocab_size();
  for (size_t p = 0; p < job->prompts.size(); ++p) {
    const auto& ids = job->prompts[p];
    if (ids.empty()) throw InvalidArgument(what + ": prompt " + std::to_string(p) + " has no tokens");
    for (const int64_t id : ids) {
      if (id < 0 || id >= vocab) {
        throw InvalidArgument(what + ": token id " + std::to_string(id) + " is outside the vocabulary of " +
                              std::to_string(vocab));
      }
    }
    job->prompt_tokens += static_cast<int64_t>(ids.size());
  }
  // The request's generation settings over the model's defaults.
  auto& cfg = job->config;
  cfg = backend_.defaults;
  cfg.max_length.reset();
  size_t longest = 0;
  for (const auto& ids : job->prompts) longest = std::max(longest, ids.size());
  const int64_t room = options_.capacity - static_cast<int64_t>(longest);
  if (room < 1) {
    throw InvalidArgument(what + ": the prompt has " + std::to_string(longest) + " tokens; model " + name_ +
                          " serves at most " + std::to_string(options_.capacity - 1) + " prompt tokens");
  }
  if (call.max_tokens) {
    if (*call.max_tokens > room) {
      throw InvalidArgument(what + ": \"max_tokens\" " + std::to_string(*call.max_tokens) + " + " +
                            std::to_string(longest) + " prompt tokens exceed the context of " +
                            std::to_string(options_.capacity) + " tokens");
    }
    cfg.max_new_tokens = *call.max_tokens;
  } else {
    cfg.max_new_tokens = call.chat ? room : std::min<int64_t>(16, room);  // OpenAI's completion default: 16
  }
  // OpenAI samples at temperature 1 unless told; the model's
  // generation_config.json temperature is the default (as vLLM takes it);
  // temperature 0 is greedy.
  const double temperature = call.temperature.value_or(backend_.defaults.temperature);
  cfg.do_sample = temperature > 0;
  if (cfg.do_sample) cfg.temperature = temperature;
  cfg.stop_strings.clear();  // OpenAI's stop strings are cut here, from the text
  if (call.top_p) cfg.top_p = *call.top_p;
  if (call.top_k) cfg.top_k = *call.top_k;
  if (call.min_p) cfg.min_p = *call.min_p;
  if (call.repetition_penalty) cfg.repetition_penalty = *call.repetition_penalty;
  if (call.min_tokens) cfg.min_new_tokens = *call.min_tokens;
  if (call.seed) cfg.seed = *call.seed;
  cfg.num_beams = 1;
  cfg.num_return_sequences = call.n;
  if (call.n > 1 && !cfg.do_sample) {
    throw InvalidArgument(what + ": \"n\" > 1 needs sampling (a \"temperature\" above 0)");
  }
  if (call.n > options_.slots) {
    throw InvalidArgument(what + ": \"n\" is " + std::to_string(call.n) + "; model " + name_ + " decodes at most " +
                          std::to_string(options_.slots) + " sequences at once");
  }
  cfg.validate();
  job->choices.resize(job->prompts.size() * static_cast<size_t>(call.n));
  job->call = std::move(call);
  job->sink = std::move(sink);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw ServingError(Code::Unavailable, "model " + name_ + " is stopping");
    if (queue_.size() >= options_.max_queue) {
      throw ServingError(Code::TooManyRequests,
                         "model " + name_ + " has " + std::to_string(queue_.size()) + " requests waiting; try again later", 1);
    }
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void GenerationModel::start(const std::shared_ptr<Job>& job) {
  const size_t p = job->started++;
  const auto n = static_cast<size_t>(job->call.n);
  generation::RequestOptions ro;
  ro.top_logprobs = job->call.logprobs.value_or(0);  // bounded by the protocol (5 / 20)
  ro.on_token = [this, job, p, n](const generation::TokenEvent& ev) {
    if (job->cancelled() || job->failed) return false;
    auto& c = job->choices[p * n + static_cast<size_t>(ev.sequence)];
    // A choice its stop string ended ignores what its siblings' request
    // still samples for it; the request stops when every choice has.
    if (c.stopped) return !job->all_stopped(p);
    c.ids.push_back(ev.token);
    generated_tokens_.fetch_add(1);
    std::string text = backend_.decode(c.ids);
    // OpenAI's stop: the text ends before the first stop string, which is not returned.
    size_t cut = std::string::npos;
    for (const auto& s : job->call.stop) {
      const size_t from = c.emitted >= s.size() ? c.emitted - s.size() + 1 : 0;
      const size_t at = text.find(s, from);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      text.resize(cut);
      c.stopped = true;
    }
    c.text = std::move(text);
    std::vector<TokenLogprob> lps;
    if (job->call.logprobs) {
      TokenLogprob lp{backend_.decode({ev.token}), ev.logprob, {}, c.token_chars};
      c.token_chars += utf8_length(lp.token);
      lp.top.reserve(ev.top_logprobs.size());
      for (const auto& [id, logprob] : ev.top_logprobs) lp.top.emplace_back(backend_.decode({id}), logprob);
      lps.push_back(lp);
      c.logprobs.push_back(std::move(lp));
    }
    if (job->call.stream && job->sink.on_delta) {
      const size_t stable = c.stopped ? c.text.size() : c.text.size() - unstable_tail(c.text, job->call.stop);
      if (stable > c.emitted || !lps.empty()) {
        const std::string delta = stable > c.emitted ? c.text.substr(c.emitted, stable - c.emitted) : std::string();
        job->sink.on_delta(p * n + static_cast<size_t>(ev.sequence), delta, c.first, lps);
        c.first = false;
        c.emitted = std::max(c.emitted, stable);
      }
    }
    return !c.stopped || !job->all_stopped(p);
  };
  job->requests.push_back(generator_->add(job->prompts[p], job->config, std::move(ro)));
  running_.fetch_add(1);
}

void GenerationModel::admit(std::unique_lock<std::mutex>& lock) {
  (void)lock;
  // Requests whose client went away leave the queue without running (a
  // partly started one is cancelled with the active ones).
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->cancelled()) {
      if ((*it)->started == 0) requests_.fetch_add(1);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  while (!queue_.empty()) {
    auto job = queue_.front();
    if (generator_->free_slots() < generation::Generator::slots_needed(job->config)) break;
    if (job->started == 0) prompt_tokens_.fetch_add(static_cast<uint64_t>(job->prompt_tokens));
    start(job);
    if (std::find(active_.begin(), active_.end(), job) == active_.end()) active_.push_back(job);
    if (job->started == job->prompts.size()) queue_.pop_front();
  }
}

void GenerationModel::finish(const std::shared_ptr<Job>& job) {
  const auto n = static_cast<size_t>(job->call.n);
  for (size_t r = 0; r < job->requests.size(); ++r) {
    const int64_t id = job->requests[r];
    if (id < 0 || !generator_->finished(id)) continue;
    const auto out = generator_->take(id);
    job->requests[r] = -1;
    running_.fetch_sub(1);
    for (size_t s = 0; s < out.size() && s < n; ++s) {
      auto& c = job->choices[r * n + s];
      c.done = true;
      c.finish_reason = c.stopped ? "stop" : finish_name(out[s].finish_reason);
      if (job->call.stream && !job->cancelled()) {
        if (c.text.size() > c.emitted && job->sink.on_delta) {
          job->sink.on_delta(r * n + s, c.text.substr(c.emitted), c.first, {});
          c.first = false;
          c.emitted = c.text.size();
        }
        if (job->sink.on_finish) job->sink.on_finish(r * n + s, c.finish_reason);
      }
    }
  }
}

void GenerationModel::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !generator_->idle(); });
    if (stopping_) break;
    admit(lock);
    lock.unlock();
    try {
      for (const auto& job : active_) {
        if (job->cancelled()) {
          for (const int64_t id : job->requests) {
            if (id >= 0) generator_->cancel(id);
          }
        }
      }
      if (!generator_->idle()) generator_->step();
      std::vector<std::shared_ptr<Job>> still;
      for (const auto& job : active_) {
        finish(job);
        // A cancelled job starts no more prompts: it is done when its started ones are.
        const bool all_started = job->started == job->prompts.size() || job->cancelled();
        const bool all_done = all_started && std::all_of(job->requests.begin(), job->requests.end(),
                                                         [](int64_t id) { return id < 0; });
        if (!all_done) {
          still.push_back(job);
          continue;
        }
        requests_.fetch_add(1);
        if (job->cancelled() || !job->sink.on_done) continue;
        Usage usage{job->prompt_tokens, 0};
        std::vector<GeneratedChoice> choices;
        for (auto& c : job->choices) {
          usage.completion_tokens += static_cast<int64_t>(c.ids.size());
          choices.push_back({std::move(c.text), c.finish_reason, std::move(c.logprobs)});
        }
        job->sink.on_done(std::move(choices), usage);
      }
      active_ = std::move(still);
    } catch (...) {
      // A failed step leaves the cache in an unknown state: fail every
      // running request (and the rest of a partly started one) and start
      // over with a fresh generator.
      const auto error = std::current_exception();
      for (const auto& job : active_) {
        job->failed = true;
        requests_.fetch_add(1);
        if (job->sink.on_error) job->sink.on_error(error);
      }
      lock.lock();
      std::erase_if(queue_, [](const std::shared_ptr<Job>& job) { return job->failed; });
      lock.unlock();
      active_.clear();
      running_.store(0);
      generator_ = std::make_unique<generation::Generator>(backend_.model, options_.slots, options_.capacity);
    }
    publish();
    lock.lock();
  }
  // Stopping: fail what is queued or running.
  auto error = std::make_exception_ptr(ServingError(Code::Unavailable, "model " + name_ + " is stopping"));
  std::vector<std::shared_ptr<Job>> all(active_.begin(), active_.end());
  for (const auto& job : queue_) {
    if (std::find(all.begin(), all.end(), job) == all.end()) all.push_back(job);
  }
  queue_.clear();
  active_.clear();
  lock.unlock();
  for (const auto& job : all) {
    if (job->sink.on_error) job->sink.on_error(error);
  }
}

void GenerationModel::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace optimum::serving::detail
