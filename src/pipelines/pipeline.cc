// pipeline(): task names, model + tokenizer loading, and the shared helpers
// of pipeline_internal.h.
#include "optimum/pipelines/pipeline.h"

#include <algorithm>
#include <map>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/components.h"
#include "pipeline_internal.h"

namespace optimum::pipelines {

namespace detail {

// ---------------------------------------------------------------- options

Options::Options(const std::string& task, const Json& defaults, const Json& call,
                 const std::set<std::string>& known)
    : task_(task), merged_(Json::object()), call_(call.is_null() ? Json::object() : call) {
  if (!call_.is_object())
    throw InvalidArgument(task + ": call options must be a JSON object, got " + call_.dump());
  for (const Json* src : {&defaults, static_cast<const Json*>(&call_)}) {
    if (src->is_null()) continue;
    for (auto it = src->begin(); it != src->end(); ++it) {
      if (!known.count(it.key())) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        throw InvalidArgument(task + ": unknown option '" + it.key() + "' (known: " + list + ")");
      }
      merged_[it.key()] = it.value();
    }
  }
}

std::optional<int64_t> Options::get_int(const std::string& key) const {
  if (!has(key) || merged_[key].is_null()) return std::nullopt;
  const Json& v = merged_[key];
  if (!v.is_number_integer())
    throw InvalidArgument(task_ + ": option '" + key + "' must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

int64_t Options::get_int(const std::string& key, int64_t fallback) const {
  auto v = get_int(key);
  return v ? *v : fallback;
}

bool Options::get_bool(const std::string& key, bool fallback) const {
  if (!has(key) || merged_[key].is_null()) return fallback;
  const Json& v = merged_[key];
  if (!v.is_boolean())
    throw InvalidArgument(task_ + ": option '" + key + "' must be true or false, got " + v.dump());
  return v.get<bool>();
}

std::string Options::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key) || merged_[key].is_null()) return fallback;
  const Json& v = merged_[key];
  if (!v.is_string())
    throw InvalidArgument(task_ + ": option '" + key + "' must be a string, got " + v.dump());
  return v.get<std::string>();
}

std::optional<Truncation> truncation_from_options(const Options& options, const std::string& truncation_key) {
  if (!options.has(truncation_key)) return std::nullopt;
  const Json& v = options.get(truncation_key);
  Truncation t;
  if (v.is_boolean()) {
    if (!v.get<bool>()) return std::nullopt;
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "do_not_truncate") return std::nullopt;
    if (s == "longest_first") {
      t.strategy = TruncationStrategy::LongestFirst;
    } else if (s == "only_first") {
      t.strategy = TruncationStrategy::OnlyFirst;
    } else if (s == "only_second") {
      t.strategy = TruncationStrategy::OnlySecond;
    } else {
      throw InvalidArgument(
          "option '" + truncation_key + "': '" + s +
          "' is not one of true, false, longest_first, only_first, only_second, do_not_truncate");
    }
  } else if (!v.is_null()) {
    throw InvalidArgument("option '" + truncation_key + "' must be a boolean or a strategy name, got " +
                          v.dump());
  } else {
    return std::nullopt;
  }
  if (auto m = options.get_int("max_length")) {
    if (*m <= 0) throw InvalidArgument("option 'max_length' must be positive, got " + std::to_string(*m));
    t.max_length = static_cast<size_t>(*m);
  }
  return t;
}

// ---------------------------------------------------------------- tokenizer

TokenizerHandle::TokenizerHandle(std::shared_ptr<tokenizers::Tokenizer> tokenizer,
                                 const std::filesystem::path& folder)
    : tok_(std::move(tokenizer)) {
  tok_->no_padding();
  tok_->no_truncation();
  std::error_code ec;
  const auto json_path = folder / "tokenizer.json";
  if (std::filesystem::exists(json_path, ec)) {
    const Json j = io::read_json(json_path);
    io::with_json_context(json_path.string(), [&] {
      if (j.contains("decoder") && !j["decoder"].is_null()) decoder_ = tokenizers::make_decoder(j["decoder"]);
      if (j.contains("model") && j["model"].is_object()) {
        const Json& m = j["model"];
        model_type_ = m.value("type", "");
        if (m.contains("continuing_subword_prefix") && m["continuing_subword_prefix"].is_string()) {
          continuing_prefix_ = m["continuing_subword_prefix"].get<std::string>();
        } else if (model_type_ == "WordPiece" && !m.contains("continuing_subword_prefix")) {
          continuing_prefix_ = "##";
        }
      }
    });
  } else if (std::filesystem::exists(folder / "vocab.txt", ec)) {
    // Legacy BERT folder: transformers converts it to WordPiece with the "##" prefix and decoder.
    model_type_ = "WordPiece";
    continuing_prefix_ = "##";
    decoder_ = tokenizers::make_decoder(Json{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}});
  } else {
    model_type_ = "BPE";
    decoder_ = tokenizers::make_decoder(
        Json{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}});
  }
  const Json& raw = tok_->config().raw;
  if (raw.is_object() && raw.contains("clean_up_tokenization_spaces") &&
      raw["clean_up_tokenization_spaces"].is_boolean()) {
    cleanup_ = raw["clean_up_tokenization_spaces"].get<bool>();
  }
  // transformers skips the clean-up for BPE models (it would corrupt the text).
  if (model_type_ == "BPE") cleanup_ = false;
}

