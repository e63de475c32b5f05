// OpenAI /v1/completions and /v1/chat/completions: request parsing and
// response/chunk bodies (see protocol_generate.h).
#include "optimum/serving/protocol_generate.h"

#include <cmath>

#include "optimum/core/errors.h"
#include "protocol_util.h"

namespace optimum::serving {

namespace {

using io::Json;

std::string where(bool chat) { return chat ? "chat completion request" : "completion request"; }

[[noreturn]] void bad(bool chat, const std::string& field, const std::string& what) {
  throw InvalidArgument(where(chat) + ": \"" + field + "\" " + what);
}

const Json* member(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::optional<double> number_in(const Json& j, bool chat, const char* key, double lo, double hi) {
  const Json* v = member(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad(chat, key, "must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    bad(chat, key, "is " + v->dump() + "; it must be between " + Json(lo).dump() + " and " + Json(hi).dump());
  }
  return x;
}

std::optional<int64_t> integer_in(const Json& j, bool chat, const char* key, int64_t lo, int64_t hi) {
  const Json* v = member(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) bad(chat, key, "must be an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    bad(chat, key, "is " + v->dump() + "; it must be at most " + std::to_string(hi));
  }
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) {
    bad(chat, key, "is " + std::to_string(x) + "; it must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi));
  }
  return x;
}

bool flag(const Json& j, bool chat, const char* key, bool fallback) {
  const Json* v = member(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) bad(chat, key, "must be true or false");
  return v->get<bool>();
}

std::string text_field(const Json& v, bool chat, const std::string& field) {
  if (!v.is_string()) bad(chat, field, "must be a string");
  const auto& s = v.get_ref<const std::string&>();
  detail::require_utf8(s, where(chat) + ": " + field);
  return s;
}

std::vector<int64_t> token_ids(const Json& v, bool chat, const std::string& field) {
  std::vector<int64_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const Json& t = v[i];
    if (!t.is_number_integer() || (t.is_number_unsigned() && t.get<uint64_t>() > (uint64_t{1} << 40)) ||
        t.get<int64_t>() < 0) {
      bad(chat, field + "[" + std::to_string(i) + "]", "must be a non-negative token id");
    }
    ids.push_back(t.get<int64_t>());
  }
  if (ids.empty()) bad(chat, field, "is an empty list of token ids");
  return ids;
}

void parse_prompt(const Json& j, const GenerateLimits& limits, GenerateCall& call) {
  const Json* p = member(j, "prompt");
  if (!p) bad(false, "prompt", "is missing");
  auto add_text = [&](const Json& v, const std::string& field) {
    call.prompts.push_back(text_field(v, false, field));
    call.prompt_ids.emplace_back();
    call.prompt_is_ids.push_back(false);
  };
  auto add_ids = [&](const Json& v, const std::string& field) {
    call.prompt_ids.push_back(token_ids(v, false, field));
    call.prompts.emplace_back();
    call.prompt_is_ids.push_back(true);
  };
  if (p->is_string()) return add_text(*p, "prompt");
  if (!p->is_array() || p->empty()) bad(false, "prompt", "must be a string, a list of strings or of token-id lists");
  if ((*p)[0].is_number()) return add_ids(*p, "prompt");
  if (p->size() > limits.max_prompts) {
    bad(false, "prompt", "holds " + std::to_string(p->size()) + " prompts, more than the limit of " +
                             std::to_string(limits.max_prompts));
  }
  for (size_t i = 0; i < p->size(); ++i) {
    const std::string field = "prompt[" + std::to_string(i) + "]";
    if ((*p)[i].is_array()) {
      add_ids((*p)[i], field);
    } else {
      add_text((*p)[i], field);
    }
  }
}

// Content parts [{"type": "text", "text": ...}] joined; strings as they are.
Json flatten_content(const Json& content, const std::string& field) {
  if (content.is_null() || content.is_string()) {
    if (content.is_string()) detail::require_utf8(content.get_ref<const std::string&>(), where(true) + ": " + field);
    return content;
  }
  if (!content.is_array()) bad(true, field, "must be a string or a list of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string pf = field + "[" + std::to_string(i) + "]";
    if (!part.is_object()) bad(true, pf, "must be an object");
    const Json* type = member(part, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "text") {
      bad(true, pf + ".type", "must be \"text\" (this model takes text only)");
    }
    const Json* t = member(part, "text");
    if (!t) bad(true, pf + ".text", "is missing");
    text += text_field(*t, true, pf + ".text");
  }
  return text;
}

void parse_messages(const Json& j, const GenerateLimits& limits, GenerateCall& call) {
  const Json* m = member(j, "messages");
  if (!m) bad(true, "messages", "is missing");
  if (!m->is_array() || m->empty()) bad(true, "messages", "must be a non-empty list");
  if (m->size() > limits.max_messages) {
    bad(true, "messages", "holds " + std::to_string(m->size()) + " messages, more than the limit of " +
                              std::to_string(limits.max_messages));
  }
  for (size_t i = 0; i < m->size(); ++i) {
    const std::string field = "messages[" + std::to_string(i) + "]";
    const Json& msg = (*m)[i];
    if (!msg.is_object()) bad(true, field, "must be an object");
    const Json* role = member(msg, "role");
    if (!role) bad(true, field + ".role", "is missing");
    text_field(*role, true, field + ".role");
    Json out = msg;
    if (const auto it = msg.find("content"); it != msg.end()) {
      out["content"] = flatten_content(*it, field + ".content");
    } else if (!msg.contains("tool_calls")) {
      bad(true, field + ".content", "is missing");
    }
    call.messages.push_back(std::move(out));
  }
  if (const Json* tools = member(j, "tools")) {
    if (!tools->is_array()) bad(true, "tools", "must be a list");
    call.tools = *tools;
  }
  if (const Json* kw = member(j, "chat_template_kwargs")) {
    if (!kw->is_object()) bad(true, "chat_template_kwargs", "must be an object");
    call.chat_template_kwargs = *kw;
  }
  call.add_generation_prompt = flag(j, true, "add_generation_prompt", true);
  call.continue_final_message = flag(j, true, "continue_final_message", false);
  if (call.add_generation_prompt && call.continue_final_message) {
    bad(true, "continue_final_message", "cannot be combined with add_generation_prompt (set it to false)");
  }
}

// Parameters OpenAI has and this server cannot honour: refused, not ignored.
void refuse_unsupported(const Json& j, bool chat) {
  for (const char* key : {"presence_penalty", "frequency_penalty"}) {
    if (const Json* v = member(j, key)) {
      if (!v->is_number() || v->get<double>() != 0.0) {
        bad(chat, key, "is not supported (use repetition_penalty); only 0 is accepted");
      }
    }
  }
  if (const Json* v = member(j, "logit_bias"); v && !(v->is_object() && v->empty())) {
    bad(chat, "logit_bias", "is not supported");
  }
  if (!chat) {
    if (flag(j, chat, "echo", false)) bad(chat, "echo", "is not supported");
    if (member(j, "suffix")) bad(chat, "suffix", "is not supported");
  }
}

// A log probability as JSON can carry it: -inf (a token a warper removed)
// as vLLM's -9999.0; nan cannot come from log_softmax of finite scores but
// is kept out of the body all the same.
double finite_logprob(double x) { return std::isfinite(x) ? x : (x > 0 ? 0.0 : -9999.0); }

Json logprobs_json(const GenerateCall& call, const std::vector<TokenLogprob>& lps) {
  if (!call.logprobs) return nullptr;
  if (call.chat) {
    auto bytes = [](const std::string& s) {
      Json b = Json::array();
      for (unsigned char c : s) b.push_back(static_cast<int>(c));
      return b;
    };
    Json content = Json::array();
    for (const auto& lp : lps) {
      Json top = Json::array();
      for (const auto& [tok, p] : lp.top) {
        top.push_back({{"token", tok}, {"logprob", finite_logprob(p)}, {"bytes", bytes(tok)}});
      }
      content.push_back({{"token", lp.token},
                         {"logprob", finite_logprob(lp.logprob)},
                         {"bytes", bytes(lp.token)},
                         {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(), offsets = Json::array();
  for (const auto& lp : lps) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(finite_logprob(lp.logprob));
    // A dict keyed by text: of two alternatives with the same text (e.g.
    // special tokens decoded to ""), the more likely one stays.
    Json t = Json::object();
    for (const auto& [tok, p] : lp.top) {
      if (!t.contains(tok)) t[tok] = finite_logprob(p);
    }
    top.push_back(std::move(t));
    offsets.push_back(lp.text_offset);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

Json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

Json envelope(const GenerateCall& call, const std::string& id, int64_t created, bool chunk) {
  const char* object = call.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", id}, {"object", object}, {"created", created}, {"model", call.model}, {"system_fingerprint", nullptr}};
}

}  // namespace

GenerateCall openai_generate_call(std::string_view body, bool chat, const GenerateLimits& limits) {
  const Json j = detail::parse_body_json(body, where(chat));
  if (!j.is_object()) throw InvalidArgument(where(chat) + ": the body must be a JSON object");
  GenerateCall call;
  call.chat = chat;
  const Json* model = member(j, "model");
  if (!model) bad(chat, "model", "is missing");
  call.model = text_field(*model, chat, "model");
  if (chat) {
    parse_messages(j, limits, call);
  } else {
    parse_prompt(j, limits, call);
  }
  refuse_unsupported(j, chat);
  constexpr int64_t kMaxTokens = int64_t{1} << 30;
  call.max_tokens = integer_in(j, chat, "max_tokens", 1, kMaxTokens);
  if (chat) {
    if (auto m = integer_in(j, chat, "max_completion_tokens", 1, kMaxTokens)) call.max_tokens = m;
  }
  call.temperature = number_in(j, chat, "temperature", 0.0, 2.0);
  call.top_p = number_in(j, chat, "top_p", 0.0, 1.0);
  call.top_k = integer_in(j, chat, "top_k", 0, kMaxTokens);
  call.min_p = number_in(j, chat, "min_p", 0.0, 1.0);
  call.repetition_penalty = number_in(j, chat, "repetition_penalty", 1e-6, 1e6);
  call.min_tokens = integer_in(j, chat, "min_tokens", 0, kMaxTokens);
  if (const Json* s = member(j, "seed")) {
    if (!s->is_number_integer()) bad(chat, "seed", "must be an integer");
    call.seed = s->is_number_unsigned() ? s->get<uint64_t>() : static_cast<uint64_t>(s->get<int64_t>());
  }
  call.n = integer_in(j, chat, "n", 1, limits.max_n).value_or(1);
  if (const auto best_of = integer_in(j, chat, "best_of", 1, limits.max_n); best_of && *best_of != call.n &&
                                                                           *best_of != 1) {
    bad(chat, "best_of", "other than n is not supported");
  }
  if (const Json* stop = member(j, "stop")) {
    if (stop->is_string()) {
      call.stop.push_back(text_field(*stop, chat, "stop"));
    } else if (stop->is_array()) {
      if (stop->size() > limits.max_stop) {
        bad(chat, "stop", "holds " + std::to_string(stop->size()) + " strings; at most " +
                              std::to_string(limits.max_stop) + " are allowed");
      }
      for (size_t i = 0; i < stop->size(); ++i) call.stop.push_back(text_field((*stop)[i], chat, "stop[" + std::to_string(i) + "]"));
    } else {
      bad(chat, "stop", "must be a string or a list of strings");
    }
    for (size_t i = 0; i < call.stop.size(); ++i) {
      if (call.stop[i].empty()) bad(chat, "stop[" + std::to_string(i) + "]", "is empty");
      if (call.stop[i].size() > limits.max_stop_bytes) {
        bad(chat, "stop[" + std::to_string(i) + "]", "is longer than " + std::to_string(limits.max_stop_bytes) + " bytes");
      }
    }
  }
  if (chat) {
    const bool want = flag(j, chat, "logprobs", false);
    const auto top = integer_in(j, chat, "top_logprobs", 0, 20);
    if (top && !want) bad(chat, "top_logprobs", "needs \"logprobs\": true");
    if (want) call.logprobs = top.value_or(0);
  } else {
    call.logprobs = integer_in(j, chat, "logprobs", 0, 5);
  }
  call.stream = flag(j, chat, "stream", false);
  if (const Json* so = member(j, "stream_options")) {
    if (!call.stream) bad(chat, "stream_options", "is only allowed with \"stream\": true");
    if (!so->is_object()) bad(chat, "stream_options", "must be an object");
    call.include_usage = flag(*so, chat, "include_usage", false);
  }
  return call;
}

std::string openai_generate_response(const GenerateCall& call, const std::string& id, int64_t created,
                                     const std::vector<GeneratedChoice>& choices, const Usage& usage) {
  Json out = envelope(call, id, created, false);
  Json list = Json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    Json choice = {{"index", i}, {"logprobs", logprobs_json(call, c.logprobs)}, {"finish_reason", c.finish_reason}};
    if (call.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}, {"tool_calls", Json::array()}};
    } else {
      choice["text"] = c.text;
    }
    list.push_back(std::move(choice));
  }
  out["choices"] = std::move(list);
  out["usage"] = usage_json(usage);
  return detail::dump_json(out);
}

std::string openai_generate_chunk(const GenerateCall& call, const std::string& id, int64_t created,
                                  const ChunkPart& part) {
  Json out = envelope(call, id, created, true);
  Json choice = {{"index", part.index}, {"logprobs", logprobs_json(call, part.logprobs)}};
  choice["finish_reason"] = part.finish_reason ? Json(*part.finish_reason) : Json(nullptr);
  if (call.chat) {
    Json delta = Json::object();
    if (part.first) delta["role"] = "assistant";
    if (!part.delta.empty() || !part.finish_reason) delta["content"] = part.delta;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = part.delta;
  }
  out["choices"] = Json::array({std::move(choice)});
  if (call.include_usage) out["usage"] = nullptr;
  return detail::dump_json(out);
}

std::string openai_usage_chunk(const GenerateCall& call, const std::string& id, int64_t created,
                               const Usage& usage) {
  Json out = envelope(call, id, created, true);
  out["choices"] = Json::array();
  out["usage"] = usage_json(usage);
  return detail::dump_json(out);
}

std::string sse_event(std::string_view data) {
  std::string s = "data: ";
  s += data;
  s += "\n\n";
  return s;
}

}  // namespace optimum::serving
