// GGUF metadata -> tokenizer.json, step by step as transformers 5 does it
// (integrations/gguf/gguf_tokenizer_mapping.py, then the TokenizersBackend
// class AutoTokenizer picks): a builder per vocabulary kind (byte-level BPE,
// sentencepiece BPE, Gemma's and Phi-3's variants) gives the model,
// normalizer, pre-tokenizer and decoder; its class's default special tokens,
// then the file's CONTROL and USER_DEFINED tokens, then the final class's
// named special tokens join the added vocabulary; the split regex named by
// `tokenizer.ggml.pre` replaces the pre-tokenizer; the post-processor follows
// add_bos_token / add_eos_token.
#include "optimum/tokenizers/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/gguf.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {
namespace {

using io::Json;

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// Most byte-pair splits tried while deriving merges from a vocabulary
// (sum over tokens of length^2 in bytes). Real vocabularies need ~1e7
// (gemma-3: 262k tokens); the cap keeps a hostile one from running for hours.
constexpr uint64_t kMaxMergeDerivationWork = uint64_t{1} << 34;

const char* const kMetaspace = "\xE2\x96\x81";  // U+2581, sentencepiece's space

// `tokenizer.ggml.pre` -> the split regex transformers' set_split_regex uses
// (GGUF_PRE_TOKENIZER_SPLITS); other values keep the builder's pre-tokenizer.
const char* const kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kTekkenSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt4oSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen35Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N})"
    R"(| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* split_regex(const std::string& pre) {
  static const std::vector<std::pair<std::string, const char*>> table = {
      {"llama3", kLlama3Split},       {"llama-v3", kLlama3Split},     {"llama-bpe", kLlama3Split},
      {"falcon3", kLlama3Split},      {"falcon-h1", kLlama3Split},    {"pixtral", kLlama3Split},
      {"midm-2.0", kLlama3Split},     {"lfm2", kLlama3Split},         {"jina-v5-nano", kLlama3Split},
      {"dbrx", kLlama3Split},         {"smaug-bpe", kLlama3Split},    {"tekken", kTekkenSplit},
      {"qwen2", kQwen2Split},         {"deepseek-r1-qwen", kQwen2Split}, {"kormo", kQwen2Split},
      {"f2llmv2", kQwen2Split},       {"megrez", kQwen2Split},        {"qwen35", kQwen35Split},
      {"gpt-4o", kGpt4oSplit},        {"llama4", kGpt4oSplit},        {"kanana2", kGpt4oSplit},
      {"talkie", kGpt4oSplit},        {"minimax-m2", kGpt4oSplit}};
  for (const auto& [name, regex] : table) {
    if (name == pre) return regex;
  }
  return nullptr;
}

// Hash map keyed by std::string, looked up by string_view without copies.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

std::optional<uint32_t> lookup(const Vocab& vocab, std::string_view token) {
  auto it = vocab.find(token);
  if (it == vocab.end()) return std::nullopt;
  return it->second;
}

// Typed, bounds-checked access to the metadata; errors name source and key.
class Metadata {
 public:
  Metadata(const Json& m, const std::string& source) : m_(m), source_(source) {
    if (!m.is_object()) throw FormatError(source + ": GGUF metadata must be a key/value object");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw FormatError(source_ + ": " + key + ": " + what);
  }
  [[noreturn]] void fail_entry(const std::string& key, size_t i, const std::string& what) const {
    fail(key, "entry " + std::to_string(i) + " " + what);
  }
  const Json* find(const std::string& key) const {
    auto it = m_.find(key);
    return it == m_.end() || it->is_null() ? nullptr : &*it;
  }
  std::optional<std::string> opt_string(const std::string& key) const {
    const Json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) fail(key, "must be a string, got " + std::string(v->type_name()));
    return v->get<std::string>();
  }
  std::optional<bool> opt_bool(const std::string& key) const {
    const Json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) fail(key, "must be a bool, got " + std::string(v->type_name()));
    return v->get<bool>();
  }
  // A token id: an integer in [0, n_tokens).
  std::optional<uint32_t> opt_token_id(const std::string& key, size_t n_tokens) const {
    const Json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) fail(key, "must be an integer token id, got " + v->dump());
    if (!v->is_number_unsigned() && v->get<int64_t>() < 0 ? true : v->get<uint64_t>() >= n_tokens) {
      fail(key, "token id " + v->dump() + " is out of range (the vocabulary has " + std::to_string(n_tokens) +
                    " tokens)");
    }
    return static_cast<uint32_t>(v->get<uint64_t>());
  }
  // An array of `n` elements (n = 0: any length but empty).
  const Json* opt_array(const std::string& key, size_t n) const {
    const Json* v = find(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) fail(key, "must be an array, got " + std::string(v->type_name()));
    if (n != 0 && v->size() != n) {
      fail(key, "has " + std::to_string(v->size()) + " entries but tokenizer.ggml.tokens has " +
                    std::to_string(n));
    }
    return v;
  }
  const std::string& source() const { return source_; }

 private:
  const Json& m_;
  const std::string& source_;
};

