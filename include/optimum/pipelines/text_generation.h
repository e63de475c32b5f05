// The text-generation pipeline over a LanguageModel loaded by the caller:
// the server loads a model once and shares it between the TorchServe
// pipeline and its continuous-batching OpenAI routes.
#pragma once

#include <memory>

#include "optimum/generation/language_model.h"
#include "optimum/pipelines/pipeline.h"

namespace optimum::pipelines {

// pipeline("text-generation", ...) over `model`; `defaults` are call
// defaults (max_new_tokens, do_sample, ...; no gguf_file: the model is
// already loaded). InvalidArgument names a bad default.
std::unique_ptr<Pipeline> text_generation_pipeline(std::shared_ptr<const generation::LanguageModel> model,
                                                   const Json& defaults = Json::object());

}  // namespace optimum::pipelines
