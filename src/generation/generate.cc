#include "optimum/generation/generate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "optimum/core/errors.h"
#include "request.h"

namespace optimum::generation {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kEos: return "eos";
    case FinishReason::kStopString: return "stop";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "length";
}

namespace detail {

bool Request::is_eos(int64_t token) const {
  return std::find(config.eos_token_id.begin(), config.eos_token_id.end(), token) != config.eos_token_id.end();
}

bool Request::hits_stop(const std::vector<int64_t>& sequence, FinishReason* reason) const {
  // transformers ORs its criteria; the reason reported prefers eos, then a
  // stop string, then the length.
  if (!sequence.empty() && is_eos(sequence.back())) {
    *reason = FinishReason::kEos;
    return true;
  }
  if (stop.matches(sequence)) {
    *reason = FinishReason::kStopString;
    return true;
  }
  if (static_cast<int64_t>(sequence.size()) >= max_length) {
    *reason = FinishReason::kLength;
    return true;
  }
  return false;
}

namespace {

// torch.multinomial of one draw from `probs` (non-negative, any sum).
int64_t draw(std::span<const float> probs, std::mt19937_64& rng) {
  double total = 0;
  for (const float p : probs) total += p;
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng) * total;
  double acc = 0;
  int64_t last_positive = -1;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0) continue;
    acc += probs[i];
    last_positive = static_cast<int64_t>(i);
    if (u < acc) return last_positive;
  }
  if (last_positive < 0) throw InvalidArgument("sampling: every token has probability 0 (all scores are -inf or nan)");
  return last_positive;
}

int64_t argmax(std::span<const float> row) {
  // torch.argmax: the first maximal index; nan counts as the maximum.
  int64_t best = 0;
  for (size_t i = 1; i < row.size(); ++i) {
    if (std::isnan(row[best])) break;
    if (std::isnan(row[i]) || row[i] > row[best]) best = static_cast<int64_t>(i);
  }
  return best;
}

// The n largest entries of `row`, largest first (ties: lower id first).
std::vector<std::pair<int64_t, float>> top_tokens(std::span<const float> row, int64_t n) {
  std::vector<int64_t> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  const auto k = static_cast<std::ptrdiff_t>(std::min<size_t>(static_cast<size_t>(n), row.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int64_t a, int64_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  std::vector<std::pair<int64_t, float>> out;
  for (std::ptrdiff_t i = 0; i < k; ++i) out.emplace_back(idx[i], row[idx[i]]);
  return out;
}

}  // namespace

void sample_step(Request& req, const float* logits, int64_t vocab, models::KvCache& cache) {
  const bool prefill = !req.prefilled;
  if (prefill) {
    for (size_t i = 1; i < req.rows.size(); ++i) cache.copy_slot(req.slots[0], req.rows[i].slot);
    req.prefilled = true;
  }
  std::vector<float> scores(static_cast<size_t>(vocab));
  std::vector<float> work(static_cast<size_t>(vocab));
  int64_t k = 0;
  for (size_t r = 0; r < req.rows.size(); ++r) {
    Row& row = req.rows[r];
    if (row.finished) continue;
    const float* src = logits + (prefill ? 0 : k) * vocab;
    ++k;
    std::copy(src, src + vocab, scores.begin());
    apply_processors(req.processors, row.sequence, scores);
    int64_t token = 0;
    if (req.config.do_sample) {
      std::copy(scores.begin(), scores.end(), work.begin());
      softmax_inplace(work);
      token = draw(work, req.rng);
    } else {
      token = argmax(scores);
    }
    std::copy(scores.begin(), scores.end(), work.begin());
    log_softmax_inplace(work);
    row.sequence.push_back(token);
    row.out.tokens.push_back(token);
    row.out.scores.push_back(scores[token]);
    row.out.logprobs.push_back(work[token]);
    std::vector<std::pair<int64_t, float>> top;
    if (req.options.top_logprobs > 0) {
      top = top_tokens(work, req.options.top_logprobs);
      row.out.top_logprobs.push_back(top);
    }
    FinishReason reason = FinishReason::kLength;
    if (req.hits_stop(row.sequence, &reason)) {
      row.finished = true;
      row.out.finish_reason = reason;
    }
    if (req.options.on_token) {
      TokenEvent ev;
      ev.request = req.id;
      ev.sequence = static_cast<int64_t>(r);
      ev.token = token;
      ev.score = scores[token];
      ev.logprob = work[token];
      ev.finished = row.finished;
      ev.top_logprobs = std::move(top);
      if (!req.options.on_token(ev)) req.cancelled = true;
    }
  }
  bool all = true;
  for (const Row& row : req.rows) all = all && row.finished;
  if (all) req.done = true;
}

}  // namespace detail