// Python's str.isspace() (what transformers' `t.strip()` strips).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// GPT-2's bytes_to_unicode(): byte -> printable code point.
const std::vector<char32_t>& byte_alphabet() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

bool in_byte_alphabet(char32_t c) {
  return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 323);
}

bool all_in_byte_alphabet(std::string_view token) {
  for (char32_t c : unicode::decode(token)) {
    if (!in_byte_alphabet(c)) return false;
  }
  return true;
}

std::string byte_level_spelling(std::string_view token) {
  std::string out;
  for (unsigned char b : token) unicode::append_utf8(out, byte_alphabet()[b]);
  return out;
}

// The vocabulary kinds transformers builds (select_tokenizer_builder).
enum class Builder { ByteLevel, SentencePiece, Gemma, Phi3 };

// The class AutoTokenizer instantiates for the architecture's model_type
// (TOKENIZER_MAPPING_NAMES): its default special tokens and padding side are
// what survive the GGUF's own settings.
enum class FinalClass { Backend, Gemma, Qwen2 };

struct Plan {
  std::string tokenizer_model;
  std::string architecture;
  Builder builder = Builder::SentencePiece;
  FinalClass final_class = FinalClass::Backend;
};

Plan plan_of(const Metadata& md) {
  Plan p;
  const auto model = md.opt_string("tokenizer.ggml.model");
  if (!model) md.fail("tokenizer.ggml.model", "missing: the file embeds no tokenizer");
  p.tokenizer_model = *model;
  p.architecture = md.opt_string("general.architecture").value_or("");
  const std::string& a = p.architecture;
  const bool gemma = a == "gemma" || a == "gemma2" || a == "gemma3";
  if (p.tokenizer_model == "gpt2") {
    p.builder = Builder::ByteLevel;
  } else if (p.tokenizer_model == "llama") {
    p.builder = gemma ? Builder::Gemma : a == "phi3" ? Builder::Phi3 : Builder::SentencePiece;
  } else {
    throw Unsupported(md.source() + ": tokenizer.ggml.model '" + p.tokenizer_model +
                      "' is not supported (supported: gpt2, llama)");
  }
  if (gemma) p.final_class = FinalClass::Gemma;
  if (a == "qwen2" || a == "qwen3" || a == "qwen2moe" || a == "qwen3moe") p.final_class = FinalClass::Qwen2;
  return p;
}

// The vocabulary as read, checked: tokens, optional scores and types.
struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<double> scores;      // empty when the file has none
  std::vector<int64_t> types;      // empty when the file has none
  std::vector<std::string> merges_text;  // "a b" strings; empty when absent
  bool has_merges = false;
};

