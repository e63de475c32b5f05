#include "routes_generate.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "protocol_util.h"

namespace optimum::serving::detail {

namespace {

using io::Json;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string next_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  const auto t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%llx", prefix, static_cast<unsigned long long>(t & 0xffffffffu),
                static_cast<unsigned long long>(++counter));
  return buf;
}

// A stream's header goes out once, before its first event, whichever
// thread gets there first (the route after queueing, or the engine).
struct EventStream {
  std::shared_ptr<Responder> res;
  std::once_flag begun;
  void begin() {
    std::call_once(begun, [this] { res->begin_stream(200, "text/event-stream"); });
  }
  void event(std::string_view data) {
    begin();
    res->write_chunk(sse_event(data));
  }
  void end() {
    begin();
    res->end_stream();
  }
};

// The error body of `render` as one event (its JSON as it would be sent).
std::string error_event(const ErrorRenderer& render, std::exception_ptr error) {
  return render(std::move(error)).body;
}

HttpResponse json_answer(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

}  // namespace

void serve_openai_generate(GenerationModel& engine, GenerateCall call, const std::shared_ptr<Responder>& res,
                           ErrorRenderer render_error) {
  const bool chat = call.chat;
  auto shared = std::make_shared<GenerateCall>(call);
  const std::string id = next_id(chat ? "chatcmpl" : "cmpl");
  const int64_t created = now_s();
  GenerationSink sink;
  sink.cancelled = res->cancelled;
  if (!call.stream) {
    sink.on_done = [res, shared, id, created](std::vector<GeneratedChoice> choices, Usage usage) {
      res->send(json_answer(openai_generate_response(*shared, id, created, choices, usage)));
    };
    sink.on_error = [res, render_error](std::exception_ptr e) { res->send(render_error(std::move(e))); };
    engine.submit(std::move(call), std::move(sink));
    return;
  }
  auto stream = std::make_shared<EventStream>();
  stream->res = res;
  // Choices that sent their first chunk (the engine's thread only).
  auto started = std::make_shared<std::vector<bool>>(call.prompt_count() * static_cast<size_t>(call.n), false);
  auto first = [started](size_t choice) {
    if (choice >= started->size()) return false;
    const bool was = (*started)[choice];
    (*started)[choice] = true;
    return !was;
  };
  sink.on_delta = [stream, shared, id, created, first](size_t choice, const std::string& delta, bool,
                                                        const std::vector<TokenLogprob>& logprobs) {
    ChunkPart part;
    part.index = choice;
    part.delta = delta;
    part.first = first(choice);
    part.logprobs = logprobs;
    stream->event(openai_generate_chunk(*shared, id, created, part));
  };
  sink.on_finish = [stream, shared, id, created, first](size_t choice, const std::string& reason) {
    ChunkPart part;
    part.index = choice;
    part.first = first(choice);
    part.finish_reason = reason;
    stream->event(openai_generate_chunk(*shared, id, created, part));
  };
  sink.on_done = [stream, shared, id, created](std::vector<GeneratedChoice>, Usage usage) {
    if (shared->include_usage) stream->event(openai_usage_chunk(*shared, id, created, usage));
    stream->event("[DONE]");
    stream->end();
  };
  sink.on_error = [stream, render_error](std::exception_ptr e) {
    stream->event(error_event(render_error, std::move(e)));
    stream->event("[DONE]");
    stream->end();
  };
  engine.submit(std::move(call), std::move(sink));
  stream->begin();
}

GenerateCall oip_generate_call(std::string_view body, const std::string& model) {
  const Json j = parse_body_json(body, "generate request");
  if (!j.is_object()) throw InvalidArgument("generate request: the body must be a JSON object");
  static const std::set<std::string> parameters = {"max_tokens", "temperature", "top_p", "top_k", "min_p",
                                                   "repetition_penalty", "min_tokens", "seed", "stop"};
  // As an OpenAI completion request, so both share one validation.
  Json openai = Json::object();
  openai["model"] = model;
  auto take = [&](const Json& object, const std::string& where) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      const std::string& k = it.key();
      if (where.empty() && (k == "text_input" || k == "parameters" || k == "id" || k == "model_name" ||
                            k == "model_version"))
        continue;
      if (k == "stream") {
        if (!it.value().is_boolean()) throw InvalidArgument("generate request: " + where + "'stream' must be true or false");
        continue;  // the route (generate or generate_stream) decides
      }
      if (!parameters.count(k)) {
        std::string known;
        for (const auto& p : parameters) known += (known.empty() ? "" : ", ") + p;
        throw InvalidArgument("generate request: unknown parameter " + where + "'" + quote_untrusted(k) +
                              "' (known: text_input, " + known + ", stream)");
      }
      openai[k] = it.value();
    }
  };
  if (!j.contains("text_input")) throw InvalidArgument("generate request: 'text_input' is missing");
  if (!j["text_input"].is_string()) throw InvalidArgument("generate request: 'text_input' must be a string");
  openai["prompt"] = j["text_input"];
  take(j, "");
  if (j.contains("parameters")) {
    if (!j["parameters"].is_object()) throw InvalidArgument("generate request: 'parameters' must be an object");
    take(j["parameters"], "parameters.");
  }
  GenerateCall call = openai_generate_call(dump_json(openai), false);
  call.stream = false;
  return call;
}

void serve_oip_generate(GenerationModel& engine, GenerateCall call, const std::string& model,
                        const std::string& version, bool stream_it, const std::shared_ptr<Responder>& res,
                        ErrorRenderer render_error) {
  GenerationSink sink;
  sink.cancelled = res->cancelled;
  auto envelope = [model, version](const std::string& text) {
    return Json{{"model_name", model}, {"model_version", version}, {"text_output", text}};
  };
  if (!stream_it) {
    call.stream = false;
    sink.on_done = [res, envelope](std::vector<GeneratedChoice> choices, Usage usage) {
      Json out = envelope(choices.at(0).text);
      out["details"] = Json{{"finish_reason", choices.at(0).finish_reason},
                            {"prompt_tokens", usage.prompt_tokens},
                            {"generated_tokens", usage.completion_tokens}};
      res->send(json_answer(dump_json(out)));
    };
    sink.on_error = [res, render_error](std::exception_ptr e) { res->send(render_error(std::move(e))); };
    engine.submit(std::move(call), std::move(sink));
    return;
  }
  call.stream = true;
  auto stream = std::make_shared<EventStream>();
  stream->res = res;
  sink.on_delta = [stream, envelope](size_t, const std::string& delta, bool, const std::vector<TokenLogprob>&) {
    if (!delta.empty()) stream->event(dump_json(envelope(delta)));
  };
  sink.on_finish = [stream, envelope](size_t, const std::string& reason) {
    Json out = envelope("");
    out["finish_reason"] = reason;
    stream->event(dump_json(out));
  };
  sink.on_done = [stream](std::vector<GeneratedChoice>, Usage) { stream->end(); };
  sink.on_error = [stream, render_error](std::exception_ptr e) {
    stream->event(error_event(render_error, std::move(e)));
    stream->end();
  };
  engine.submit(std::move(call), std::move(sink));
  stream->begin();
}

}  // namespace optimum::serving::detail