using detail::Request;

namespace {
// Most sequences one generate() call runs at once.
constexpr int64_t kMaxSlots = 1 << 16;
}  // namespace

struct Generator::Impl {
  std::shared_ptr<const models::CausalLM> model;
  std::unique_ptr<models::KvCache> cache;
  int64_t capacity = 0;
  std::vector<int64_t> free_slots;  // stack of free physical slots
  std::map<int64_t, std::unique_ptr<Request>> requests;
  int64_t next_id = 0;

  void release(Request& req) {
    for (const int64_t s : req.slots) free_slots.push_back(s);
    req.slots.clear();
  }

  void finish_cancelled(Request& req) {
    if (req.is_beam()) {
      detail::finish_beam(req);
      for (auto& seq : req.output) seq.finish_reason = FinishReason::kCancelled;
    } else {
      for (auto& row : req.rows) {
        if (!row.finished) row.out.finish_reason = FinishReason::kCancelled;
        row.finished = true;
      }
    }
    req.done = true;
  }

  void collect_output(Request& req) {
    if (!req.is_beam()) {
      req.output.clear();
      for (auto& row : req.rows) req.output.push_back(std::move(row.out));
      req.rows.clear();
    }
  }
};

Generator::Generator(std::shared_ptr<const models::CausalLM> model, int64_t slots, int64_t capacity)
    : impl_(std::make_unique<Impl>()) {
  if (!model) throw InvalidArgument("Generator: model is null");
  if (slots < 1) throw InvalidArgument("Generator: slots must be >= 1, got " + std::to_string(slots));
  if (capacity < 1) throw InvalidArgument("Generator: capacity must be >= 1, got " + std::to_string(capacity));
  impl_->model = std::move(model);
  impl_->cache = impl_->model->new_cache(slots, capacity);
  impl_->capacity = capacity;
  for (int64_t s = slots - 1; s >= 0; --s) impl_->free_slots.push_back(s);
}

Generator::~Generator() = default;

int64_t Generator::slots_needed(const GenerationConfig& config) {
  return config.num_beams > 1 ? config.num_beams : config.num_return_sequences;
}

int64_t Generator::positions_needed(const GenerationConfig& config, int64_t prompt_length, int64_t max_positions) {
  return config.resolved_max_length(prompt_length, max_positions);
}

