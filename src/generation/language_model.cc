#include "optimum/generation/language_model.h"

#include <fstream>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/hub/hub.h"
#include "optimum/io/gguf.h"
#include "optimum/models/decoder_heads.h"
#include "optimum/models/gguf.h"
#include "optimum/tokenizers/gguf.h"

namespace optimum::generation {

namespace fs = std::filesystem;

namespace {

bool is_gguf_path(const std::string& s) {
  return s.size() > 5 && s.compare(s.size() - 5, 5, ".gguf") == 0;
}

// The GGUF file `model_id` + `gguf_file` name: a local file, a file in a
// local folder, or a file of a Hub repository (downloaded into the cache).
fs::path locate_gguf(const std::string& model_id, const LanguageModelOptions& o) {
  std::error_code ec;
  if (o.gguf_file.empty()) return model_id;  // the id is the file
  if (o.gguf_file.find("..") != std::string::npos || fs::path(o.gguf_file).is_absolute()) {
    throw InvalidArgument("gguf_file '" + o.gguf_file + "' must be a file name inside the model folder or repository");
  }
  if (fs::is_directory(model_id, ec)) {
    const fs::path file = fs::path(model_id) / o.gguf_file;
    if (!fs::is_regular_file(file, ec)) throw NotFound("gguf_file " + file.string() + " does not exist");
    return file;
  }
  hub::HubOptions h;
  h.revision = o.hub.revision;
  h.subfolder = o.hub.subfolder;
  h.cache_dir = o.hub.cache_dir;
  if (!o.hub.token.empty()) h.token = o.hub.token;
  h.force_download = o.hub.force_download;
  h.local_files_only = o.hub.local_files_only;
  return hub::hf_hub_download(model_id, o.gguf_file, h);
}

models::DecoderLoadOptions decoder_options(const LanguageModelOptions& o) {
  models::DecoderLoadOptions d;
  d.compute = kernels::weight_type_from_name(o.dtype);
  return d;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw IoError("cannot write " + path.string());
}

}  // namespace

std::shared_ptr<const LanguageModel> LanguageModel::from_pretrained(const std::string& model_id,
                                                                   const LanguageModelOptions& options) {
  if (options.num_threads > 0) set_num_threads(options.num_threads);
  std::shared_ptr<LanguageModel> lm(new LanguageModel());
  if (!options.gguf_file.empty() || is_gguf_path(model_id)) {
    const fs::path file = locate_gguf(model_id, options);
    const std::string source = file.string();
    const io::GgufFile gguf = io::GgufFile::open(file);
    models::GgufCheckpoint ckpt = models::load_gguf_checkpoint(gguf);
    lm->model_ = models::DecoderModel::load(ckpt.config, ckpt.weights, source, decoder_options(options));
    lm->optimized_ = modeling::OptimizedModel::from_session(
        models::DecoderSession::from_model(lm->model_, tasks::Task::TextGeneration), file);
    lm->tokenizer_json_ = tokenizers::gguf_tokenizer_json(gguf.metadata(), source);
    lm->tokenizer_ = std::make_shared<tokenizers::Tokenizer>(tokenizers::tokenizer_from_gguf(gguf.metadata(), source));
    // transformers' GenerationConfig.from_model_config: the config's generation keys.
    lm->generation_json_ = ckpt.generation_config.is_object() ? ckpt.generation_config : io::Json::object();
    lm->generation_config_ = GenerationConfig::from_json(lm->generation_json_, source);
    lm->weights_ = std::move(ckpt.weights);
    lm->path_ = file;
    lm->gguf_ = true;
  } else {
    // One load path for every architecture: OptimizedModel over the decoder's session.
    modeling::LoadOptions lo;
    lo.task = tasks::Task::TextGeneration;
    lo.dtype = options.dtype;
    lo.hub = options.hub;
    lo.allow_base_model = true;  // hidden states of a base model; its logits are refused
    lm->optimized_ = modeling::OptimizedModel::from_pretrained(model_id, lo);
    const auto* session = dynamic_cast<const models::DecoderSession*>(&lm->optimized_->session());
    if (session == nullptr || !session->model()) {
      throw Unsupported(model_id + ": model_type '" + lm->optimized_->model_type() + "' is not a causal decoder");
    }
    lm->model_ = session->model();
    const fs::path folder = lm->optimized_->path();
    std::error_code ec;
    lm->tokenizer_ = std::make_shared<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(folder));
    lm->generation_config_ = GenerationConfig::from_pretrained(folder);
    if (fs::exists(folder / "generation_config.json", ec)) {
      lm->generation_json_ = io::read_json(folder / "generation_config.json");
    }
    lm->path_ = folder;
  }
  const auto& tc = lm->tokenizer_->config();
  if (tc.chat_template && !tc.chat_template->empty()) {
    lm->chat_template_ = std::make_shared<ChatTemplate>(*tc.chat_template);
  } else if (!lm->gguf_) {
    if (auto t = load_chat_template(lm->path_)) lm->chat_template_ = std::make_shared<ChatTemplate>(*t);
  }
  return lm;
}

