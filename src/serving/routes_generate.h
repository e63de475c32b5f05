// The text-generation routes (private to src/serving): OpenAI
// /v1/completions and /v1/chat/completions, and the Open Inference
// Protocol's generate extension (/v2/models/{name}/generate and
// /generate_stream), over a model's continuous-batching engine. Streams are
// server-sent events; a client that goes away cancels its request (the
// Responder's cancel flag, seen by the engine between decode steps).
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "generation_model.h"
#include "optimum/serving/http.h"

namespace optimum::serving::detail {

// How a route renders an error (its protocol's error body and status).
using ErrorRenderer = std::function<HttpResponse(std::exception_ptr)>;

// Answers `call` (already parsed) from `engine`: one JSON answer, or with
// "stream": true a text/event-stream of chunks ending in "data: [DONE]".
// Errors before the stream starts (400, 429) are thrown.
void serve_openai_generate(GenerationModel& engine, GenerateCall call, const std::shared_ptr<Responder>& res,
                           ErrorRenderer render_error);

// The OIP generate request {"text_input", "parameters": {max_tokens,
// temperature, top_p, top_k, min_p, repetition_penalty, min_tokens, seed,
// stop}} (the parameters may also stand at the top level, as Triton sends
// them); InvalidArgument names an unknown or mistyped key.
GenerateCall oip_generate_call(std::string_view body, const std::string& model);

// Answers an OIP generate request: {"model_name", "model_version",
// "text_output" (the new text), "details": {"finish_reason", ...}}, or with
// `stream` one server-sent event per new piece of text.
void serve_oip_generate(GenerationModel& engine, GenerateCall call, const std::string& model,
                        const std::string& version, bool stream, const std::shared_ptr<Responder>& res,
                        ErrorRenderer render_error);

}  // namespace optimum::serving::detail