int64_t Generator::add(std::vector<int64_t> prompt, const GenerationConfig& config, RequestOptions options) {
  config.validate();
  const auto& model = *impl_->model;
  const int64_t vocab = model.vocab_size();
  if (prompt.empty()) throw InvalidArgument("generate: input_ids is empty (a prompt needs at least one token)");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= vocab)
      throw InvalidArgument("generate: input_ids[" + std::to_string(i) + "] = " + std::to_string(prompt[i]) +
                            " is outside the vocabulary (size " + std::to_string(vocab) + ")");
  auto req = std::make_unique<Request>();
  req->config = config;
  const auto prompt_len = static_cast<int64_t>(prompt.size());
  req->max_length = config.resolved_max_length(prompt_len, model.max_positions());
  if (prompt_len >= req->max_length)
    throw InvalidArgument("Input length of input_ids is " + std::to_string(prompt_len) + ", but `max_length` is set to " +
                          std::to_string(req->max_length) +
                          ". This can lead to unexpected behavior. You should consider increasing `max_length` or, "
                          "better yet, setting `max_new_tokens`.");
  if (req->max_length > impl_->capacity)
    throw InvalidArgument("generate: max_length " + std::to_string(req->max_length) +
                          " is more than the cache capacity " + std::to_string(impl_->capacity));
  if (model.max_positions() > 0 && req->max_length - 1 > model.max_positions())
    throw InvalidArgument("generate: max_length " + std::to_string(req->max_length) + " is beyond the model's " +
                          std::to_string(model.max_positions()) + " positions (max_position_embeddings)");
  if (options.top_logprobs < 0 || options.top_logprobs > 100)
    throw InvalidArgument("generate: top_logprobs must be in [0, 100], got " + std::to_string(options.top_logprobs));
  if (req->is_beam() && options.on_token)
    throw InvalidArgument("`streamer` cannot be used with beam search (yet!). Make sure that `num_beams` is set to 1.");
  const int64_t need = slots_needed(config);
  if (need > static_cast<int64_t>(impl_->free_slots.size()))
    throw InvalidArgument("generate: the request needs " + std::to_string(need) + " cache slots, " +
                          std::to_string(impl_->free_slots.size()) + " are free");
  // min_length as transformers resolves it (min_new_tokens adds its own
  // processor as well).
  GenerationConfig resolved = config;
  resolved.min_length = config.resolved_min_length(prompt_len);
  req->processors = make_logits_processors(resolved, prompt_len, req->max_length);
  req->stop = detail::StopStrings(config.stop_strings, options.decode);
  req->rng.seed(config.seed ? *config.seed : std::random_device{}());
  req->options = std::move(options);
  req->id = impl_->next_id++;
  for (int64_t i = 0; i < need; ++i) {
    req->slots.push_back(impl_->free_slots.back());
    impl_->free_slots.pop_back();
    impl_->cache->truncate(req->slots.back(), 0);
  }
  req->prompt = std::move(prompt);
  if (req->is_beam()) {
    auto& b = req->beam;
    b.num_beams = config.num_beams;
    const auto n_eos = static_cast<int64_t>(config.eos_token_id.size());
    b.beams_to_keep = std::max<int64_t>(2, 1 + n_eos) * b.num_beams;
    b.running.assign(static_cast<size_t>(b.num_beams), req->prompt);
    b.running_scores.assign(static_cast<size_t>(b.num_beams), -1e9f);
    b.running_scores[0] = 0;
    b.beam_slot.assign(static_cast<size_t>(b.num_beams), req->slots[0]);
    b.finished.assign(static_cast<size_t>(b.num_beams), detail::Hypothesis{req->prompt, -1e9f, false});
    b.cur_len = prompt_len;
  } else {
    req->rows.resize(static_cast<size_t>(need));
    for (int64_t i = 0; i < need; ++i) {
      req->rows[i].sequence = req->prompt;
      req->rows[i].slot = req->slots[i];
    }
  }
  const int64_t id = req->id;
  impl_->requests.emplace(id, std::move(req));
  return id;
}

void Generator::step() {
  auto& im = *impl_;
  // Cancelled requests leave before the step.
  for (auto& [id, req] : im.requests) {
    if (!req->done && req->cancelled) {
      im.finish_cancelled(*req);
      im.collect_output(*req);
      im.release(*req);
    }
  }
  std::vector<models::StepSegment> segments;
  std::vector<std::pair<Request*, int64_t>> owners;  // request, its first row in the logits
  for (auto& [id, req] : im.requests) {
    if (req->done) continue;
    owners.emplace_back(req.get(), static_cast<int64_t>(segments.size()));
    if (!req->prefilled) {
      segments.push_back({req->slots[0], req->prompt.data(), static_cast<int64_t>(req->prompt.size())});
    } else if (req->is_beam()) {
      auto& b = req->beam;
      for (int64_t j = 0; j < b.num_beams; ++j)
        segments.push_back({b.beam_slot[j], &b.running[j].back(), 1});
    } else {
      for (auto& row : req->rows)
        if (!row.finished) segments.push_back({row.slot, &row.sequence.back(), 1});
    }
  }
  if (segments.empty()) return;
  const Tensor logits = im.model->step(*im.cache, segments);
  const int64_t vocab = im.model->vocab_size();
  const float* data = logits.data<float>();
  for (auto& [req, first] : owners) {
    const float* rows = data + first * vocab;
    if (req->is_beam()) {
      detail::beam_step(*req, rows, vocab, *im.cache);
    } else {
      detail::sample_step(*req, rows, vocab, *im.cache);
    }
    if (!req->done && req->cancelled) im.finish_cancelled(*req);
    if (req->done) {
      im.collect_output(*req);
      im.release(*req);
    }
  }
}