std::vector<int64_t> LanguageModel::encode(std::string_view text, bool add_special_tokens) const {
  const auto enc = tokenizer_->encode(text, std::nullopt, add_special_tokens);
  return std::vector<int64_t>(enc.ids.begin(), enc.ids.end());
}

std::string LanguageModel::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<uint32_t> u;
  u.reserve(ids.size());
  for (const int64_t id : ids) {
    if (id < 0 || id > int64_t{UINT32_MAX}) throw InvalidArgument("decode: token id " + std::to_string(id) + " is out of range");
    u.push_back(static_cast<uint32_t>(id));
  }
  return tokenizer_->decode(u, skip_special_tokens);
}

std::string LanguageModel::apply_chat_template(const io::OrderedJson& messages, bool add_generation_prompt,
                                               const io::OrderedJson& kwargs, bool continue_final_message) const {
  if (!chat_template_) {
    throw InvalidArgument("model " + path_.string() +
                          " has no chat template (tokenizer_config.json \"chat_template\", chat_template.jinja or "
                          "the GGUF key tokenizer.chat_template)");
  }
  // transformers passes the tokenizer's special tokens (as strings) first; kwargs override.
  io::OrderedJson vars = io::OrderedJson::object();
  for (const auto& [name, value] : tokenizer_->config().special_tokens) vars[name] = value;
  for (auto it = kwargs.begin(); it != kwargs.end(); ++it) vars[it.key()] = it.value();
  if (!continue_final_message) return chat_template_->render(messages, add_generation_prompt, vars);
  // continue_final_message: render, then cut after the final message's content
  // (transformers strips what the template writes after it).
  if (!messages.is_array() || messages.empty() || !messages.back().contains("content") ||
      !messages.back()["content"].is_string()) {
    throw InvalidArgument("continue_final_message: the last message must have string content");
  }
  std::string text = chat_template_->render(messages, false, vars);
  const std::string final = messages.back()["content"].get<std::string>();
  size_t at = text.rfind(final);
  if (at == std::string::npos) {
    // transformers retries with the content stripped of surrounding whitespace.
    const auto b = final.find_first_not_of(" \t\n\r");
    const auto e = final.find_last_not_of(" \t\n\r");
    const std::string stripped = b == std::string::npos ? std::string() : final.substr(b, e - b + 1);
    at = text.rfind(stripped);
    if (at == std::string::npos) throw InvalidArgument("continue_final_message: the final message is not in the rendered text");
    return text.substr(0, at + stripped.size());
  }
  return text.substr(0, at + final.size());
}

void LanguageModel::save_pretrained(const fs::path& dir) const {
  fs::create_directories(dir);
  io::write_json(dir / "config.json", config());
  if (weights_) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& name : weights_->names()) tensors.emplace_back(name, weights_->get(name));
    io::save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  } else {
    const auto store = io::WeightStore::open_dir(path_);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& name : store.names()) tensors.emplace_back(name, store.get(name).to(DType::F32));
    io::save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  }
  if (gguf_) {
    write_text(dir / "tokenizer.json", tokenizer_json_.dump(2, ' ', false, io::Json::error_handler_t::replace));
  } else {
    std::error_code ec;
    if (fs::exists(path_ / "tokenizer.json", ec)) {
      fs::copy_file(path_ / "tokenizer.json", dir / "tokenizer.json", fs::copy_options::overwrite_existing);
    }
  }
  io::Json tc = tokenizer_->config().raw.is_object() ? tokenizer_->config().raw : io::Json::object();
  for (const auto& [name, value] : tokenizer_->config().special_tokens) tc[name] = value;
  if (chat_template_) tc["chat_template"] = chat_template_->source();
  if (tokenizer_->config().add_bos_token) tc["add_bos_token"] = *tokenizer_->config().add_bos_token;
  if (tokenizer_->config().add_eos_token) tc["add_eos_token"] = *tokenizer_->config().add_eos_token;
  write_text(dir / "tokenizer_config.json", tc.dump(2, ' ', false, io::Json::error_handler_t::replace));
  io::write_json(dir / "generation_config.json", generation_json_);
}

}  // namespace optimum::generation
