// text-embedding (KServe's Hugging Face server task): one sentence embedding
// per input, as sentence_transformers' SentenceTransformer.encode gives it
// for a sentence-transformers folder (prompt / prompt_name, truncation to
// max_seq_length, Pooling -> Dense -> Normalize), and with the default mean
// pooling for a plain transformers folder. The module chain is
// SentenceTransformer's; this file only stages it.
#include "optimum/core/errors.h"
#include "optimum/pipelines/sentence_transformer.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

struct Params {
  std::string prompt;
  std::optional<size_t> prompt_length;  // tokens pooling leaves out (include_prompt false)
  bool normalize = false;
};

struct Prepared : PreparedInput {
  std::shared_ptr<const Params> params;
};

class TextEmbedding : public Pipeline {
 public:
  TextEmbedding(std::shared_ptr<const SentenceTransformer> st, const Json& defaults) : st_(std::move(st)) {
    task_ = "text-embedding";
    model_ = SentenceTransformer::shared_model(st_);
    if (st_->decoder_model()) throw Unsupported(task_ + ": a decoder Transformer module; use SentenceTransformer.encode");
    tokenizer_ = SentenceTransformer::shared_tokenizer(st_);
    set_defaults(defaults);
  }

  int64_t embedding_dimension() const override { return st_->dimension(); }

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    const Tensor& hidden = output(in.outputs.at(0), "last_hidden_state");
    const int64_t n = hidden.shape().size() >= 2 ? hidden.shape()[1] : 0;
    Tensor mask = Tensor::zeros(DType::I64, {1, n});
    const auto& am = in.encodings.at(0).attention_mask;
    for (int64_t i = 0; i < n; ++i)
      mask.mutable_data<int64_t>()[i] = am.empty() ? 1 : am[static_cast<size_t>(i)];
    Tensor e = st_->embed(hidden, mask, in.params->prompt_length);
    if (in.params->normalize) e = normalize_rows(e);
    const float* v = e.data<float>();
    return Json(std::vector<float>(v, v + e.numel()));
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    std::vector<std::unique_ptr<PreparedInput>> prepared;
    const size_t batch = batch_size_option(call).value_or(batch_size_);
    if (inputs.is_array()) {
      for (const Json& item : inputs) prepared.push_back(prepare(item, params));
      return Json(run_prepared(*this, std::move(prepared), batch));
    }
    prepared.push_back(prepare(inputs, params));
    return std::move(run_prepared(*this, std::move(prepared), batch).front());
  }

 private:
  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts(task_, defaults_, without_batch_size(call), {"normalize_embeddings", "prompt", "prompt_name"});
    EncodeOptions eo;
    if (opts.has("prompt") && !opts.get("prompt").is_null()) eo.prompt = opts.get_string("prompt", "");
    if (opts.has("prompt_name") && !opts.get("prompt_name").is_null())
      eo.prompt_name = opts.get_string("prompt_name", "");
    auto p = std::make_shared<Params>();
    p->normalize = opts.get_bool("normalize_embeddings", false);
    try {
      p->prompt = st_->resolve_prompt(eo);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(task_ + ": option 'prompt_name': " + e.what());
    }
    p->prompt_length = st_->prompt_tokens(p->prompt);
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (!item.is_string()) throw InvalidArgument(task_ + ": inputs must be strings, got " + item.dump());
    auto out = std::make_unique<Prepared>();
    out->encodings.push_back(st_->tokenize(params->prompt + item.get<std::string>()));
    out->params = std::move(params);
    return out;
  }

  std::shared_ptr<const SentenceTransformer> st_;
};

}  // namespace

std::unique_ptr<Pipeline> make_text_embedding(const std::string& model, const PipelineOptions& options) {
  SentenceTransformerOptions so;
  so.load = options.load;
  std::shared_ptr<const SentenceTransformer> st = SentenceTransformer::from_pretrained(model, so);
  return std::make_unique<TextEmbedding>(std::move(st), options.defaults);
}

}  // namespace optimum::pipelines::detail
