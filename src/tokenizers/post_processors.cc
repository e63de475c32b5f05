// Post-processors (TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel, Sequence) with tokenizers' semantics: special tokens, type ids,
// sequence ranges, offset trimming, overflowing encodings.
#include <algorithm>
#include <charconv>
#include <map>

#include "json_fields.h"
#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {

namespace {

// Trims the offsets of tokens that start or end with spaces (byte-level 'Ġ'
// or whitespace), as tokenizers' byte_level::process_offsets does.
void trim_offsets(Encoding& e, bool add_prefix_space) {
  auto is_space = [](char32_t c) { return c == 0x120 || unicode::is_whitespace(c); };
  for (size_t i = 0; i < e.size(); ++i) {
    const std::u32string chars = unicode::decode(e.tokens[i]);
    size_t leading = 0;
    while (leading < chars.size() && is_space(chars[leading])) ++leading;
    size_t trailing = 0;
    while (trailing < chars.size() && is_space(chars[chars.size() - 1 - trailing])) ++trailing;
    Offsets& o = e.offsets[i];
    if (leading > 0) {
      const bool is_first = i == 0 || o.first == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      o.first = std::min(o.first + leading, o.second);
    }
    if (trailing > 0 && o.second >= trailing) o.second = std::max(o.second - trailing, o.first);
  }
}

void trim_all(std::vector<Encoding>& encodings, bool add_prefix_space) {
  for (Encoding& e : encodings) {
    trim_offsets(e, add_prefix_space);
    for (Encoding& o : e.overflowing) trim_offsets(o, add_prefix_space);
  }
}

// The default PostProcessor::process: sequence ids, process_encodings, merge.
Encoding default_process(const PostProcessor& p, Encoding encoding, std::optional<Encoding> pair,
                         bool add_special_tokens) {
  std::vector<Encoding> encodings;
  encodings.push_back(std::move(encoding));
  if (pair) encodings.push_back(std::move(*pair));
  for (size_t i = 0; i < encodings.size(); ++i) {
    encodings[i].set_sequence_id(i);
    for (Encoding& o : encodings[i].overflowing) o.set_sequence_id(i);
    encodings[i].set_type_ids(static_cast<uint32_t>(i));
  }
  p.process_encodings(encodings, add_special_tokens);
  return Encoding::merge(std::move(encodings), false);
}

struct SpecialToken {
  std::string id;
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;
};

struct Piece {
  bool is_sequence = false;
  size_t sequence = 0;  // 0 = A, 1 = B
  std::string special;  // special token id
  uint32_t type_id = 0;
};

Piece parse_piece_string(const Fields& f, const std::string& s) {
  Piece p;
  auto parse_type = [&](const std::string& t) -> uint32_t {
    uint32_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || !std::all_of(t.begin(), t.end(), ::isdigit) || ec != std::errc() || end != t.data() + t.size())
      f.fail("invalid type id in template piece '" + s + "' (must be an integer in [0, 4294967295])");
    return v;
  };
  if (!s.empty() && s[0] == '$') {
    p.is_sequence = true;
    std::string rest = s.substr(1);
    const size_t colon = rest.find(':');
    std::string name = colon == std::string::npos ? rest : rest.substr(0, colon);
    if (colon != std::string::npos) p.type_id = parse_type(rest.substr(colon + 1));
    if (name.empty() || name == "A" || name == "a") {
      p.sequence = 0;
    } else if (name == "B" || name == "b") {
      p.sequence = 1;
    } else if (colon == std::string::npos && std::all_of(name.begin(), name.end(), ::isdigit)) {
      p.sequence = 0;
      p.type_id = parse_type(name);
    } else {
      f.fail("invalid sequence piece '" + s + "' in template (use $A, $B, $A:1...)");
    }
    return p;
  }
  const size_t colon = s.rfind(':');
  if (colon != std::string::npos && colon + 1 < s.size() &&
      std::all_of(s.begin() + static_cast<std::ptrdiff_t>(colon) + 1, s.end(), ::isdigit)) {
    p.special = s.substr(0, colon);
    p.type_id = parse_type(s.substr(colon + 1));
  } else {
    p.special = s;
  }
  return p;
}

