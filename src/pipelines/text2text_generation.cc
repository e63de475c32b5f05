// text2text-generation, summarization and translation (translation_xx_to_yy):
// transformers 4's Text2TextGenerationPipeline and its two subclasses over
// the encoder-decoder engine (models/seq2seq.h). An input string gets the
// config's `prefix` (config.json, overlaid by task_specific_params[task] as
// transformers' Pipeline.__init__ does), is tokenized with the special
// tokens and without truncation, generates with the model's
// generation_config.json overlaid by task_specific_params[task], the
// pipeline's defaults and the call's options, and is decoded with
// skip_special_tokens. The answer is one {"<name>_text": ...} per returned
// sequence (generated / summary / translation); a list of strings gives one
// record per input when each has one sequence, as transformers returns.
// src_lang / tgt_lang are accepted and, as in transformers for tokenizers
// without _build_translation_inputs, do not change the inputs.
#include <map>

#include "optimum/core/errors.h"
#include "optimum/generation/seq2seq.h"
#include "optimum/modeling/modeling.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

using generation::GenerationConfig;

const std::set<std::string>& pipeline_keys() {
  static const std::set<std::string> keys = {"return_tensors", "return_text", "return_type",
                                             "clean_up_tokenization_spaces", "truncation", "src_lang", "tgt_lang"};
  return keys;
}

std::set<std::string> known_keys() {
  std::set<std::string> keys = pipeline_keys();
  for (const auto& k : generation::generation_option_names()) keys.insert(k);
  return keys;
}

struct Prepared : PreparedInput {
  std::vector<int64_t> ids;
  GenerationConfig config;
  std::string group;
  bool tensors = false;
  bool cleanup = false;
  generation::GenerationOutput result;
};

class Text2Text : public Pipeline {
 public:
  Text2Text(std::string task, std::string params_key, std::shared_ptr<const models::Seq2SeqModel> model,
            std::shared_ptr<TokenizerHandle> tok, const std::filesystem::path& folder, const Json& defaults)
      : model_(std::move(model)), tok_(std::move(tok)) {
    task_ = std::move(task);
    tokenizer_ = tok_->shared();
    set_defaults(defaults);
    return_name_ = task_ == "summarization" ? "summary" : task_ == "translation" ? "translation" : "generated";
    base_ = GenerationConfig::from_pretrained(folder);
    const Json& config = model_->config().raw;
    if (config.contains("prefix") && config["prefix"].is_string()) prefix_ = config["prefix"].get<std::string>();
    // task_specific_params[task]: prefix and generation keys (t5's "summarize: " ...).
    if (config.contains("task_specific_params") && config["task_specific_params"].is_object() &&
        config["task_specific_params"].contains(params_key) && config["task_specific_params"][params_key].is_object()) {
      Json params = config["task_specific_params"][params_key];
      if (params.contains("prefix") && params["prefix"].is_string()) prefix_ = params["prefix"].get<std::string>();
      Json gen = Json::object();
      for (const auto& k : generation::generation_option_names()) {
        if (params.contains(k)) gen[k] = params[k];
      }
      base_.update(gen, folder.string() + " task_specific_params." + params_key);
    }
  }

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    Options opts(task_, defaults_, without_batch_size(call), known_keys());
    if (!input.is_string()) {
      throw InvalidArgument(task_ + ": an input must be a string, got " +
                            input.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    auto p = std::make_unique<Prepared>();
    Json gen = Json::object();
    for (auto it = opts.merged().begin(); it != opts.merged().end(); ++it) {
      if (!pipeline_keys().count(it.key())) gen[it.key()] = it.value();
    }
    p->config = base_;
    p->config.update(gen, task_ + " options");
    p->config.validate();
    p->group = gen.dump();
    p->tensors = opts.get_bool("return_tensors", false) && !opts.get_bool("return_text", false);
    p->cleanup = opts.get_bool("clean_up_tokenization_spaces", false);
    if (opts.has("truncation") && opts.get("truncation").is_boolean() && opts.get("truncation").get<bool>()) {
      throw Unsupported(task_ + ": truncation=True is not supported (inputs are not truncated)");
    }
    const std::vector<tokenizers::Encoding> enc = tok_->encode(prefix_ + input.get<std::string>(), std::nullopt,
                                                               std::nullopt, true);
    p->ids.assign(enc.front().ids.begin(), enc.front().ids.end());
    if (p->ids.empty()) throw InvalidArgument(task_ + ": the input tokenized to no tokens");
    p->encodings.push_back(enc.front());
    return p;
  }

  void forward(std::span<PreparedInput* const> batch) const override {
    generate_by_group<Prepared>(batch, task_, [&](const std::vector<std::vector<int64_t>>& ids,
                                                  const generation::GenerationConfig& config) {
      return generation::generate_seq2seq(model_, ids, config);
    });
  }

  Json postprocess(PreparedInput& input) const override {
    auto& p = prepared_as<Prepared>(input, task_);
    Json records = Json::array();
    const int64_t start = p.config.decoder_start_token_id.value_or(model_->config().decoder_start_token_id);
    for (const auto& seq : p.result) {
      if (p.tensors) {
        std::vector<int64_t> all{start};
        all.insert(all.end(), seq.tokens.begin(), seq.tokens.end());
        records.push_back({{return_name_ + "_token_ids", all}});
        continue;
      }
      std::vector<uint32_t> ids{static_cast<uint32_t>(start)};
      for (const int64_t t : seq.tokens) ids.push_back(static_cast<uint32_t>(t));
      std::string text = tok_->tokenizer().decode(ids, true);
      if (p.cleanup) text = clean_up_spaces(text);
      records.push_back({{return_name_ + "_text", std::move(text)}});
    }
    return records;
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const size_t batch = batch_size_option(call).value_or(batch_size_);
    if (inputs.is_array()) {
      std::vector<std::unique_ptr<PreparedInput>> prepared;
      for (const Json& item : inputs) prepared.push_back(preprocess(item, call));
      std::vector<Json> out = run_prepared(*this, std::move(prepared), batch);
      bool singles = true;
      for (const Json& r : out) singles = singles && r.size() == 1;
      Json result = Json::array();
      for (Json& r : out) result.push_back(singles ? std::move(r[0]) : std::move(r));
      return result;
    }
    std::vector<std::unique_ptr<PreparedInput>> prepared;
    prepared.push_back(preprocess(inputs, call));
    return std::move(run_prepared(*this, std::move(prepared), batch).front());
  }

 private:
  // transformers' clean_up_tokenization (the spaces before punctuation and contractions).
  static std::string clean_up_spaces(std::string s) {
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
             {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
      for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos;) {
        s.replace(pos, from.size(), to);
        pos += to.size();
      }
    }
    return s;
  }

