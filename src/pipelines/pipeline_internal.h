// Shared plumbing of the task pipelines (private to src/pipelines): option
// parsing, tokenization with per-call truncation, the list mechanics, and
// the tokenizer facts transformers' pipelines consult (special token ids,
// model_max_length, decoding as PreTrainedTokenizerFast decodes).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/pipelines/pipeline.h"
#include "optimum/preprocessors/image_processor.h"

namespace optimum::pipelines::detail {

using tokenizers::Encoding;
using tokenizers::TruncationStrategy;

// Call options: defaults overlaid by the call's options, with every key
// checked against what the task accepts.
class Options {
 public:
  Options(const std::string& task, const Json& defaults, const Json& call,
          const std::set<std::string>& known);
  bool has(const std::string& key) const { return merged_.contains(key); }
  bool in_call(const std::string& key) const { return call_.contains(key); }
  const Json& get(const std::string& key) const { return merged_.at(key); }
  // Defaults overlaid by the call: every option given.
  const Json& merged() const { return merged_; }
  // Typed getters: InvalidArgument naming the option when the type is wrong.
  std::optional<int64_t> get_int(const std::string& key) const;  // nullopt when absent
  int64_t get_int(const std::string& key, int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

 private:
  std::string task_;
  Json merged_;
  Json call_;
};

// Truncation as transformers' tokenizer __call__ takes it (truncation=,
// max_length=, stride=): nullopt = do not truncate.
struct Truncation {
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  std::optional<size_t> max_length;  // nullopt: the tokenizer's model_max_length
  size_t stride = 0;
};

// Parses `truncation` (bool or strategy name) and `max_length` from options
// (the tokenizer kwargs a pipeline passes through).
std::optional<Truncation> truncation_from_options(const Options& options,
                                                  const std::string& truncation_key = "truncation");

// Tokenizer shared by a pipeline's calls. Truncation is set per call, so
// encoding goes through one lock; everything else is read-only.
class TokenizerHandle {
 public:
  TokenizerHandle(std::shared_ptr<tokenizers::Tokenizer> tokenizer, const std::filesystem::path& folder);

  // The encoding and, with truncation, its overflowing windows (flattened in
  // the order transformers returns them).
  std::vector<Encoding> encode(const std::string& text, const std::optional<std::string>& pair,
                               const std::optional<Truncation>& truncation,
                               bool add_special_tokens = true) const;
  // tokenizer.decode(ids, skip_special_tokens) with clean_up_tokenization_spaces.
  std::string decode(const std::vector<uint32_t>& ids, bool skip_special_tokens) const;
  // tokenizer.convert_tokens_to_string: the decoder on raw token strings.
  std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const;
  // convert_ids_to_tokens for one id.
  std::string id_to_token(uint32_t id) const;

  std::optional<uint32_t> special_id(const std::string& name) const;  // "mask_token" -> id
  std::optional<std::string> special_token(const std::string& name) const;
  std::optional<size_t> model_max_length() const { return tok_->config().model_max_length; }
  // True when the model has a continuing_subword_prefix ("##" for WordPiece).
  bool has_continuing_subword_prefix() const { return !continuing_prefix_.empty(); }
  bool padding_right() const { return tok_->config().padding_side == tokenizers::Direction::Right; }
  const tokenizers::Tokenizer& tokenizer() const { return *tok_; }
  std::shared_ptr<const tokenizers::Tokenizer> shared() const { return tok_; }

 private:
  std::shared_ptr<tokenizers::Tokenizer> tok_;
  mutable std::mutex mutex_;
  std::unique_ptr<tokenizers::Decoder> decoder_;
  std::string model_type_;         // tokenizer.json model.type
  std::string continuing_prefix_;  // "" when absent
  bool cleanup_ = false;           // clean_up_tokenization_spaces
};

// Everything a task pipeline holds: the model, its tokenizer (text tasks) or
// image processor (image tasks), the defaults.
struct Context {
  std::string task;
  std::shared_ptr<const modeling::OptimizedModel> model;
  std::shared_ptr<TokenizerHandle> tok;
  std::shared_ptr<const preprocessors::ImageProcessor> image_processor;
  Json defaults = Json::object();
};

// Output `name` of `outputs`; Error when absent.
const Tensor& output(const modeling::NamedTensors& outputs, const std::string& name);
// Label of class `i` (config id2label, LABEL_i when absent).
std::string label_of(const config::EncoderConfig& config, int64_t i);
// Number of code points.
size_t char_length(const std::string& text);

// Python-style character slices of one text in time independent of its
// length (the code points' byte offsets are found once).
class CharIndex {
 public:
  explicit CharIndex(const std::string& text);
  // Python's text[start:end] in code points ("" when end <= start).
  std::string slice(size_t start, size_t end) const;