// tokenizer.ggml.tokens: a non-empty array of UTF-8 strings.
std::vector<std::string> read_tokens(const Metadata& md) {
  const Json* tokens = md.opt_array("tokenizer.ggml.tokens", 0);
  if (tokens == nullptr) md.fail("tokenizer.ggml.tokens", "missing");
  if (tokens->empty()) md.fail("tokenizer.ggml.tokens", "is empty");
  if (tokens->size() > (size_t{1} << 31)) md.fail("tokenizer.ggml.tokens", "has too many tokens");
  std::vector<std::string> out;
  out.reserve(tokens->size());
  for (size_t i = 0; i < tokens->size(); ++i) {
    const Json& t = (*tokens)[i];
    if (!t.is_string()) {
      md.fail_entry("tokenizer.ggml.tokens", i, std::string("must be a string, got ") + t.type_name());
    }
    std::string s = t.get<std::string>();
    if (!unicode::is_valid_utf8(s)) md.fail_entry("tokenizer.ggml.tokens", i, "is not UTF-8");
    out.push_back(std::move(s));
  }
  return out;
}

Vocabulary read_vocabulary(const Metadata& md) {
  Vocabulary v;
  v.tokens = read_tokens(md);
  const size_t n = v.tokens.size();
  if (const Json* scores = md.opt_array("tokenizer.ggml.scores", n)) {
    v.scores.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Json& s = (*scores)[i];
      if (!s.is_number() || std::isnan(s.get<double>())) {
        md.fail_entry("tokenizer.ggml.scores", i, "must be a number, got " + s.dump());
      }
      v.scores.push_back(s.get<double>());
    }
  }
  if (const Json* types = md.opt_array("tokenizer.ggml.token_type", n)) {
    v.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Json& t = (*types)[i];
      if (!t.is_number_integer()) {
        md.fail_entry("tokenizer.ggml.token_type", i, "must be an integer, got " + t.dump());
      }
      v.types.push_back(t.get<int64_t>());
    }
  }
  if (const Json* merges = md.opt_array("tokenizer.ggml.merges", 0)) {
    v.has_merges = true;
    v.merges_text.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& m = (*merges)[i];
      if (!m.is_string()) {
        md.fail_entry("tokenizer.ggml.merges", i, std::string("must be a string, got ") + m.type_name());
      }
      v.merges_text.push_back(m.get<std::string>());
    }
  }
  return v;
}

// transformers' generate_merges(vocab, vocab_scores): every split of every
// token into two vocabulary pieces, ordered by descending score, then piece
// lengths in characters; ties keep vocabulary order (Python's stable sort).
Json derive_merges(const Metadata& md, const std::vector<std::string>& tokens, const Vocab& vocab,
                   const std::vector<double>& score_of_index) {
  // dict(zip(tokens, scores)): the first occurrence of a token fixes its
  // place, the last one (the id `vocab` holds) its score.
  std::vector<size_t> order;
  std::vector<bool> seen(tokens.size(), false);
  uint64_t work = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const uint32_t last = vocab.find(tokens[i])->second;
    if (seen[last]) continue;
    seen[last] = true;
    order.push_back(i);
    work += static_cast<uint64_t>(tokens[i].size()) * tokens[i].size();
  }
  if (work > kMaxMergeDerivationWork) {
    md.fail("tokenizer.ggml.tokens", "tokens too long to derive merges from (no tokenizer.ggml.merges)");
  }
  struct Merge {
    std::string_view left, right;
    double score;
    size_t left_chars, right_chars;
  };
  std::vector<Merge> merges;
  std::vector<Merge> local;
  std::vector<size_t> boundaries;
  for (size_t i : order) {
    const std::string& token = tokens[i];
    const double s = score_of_index[vocab.find(token)->second];
    boundaries.clear();
    for (size_t pos = 0; pos < token.size();) {
      unicode::next_char(token, pos);
      boundaries.push_back(pos);
    }
    const size_t n_chars = boundaries.size();
    local.clear();
    for (size_t k = 0; k + 1 < n_chars; ++k) {
      const std::string_view whole(token);
      const std::string_view left = whole.substr(0, boundaries[k]);
      const std::string_view right = whole.substr(boundaries[k]);
      if (vocab.find(left) != vocab.end() && vocab.find(right) != vocab.end()) {
        local.push_back({left, right, s, k + 1, n_chars - k - 1});
      }
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
      const uint32_t al = vocab.find(a.left)->second, bl = vocab.find(b.left)->second;
      if (al != bl) return al < bl;
      return vocab.find(a.right)->second < vocab.find(b.right)->second;
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  auto key_less = [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.left_chars != b.left_chars) return a.left_chars < b.left_chars;
    return a.right_chars < b.right_chars;
  };
  std::stable_sort(merges.begin(), merges.end(),
                   [&](const Merge& a, const Merge& b) { return key_less(b, a); });
  Json out = Json::array();
  out.get_ref<Json::array_t&>().reserve(merges.size());
  for (const Merge& m : merges) out.push_back(Json::array({std::string(m.left), std::string(m.right)}));
  return out;
}

