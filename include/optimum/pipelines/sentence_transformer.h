// SentenceTransformer: a sentence-transformers model folder (modules.json)
// run natively. The module chain Transformer -> Pooling -> Dense ->
// Normalize is read from the folder as sentence-transformers reads it
// (sentence_bert_config.json, config_sentence_transformers.json, each
// module's config.json and weights), and encode() reproduces
// SentenceTransformer.encode: prompts, truncation to max_seq_length,
// length-sorted batches, order restored. The similarity functions match
// sentence_transformers.util (cos_sim, dot_score, euclidean_sim,
// manhattan_sim).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/decoder.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::pipelines {

// How Pooling reduces token embeddings; several modes are concatenated.
enum class PoolingMode { Cls, Max, Mean, MeanSqrtLen, WeightedMean, LastToken };

// "cls" | "max" | "mean" | "mean_sqrt_len_tokens" | "weightedmean" | "lasttoken".
PoolingMode pooling_mode_from_name(const std::string& name);
std::string pooling_mode_name(PoolingMode mode);

// A Pooling module: token embeddings [b, L, H] -> [b, modes * H].
struct Pooling {
  int64_t embedding_dimension = 0;
  std::vector<PoolingMode> modes;  // concatenated in this order
  bool include_prompt = true;      // false: prompt tokens are left out of the pooled tokens

  // Parses 1_Pooling/config.json in the current (pooling_mode) or the legacy
  // (pooling_mode_*_tokens flags) spelling; `source` names the file in errors.
  static Pooling from_json(const io::Json& json, const std::string& source);
  int64_t output_dimension() const { return static_cast<int64_t>(modes.size()) * embedding_dimension; }
  // token_embeddings F32 [b, L, H], attention_mask I64 [b, L]; with a
  // prompt_length and include_prompt false, the first prompt_length real
  // tokens of each row are masked out.
  Tensor forward(const Tensor& token_embeddings, const Tensor& attention_mask,
                 std::optional<size_t> prompt_length = std::nullopt) const;

 private:
  static Pooling parse_pooling(const io::Json& json, const std::string& source);
};

// Element-wise activation of a Dense module (its activation_function).
enum class Activation { Identity, Tanh, ReLU, Sigmoid, GELU };

// A torch class path ("torch.nn.Tanh", "torch.nn.modules.activation.Tanh",
// "torch.nn.modules.linear.Identity"...); Unsupported names it otherwise.
Activation activation_from_name(const std::string& name);

// A Dense module: y = activation(x W^T + b) (+ residual).
struct DenseLayer {
  int64_t in_features = 0;
  int64_t out_features = 0;
  Activation activation = Activation::Tanh;
  Tensor weight;  // F32 [out_features, in_features]
  Tensor bias;    // F32 [out_features]; undefined without bias
  bool use_residual = false;
  Tensor residual_weight;  // F32 [out_features, in_features] when residual and in != out

  // Reads `folder`/config.json and its weights (model.safetensors, else pytorch_model.bin).
  static DenseLayer load(const std::filesystem::path& folder);
  // [n, in_features] -> [n, out_features].
  Tensor forward(const Tensor& x) const;

 private:
  static DenseLayer load_dense(const std::filesystem::path& folder, const io::Json& config,
                               const std::string& src);
};

// Similarity between embeddings, as SentenceTransformer.similarity computes it.
enum class SimilarityFunction { Cosine, Dot, Euclidean, Manhattan };

// "cosine" | "dot" | "euclidean" | "manhattan" (also "cos_sim", "dot_score");
// InvalidArgument otherwise.
SimilarityFunction similarity_function_from_name(const std::string& name);
std::string similarity_function_name(SimilarityFunction f);

// [n, d] x [m, d] -> [n, m] (1-D inputs count as one row): cosine of the
// L2-normalized rows (norms clamped at 1e-12), dot products, negative
// euclidean and negative manhattan distances. InvalidArgument on mismatched
// or non-float inputs.
Tensor cos_sim(const Tensor& a, const Tensor& b);
Tensor dot_score(const Tensor& a, const Tensor& b);
Tensor euclidean_sim(const Tensor& a, const Tensor& b);
Tensor manhattan_sim(const Tensor& a, const Tensor& b);
Tensor similarity(SimilarityFunction f, const Tensor& a, const Tensor& b);

// Rows scaled to unit L2 norm (x / max(|x|, 1e-12)), as torch's F.normalize.
Tensor normalize_rows(const Tensor& x);

// Options of SentenceTransformer::from_pretrained.
struct SentenceTransformerOptions {
  modeling::LoadOptions load;  // export, threads, Hub options of the Transformer module
};

// Options of one encode() call.
struct EncodeOptions {
  size_t batch_size = 32;                  // sentences per forward pass
  bool normalize_embeddings = false;       // L2-normalize the results
  std::optional<std::string> prompt;       // prepended to every sentence; wins over prompt_name
  std::optional<std::string> prompt_name;  // key of the configured prompts
};