std::vector<Piece> parse_template(const Fields& f, const std::string& field) {
  const Json& t = f.get(field);
  std::vector<Piece> out;
  if (t.is_string()) {
    const std::string s = t.get<std::string>();
    size_t pos = 0;
    while (pos <= s.size()) {
      const size_t sp = s.find(' ', pos);
      const std::string part = s.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
      if (!part.empty()) out.push_back(parse_piece_string(f, part));
      if (sp == std::string::npos) break;
      pos = sp + 1;
    }
    return out;
  }
  if (!t.is_array()) f.fail("field '" + field + "' must be a template string or an array of pieces");
  for (const Json& piece : t) {
    if (piece.is_string()) {
      out.push_back(parse_piece_string(f, piece.get<std::string>()));
      continue;
    }
    if (!piece.is_object() || piece.size() != 1)
      f.fail("field '" + field + "' holds an invalid piece " + piece.dump());
    Piece p;
    // Named copies: a structured binding to *piece.items().begin() would refer
    // to the destroyed iteration_proxy_value temporary.
    const auto only = piece.begin();
    const std::string kind = only.key();
    const Json& body = only.value();
    if (!body.is_object()) f.fail("field '" + field + "' holds an invalid piece " + piece.dump());
    p.type_id = body.contains("type_id") ? io::json_u32(body["type_id"], f.where() + ": field '" + field + "': type_id")
                                         : 0;
    if (kind == "Sequence") {
      p.is_sequence = true;
      const std::string id = body.value("id", "A");
      if (id != "A" && id != "B")
        f.fail("field '" + field + "': sequence id must be A or B, got '" + id + "'");
      p.sequence = id == "A" ? 0 : 1;
    } else if (kind == "SpecialToken") {
      if (!body.contains("id") || !body["id"].is_string())
        f.fail("field '" + field + "': SpecialToken without id");
      p.special = body["id"].get<std::string>();
    } else {
      f.fail("field '" + field + "' holds an unknown piece kind '" + kind + "'");
    }
    out.push_back(p);
  }
  return out;
}

class TemplateProcessing : public PostProcessor {
 public:
  explicit TemplateProcessing(const Fields& f) {
    // tokenizers requires single, pair and special_tokens.
    for (const char* field : {"single", "pair", "special_tokens"}) {
      if (!f.has(field)) f.fail(std::string("missing field '") + field + "'");
    }
    if (f.has("special_tokens")) {
      const Json& st = f.get("special_tokens");
      auto add = [&](const Json& v, const std::string& key) {
        SpecialToken t;
        t.id = v.contains("id") && v["id"].is_string() ? v["id"].get<std::string>() : key;
        if (!v.contains("ids") || !v["ids"].is_array())
          f.fail("special token '" + t.id + "' has no 'ids' array");
        if (!v.contains("tokens") || !v["tokens"].is_array())
          f.fail("special token '" + t.id + "' has no 'tokens' array");
        for (const Json& id : v["ids"]) t.ids.push_back(io::json_u32(id, f.where() + ": id of special token '" + t.id + "'"));
        t.tokens = v["tokens"].get<std::vector<std::string>>();
        if (t.ids.size() != t.tokens.size())
          f.fail("special token '" + t.id + "' has different numbers of ids and tokens");
        specials_[t.id] = std::move(t);
      };
      if (st.is_object()) {
        for (auto it = st.begin(); it != st.end(); ++it) add(it.value(), it.key());
      } else if (st.is_array()) {
        for (const Json& v : st) add(v, "");
      } else {
        f.fail("field 'special_tokens' must be an object");
      }
    }
    single_ = f.has("single") ? parse_template(f, "single") : std::vector<Piece>{Piece{true, 0, "", 0}};
    pair_ = f.has("pair") ? parse_template(f, "pair")
                          : std::vector<Piece>{Piece{true, 0, "", 0}, Piece{true, 1, "", 1}};
    bool has_a = false, has_b = false;
    for (const Piece& p : pair_) {
      if (p.is_sequence) (p.sequence == 0 ? has_a : has_b) = true;
    }
    if (!has_a || !has_b) f.fail("template for 'pair' must use both sequences $A and $B");
    for (const auto* tpl : {&single_, &pair_}) {
      for (const Piece& p : *tpl) {
        if (!p.is_sequence && !specials_.count(p.special)) {
          f.fail("template uses special token '" + p.special + "' missing from 'special_tokens'");
        }
      }
    }
  }

  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const Piece& p : is_pair ? pair_ : single_) {
      if (!p.is_sequence) n += specials_.at(p.special).ids.size();
    }
    return n;
  }

  Encoding process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const override {
    return default_process(*this, std::move(encoding), std::move(pair), add_special_tokens);
  }

  void process_encodings(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    const std::vector<Piece>& tpl = encodings.size() == 2 ? pair_ : single_;
    std::vector<Encoding> out;
    for (const Piece& p : tpl) {
      if (p.is_sequence) {
        Encoding& e = encodings.at(p.sequence);
        e.set_type_ids(p.type_id);
        e.set_sequence_id(p.sequence);
        out.push_back(e);
      } else if (add_special_tokens) {
        const SpecialToken& t = specials_.at(p.special);
        Encoding s;
        for (size_t i = 0; i < t.ids.size(); ++i)
          s.push(t.ids[i], t.tokens[i], {0, 0}, std::nullopt, p.type_id, true);
        out.push_back(std::move(s));
      }
    }
    encodings = std::move(out);
  }

 private:
  std::map<std::string, SpecialToken> specials_;
  std::vector<Piece> single_;
  std::vector<Piece> pair_;
};