// The file's merges ("a b"), checked the way the BPE model builder checks them.
Json file_merges(const Metadata& md, const std::vector<std::string>& text, const Vocab& vocab) {
  Json out = Json::array();
  out.get_ref<Json::array_t&>().reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string& m = text[i];
    const size_t space = m.find(' ');
    if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
      md.fail("tokenizer.ggml.merges", "entry " + std::to_string(i) + " '" + m +
                                           "' must be two tokens separated by one space");
    }
    const std::string left = m.substr(0, space), right = m.substr(space + 1);
    for (const std::string& piece : {left, right, left + right}) {
      if (vocab.find(piece) == vocab.end()) {
        md.fail("tokenizer.ggml.merges",
                "entry " + std::to_string(i) + " '" + m + "': '" + piece + "' is not in the vocabulary");
      }
    }
    out.push_back(Json::array({left, right}));
  }
  return out;
}

// The added vocabulary as tokenizers' AddedVocabulary::add_tokens keeps it:
// an identical token is ignored, a known content keeps its id (added first,
// then the model's vocabulary), a new one gets the next id past both.
struct Added {
  std::string content;
  bool normalized = false;
  bool special = true;
  bool operator==(const Added&) const = default;
};

class AddedVocabulary {
 public:
  explicit AddedVocabulary(const Vocab& vocab) : vocab_(vocab) {}

