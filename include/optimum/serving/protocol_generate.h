// Wire formats of text generation: OpenAI's /v1/completions and
// /v1/chat/completions (whole answers and server-sent-event chunks) as pure
// functions from untrusted request bodies to a GenerateCall and from
// generated text to response bodies. Parameters are range-checked as OpenAI
// does (400 naming the field); the ones this server cannot honour
// (presence/frequency penalties, echo, suffix, best_of > n, logit_bias) are
// refused by name instead of ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::serving {

struct GenerateLimits {
  size_t max_prompts = 64;       // /v1/completions prompt lists
  size_t max_messages = 1024;    // /v1/chat/completions messages
  int64_t max_n = 16;            // choices per prompt
  size_t max_stop = 4;           // stop strings (OpenAI's limit)
  size_t max_stop_bytes = 256;   // per stop string
};

// One OpenAI generation request.
struct GenerateCall {
  bool chat = false;
  std::string model;
  // /v1/completions: one entry per prompt, text or token ids (one of the two
  // filled per prompt, in `prompt_is_ids` order).
  std::vector<std::string> prompts;
  std::vector<std::vector<int64_t>> prompt_ids;
  std::vector<bool> prompt_is_ids;
  // /v1/chat/completions: the messages (content strings, or lists of
  // {"type": "text", "text"} parts flattened to a string), tools, and extra
  // template variables (chat_template_kwargs, e.g. enable_thinking).
  io::Json messages = io::Json::array();
  io::Json tools;  // null when absent
  io::Json chat_template_kwargs = io::Json::object();
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  // Sampling: OpenAI's (max_tokens / max_completion_tokens, temperature,
  // top_p, stop, seed, n) and transformers' extensions (top_k, min_p,
  // repetition_penalty, min_tokens), unset when absent.
  std::optional<int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> min_tokens;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  int64_t n = 1;
  // Log probabilities: completions' "logprobs": k (0..5) and chat's
  // "logprobs": true with "top_logprobs": k (0..20), k alternatives per
  // token (OpenAI's caps; more is a 400 naming the field); nullopt = none.
  std::optional<int64_t> logprobs;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage

  // Number of prompts (chat: 1).
  size_t prompt_count() const { return chat ? 1 : prompt_is_ids.size(); }
};

GenerateCall openai_generate_call(std::string_view body, bool chat, const GenerateLimits& limits = {});

// A generated token's log probability and, when asked, the top-k
// alternatives (most likely first; log_softmax of the processed scores the
// sampler drew from, so tokens a warper removed have -inf, sent as -9999.0
// as vLLM does: JSON has no infinity).
struct TokenLogprob {
  std::string token;   // the token's text
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;
  size_t text_offset = 0;  // completions: characters of the choice's token texts before this one
};

struct GeneratedChoice {
  std::string text;
  std::string finish_reason;  // "stop" | "length"
  std::vector<TokenLogprob> logprobs;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// The whole answer: text_completion / chat.completion with choices indexed
// prompt-major (prompt p, sample s -> index p*n + s), usage totals.
std::string openai_generate_response(const GenerateCall& call, const std::string& id, int64_t created,
                                     const std::vector<GeneratedChoice>& choices, const Usage& usage);

// One streamed chunk (text_completion / chat.completion.chunk) for choice
// `index`: `delta` text (chat: the first chunk of a choice also carries
// role "assistant"), `finish_reason` on the last one, per-token logprobs.
struct ChunkPart {
  size_t index = 0;
  std::string delta;
  bool first = false;
  std::optional<std::string> finish_reason;
  std::vector<TokenLogprob> logprobs;
};
std::string openai_generate_chunk(const GenerateCall& call, const std::string& id, int64_t created,
                                  const ChunkPart& part);
// The final usage chunk of stream_options.include_usage (choices empty).
std::string openai_usage_chunk(const GenerateCall& call, const std::string& id, int64_t created,
                               const Usage& usage);

// "data: <json>\n\n"; the end of a stream is sse_event("[DONE]").
std::string sse_event(std::string_view data);

}  // namespace optimum::serving