  std::shared_ptr<const models::Seq2SeqModel> model_;
  std::shared_ptr<TokenizerHandle> tok_;
  GenerationConfig base_;
  std::string prefix_;
  std::string return_name_;
};

}  // namespace

bool is_text2text_task(const std::string& name) {
  return name == "text2text-generation" || name == "summarization" || name == "translation" ||
         (name.starts_with("translation_") && name.find("_to_") != std::string::npos);
}

std::unique_ptr<Pipeline> make_text2text_generation(const std::string& task, const std::string& model,
                                                    const PipelineOptions& options) {
  const std::string canonical = task.starts_with("translation") ? "translation" : task;
  // A checkpoint or a native export; with export_model, the export cache entry (exported once).
  modeling::LoadOptions load = options.load;
  load.task = tasks::Task::Text2TextGeneration;
  const std::filesystem::path folder = modeling::native_folder(model, load).folder;
  std::shared_ptr<const models::Seq2SeqModel> m;
  try {
    m = models::Seq2SeqModel::load(folder);
  } catch (const Unsupported& e) {
    throw Unsupported("pipeline '" + canonical + "': model '" + model + "': " + e.what());
  }
  std::shared_ptr<tokenizers::Tokenizer> tok;
  try {
    tok = std::make_shared<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(folder));
  } catch (const NotFound& e) {
    throw NotFound("pipeline '" + canonical + "': no tokenizer saved with model '" + model + "' (" + folder.string() +
                   "): " + e.what());
  }
  auto handle = std::make_shared<TokenizerHandle>(std::move(tok), folder);
  return std::make_unique<Text2Text>(canonical, task, std::move(m), std::move(handle), folder,
                                     options.defaults.is_null() ? Json::object() : options.defaults);
}

}  // namespace optimum::pipelines::detail
