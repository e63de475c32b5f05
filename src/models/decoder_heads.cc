// The base-model and sequence-classification heads of the decoder engine
// (decoder_heads.h): padded rows -> ragged segments over a scratch KV cache,
// hidden states scattered back or pooled at transformers' last non-pad token.
#include "optimum/models/decoder_heads.h"

#include <algorithm>

#include "optimum/io/json.h"
#include "optimum/models/decoder_native.h"
#include "optimum/models/native_files.h"

namespace optimum::models {

namespace {

void check_tokens(const PaddedTokens& t) {
  if (t.ids == nullptr || t.batch <= 0 || t.seq <= 0) {
    throw InvalidArgument("input_ids must be a non-empty [batch, seq] matrix, got [" + std::to_string(t.batch) +
                          ", " + std::to_string(t.seq) + "]");
  }
  if (t.mask != nullptr) {
    for (int64_t i = 0; i < t.batch * t.seq; ++i) {
      if (t.mask[i] != 0 && t.mask[i] != 1) {
        throw InvalidArgument("attention_mask must hold 0 or 1, got " + std::to_string(t.mask[i]) + " at row " +
                              std::to_string(i / t.seq) + ", column " + std::to_string(i % t.seq));
      }
    }
  }
}

bool real(const PaddedTokens& t, int64_t b, int64_t j) { return t.mask == nullptr || t.mask[b * t.seq + j] != 0; }

// Each row's real tokens, compacted; rows without any are left empty.
struct Ragged {
  std::vector<std::vector<int64_t>> ids;   // per row
  std::vector<std::vector<int64_t>> cols;  // per row: the column of each real token
};

Ragged compact(const PaddedTokens& t) {
  Ragged r;
  r.ids.resize(static_cast<size_t>(t.batch));
  r.cols.resize(static_cast<size_t>(t.batch));
  for (int64_t b = 0; b < t.batch; ++b) {
    for (int64_t j = 0; j < t.seq; ++j) {
      if (real(t, b, j)) {
        r.ids[b].push_back(t.ids[b * t.seq + j]);
        r.cols[b].push_back(j);
      }
    }
  }
  return r;
}

// Hidden states (or, with `logits`, the lm_head's logits) [sum of real
// tokens, width] of the non-empty rows, in row order; undefined when every
// row is empty.
Tensor run_rows(const DecoderModel& model, const Ragged& r, bool logits = false) {
  std::vector<StepSegment> segments;
  int64_t capacity = 0;
  for (size_t b = 0; b < r.ids.size(); ++b) {
    if (r.ids[b].empty()) continue;
    const auto n = static_cast<int64_t>(r.ids[b].size());
    segments.push_back({static_cast<int64_t>(b), r.ids[b].data(), n});
    capacity = std::max(capacity, n);
  }
  if (segments.empty()) return Tensor();
  if (capacity > model.max_positions()) {
    throw InvalidArgument("a row has " + std::to_string(capacity) + " tokens, over max_position_embeddings " +
                          std::to_string(model.max_positions()));
  }
  auto cache = model.new_cache(static_cast<int64_t>(r.ids.size()), capacity);
  if (!logits) return model.hidden_states(*cache, segments);
  StepOptions options;
  options.all_logits = true;
  return model.step(*cache, segments, options);
}

// The rows of run_rows placed back at their [batch, seq] positions of a
// zero [batch, seq, width] tensor (padding positions stay zero).
Tensor scatter_rows(const Tensor& rows, const Ragged& r, const PaddedTokens& tokens, int64_t width) {
  Tensor out = Tensor::zeros(DType::F32, {tokens.batch, tokens.seq, width});
  if (!rows.defined()) return out;
  const float* src = rows.data<float>();
  float* dst = out.mutable_data<float>();
  int64_t row = 0;
  for (int64_t b = 0; b < tokens.batch; ++b) {
    for (const int64_t col : r.cols[b]) {
      std::copy_n(src + row * width, width, dst + (b * tokens.seq + col) * width);
      ++row;
    }
  }
  return out;
}

}  // namespace

Tensor decoder_last_hidden_state(const DecoderModel& model, const PaddedTokens& tokens) {
  check_tokens(tokens);
  const Ragged r = compact(tokens);
  return scatter_rows(run_rows(model, r), r, tokens, model.config().hidden_size);
}

Tensor decoder_logits(const DecoderModel& model, const PaddedTokens& tokens) {
  check_tokens(tokens);
  if (!model.has_lm_head()) {
    throw Unsupported("model_type '" + model.model_type() +
                      "': the checkpoint has no lm_head (a base model): load it for feature-extraction");
  }
  const Ragged r = compact(tokens);
  return scatter_rows(run_rows(model, r, /*logits=*/true), r, tokens, model.vocab_size());
}

int64_t last_non_pad_token(const int64_t* ids, int64_t seq, std::optional<int64_t> pad_token_id) {
  if (!pad_token_id) return seq - 1;
  // transformers: argmax(arange(seq) * (ids != pad)): the last non-pad column, 0 when none.
  for (int64_t j = seq - 1; j > 0; --j) {
    if (ids[j] != *pad_token_id) return j;
  }
  return 0;
}

DecoderForSequenceClassification::DecoderForSequenceClassification(std::shared_ptr<const DecoderModel> base,
                                                                   Linear score,
                                                                   std::optional<int64_t> pad_token_id)
    : base_(std::move(base)), score_(std::move(score)), pad_token_id_(pad_token_id) {
  if (!base_) throw InvalidArgument("DecoderForSequenceClassification: no base model");
  if (score_.in != base_->config().hidden_size || score_.out <= 0) {
    throw InvalidArgument("DecoderForSequenceClassification: score is [" + std::to_string(score_.out) + ", " +
                          std::to_string(score_.in) + "], the hidden size is " +
                          std::to_string(base_->config().hidden_size));
  }
  score_.pack(kernels::WeightType::F32);
}

SequenceClassificationHead load_sequence_classification_head(const io::Json& config, const io::WeightStore& store,
                                                             int64_t hidden, const std::string& source) {
  if (!store.contains("score.weight")) {
    throw NotFound("weight 'score.weight' not found in " + store.source() +
                   " (not a ForSequenceClassification checkpoint)");
  }
  const Shape shape = store.get("score.weight").shape();
  if (shape.size() != 2 || shape[1] != hidden || shape[0] <= 0) {
    throw FormatError("weight 'score.weight' in " + store.source() + " has shape " + shape_str(shape) +
                      ", expected [num_labels, " + std::to_string(hidden) + "]");
  }
  const int64_t num_labels = shape[0];
  SequenceClassificationHead head;
  io::with_json_context(source, [&] {
    if (config.contains("id2label") && config.at("id2label").is_object() &&
        static_cast<int64_t>(config.at("id2label").size()) != num_labels) {
      throw FormatError(source + ": id2label has " + std::to_string(config.at("id2label").size()) +
                        " labels, score.weight " + std::to_string(num_labels));
    }
    if (config.contains("pad_token_id") && !config.at("pad_token_id").is_null()) {
      head.pad_token_id = config.at("pad_token_id").get<int64_t>();
    }
    return 0;
  });
  WeightSource src(store, "");
  head.score = src.linear("score", hidden, num_labels, false);
  head.score.pack(kernels::WeightType::F32);
  return head;
}

std::shared_ptr<const DecoderForSequenceClassification> DecoderForSequenceClassification::load(
    const std::filesystem::path& dir, const DecoderLoadOptions& options) {
  return load(dir, io::read_json(dir / "config.json"), options);
}

std::shared_ptr<const DecoderForSequenceClassification> DecoderForSequenceClassification::load(
    const std::filesystem::path& dir, const io::Json& config, const DecoderLoadOptions& options) {
  const std::filesystem::path config_path = dir / "config.json";
  const std::string source = config_path.string();
  if (config.is_object() && config.contains("model_type") && config.at("model_type").is_string()) {
    decoder_family(config.at("model_type").get<std::string>());  // Unsupported before looking for weights
  }
  // A native export keeps score.weight (f32) in its engine-layout weights file.
  const bool native = !native_decoder_layout(dir).is_null();
  const io::WeightStore store =
      native ? open_native_weights(dir, io::read_json(dir / "optimum_export.json"), (dir / "optimum_export.json").string())
             : io::WeightStore::open_dir(dir);
  auto base = native ? DecoderModel::load(dir, config, options) : DecoderModel::load(config, store, source, options);
  SequenceClassificationHead head = load_sequence_classification_head(config, store, base->config().hidden_size, source);
  return std::make_shared<const DecoderForSequenceClassification>(std::move(base), std::move(head.score),
                                                                  head.pad_token_id);
}

Tensor DecoderForSequenceClassification::forward(const PaddedTokens& tokens) const {
  check_tokens(tokens);
  if (!pad_token_id_ && tokens.batch != 1) {
    throw InvalidArgument("cannot classify a batch of " + std::to_string(tokens.batch) +
                          " rows: config.json has no pad_token_id (as transformers, batches of one only)");
  }
  const Ragged r = compact(tokens);
  // Each row's pooled token, as an index into the rows run_rows returns.
  std::vector<int64_t> pick;
  int64_t offset = 0;
  for (int64_t b = 0; b < tokens.batch; ++b) {
    const int64_t col = last_non_pad_token(tokens.ids + b * tokens.seq, tokens.seq, pad_token_id_);
    const auto& cols = r.cols[b];
    const auto at = std::lower_bound(cols.begin(), cols.end(), col);
    if (at == cols.end() || *at != col) {
      throw InvalidArgument("row " + std::to_string(b) + ": its last non-pad token (column " + std::to_string(col) +
                            ") is masked out by attention_mask");
    }
    pick.push_back(offset + (at - cols.begin()));
    offset += static_cast<int64_t>(cols.size());
  }
  const Tensor hidden = run_rows(*base_, r);
  const int64_t H = base_->config().hidden_size;
  std::vector<float> x(static_cast<size_t>(tokens.batch * H));
  for (int64_t b = 0; b < tokens.batch; ++b) std::copy_n(hidden.data<float>() + pick[b] * H, H, x.data() + b * H);
  Tensor logits = Tensor::zeros(DType::F32, {tokens.batch, score_.out});
  score_.forward(x.data(), tokens.batch, logits.mutable_data<float>());
  return logits;
}

}  // namespace optimum::models