std::vector<Encoding> TokenizerHandle::encode(const std::string& text, const std::optional<std::string>& pair,
                                              const std::optional<Truncation>& truncation,
                                              bool add_special_tokens) const {
  std::optional<tokenizers::TruncationParams> params;
  if (truncation) {
    std::optional<size_t> max_length = truncation->max_length ? truncation->max_length : model_max_length();
    if (max_length) {
      tokenizers::TruncationParams p;
      p.max_length = *max_length;
      p.stride = truncation->stride;
      p.strategy = truncation->strategy;
      p.direction = tok_->config().truncation_side;
      params = p;
    }
  }
  Encoding enc;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (params) {
      tok_->enable_truncation(*params);
    } else {
      tok_->no_truncation();
    }
    enc = pair ? tok_->encode(text, std::string_view(*pair), add_special_tokens)
               : tok_->encode(text, std::nullopt, add_special_tokens);
  }
  std::vector<Encoding> out;
  std::vector<Encoding> overflowing = std::move(enc.overflowing);
  enc.overflowing.clear();
  out.push_back(std::move(enc));
  for (auto& o : overflowing) {
    o.overflowing.clear();
    out.push_back(std::move(o));
  }
  return out;
}

std::string TokenizerHandle::decode(const std::vector<uint32_t>& ids, bool skip_special_tokens) const {
  std::string text = tok_->decode(ids, skip_special_tokens);
  if (!cleanup_) return text;
  // transformers' clean_up_tokenization, replacement by replacement.
  static const std::vector<std::pair<std::string, std::string>> kReplacements = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kReplacements) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
      out.append(text, pos, hit - pos);
      out += to;
    }
    out.append(text, pos, std::string::npos);
    text = std::move(out);
  }
  return text;
}

std::string TokenizerHandle::convert_tokens_to_string(const std::vector<std::string>& tokens) const {
  if (decoder_) return decoder_->decode(tokens);
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return out;
}

std::string TokenizerHandle::id_to_token(uint32_t id) const {
  for (const auto& a : tok_->added_tokens()) {
    if (a.id == id) return a.content;
  }
  auto t = tok_->id_to_token(id);
  return t ? *t : std::string();
}

std::optional<std::string> TokenizerHandle::special_token(const std::string& name) const {
  const auto& specials = tok_->config().special_tokens;
  auto it = specials.find(name);
  if (it == specials.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> TokenizerHandle::special_id(const std::string& name) const {
  auto t = special_token(name);
  if (!t) return std::nullopt;
  return tok_->token_to_id(*t);
}

// ---------------------------------------------------------------- model

const Tensor& output(const modeling::NamedTensors& outputs, const std::string& name) {
  for (const auto& [n, t] : outputs) {
    if (n == name) return t;
  }
  throw Error("model output '" + name + "' is missing");
}

std::string label_of(const config::EncoderConfig& config, int64_t i) {
  auto it = config.id2label.find(i);
  if (it != config.id2label.end()) return it->second;
  return "LABEL_" + std::to_string(i);
}

namespace {
bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }
}  // namespace

size_t char_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += is_continuation(c) ? 0 : 1;
  return n;
}

CharIndex::CharIndex(const std::string& text) : text_(text) {
  for (size_t b = 0; b < text.size(); ++b) {
    if (!is_continuation(static_cast<unsigned char>(text[b]))) offsets_.push_back(b);
  }
  offsets_.push_back(text.size());
}

std::string CharIndex::slice(size_t start, size_t end) const {
  const size_t chars = offsets_.size() - 1;
  const size_t b_start = start <= chars ? offsets_[start] : text_.size();
  const size_t b_end = end <= chars ? offsets_[end] : text_.size();
  if (end <= start || b_start >= b_end) return "";
  return text_.substr(b_start, b_end - b_start);
}

}  // namespace detail