  void add(const Added& token) {
    if (token.content.empty()) return;
    auto known = by_content_.find(token.content);
    if (known != by_content_.end() && by_id_.at(known->second) == token) return;
    uint32_t id = 0;
    if (known != by_content_.end()) {
      id = known->second;
    } else if (auto v = lookup(vocab_, token.content)) {
      id = *v;
    } else {
      const auto size = static_cast<uint32_t>(vocab_.size());
      if (by_id_.empty()) {
        id = size;
      } else {
        const uint32_t max = by_id_.rbegin()->first;
        id = (max >= size || size == 0) ? max + 1 : size;
      }
    }
    by_content_[token.content] = id;
    by_id_[id] = token;
  }
  bool contains(const std::string& content) const { return by_content_.count(content) != 0; }
  std::optional<uint32_t> id_of(const std::string& content) const {
    auto it = by_content_.find(content);
    if (it != by_content_.end()) return it->second;
    return lookup(vocab_, content);
  }
  Json to_json() const {
    Json out = Json::array();
    for (const auto& [id, t] : by_id_) {
      out.push_back({{"id", id},
                     {"content", t.content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", t.normalized},
                     {"special", t.special}});
    }
    return out;
  }

 private:
  const Vocab& vocab_;
  std::map<uint32_t, Added> by_id_;
  std::unordered_map<std::string, uint32_t> by_content_;
};

Json replace_json(const std::string& pattern, const std::string& content) {
  return {{"type", "Replace"}, {"pattern", {{"String", pattern}}}, {"content", content}};
}

Json byte_level_json(bool add_prefix_space, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

// The BPE model's settings (vocab and merges are added later).
Json bpe_json(const Json& unk_token, const Json& affix, bool byte_fallback) {
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", unk_token},
          {"continuing_subword_prefix", affix},
          {"end_of_word_suffix", affix},
          {"fuse_unk", byte_fallback},
          {"byte_fallback", byte_fallback},
          {"ignore_merges", false}};
}

// What a builder class (GPT2Tokenizer, LlamaTokenizer, GemmaTokenizer, the
// Phi-3 variant) sets up in its __init__.
struct Components {
  Json model;
  Json normalizer = nullptr;
  Json pre_tokenizer = nullptr;
  Json decoder = nullptr;
  std::vector<std::pair<std::string, std::string>> default_special_tokens;  // attribute order
};

Components builder_components(Builder builder) {
  Components c;
  const Json fallback_decoders = Json::array(
      {replace_json(kMetaspace, " "), Json{{"type", "ByteFallback"}}, Json{{"type", "Fuse"}}});
  switch (builder) {
    case Builder::ByteLevel:
      c.model = bpe_json(nullptr, "", false);
      c.pre_tokenizer = byte_level_json(false, true);
      c.decoder = byte_level_json(true, true);
      c.default_special_tokens = {
          {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"unk_token", "<|endoftext|>"}};
      break;
    case Builder::Gemma:
      c.model = bpe_json("<unk>", nullptr, true);
      c.normalizer = replace_json(" ", kMetaspace);
      c.pre_tokenizer = {{"type", "Split"},
                         {"pattern", {{"String", " "}}},
                         {"behavior", "MergedWithPrevious"},
                         {"invert", false}};
      c.decoder = {{"type", "Sequence"}, {"decoders", fallback_decoders}};
      c.default_special_tokens = {{"bos_token", "<bos>"},
                                  {"eos_token", "<eos>"},
                                  {"unk_token", "<unk>"},
                                  {"pad_token", "<pad>"},
                                  {"mask_token", "<mask>"}};
      break;
    case Builder::SentencePiece:
    case Builder::Phi3: {
      c.model = bpe_json(nullptr, nullptr, true);
      c.pre_tokenizer = {
          {"type", "Metaspace"}, {"replacement", kMetaspace}, {"prepend_scheme", "first"}, {"split", false}};
      Json decoders = fallback_decoders;
      decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
      c.decoder = {{"type", "Sequence"}, {"decoders", decoders}};
      c.default_special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
      if (builder == Builder::Phi3) {
        // Phi-3 prefixes the space with a normalizer, not with Metaspace.
        const Json prepend = {{"type", "Prepend"}, {"prepend", kMetaspace}};
        c.normalizer = {{"type", "Sequence"},
                        {"normalizers", Json::array({prepend, replace_json(" ", kMetaspace)})}};
        c.pre_tokenizer = nullptr;
      }
      break;
    }
  }
  return c;
}

// Everything gguf_tokenizer_config reports, computed once for both entry points.
struct Derived {
  std::vector<std::pair<std::string, std::string>> special_tokens;  // attribute order; only the present ones
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> chat_template;
  Direction padding_side = Direction::Right;
};

Derived derive_config(const Metadata& md, const Plan& plan, const std::vector<std::string>& tokens) {
  Derived d;
  auto special = [&](const char* name, const char* key) {
    if (auto id = md.opt_token_id(std::string("tokenizer.ggml.") + key, tokens.size())) {
      d.special_tokens.emplace_back(name, tokens[*id]);
    }
  };
  special("bos_token", "bos_token_id");
  special("eos_token", "eos_token_id");
  special("unk_token", "unknown_token_id");
  special("pad_token", "padding_token_id");
  if (plan.final_class == FinalClass::Gemma) d.special_tokens.emplace_back("mask_token", "<mask>");
  d.add_bos_token = md.opt_bool("tokenizer.ggml.add_bos_token");
  d.add_eos_token = md.opt_bool("tokenizer.ggml.add_eos_token");
  // llama.cpp adds BOS to a sentencepiece vocabulary that does not say otherwise.
  if (plan.tokenizer_model == "llama" && !d.add_bos_token) d.add_bos_token = true;
  d.chat_template = md.opt_string("tokenizer.chat_template");
  if (plan.final_class == FinalClass::Gemma) d.padding_side = Direction::Left;
  return d;
}

const std::string* find_special(const Derived& d, const std::string& name) {
  for (const auto& [k, v] : d.special_tokens) {
    if (k == name) return &v;
  }
  return nullptr;
}

// transformers' update_post_processor: "[bos] $A [eos]" / "[bos] $A [eos] [bos] $B [eos]".
Json post_processor(const Derived& d, const AddedVocabulary& added) {
  const std::string* bos = find_special(d, "bos_token");
  const std::string* eos = find_special(d, "eos_token");
  const bool add_bos = d.add_bos_token.value_or(false) && bos != nullptr;
  const bool add_eos = d.add_eos_token.value_or(false) && eos != nullptr;
  auto special = [](const std::string& id, int type_id) {
    return Json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) {
    return Json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
  };
  Json single = Json::array(), pair = Json::array();
  Json tokens = Json::object();
  auto add_special = [&](const std::string& content) {
    const auto id = added.id_of(content);
    // The final class adds every named special token, so this always resolves.
    if (!id) throw Error("gguf tokenizer: special token '" + content + "' has no id");
    tokens[content] = {{"id", content}, {"ids", Json::array({*id})}, {"tokens", Json::array({content})}};
  };
  if (add_bos) {
    single.push_back(special(*bos, 0));
    add_special(*bos);
  }
  single.push_back(sequence("A", 0));
  if (add_eos) {
    single.push_back(special(*eos, 0));
    add_special(*eos);
  }
  pair = single;
  if (add_bos) pair.push_back(special(*bos, 1));
  pair.push_back(sequence("B", 1));
  if (add_eos) pair.push_back(special(*eos, 1));
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", tokens}};
}

Json build_json(const Metadata& md) {
  const Plan plan = plan_of(md);
  Vocabulary v = read_vocabulary(md);
  const size_t n = v.tokens.size();
  const Derived config = derive_config(md, plan, v.tokens);

  // The vocabulary as the builder spells it.
  std::vector<std::string> spelled = v.tokens;
  if (plan.builder == Builder::ByteLevel) {
    for (std::string& t : spelled) {
      if (!all_in_byte_alphabet(t)) t = byte_level_spelling(t);
    }
  } else if (plan.builder == Builder::Gemma) {
    // Runs of spaces are stored as real spaces; GemmaTokenizer looks them up as U+2581 runs.
    for (std::string& t : spelled) {
      const std::u32string chars = unicode::decode(t);
      const bool has_space = std::find(chars.begin(), chars.end(), U' ') != chars.end();
      const bool all_space = std::all_of(chars.begin(), chars.end(), is_python_space);
      if (has_space && all_space) {
        std::string r;
        for (size_t i = 0; i < chars.size(); ++i) r += kMetaspace;
        t = std::move(r);
      }
    }
  }
  Vocab vocab;
  vocab.reserve(n);
  Json vocab_json = Json::object();
  for (size_t i = 0; i < n; ++i) vocab[spelled[i]] = static_cast<uint32_t>(i);  // the last duplicate wins
  for (const auto& [token, id] : vocab) vocab_json[token] = id;

  Json merges;
  if (v.has_merges) {
    merges = file_merges(md, v.merges_text, vocab);
  } else if (plan.builder == Builder::Gemma) {
    // Gemma's scores do not follow its merge order; its file order does.
    std::vector<double> positions(n);
    for (size_t i = 0; i < n; ++i) positions[i] = -static_cast<double>(i);
    merges = derive_merges(md, spelled, vocab, positions);
  } else {
    if (v.scores.empty()) {
      md.fail("tokenizer.ggml.scores", "missing (needed to derive merges: no tokenizer.ggml.merges)");
    }
    // generate_merges looks pieces up in {token: index} of the file's own spelling.
    Vocab original;
    original.reserve(n);
    for (size_t i = 0; i < n; ++i) original[v.tokens[i]] = static_cast<uint32_t>(i);
    merges = derive_merges(md, v.tokens, original, v.scores);
  }

  Components c = builder_components(plan.builder);
  Json& model = c.model;
  model["vocab"] = std::move(vocab_json);
  model["merges"] = std::move(merges);

  AddedVocabulary added(vocab);
  // 1. The builder class's own special tokens.
  for (const auto& [name, content] : c.default_special_tokens) {
    if (!added.contains(content)) added.add({content, false, true});
  }
  // 2. CONTROL tokens as special; in a byte-level vocabulary one outside the
  //    byte alphabet is a llama.cpp mislabel and is skipped.
  if (!v.types.empty()) {
    for (size_t i = 0; i < n; ++i) {
      if (v.types[i] != kTokenControl) continue;
      if (plan.builder == Builder::ByteLevel && !all_in_byte_alphabet(v.tokens[i])) continue;
      added.add({v.tokens[i], false, true});
    }
    // 3. USER_DEFINED tokens, matched whole but not special, when the vocabulary spells them so.
    for (size_t i = 0; i < n; ++i) {
      if (v.types[i] != kTokenUserDefined) continue;
      if (vocab.find(v.tokens[i]) == vocab.end() && !added.contains(v.tokens[i])) continue;
      added.add({v.tokens[i], false, false});
    }
  }
  // 4. The split regex named by tokenizer.ggml.pre.
  if (const auto pre = md.opt_string("tokenizer.ggml.pre")) {
    if (const char* regex = split_regex(*pre)) {
      const Json split = {
          {"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
      c.pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", Json::array({split, byte_level_json(false, false)})}};
    }
  }
  // 5. The final class's named special tokens the vocabulary does not hold as added tokens yet.
  for (const auto& [name, content] : config.special_tokens) {
    if (!added.contains(content)) added.add({content, false, true});
  }
  // Qwen2Tokenizer then re-adds every special token as special (a
  // USER_DEFINED token named as pad becomes special).
  if (plan.final_class == FinalClass::Qwen2) {
    for (const auto& [name, content] : config.special_tokens) added.add({content, false, true});
  }

  Json doc = Json::object();
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = added.to_json();
  doc["normalizer"] = std::move(c.normalizer);
  doc["pre_tokenizer"] = std::move(c.pre_tokenizer);
  doc["post_processor"] = post_processor(config, added);
  doc["decoder"] = std::move(c.decoder);
  doc["model"] = std::move(model);
  return doc;
}

}  // namespace

io::Json gguf_tokenizer_json(const io::Json& metadata, const std::string& source) {
  return io::with_json_context(source, [&] { return build_json(Metadata(metadata, source)); });
}

TokenizerConfig gguf_tokenizer_config(const io::Json& metadata, const std::string& source) {
  return io::with_json_context(source, [&] {
    const Metadata md(metadata, source);
    const Plan plan = plan_of(md);
    const std::vector<std::string> names = read_tokens(md);
    const Derived d = derive_config(md, plan, names);
    TokenizerConfig c;
    c.padding_side = d.padding_side;
    c.add_bos_token = d.add_bos_token;
    c.add_eos_token = d.add_eos_token;
    c.chat_template = d.chat_template;
    Json raw = Json::object();
    for (const auto& [name, content] : d.special_tokens) {
      c.special_tokens[name] = content;
      raw[name] = content;
    }
    if (d.add_bos_token) raw["add_bos_token"] = *d.add_bos_token;
    if (d.add_eos_token) raw["add_eos_token"] = *d.add_eos_token;
    if (d.chat_template) raw["chat_template"] = *d.chat_template;
    raw["padding_side"] = d.padding_side == Direction::Left ? "left" : "right";
    raw["tokenizer_class"] = plan.final_class == FinalClass::Gemma   ? "GemmaTokenizer"
                             : plan.final_class == FinalClass::Qwen2 ? "Qwen2Tokenizer"
                                                                     : "TokenizersBackend";
    c.raw = std::move(raw);
    return c;
  });
}

Tokenizer tokenizer_from_gguf(const io::Json& metadata, const std::string& source) {
  TokenizerConfig config = gguf_tokenizer_config(metadata, source);
  Tokenizer t = Tokenizer::from_json(gguf_tokenizer_json(metadata, source), source);
  t.mutable_config() = std::move(config);
  return t;
}

Tokenizer tokenizer_from_gguf_file(const std::filesystem::path& path) {
  const io::GgufFile file = io::GgufFile::open(path);
  return tokenizer_from_gguf(file.metadata(), file.source());
}

}  // namespace optimum::tokenizers