std::pair<std::string, uint32_t> token_pair(const Fields& f, const std::string& field) {
  const Json& v = f.get(field);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_unsigned()) {
    f.fail("field '" + field + "' must be [token, id], got " + v.dump());
  }
  return {v[0].get<std::string>(), io::json_u32(v[1], f.where() + ": id of token '" + v[0].get<std::string>() + "'")};
}

// BertProcessing and RobertaProcessing: [CLS] A [SEP] (B [SEP]) and
// <s> A </s> </s> B </s>.
class ClsSepProcessing : public PostProcessor {
 public:
  ClsSepProcessing(const Fields& f, bool roberta) : roberta_(roberta) {
    sep_ = token_pair(f, "sep");
    cls_ = token_pair(f, "cls");
    if (roberta) {
      trim_offsets_ = f.boolean("trim_offsets", true);
      add_prefix_space_ = f.boolean("add_prefix_space", true);
    }
  }

  size_t added_tokens(bool is_pair) const override {
    if (!is_pair) return 2;
    return roberta_ ? 4 : 3;
  }

  Encoding process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const override {
    return default_process(*this, std::move(encoding), std::move(pair), add_special_tokens);
  }

  void process_encodings(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    if (roberta_) {
      if (trim_offsets_) trim_all(encodings, add_prefix_space_);
      for (Encoding& e : encodings) e.set_type_ids(0);
    }
    if (!add_special_tokens) return;
    for (size_t i = 0; i < encodings.size(); ++i) {
      Encoding& e = encodings[i];
      std::vector<Encoding> overflow = std::move(e.overflowing);
      e = wrap(std::move(e), i);
      for (Encoding& o : overflow) o = wrap(std::move(o), i);
      e.overflowing = std::move(overflow);
    }
  }

 private:
  Encoding wrap(Encoding e, size_t index) const {
    Encoding out;
    const bool first = index == 0;
    // Type ids: BERT keeps the pair's own (1) and gives its [SEP] 1; RoBERTa is all 0.
    const uint32_t pair_type = roberta_ ? 0 : 1;
    if (first) {
      out.push(cls_.second, cls_.first, {0, 0}, std::nullopt, 0, true);
    } else if (roberta_) {
      out.push(sep_.second, sep_.first, {0, 0}, std::nullopt, 0, true);
    }
    const size_t begin = out.size();
    for (size_t k = 0; k < e.size(); ++k) {
      out.push(e.ids[k], std::move(e.tokens[k]), e.offsets[k], e.words[k], roberta_ ? 0 : e.type_ids[k],
               false);
    }
    const size_t end = out.size();
    out.push(sep_.second, sep_.first, {0, 0}, std::nullopt, first ? 0 : pair_type, true);
    out.sequence_ranges[index] = {begin, end};
    return out;
  }

  bool roberta_;
  std::pair<std::string, uint32_t> sep_;
  std::pair<std::string, uint32_t> cls_;
  bool trim_offsets_ = true;
  bool add_prefix_space_ = true;
};

class ByteLevelProcessing : public PostProcessor {
 public:
  explicit ByteLevelProcessing(const Fields& f)
      : trim_offsets_(f.boolean("trim_offsets", true)),
        add_prefix_space_(f.boolean("add_prefix_space", true)) {}
  size_t added_tokens(bool) const override { return 0; }
  Encoding process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const override {
    return default_process(*this, std::move(encoding), std::move(pair), add_special_tokens);
  }
  void process_encodings(std::vector<Encoding>& encodings, bool) const override {
    if (trim_offsets_) trim_all(encodings, add_prefix_space_);
    for (size_t i = 0; i < encodings.size(); ++i) encodings[i].set_sequence_id(i);
  }

 private:
  bool trim_offsets_;
  bool add_prefix_space_;
};

class SequenceProcessing : public PostProcessor {
 public:
  explicit SequenceProcessing(const Fields& f) {
    for (const Json& p : f.array("processors")) processors_.push_back(make_post_processor(p));
  }
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : processors_) n += p->added_tokens(is_pair);
    return n;
  }
  Encoding process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const override {
    return default_process(*this, std::move(encoding), std::move(pair), add_special_tokens);
  }
  void process_encodings(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    for (const auto& p : processors_) p->process_encodings(encodings, add_special_tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> processors_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& json) {
  Fields f(json, "post_processor");
  const std::string& type = f.type();
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessing>(f);
  if (type == "BertProcessing") return std::make_unique<ClsSepProcessing>(f, false);
  if (type == "RobertaProcessing") return std::make_unique<ClsSepProcessing>(f, true);
  if (type == "ByteLevel") return std::make_unique<ByteLevelProcessing>(f);
  if (type == "Sequence") return std::make_unique<SequenceProcessing>(f);
  f.unknown_type({"TemplateProcessing", "BertProcessing", "RobertaProcessing", "ByteLevel", "Sequence"});
}

}  // namespace optimum::tokenizers