class SentenceTransformer {
 public:
  // Loads a sentence-transformers folder (or a plain transformers folder,
  // which gets the default mean pooling as sentence-transformers gives it).
  // NotFound / FormatError / Unsupported name the file, module and field.
  static std::shared_ptr<SentenceTransformer> from_pretrained(const std::string& model_id,
                                                              const SentenceTransformerOptions& options = {});

  // Embeddings of `sentences`: F32 [n, dimension()] in input order; [0, dimension()] for none.
  Tensor encode(const std::vector<std::string>& sentences, const EncodeOptions& options = {}) const;

  // encode() in stages, for callers that batch sentences of several calls
  // into one forward (the text-embedding pipeline): the prompt encode()
  // prepends (explicit, else by name, else the default; InvalidArgument
  // names an unknown prompt name), the prompt's token count pooling leaves
  // out (nullopt for no prompt), one sentence tokenized as encode()
  // tokenizes it (truncated to max_seq_length, unpadded), and the modules
  // after the Transformer on its token embeddings: token_embeddings F32
  // [b, L, H], attention_mask I64 [b, L] -> [b, dimension()].
  std::string resolve_prompt(const EncodeOptions& options) const;
  std::optional<size_t> prompt_tokens(const std::string& prompt) const {
    return prompt.empty() ? std::nullopt : prompt_length(prompt);
  }
  tokenizers::Encoding tokenize(const std::string& text) const;
  Tensor embed(const Tensor& token_embeddings, const Tensor& attention_mask,
               std::optional<size_t> prompt_length) const;
  // The Transformer module's model and tokenizer, sharing this object's lifetime.
  static std::shared_ptr<const modeling::OptimizedModel> shared_model(
      const std::shared_ptr<const SentenceTransformer>& st) {
    return {st, st->model_.get()};
  }
  static std::shared_ptr<const tokenizers::Tokenizer> shared_tokenizer(
      const std::shared_ptr<const SentenceTransformer>& st) {
    return {st, st->tokenizer_.get()};
  }

  // Similarity matrix with the model's similarity function.
  Tensor similarity(const Tensor& a, const Tensor& b) const {
    return pipelines::similarity(similarity_fn_, a, b);
  }

  // Size of one embedding (the last module's output dimension).
  int64_t dimension() const { return dimension_; }
  // Tokens kept per sentence; nullopt when nothing truncates.
  std::optional<size_t> max_seq_length() const { return max_seq_length_; }
  // Changes the truncation length (what setting model.max_seq_length does).
  // Not safe while another thread encodes.
  void set_max_seq_length(std::optional<size_t> length);
  SimilarityFunction similarity_fn() const { return similarity_fn_; }
  void set_similarity_fn(SimilarityFunction f) { similarity_fn_ = f; }
  const std::map<std::string, std::string>& prompts() const { return prompts_; }
  const std::optional<std::string>& default_prompt_name() const { return default_prompt_name_; }
  bool do_lower_case() const { return do_lower_case_; }
  const Pooling& pooling() const { return pooling_; }
  const std::vector<DenseLayer>& dense_layers() const { return dense_; }
  // True when a Normalize module is in the chain.
  bool normalizes() const { return normalize_; }
  // "Transformer", "Pooling", "Dense", "Normalize" in modules.json order.
  const std::vector<std::string>& module_names() const { return module_names_; }
  // The Transformer module's model: an encoder's session, or a decoder's
  // base-model session (models::DecoderSession, feature-extraction).
  const modeling::OptimizedModel& model() const;
  // The decoder engine under the session when the Transformer module is a
  // decoder (last-token-pooling embedders such as Qwen3-Embedding); else null.
  const std::shared_ptr<const models::DecoderModel>& decoder_model() const { return decoder_; }
  const tokenizers::Tokenizer& tokenizer() const { return *tokenizer_; }
  // Folder the modules were read from.
  const std::filesystem::path& path() const { return path_; }

 private:
  // The embeddings of one batch (already in batch order).
  Tensor encode_batch(const std::vector<std::string>& texts, std::optional<size_t> prompt_length) const;
  std::optional<size_t> prompt_length(const std::string& prompt) const;

  std::filesystem::path path_;
  std::shared_ptr<modeling::OptimizedModel> model_;
  std::shared_ptr<const models::DecoderModel> decoder_;  // model_'s decoder engine, for a decoder module
  std::shared_ptr<tokenizers::Tokenizer> tokenizer_;
  std::optional<size_t> max_seq_length_;
  bool do_lower_case_ = false;
  Pooling pooling_;
  std::vector<DenseLayer> dense_;
  std::vector<int> chain_;  // modules after Pooling: a dense_ index, or -1 for Normalize
  bool normalize_ = false;
  int64_t dimension_ = 0;
  SimilarityFunction similarity_fn_ = SimilarityFunction::Cosine;
  std::map<std::string, std::string> prompts_;
  std::optional<std::string> default_prompt_name_;
  std::vector<std::string> module_names_;
  bool pass_token_type_ids_ = false;
};

}  // namespace optimum::pipelines