bool Generator::idle() const {
  for (const auto& [id, req] : impl_->requests)
    if (!req->done) return false;
  return true;
}

int64_t Generator::free_slots() const { return static_cast<int64_t>(impl_->free_slots.size()); }

void Generator::cancel(int64_t request) {
  auto it = impl_->requests.find(request);
  if (it == impl_->requests.end()) throw NotFound("generate: no request " + std::to_string(request));
  it->second->cancelled = true;
}

bool Generator::finished(int64_t request) const {
  auto it = impl_->requests.find(request);
  if (it == impl_->requests.end()) throw NotFound("generate: no request " + std::to_string(request));
  return it->second->done;
}

GenerationOutput Generator::take(int64_t request) {
  auto it = impl_->requests.find(request);
  if (it == impl_->requests.end()) throw NotFound("generate: no request " + std::to_string(request));
  if (!it->second->done) throw NotFound("generate: request " + std::to_string(request) + " is still running");
  GenerationOutput out = std::move(it->second->output);
  impl_->requests.erase(it);
  return out;
}

std::vector<GenerationOutput> generate(std::shared_ptr<const models::CausalLM> model,
                                       const std::vector<std::vector<int64_t>>& prompts,
                                       const GenerationConfig& config, const GenerateOptions& options) {
  if (!model) throw InvalidArgument("generate: model is null");
  config.validate();
  if (prompts.empty()) return {};
  // Sizes are checked before the cache is made: a hostile max_new_tokens or
  // num_beams is an error, not an allocation.
  int64_t capacity = 1;
  for (const auto& p : prompts) {
    const auto prompt_len = static_cast<int64_t>(p.size());
    const int64_t need = Generator::positions_needed(config, prompt_len, model->max_positions());
    if (model->max_positions() > 0 && need - 1 > model->max_positions())
      throw InvalidArgument("generate: max_length " + std::to_string(need) + " is beyond the model's " +
                            std::to_string(model->max_positions()) + " positions (max_position_embeddings)");
    capacity = std::max(capacity, need);
  }
  const int64_t per_prompt = Generator::slots_needed(config);
  if (per_prompt > kMaxSlots || static_cast<int64_t>(prompts.size()) > kMaxSlots / per_prompt)
    throw InvalidArgument("generate: " + std::to_string(prompts.size()) + " prompts x " + std::to_string(per_prompt) +
                          " sequences each (num_beams / num_return_sequences) is more than " +
                          std::to_string(kMaxSlots) + " sequences in one call");
  const int64_t slots = per_prompt * static_cast<int64_t>(prompts.size());
  Generator gen(model, slots, capacity);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    RequestOptions ro;
    ro.decode = options.decode;
    ro.top_logprobs = options.top_logprobs;
    if (options.on_token) {
      ro.on_token = [&options, i](const TokenEvent& ev) {
        TokenEvent e = ev;
        e.request = static_cast<int64_t>(i);
        return options.on_token(e);
      };
    }
    ids.push_back(gen.add(prompts[i], config, std::move(ro)));
  }
  while (!gen.idle()) gen.step();
  std::vector<GenerationOutput> out;
  for (const int64_t id : ids) out.push_back(gen.take(id));
  return out;
}

}  // namespace optimum::generation