// ---------------------------------------------------------------- staged API

size_t PreparedInput::tokens() const {
  size_t n = 0;
  for (const auto& e : encodings) n += e.ids.size();
  return n;
}

size_t PreparedInput::max_length() const {
  size_t n = 0;
  for (const auto& e : encodings) n = std::max(n, e.ids.size());
  return n;
}

std::optional<size_t> batch_size_option(const Json& options) {
  if (!options.is_object() || !options.contains("batch_size")) return std::nullopt;
  const Json& v = options["batch_size"];
  if (v.is_null()) return std::nullopt;
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() <= 0) || v.get<uint64_t>() == 0) {
    throw InvalidArgument("option 'batch_size' must be a positive integer, got " + v.dump());
  }
  return static_cast<size_t>(v.get<uint64_t>());
}

Json without_batch_size(const Json& options) {
  if (!options.is_object() || !options.contains("batch_size")) return options;
  Json out = options;
  out.erase("batch_size");
  return out;
}

void Pipeline::set_defaults(const Json& defaults) {
  const Json d = defaults.is_null() ? Json::object() : defaults;
  if (!d.is_object()) throw InvalidArgument("pipeline defaults must be a JSON object, got " + d.dump());
  batch_size_ = batch_size_option(d).value_or(1);
  defaults_ = without_batch_size(d);
}

namespace {

// Which outputs carry one row per token ([batch, seq, ...]); the others
// carry one row per sequence ([batch, ...]).
bool per_token_output(const std::string& name, const Tensor& t) {
  if (name == "last_hidden_state" || name == "start_logits" || name == "end_logits") return true;
  if (name == "logits") return t.shape().size() == 3;
  return false;
}

}  // namespace

void Pipeline::forward(std::span<PreparedInput* const> batch) const {
  std::vector<const tokenizers::Encoding*> encodings;
  for (PreparedInput* p : batch) {
    p->outputs.clear();
    for (const auto& e : p->encodings) {
      if (e.ids.empty()) throw InvalidArgument(task_ + ": an input tokenized to no tokens");
      encodings.push_back(&e);
    }
  }
  if (encodings.empty()) return;
  const auto rows = static_cast<int64_t>(encodings.size());
  int64_t seq = 0;
  for (const auto* e : encodings) seq = std::max(seq, static_cast<int64_t>(e->ids.size()));
  // Right padding whatever the tokenizer's side: every row then keeps its
  // positions, and the engine skips the padding (skip_padding).
  int64_t pad_id = 0;
  const auto& specials = tokenizer_->config().special_tokens;
  if (auto it = specials.find("pad_token"); it != specials.end()) {
    if (auto id = tokenizer_->token_to_id(it->second)) pad_id = *id;
  }
  Tensor ids = Tensor::zeros(DType::I64, {rows, seq});
  Tensor mask = Tensor::zeros(DType::I64, {rows, seq});
  Tensor types = Tensor::zeros(DType::I64, {rows, seq});
  int64_t* pi = ids.mutable_data<int64_t>();
  int64_t* pm = mask.mutable_data<int64_t>();
  int64_t* pt = types.mutable_data<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& e = *encodings[static_cast<size_t>(r)];
    const auto n = static_cast<int64_t>(e.ids.size());
    for (int64_t i = 0; i < seq; ++i) {
      const auto u = static_cast<size_t>(i);
      const int64_t at = r * seq + i;
      if (i < n) {
        pi[at] = e.ids[u];
        pm[at] = e.attention_mask.empty() ? 1 : e.attention_mask[u];
        pt[at] = e.type_ids.empty() ? 0 : e.type_ids[u];
      } else {
        pi[at] = pad_id;
      }
    }
  }
  std::map<std::string, Tensor> inputs = {{"input_ids", ids}, {"attention_mask", mask}};
  const auto names = model_->input_names();
  if (std::find(names.begin(), names.end(), "token_type_ids") != names.end()) inputs["token_type_ids"] = types;
  const modeling::NamedTensors out = model_->forward(inputs, /*skip_padding=*/true);

  // Each encoding's rows back, real tokens only: what a forward of it alone gives.
  size_t r = 0;
  for (PreparedInput* p : batch) {
    for (const auto& e : p->encodings) {
      const auto n = static_cast<int64_t>(e.ids.size());
      modeling::NamedTensors mine;
      for (const auto& [name, t] : out) {
        const Shape& shape = t.shape();
        if (shape.empty() || shape[0] != rows) {
          throw Error(task_ + ": model output '" + name + "' has no batch dimension of " + std::to_string(rows));
        }
        if (rows == 1) {
          mine.emplace_back(name, t);
          continue;
        }
        const bool tokens = per_token_output(name, t);
        if (tokens && (shape.size() < 2 || shape[1] != seq)) {
          throw Error(task_ + ": model output '" + name + "' has no sequence dimension of " + std::to_string(seq));
        }
        Shape s = shape;
        s[0] = 1;
        if (tokens) s[1] = n;
        int64_t inner = 1;
        for (size_t d = tokens ? 2 : 1; d < shape.size(); ++d) inner *= shape[d];
        const int64_t row_stride = tokens ? seq * inner : inner;
        const size_t offset = static_cast<size_t>(static_cast<int64_t>(r) * row_stride) * dtype_size(t.dtype());
        mine.emplace_back(name, Tensor::from_data(t.dtype(), s, static_cast<const char*>(t.raw()) + offset));
      }
      p->outputs.push_back(std::move(mine));
      ++r;
    }
  }
}

