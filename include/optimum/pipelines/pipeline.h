// Task pipelines: text in, transformers-shaped results out. Each task
// reproduces the pre- and post-processing of its transformers pipeline
// (tokenization options, truncation defaults, score functions, sorting,
// word reconstruction), so results are the same values with the same
// structure. Inputs, call options and results are JSON values, which is what
// both the Python shell (kwargs, dicts and lists) and the CLI (JSON lines)
// speak.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/modeling/modeling.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::pipelines {

using io::Json;

// How pipeline() loads the model and which call options it applies by default.
struct PipelineOptions {
  modeling::LoadOptions load;  // hub / export / threads; the task is set by pipeline()
  Json defaults =
      Json::object();  // call options used when a call does not give them (pipeline(task, top_k=3))

  // Splits transformers-style keyword arguments: export, dtype, revision,
  // subfolder, cache_dir, token, force_download, local_files_only and
  // num_threads load the model; every other key becomes a call default.
  static PipelineOptions from_kwargs(const Json& kwargs);
};

// One input on its way through a pipeline's stages: preprocess (checks and
// tokenizes it with its call's options) -> forward (one model run over the
// encodings of many inputs, possibly from many calls) -> postprocess (the
// task's result for this input). Tasks derive from it to carry their parsed
// options and per-input state.
class PreparedInput {
 public:
  virtual ~PreparedInput() = default;
  std::vector<tokenizers::Encoding> encodings;  // the sequences the forward runs for this input
  std::vector<modeling::NamedTensors> outputs;  // one per encoding, filled by Pipeline::forward
  // Tokens over all encodings (the scheduler's budget unit) and the longest one.
  size_t tokens() const;
  size_t max_length() const;
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;

  // ---- Staged API (shared by the batched call and the server's scheduler) ----
  // Stage 1, any thread: one input (as one element of a list passed to
  // operator()) with the call's options overlaid on the pipeline's defaults.
  // InvalidArgument names the bad key or value.
  virtual std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& options) const = 0;
  // Stage 2, compute thread: one forward over every encoding of `batch`
  // (padded to the longest, or unpadded where the engine supports it); fills
  // each input's `outputs`. Results equal running each input alone (within
  // float rounding).
  virtual void forward(std::span<PreparedInput* const> batch) const;
  // Stage 3, any thread: the task's result for one input, equal to what
  // operator() gives for that input alone (the element of the list it
  // returns for a list; question-answering and fill-mask unwrap a list of
  // one, so there it is operator()([input], options) itself).
  virtual Json postprocess(PreparedInput& input) const = 0;
  // List in, list out: preprocess every input, forward `batch_size` inputs at
  // a time (inputs sorted by length, longest first, so each forward holds
  // similar lengths; results in input order), postprocess (what
  // pipeline(..., batch_size=N)(list) does).
  // `options` may carry batch_size (then it is ignored here). Each result is
  // the one-input result, so tasks whose call on a list of one unwraps it
  // (question-answering, fill-mask) still give one value per input.
  std::vector<Json> run_batch(const std::vector<Json>& inputs, const Json& options, size_t batch_size) const;

  // Runs the task on one input (a string, or an object such as
  // {"text", "text_pair"} / {"question", "context"}) or on an array of
  // inputs, returning what transformers' pipeline returns for the same call.
  // `options` are the call's keyword arguments (top_k, aggregation_strategy...);
  // unknown keys raise InvalidArgument naming them. A list runs through the
  // stages above, batch_size inputs per forward (the call's batch_size,
  // else the pipeline's).
  virtual Json operator()(const Json& inputs, const Json& options = Json::object()) const = 0;

  // Size of one result vector for embedding tasks (text-embedding); 0 for
  // every other task.
  virtual int64_t embedding_dimension() const { return 0; }
  // Inputs per forward of operator() on a list: the pipeline's batch_size
  // (pipeline(task, model, batch_size=N)), else 1.
  size_t batch_size() const { return batch_size_; }

  // Canonical task name ("text-classification", ...).
  const std::string& task() const { return task_; }
  const modeling::OptimizedModel& model() const { return *model_; }
  const tokenizers::Tokenizer& tokenizer() const { return *tokenizer_; }

 protected:
  // Sets defaults_ and batch_size_ from pipeline() call defaults (batch_size
  // moves out of the defaults; InvalidArgument names a bad value).
  void set_defaults(const Json& defaults);

  std::string task_;
  std::shared_ptr<const modeling::OptimizedModel> model_;
  std::shared_ptr<const tokenizers::Tokenizer> tokenizer_;
  Json defaults_ = Json::object();  // call defaults, without batch_size
  size_t batch_size_ = 1;
};

// `options["batch_size"]` as a positive count (nullopt when absent or null);
// InvalidArgument names the option and the value otherwise.
std::optional<size_t> batch_size_option(const Json& options);
// `options` without batch_size (a copy; non-objects are returned as they are).
Json without_batch_size(const Json& options);

// Task names pipeline() accepts, canonical names first (text-embedding:
// sentence embeddings as SentenceTransformer.encode gives them, for a
// sentence-transformers folder or, with mean pooling, a plain one).
std::vector<std::string> pipeline_tasks();

// Builds the pipeline for `task` (a canonical name or an alias:
// sentiment-analysis, ner) over `model` (a folder or Hub id), loading the
// model head the task needs and the tokenizer saved with it. InvalidArgument
// names an unknown task; Unsupported says when the model cannot do the task
// (e.g. zero-shot-classification without an entailment label).
std::unique_ptr<Pipeline> pipeline(const std::string& task, const std::string& model,
                                   const PipelineOptions& options = {});

}  // namespace optimum::pipelines
