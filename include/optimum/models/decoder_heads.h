// Heads over the decoder engine besides ForCausalLM: the base model's
// last_hidden_state (feature extraction; last-token-pooling embedding models
// such as Qwen3-Embedding) and ForSequenceClassification (transformers'
// score Linear on the last non-pad token).
//
// Both take a padded batch as transformers does (input_ids [batch, seq] and
// an optional attention_mask, 1 = real token). Each row's real tokens run as
// one ragged segment at positions 0, 1, 2, ... from its first real token:
// what transformers computes for right padding; for left padding it counts
// positions from the row's first column, which RoPE families do not see
// (their scores depend on position differences only) but learned absolute
// positions (gpt2) do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optimum/models/decoder.h"
#include "optimum/models/session.h"

namespace optimum::models {

// A padded batch: ids [batch, seq] row-major; mask null = every token real.
struct PaddedTokens {
  const int64_t* ids = nullptr;
  const int64_t* mask = nullptr;
  int64_t batch = 0;
  int64_t seq = 0;
};

// last_hidden_state [batch, seq, hidden] (final-normed, as the base model
// returns it); masked positions are zeros. InvalidArgument names a bad shape,
// id or mask value.
Tensor decoder_last_hidden_state(const DecoderModel& model, const PaddedTokens& tokens);

// Causal-LM logits [batch, seq, vocab_size] of every real token (zeros at
// masked positions), as <Family>ForCausalLM returns them; Unsupported when
// the checkpoint has no lm_head. Same shapes and errors as above.
Tensor decoder_logits(const DecoderModel& model, const PaddedTokens& tokens);

// transformers' pooling index: the rightmost column whose id differs from
// `pad_token_id` (0 when every id is the pad), or seq - 1 without a pad id.
int64_t last_non_pad_token(const int64_t* ids, int64_t seq, std::optional<int64_t> pad_token_id);

// The head of a ForSequenceClassification checkpoint: `score.weight`
// [num_labels, hidden] (weight kept, packed f32) and config.json's
// pad_token_id; FormatError / NotFound name `store` and the field.
struct SequenceClassificationHead {
  Linear score;
  std::optional<int64_t> pad_token_id;
};
SequenceClassificationHead load_sequence_classification_head(const io::Json& config, const io::WeightStore& store,
                                                             int64_t hidden_size, const std::string& config_source);

// <Family>ForSequenceClassification: the base model, then score (Linear
// hidden -> num_labels, no bias) on each row's last non-pad token.
class DecoderForSequenceClassification {
 public:
  // config.json (pad_token_id, id2label) + weights with `score.weight`: a
  // checkpoint folder or a native export of one (exporters/decoder_export.h).
  static std::shared_ptr<const DecoderForSequenceClassification> load(const std::filesystem::path& dir,
                                                                      const DecoderLoadOptions& options = {});
  // The same with dir's config.json already read (`config`).
  static std::shared_ptr<const DecoderForSequenceClassification> load(const std::filesystem::path& dir,
                                                                      const io::Json& config,
                                                                      const DecoderLoadOptions& options = {});
  DecoderForSequenceClassification(std::shared_ptr<const DecoderModel> base, Linear score,
                                   std::optional<int64_t> pad_token_id);

  // Logits [batch, num_labels]. As transformers: without a pad_token_id a
  // batch of more than one row is refused; the pooled token must be a real
  // (unmasked) one.
  Tensor forward(const PaddedTokens& tokens) const;

  int64_t num_labels() const { return score_.out; }
  const Linear& score() const { return score_; }
  std::optional<int64_t> pad_token_id() const { return pad_token_id_; }
  const DecoderModel& base() const { return *base_; }

 private:
  std::shared_ptr<const DecoderModel> base_;
  Linear score_;
  std::optional<int64_t> pad_token_id_;
};

// The decoder heads behind the Session interface (OptimizedModel):
// feature-extraction (last_hidden_state [batch, seq, hidden]),
// text-classification (logits [batch, num_labels]) and text-generation
// (logits [batch, seq, vocab]), over inputs input_ids [batch, seq] and an
// optional attention_mask of the same shape (int64 or int32).
class DecoderSession : public Session {
 public:
  // Loads `dir` (checkpoint or native export) with its config.json already
  // read; Unsupported names a task without a decoder head.
  // text-generation refuses a checkpoint without lm_head unless
  // `allow_base_model` (its logits are then refused when run).
  static std::shared_ptr<const DecoderSession> load(const std::filesystem::path& dir, const io::Json& config,
                                                    tasks::Task task, const DecoderLoadOptions& options = {},
                                                    bool allow_base_model = false);
  // A session over a decoder already loaded (a GGUF file's, converted in
  // memory): feature-extraction or text-generation.
  static std::shared_ptr<const DecoderSession> from_model(std::shared_ptr<const DecoderModel> model, tasks::Task task);

  NamedTensors run(const std::map<std::string, Tensor>& inputs, const RunOptions& options = {}) const override;
  std::vector<std::string> input_names() const override { return {"input_ids", "attention_mask"}; }
  std::vector<std::string> output_names() const override;
  tasks::Task task() const override { return task_; }
  const std::string& model_type() const override { return base().model_type(); }
  const io::Json& config_json() const override { return base().config().raw; }
  bool is_decoder() const override { return true; }
  const char* session_type() const override { return "DecoderSession"; }

  // The engine under the head.
  const DecoderModel& base() const { return classifier_ ? classifier_->base() : *model_; }
  // Shares the engine (generation runs on it); null for text-classification.
  std::shared_ptr<const DecoderModel> model() const { return model_; }
  // Set for text-classification.
  const DecoderForSequenceClassification* classifier() const { return classifier_.get(); }

 private:
  DecoderSession() = default;
  tasks::Task task_ = tasks::Task::FeatureExtraction;
  std::shared_ptr<const DecoderModel> model_;
  std::shared_ptr<const DecoderForSequenceClassification> classifier_;
};

}  // namespace optimum::models
