#include "legacy.h"

#include <vector>

#include "optimum/core/errors.h"

namespace optimum::tokenizers::legacy {

namespace {

namespace fs = std::filesystem;

}  // namespace

// convert_folder and apply_folder_config without the JSON error context.
Json convert_folder_unchecked(const std::filesystem::path& folder);
void apply_folder_config_unchecked(const std::filesystem::path& folder, Tokenizer& tokenizer);

namespace {

Json read_optional(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Json::object();
  Json j = io::read_json(path);
  if (!j.is_object()) throw FormatError(path.string() + " is not a JSON object");
  return j;
}

// A special-token value: "tok" or {"content": "tok", ...}.
std::optional<std::string> token_content(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

std::string special(const Json& cfg, const Json& map, const char* key, const char* fallback) {
  for (const Json* src : {&cfg, &map}) {
    if (src->contains(key)) {
      if (auto c = token_content((*src)[key])) return *c;
    }
  }
  return fallback;
}

// The lines of a text file (read bounded, as read_json reads), as std::getline
// splits them: no empty last line after a final newline.
std::vector<std::string> read_lines(const fs::path& path) {
  const std::string text = io::read_text_file(path, io::kMaxJsonFileSize);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.emplace_back(text, pos, nl - pos);
    pos = nl + 1;
  }
  return lines;
}

bool flag(const Json& cfg, const char* key, bool fallback) {
  return cfg.contains(key) && cfg[key].is_boolean() ? cfg[key].get<bool>() : fallback;
}

Json special_added_token(const std::string& content, uint32_t id, bool lstrip = false) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", lstrip},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

Json bert_from_vocab(const fs::path& vocab_path, const Json& cfg, const Json& map) {
  Json vocab = Json::object();
  uint32_t index = 0;
  for (std::string& line : read_lines(vocab_path)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!vocab.contains(line)) vocab[line] = index;
    ++index;
  }
  const std::string unk = special(cfg, map, "unk_token", "[UNK]");
  const std::string sep = special(cfg, map, "sep_token", "[SEP]");
  const std::string cls = special(cfg, map, "cls_token", "[CLS]");
  const std::string pad = special(cfg, map, "pad_token", "[PAD]");
  const std::string mask = special(cfg, map, "mask_token", "[MASK]");
  for (const auto& [name, tok] : {std::pair{"cls_token", cls}, {"sep_token", sep}}) {
    if (!vocab.contains(tok)) {
      throw FormatError(vocab_path.string() + ": " + name + " '" + tok + "' is not in the vocabulary");
    }
  }
  Json t;
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  Json added = Json::array();
  for (const std::string& s : {pad, unk, cls, sep, mask}) {
    if (vocab.contains(s)) added.push_back(special_added_token(s, vocab[s].get<uint32_t>()));
  }
  t["added_tokens"] = added;
  t["normalizer"] = {{"type", "BertNormalizer"},
                     {"clean_text", true},
                     {"handle_chinese_chars", flag(cfg, "tokenize_chinese_chars", true)},
                     {"strip_accents", cfg.contains("strip_accents") ? cfg["strip_accents"] : Json(nullptr)},
                     {"lowercase", flag(cfg, "do_lower_case", true)}};
  t["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  const uint32_t cls_id = vocab[cls].get<uint32_t>();
  const uint32_t sep_id = vocab[sep].get<uint32_t>();
  t["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", cls + ":0 $A:0 " + sep + ":0"},
                         {"pair", cls + ":0 $A:0 " + sep + ":0 $B:1 " + sep + ":1"},
                         {"special_tokens",
                          {{cls, {{"id", cls}, {"ids", {cls_id}}, {"tokens", {cls}}}},
                           {sep, {{"id", sep}, {"ids", {sep_id}}, {"tokens", {sep}}}}}}};
  t["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  t["model"] = {{"type", "WordPiece"},
                {"unk_token", unk},
                {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", 100},
                {"vocab", vocab}};
  return t;
}

Json bpe_from_files(const fs::path& vocab_path, const fs::path& merges_path, const Json& cfg, const Json& map,
                    bool roberta) {
  Json vocab = io::read_json(vocab_path);
  if (!vocab.is_object()) throw FormatError(vocab_path.string() + " is not a JSON object of token -> id");
  Json merges = Json::array();
  size_t line_no = 0;
  for (std::string& line : read_lines(merges_path)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) {
      throw FormatError(merges_path.string() + ": line " + std::to_string(line_no) +
                        " is not a merge 'a b': " + line);
    }
    merges.push_back(line);
  }
  const bool add_prefix_space = flag(cfg, "add_prefix_space", false);
  Json t;
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  Json added = Json::array();
  std::vector<std::pair<std::string, bool>> specials;
  if (roberta) {
    for (const auto& [key, fallback] : {std::pair{"bos_token", "<s>"},
                                        {"pad_token", "<pad>"},
                                        {"eos_token", "</s>"},
                                        {"unk_token", "<unk>"},
                                        {"mask_token", "<mask>"}}) {
      specials.emplace_back(special(cfg, map, key, fallback), false);
    }
  } else {
    specials.emplace_back(special(cfg, map, "eos_token", "<|endoftext|>"), false);
  }
  for (const auto& [s, lstrip] : specials) {
    if (vocab.contains(s)) {
      added.push_back(special_added_token(s, io::json_u32(vocab[s], vocab_path.string() + ": id of token '" + s + "'"), lstrip));
    }
  }
  t["added_tokens"] = added;
  t["normalizer"] = nullptr;
  t["pre_tokenizer"] = {{"type", "ByteLevel"},
                        {"add_prefix_space", add_prefix_space},
                        {"trim_offsets", true},
                        {"use_regex", true}};
  if (roberta) {
    const std::string sep = special(cfg, map, "sep_token", "</s>");
    const std::string cls = special(cfg, map, "cls_token", "<s>");
    if (!vocab.contains(sep) || !vocab.contains(cls)) {
      throw FormatError(vocab_path.string() + ": RoBERTa special tokens '" + cls + "' / '" + sep +
                        "' are not in the vocabulary");
    }
    const std::string where = vocab_path.string() + ": id of token '";
    t["post_processor"] = {{"type", "RobertaProcessing"},
                           {"sep", {sep, io::json_u32(vocab[sep], where + sep + "'")}},
                           {"cls", {cls, io::json_u32(vocab[cls], where + cls + "'")}},
                           {"trim_offsets", flag(cfg, "trim_offsets", true)},
                           {"add_prefix_space", add_prefix_space}};
  } else {
    t["post_processor"] = nullptr;
  }
  t["decoder"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  t["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}};
  return t;
}

}  // namespace

Json convert_folder(const fs::path& folder) {
  return io::with_json_context(folder.string(), [&] { return convert_folder_unchecked(folder); });
}

Json convert_folder_unchecked(const fs::path& folder) {
  const Json cfg = read_optional(folder / "tokenizer_config.json");
  const Json map = read_optional(folder / "special_tokens_map.json");
  const Json model_cfg = read_optional(folder / "config.json");
  std::error_code ec;
  if (fs::exists(folder / "vocab.txt", ec)) return bert_from_vocab(folder / "vocab.txt", cfg, map);
  if (fs::exists(folder / "vocab.json", ec) && fs::exists(folder / "merges.txt", ec)) {
    const std::string cls = cfg.value("tokenizer_class", std::string());
    const std::string model_type = model_cfg.value("model_type", std::string());
    const bool roberta = cls.find("Roberta") != std::string::npos || cls.find("Bart") != std::string::npos ||
                         cls.find("Longformer") != std::string::npos || model_type == "roberta" ||
                         model_type == "bart" || model_type == "longformer";
    return bpe_from_files(folder / "vocab.json", folder / "merges.txt", cfg, map, roberta);
  }
  throw NotFound("no tokenizer in " + folder.string() +
                 " (looked for tokenizer.json, vocab.txt, and vocab.json + merges.txt)");
}

namespace {

// The defaults transformers' tokenizer classes bring when the folder's files
// do not set a value: special tokens (BertTokenizer, RobertaTokenizer,
// GPT2Tokenizer, LlamaTokenizer ...) and padding_side ("left" for Llama,
// CodeLlama, Cohere, Gemma, XLNet, Siglip2).
struct ClassDefaults {
  std::vector<std::pair<std::string, std::string>> special_tokens;
  Direction padding_side = Direction::Right;
};

ClassDefaults class_defaults(const fs::path& folder, const Json& cfg) {
  std::string cls = cfg.contains("tokenizer_class") && cfg["tokenizer_class"].is_string()
                        ? cfg["tokenizer_class"].get<std::string>()
                        : std::string();
  if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
  std::string family;
  static const std::vector<std::pair<std::string, std::string>> by_class = {
      {"BertTokenizer", "bert"},       {"DistilBertTokenizer", "bert"}, {"ElectraTokenizer", "bert"},
      {"RobertaTokenizer", "roberta"}, {"BartTokenizer", "roberta"},    {"LongformerTokenizer", "roberta"},
      {"GPT2Tokenizer", "gpt2"},       {"LlamaTokenizer", "llama"},     {"CodeLlamaTokenizer", "llama"},
      {"CohereTokenizer", "left"},     {"GemmaTokenizer", "left"},      {"XLNetTokenizer", "left"},
      {"Siglip2Tokenizer", "left"}};
  for (const auto& [name, fam] : by_class) {
    if (cls == name) family = fam;
  }
  if (family.empty() && cls.empty()) {
    const Json model_cfg = read_optional(folder / "config.json");
    const std::string model_type = model_cfg.value("model_type", std::string());
    static const std::vector<std::pair<std::string, std::string>> by_model_type = {
        {"bert", "bert"},    {"distilbert", "bert"},    {"electra", "bert"}, {"roberta", "roberta"},
        {"bart", "roberta"}, {"longformer", "roberta"}, {"gpt2", "gpt2"},    {"llama", "llama"},
        {"cohere", "left"},  {"gemma", "left"},         {"xlnet", "left"}};
    for (const auto& [name, fam] : by_model_type) {
      if (model_type == name) family = fam;
    }
    std::error_code ec;
    if (family.empty() && fs::exists(folder / "vocab.txt", ec) &&
        !fs::exists(folder / "tokenizer.json", ec)) {
      family = "bert";
    }
  }
  ClassDefaults d;
  if (family == "bert") {
    d.special_tokens = {{"unk_token", "[UNK]"},
                        {"sep_token", "[SEP]"},
                        {"pad_token", "[PAD]"},
                        {"cls_token", "[CLS]"},
                        {"mask_token", "[MASK]"}};
  } else if (family == "roberta") {
    d.special_tokens = {{"bos_token", "<s>"},    {"eos_token", "</s>"},  {"unk_token", "<unk>"},
                        {"sep_token", "</s>"},   {"pad_token", "<pad>"}, {"cls_token", "<s>"},
                        {"mask_token", "<mask>"}};
  } else if (family == "gpt2") {
    d.special_tokens = {
        {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"unk_token", "<|endoftext|>"}};
  } else if (family == "llama") {
    d.special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
    d.padding_side = Direction::Left;
  } else if (family == "left") {
    d.padding_side = Direction::Left;
  }
  return d;
}

}  // namespace

void apply_folder_config(const fs::path& folder, Tokenizer& tokenizer) {
  io::with_json_context((folder / "tokenizer_config.json").string(), [&] { apply_folder_config_unchecked(folder, tokenizer); });
}

void apply_folder_config_unchecked(const fs::path& folder, Tokenizer& tokenizer) {
  const Json cfg = read_optional(folder / "tokenizer_config.json");
  const Json map = read_optional(folder / "special_tokens_map.json");
  const ClassDefaults defaults = class_defaults(folder, cfg);
  TokenizerConfig& c = tokenizer.mutable_config();
  c.raw = cfg;
  if (cfg.contains("model_max_length") && cfg["model_max_length"].is_number()) {
    const double v = cfg["model_max_length"].get<double>();
    if (v > 0 && v < 1e18) c.model_max_length = static_cast<size_t>(v);
  }
  auto side = [&](const char* key, Direction& out) {
    if (!cfg.contains(key)) return;
    const std::string s = cfg[key].is_string() ? cfg[key].get<std::string>() : "";
    if (s != "left" && s != "right") {
      throw FormatError((folder / "tokenizer_config.json").string() + ": '" + key +
                        "' must be left or right");
    }
    out = s == "left" ? Direction::Left : Direction::Right;
  };
  c.padding_side = defaults.padding_side;
  side("padding_side", c.padding_side);
  side("truncation_side", c.truncation_side);
  for (const char* key :
       {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    for (const Json* src : {&map, &cfg}) {
      if (src->contains(key)) {
        if (auto content = token_content((*src)[key])) {
          c.special_tokens[key] = *content;
          break;
        }
      }
    }
  }
  // Class defaults for the special tokens the files leave out (a null value
  // in the files means "none" and keeps the default out).
  for (const auto& [key, content] : defaults.special_tokens) {
    if (!map.contains(key) && !cfg.contains(key)) c.special_tokens[key] = content;
  }
  if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
    c.add_bos_token = cfg["add_bos_token"].get<bool>();
  if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
    c.add_eos_token = cfg["add_eos_token"].get<bool>();
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string())
    c.chat_template = cfg["chat_template"].get<std::string>();

  // Tokens the folder declares: added_tokens_decoder, special tokens, additional specials, added_tokens.json.
  std::vector<AddedToken> tokens;
  if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
      const Json& v = it.value();
      if (!v.is_object() || !v.contains("content")) continue;
      AddedToken t;
      t.content = v["content"].get<std::string>();
      t.single_word = v.value("single_word", false);
      t.lstrip = v.value("lstrip", false);
      t.rstrip = v.value("rstrip", false);
      t.special = v.value("special", false);
      t.normalized = v.value("normalized", !t.special);
      if (!tokenizer.token_to_id(t.content)) tokens.push_back(t);
    }
  }
  auto add_special = [&](const std::string& content) {
    if (content.empty() || tokenizer.token_to_id(content)) return;
    AddedToken t;
    t.content = content;
    t.special = true;
    t.normalized = false;
    tokens.push_back(t);
  };
  for (const auto& [key, content] : c.special_tokens) add_special(content);
  for (const Json* src : {&map, &cfg}) {
    if (src->contains("additional_special_tokens") && (*src)["additional_special_tokens"].is_array()) {
      for (const Json& v : (*src)["additional_special_tokens"]) {
        if (auto content = token_content(v)) add_special(*content);
      }
    }
  }
  const Json extra = read_optional(folder / "added_tokens.json");
  std::vector<std::pair<uint32_t, std::string>> by_id;
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (it.value().is_number_unsigned()) {
      by_id.emplace_back(io::json_u32(it.value(), (folder / "added_tokens.json").string() + ": id of token '" + it.key() + "'"),
                         it.key());
    }
  }
  std::sort(by_id.begin(), by_id.end());
  for (const auto& [id, content] : by_id) {
    if (tokenizer.token_to_id(content)) continue;
    AddedToken t;
    t.content = content;
    tokens.push_back(t);
  }
  if (!tokens.empty()) tokenizer.add_tokens(tokens);
}

}  // namespace optimum::tokenizers::legacy