std::vector<Json> Pipeline::run_batch(const std::vector<Json>& inputs, const Json& options,
                                      size_t batch_size) const {
  if (batch_size == 0) throw InvalidArgument("option 'batch_size' must be a positive integer, got 0");
  const Json call = without_batch_size(options);
  std::vector<std::unique_ptr<PreparedInput>> prepared;
  prepared.reserve(inputs.size());
  for (const Json& in : inputs) prepared.push_back(preprocess(in, call));
  return detail::run_prepared(*this, std::move(prepared), batch_size);
}

namespace detail {

std::vector<Json> TaskPipeline::run_prepared(std::vector<std::unique_ptr<PreparedInput>> prepared,
                                             const Json& call) const {
  return detail::run_prepared(*this, std::move(prepared), batch_size_option(call).value_or(batch_size_));
}

std::vector<Json> run_prepared(const Pipeline& pipeline, std::vector<std::unique_ptr<PreparedInput>> prepared,
                               size_t batch_size) {
  if (batch_size == 0) throw InvalidArgument("option 'batch_size' must be a positive integer, got 0");
  // Batches of similar lengths: inputs sorted by their longest encoding (a
  // stable sort, longest first), so a forward wastes little on padding rows;
  // results go back in input order.
  std::vector<size_t> order(prepared.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (batch_size > 1) {
    std::vector<size_t> length(prepared.size());
    for (size_t i = 0; i < prepared.size(); ++i) length[i] = prepared[i]->max_length();
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return length[a] > length[b]; });
  }
  std::vector<Json> results(prepared.size());
  std::vector<PreparedInput*> chunk;
  for (size_t start = 0; start < order.size(); start += batch_size) {
    const size_t stop = std::min(order.size(), start + batch_size);
    chunk.clear();
    for (size_t i = start; i < stop; ++i) chunk.push_back(prepared[order[i]].get());
    pipeline.forward(chunk);
    for (size_t i = start; i < stop; ++i) {
      results[order[i]] = pipeline.postprocess(*prepared[order[i]]);
      prepared[order[i]].reset();  // outputs (fill-mask logits can be large) go as soon as they are used
    }
  }
  return results;
}

}  // namespace detail

// ---------------------------------------------------------------- factory

namespace {

struct TaskEntry {
  const char* name;
  tasks::Task head;
  std::unique_ptr<Pipeline> (*make)(detail::Context);
};

const std::vector<TaskEntry>& task_table() {
  static const std::vector<TaskEntry> table = {
      {"text-classification", tasks::Task::TextClassification, detail::make_text_classification},
      {"token-classification", tasks::Task::TokenClassification, detail::make_token_classification},
      {"question-answering", tasks::Task::QuestionAnswering, detail::make_question_answering},
      {"fill-mask", tasks::Task::FillMask, detail::make_fill_mask},
      {"feature-extraction", tasks::Task::FeatureExtraction, detail::make_feature_extraction},
      {"zero-shot-classification", tasks::Task::TextClassification, detail::make_zero_shot_classification},
      {"image-classification", tasks::Task::ImageClassification, detail::make_image_classification},
      {"image-feature-extraction", tasks::Task::FeatureExtraction, detail::make_image_feature_extraction},
  };
  return table;
}

const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> a = {{"sentiment-analysis", "text-classification"},
                                                       {"ner", "token-classification"}};
  return a;
}

}  // namespace