 private:
  const std::string& text_;
  std::vector<size_t> offsets_;  // byte offset of each code point, plus text.size()
};

// Task factories (one per .cc).
std::unique_ptr<Pipeline> make_text_classification(Context ctx);
std::unique_ptr<Pipeline> make_token_classification(Context ctx);
std::unique_ptr<Pipeline> make_question_answering(Context ctx);
std::unique_ptr<Pipeline> make_fill_mask(Context ctx);
std::unique_ptr<Pipeline> make_feature_extraction(Context ctx);
std::unique_ptr<Pipeline> make_zero_shot_classification(Context ctx);
std::unique_ptr<Pipeline> make_image_classification(Context ctx);       // image_classification.cc
std::unique_ptr<Pipeline> make_image_feature_extraction(Context ctx);  // image_classification.cc
// text-embedding loads a SentenceTransformer instead of a Context.
std::unique_ptr<Pipeline> make_text_embedding(const std::string& model, const PipelineOptions& options);
// text-generation over a generation::LanguageModel (option gguf_file: a GGUF file in the folder/repository).
std::unique_ptr<Pipeline> make_text_generation(const std::string& model, const PipelineOptions& options);
// text2text-generation, summarization, translation and translation_xx_to_yy
// over an encoder-decoder (models/seq2seq.h).
bool is_text2text_task(const std::string& name);
std::unique_ptr<Pipeline> make_text2text_generation(const std::string& task, const std::string& model,
                                                    const PipelineOptions& options);

// Base carrying a Context into the public Pipeline fields, with the list
// mechanics every task's operator() shares.
class TaskPipeline : public Pipeline {
 public:
  explicit TaskPipeline(Context ctx) : ctx_(std::move(ctx)) {
    task_ = ctx_.task;
    model_ = ctx_.model;
    if (ctx_.tok) tokenizer_ = ctx_.tok->shared();
    set_defaults(ctx_.defaults);
  }

 protected:
  // The call's options over the pipeline's defaults (batch_size left out:
  // it is the list mechanics', not the task's).
  Options options(const Json& call, const std::set<std::string>& known) const {
    return Options(task_, defaults_, without_batch_size(call), known);
  }
  // Forward and postprocess of already prepared inputs, the call's
  // batch_size (else the pipeline's) at a time; results in input order.
  std::vector<Json> run_prepared(std::vector<std::unique_ptr<PreparedInput>> prepared, const Json& call) const;
  // operator() over prepare(item): one input gives its result, a list the
  // list of results (`unwrap_single`: a list of one gives its result, as
  // transformers' question-answering and fill-mask do).
  template <class Prepare>
  Json run_inputs(const Json& inputs, const Json& call, Prepare&& prepare, bool unwrap_single) const {
    std::vector<std::unique_ptr<PreparedInput>> prepared;
    if (!inputs.is_array()) {
      prepared.push_back(prepare(inputs));
      return std::move(run_prepared(std::move(prepared), call).front());
    }
    for (const Json& item : inputs) prepared.push_back(prepare(item));
    Json out(run_prepared(std::move(prepared), call));
    if (unwrap_single && out.size() == 1) return std::move(out[0]);
    return out;
  }

  Context ctx_;
};

// Runs `prepared` through forward + postprocess of `pipeline`, `batch_size`
// inputs per forward.
std::vector<Json> run_prepared(const Pipeline& pipeline, std::vector<std::unique_ptr<PreparedInput>> prepared,
                               size_t batch_size);

// The task's PreparedInput behind `input`; InvalidArgument when it was
// prepared by another task's pipeline.
template <class T>
T& prepared_as(PreparedInput& input, const std::string& task) {
  auto* p = dynamic_cast<T*>(&input);
  if (p == nullptr) throw InvalidArgument(task + ": postprocess got an input prepared by another task");
  return *p;
}

// The generation pipelines' forward: the batch's items grouped by their
// generation settings (T::group), each group generated at once by
// `generate(ids, config)` from every item's T::ids, results into T::result.
template <class T, class Generate>
void generate_by_group(std::span<PreparedInput* const> batch, const std::string& task, Generate&& generate) {
  std::map<std::string, std::vector<T*>> groups;
  for (PreparedInput* in : batch) {
    auto& p = prepared_as<T>(*in, task);
    groups[p.group].push_back(&p);
  }
  for (auto& [_, items] : groups) {
    std::vector<std::vector<int64_t>> ids;
    for (auto* p : items) ids.push_back(p->ids);
    auto out = generate(ids, items.front()->config);
    for (size_t i = 0; i < items.size(); ++i) items[i]->result = std::move(out[i]);
  }
}

}  // namespace optimum::pipelines::detail