PipelineOptions PipelineOptions::from_kwargs(const Json& kwargs) {
  PipelineOptions o;
  if (kwargs.is_null()) return o;
  if (!kwargs.is_object())
    throw InvalidArgument("pipeline options must be a JSON object, got " + kwargs.dump());
  auto str = [&](const std::string& key, const Json& v) {
    if (v.is_null()) return std::string();
    if (!v.is_string())
      throw InvalidArgument("pipeline option '" + key + "' must be a string, got " + v.dump());
    return v.get<std::string>();
  };
  auto boolean = [&](const std::string& key, const Json& v) {
    if (v.is_null()) return false;
    if (!v.is_boolean())
      throw InvalidArgument("pipeline option '" + key + "' must be true or false, got " + v.dump());
    return v.get<bool>();
  };
  for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "export") {
      o.load.export_model = boolean(k, v);
    } else if (k == "dtype") {
      if (!v.is_null()) o.load.dtype = str(k, v);
    } else if (k == "revision") {
      o.load.hub.revision = str(k, v);
    } else if (k == "subfolder") {
      o.load.hub.subfolder = str(k, v);
    } else if (k == "cache_dir") {
      o.load.hub.cache_dir = str(k, v);
    } else if (k == "token") {
      o.load.hub.token = str(k, v);
    } else if (k == "force_download") {
      o.load.hub.force_download = boolean(k, v);
    } else if (k == "local_files_only") {
      o.load.hub.local_files_only = boolean(k, v);
    } else if (k == "num_threads") {
      if (!v.is_null() && !v.is_number_integer())
        throw InvalidArgument("pipeline option 'num_threads' must be an integer");
      o.load.num_threads = v.is_null() ? 0 : v.get<int>();
    } else {
      o.defaults[k] = v;
    }
  }
  return o;
}

std::vector<std::string> pipeline_tasks() {
  std::vector<std::string> out;
  for (const auto& t : task_table()) out.push_back(t.name);
  out.push_back("text-embedding");
  out.push_back("text-generation");
  for (const char* t : {"text2text-generation", "summarization", "translation"}) out.push_back(t);
  for (const auto& [alias, _] : aliases()) out.push_back(alias);
  return out;
}

std::unique_ptr<Pipeline> pipeline(const std::string& task, const std::string& model,
                                   const PipelineOptions& options) {
  std::string name = task;
  if (auto a = aliases().find(name); a != aliases().end()) name = a->second;
  if (name == "text-embedding") return detail::make_text_embedding(model, options);
  if (name == "text-generation") return detail::make_text_generation(model, options);
  if (detail::is_text2text_task(name)) return detail::make_text2text_generation(name, model, options);
  const TaskEntry* entry = nullptr;
  for (const auto& t : task_table()) {
    if (name == t.name) entry = &t;
  }
  if (!entry) {
    std::string list;
    for (const auto& t : pipeline_tasks()) list += (list.empty() ? "" : ", ") + t;
    throw InvalidArgument("unknown pipeline task '" + task + "' (supported: " + list + ")");
  }
  modeling::LoadOptions load = options.load;
  load.task = entry->head;
  detail::Context ctx;
  ctx.task = entry->name;
  ctx.defaults = options.defaults.is_null() ? Json::object() : options.defaults;
  try {
    ctx.model = modeling::OptimizedModel::from_pretrained(model, load);
  } catch (const NotFound& e) {
    throw NotFound("pipeline '" + ctx.task + "': model '" + model + "' cannot be loaded with the " +
                   tasks::task_name(entry->head) + " head this task needs: " + e.what());
  } catch (const Unsupported& e) {
    throw Unsupported("pipeline '" + ctx.task + "': model '" + model + "' cannot be loaded with the " +
                      tasks::task_name(entry->head) + " head this task needs: " + e.what());
  }
  const auto folder = ctx.model->path();
  if (ctx.task.starts_with("image-")) {
    // Image tasks read preprocessor_config.json (copied next to every export) instead of a tokenizer.
    try {
      ctx.image_processor = std::make_shared<const preprocessors::ImageProcessor>(
          preprocessors::ImageProcessor::from_pretrained(folder));
    } catch (const NotFound& e) {
      throw NotFound("pipeline '" + ctx.task + "': no image processor saved with model '" + model + "' (" +
                     folder.string() + "): " + e.what());
    }
    return entry->make(std::move(ctx));
  }
  std::shared_ptr<tokenizers::Tokenizer> tok;
  try {
    tok = std::make_shared<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(folder));
  } catch (const NotFound& e) {
    throw NotFound("pipeline '" + ctx.task + "': no tokenizer saved with model '" + model + "' (" +
                   folder.string() + "): " + e.what());
  }
  ctx.tok = std::make_shared<detail::TokenizerHandle>(std::move(tok), folder);
  return entry->make(std::move(ctx));
}

}  // namespace optimum::pipelines
