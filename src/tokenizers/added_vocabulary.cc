#include "added_vocabulary.h"

#include <utf8proc.h>

#include <algorithm>

#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {

namespace {

// Rust regex \w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
bool is_word_char(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  switch (cat) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return unicode::is_alphabetic(c);
  }
}

char32_t last_char(std::string_view s) {
  size_t p = s.size();
  while (p > 0 && (static_cast<uint8_t>(s[p - 1]) & 0xC0) == 0x80) --p;
  if (p > 0) --p;
  size_t q = p;
  return unicode::next_char(s, q);
}

bool ends_with_word(std::string_view s) { return !s.empty() && is_word_char(last_char(s)); }

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t p = 0;
  return is_word_char(unicode::next_char(s, p));
}

// Start of the trailing whitespace run of s.
size_t space_leftmost_at_end(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t p = end;
    while (p > 0 && (static_cast<uint8_t>(s[p - 1]) & 0xC0) == 0x80) --p;
    if (p > 0) --p;
    size_t q = p;
    if (!unicode::is_whitespace(unicode::next_char(s, q))) break;
    end = p;
  }
  return end;
}

// End of the leading whitespace run of s.
size_t space_rightmost_at_start(std::string_view s) {
  size_t p = 0;
  while (p < s.size()) {
    size_t q = p;
    if (!unicode::is_whitespace(unicode::next_char(s, q))) break;
    p = q;
  }
  return p;
}

}  // namespace

void AddedVocabulary::Trie::add(const std::string& pattern, uint32_t id) {
  if (pattern.empty()) return;
  uint32_t node = 0;
  for (char ch : pattern) {
    const auto b = static_cast<uint8_t>(ch);
    auto it = nodes[node].next.find(b);
    if (it == nodes[node].next.end()) {
      nodes.emplace_back();
      const auto created = static_cast<uint32_t>(nodes.size() - 1);
      nodes[node].next[b] = created;
      node = created;
    } else {
      node = it->second;
    }
  }
  // The first pattern registered for a string wins, as in aho-corasick.
  if (nodes[node].token < 0) {
    nodes[node].token = static_cast<int64_t>(ids.size());
    ids.push_back(id);
  }
  first_byte[static_cast<uint8_t>(pattern[0])] = true;
}

std::pair<size_t, uint32_t> AddedVocabulary::Trie::longest_at(std::string_view s, size_t pos) const {
  if (!first_byte[static_cast<uint8_t>(s[pos])]) return {0, 0};
  uint32_t node = 0;
  std::pair<size_t, uint32_t> best{0, 0};
  for (size_t i = pos; i < s.size(); ++i) {
    auto it = nodes[node].next.find(static_cast<uint8_t>(s[i]));
    if (it == nodes[node].next.end()) break;
    node = it->second;
    if (nodes[node].token >= 0) best = {i + 1 - pos, ids[static_cast<size_t>(nodes[node].token)]};
  }
  return best;
}

std::optional<uint32_t> AddedVocabulary::token_to_id(std::string_view token, const Model& model) const {
  auto it = map_.find(std::string(token));
  if (it != map_.end()) return it->second;
  return model.token_to_id(token);
}

std::optional<std::string> AddedVocabulary::id_to_token(uint32_t id, const Model& model) const {
  if (const std::string* c = content_of(id)) return *c;
  return model.id_to_token(id);
}

const std::string* AddedVocabulary::content_of(uint32_t id) const {
  auto it = content_r_.find(id);
  return it == content_r_.end() ? nullptr : &it->second;
}

const AddedToken* AddedVocabulary::find(uint32_t id) const {
  auto it = map_r_.find(id);
  return it == map_r_.end() ? nullptr : &it->second;
}

size_t AddedVocabulary::add_tokens(const std::vector<AddedToken>& tokens, const Model& model,
                                   const Normalizer* normalizer) {
  for (const AddedToken& t : tokens) {
    if (t.special && !t.content.empty() && !special_set_.count(t.content)) {
      special_.push_back(t);
      special_set_.insert(t.content);
    }
  }
  size_t ignored = 0;
  const auto vocab_size = static_cast<uint32_t>(model.vocab_size());
  for (const AddedToken& t : tokens) {
    auto same = [&](const auto& kv) {
      const AddedToken& o = kv.second;
      return o.content == t.content && o.single_word == t.single_word && o.lstrip == t.lstrip &&
             o.rstrip == t.rstrip && o.normalized == t.normalized && o.special == t.special;
    };
    if (t.content.empty() || std::any_of(map_r_.begin(), map_r_.end(), same)) {
      ++ignored;
      continue;
    }
    uint32_t id;
    if (auto existing = token_to_id(t.content, model)) {
      id = *existing;
    } else if (map_.empty()) {
      id = vocab_size;
    } else {
      uint32_t max_id = 0;
      for (const auto& [c, i] : map_) max_id = std::max(max_id, i);
      id = (max_id >= vocab_size || vocab_size == 0) ? max_id + 1 : vocab_size;
    }
    map_[t.content] = id;
    map_r_[id] = t;
    if (!special_set_.count(t.content)) added_.push_back(t);
  }
  refresh(model, normalizer);
  return tokens.size() - ignored;
}

void AddedVocabulary::refresh(const Model& model, const Normalizer* normalizer) {
  split_trie_ = Trie();
  split_normalized_trie_ = Trie();
  for (const auto* list : {&special_, &added_}) {
    for (const AddedToken& t : *list) {
      const auto id = token_to_id(t.content, model);
      if (!id) continue;
      if (t.normalized) {
        NormalizedString content(t.content);
        if (normalizer != nullptr) normalizer->normalize(content);
        split_normalized_trie_.add(content.normalized(), *id);
      } else {
        split_trie_.add(t.content, *id);
      }
    }
  }
  content_r_.clear();
  for (const auto& [id, t] : map_r_) {
    if (t.normalized && normalizer != nullptr) {
      NormalizedString content(t.content);
      normalizer->normalize(content);
      content_r_[id] = content.normalized();
    } else {
      content_r_[id] = t.content;
    }
  }
  outside_model_ = 0;
  for (const auto& [content, id] : map_) {
    if (!model.token_to_id(content)) ++outside_model_;
  }
  ordered_.clear();
  std::vector<uint32_t> ids;
  for (const auto& [id, t] : map_r_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint32_t id : ids) ordered_.push_back(map_r_.at(id));
}

std::vector<AddedVocabulary::SplitPiece> AddedVocabulary::find_matches(std::string_view s,
                                                                       const Trie& trie) const {
  if (s.empty()) return {{0, 0, std::nullopt}};
  std::vector<SplitPiece> splits;
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const auto [len, id] = trie.longest_at(s, pos);
    if (len == 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + len;
    pos = stop;  // matches never overlap
    const AddedToken& t = map_r_.at(id);
    if (t.single_word) {
      const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
      const bool stop_space = stop == s.size() || !starts_with_word(s.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) start = std::max(space_leftmost_at_end(s.substr(0, start)), start_offset);
    if (t.rstrip) stop += space_rightmost_at_start(s.substr(stop));
    if (start_offset < start) splits.push_back({start_offset, start, std::nullopt});
    splits.push_back({start, stop, id});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset != s.size()) splits.push_back({start_offset, s.size(), std::nullopt});
  return splits;
}

std::vector<std::pair<NormalizedString, std::optional<std::vector<Token>>>>
AddedVocabulary::split_with_indices(NormalizedString s, const Trie& trie) const {
  std::vector<std::pair<NormalizedString, std::optional<std::vector<Token>>>> out;
  for (const SplitPiece& p : find_matches(s.normalized(), trie)) {
    std::optional<NormalizedString> piece = s.slice(p.start, p.end);
    if (!piece) continue;
    if (p.id) {
      std::string value = piece->normalized();
      const size_t len = value.size();
      out.emplace_back(std::move(*piece), std::vector<Token>{Token{*p.id, std::move(value), {0, len}}});
    } else {
      out.emplace_back(std::move(*piece), std::nullopt);
    }
  }
  return out;
}

PreTokenizedString AddedVocabulary::extract_and_normalize(const Normalizer* normalizer,
                                                          std::string_view sequence) const {
  PreTokenizedString pre{std::string(sequence)};
  auto split_on = [&](const Trie& trie, bool normalize) {
    std::vector<Split> next;
    for (Split& split : pre.splits()) {
      if (split.tokens) {
        next.push_back(std::move(split));
        continue;
      }
      if (normalize && normalizer != nullptr) normalizer->normalize(split.normalized);
      for (auto& [ns, tokens] : split_with_indices(std::move(split.normalized), trie)) {
        // Empty pieces are dropped, as PreTokenizedString::split does.
        if (!ns.empty()) next.push_back(Split{std::move(ns), std::move(tokens)});
      }
    }
    pre.splits() = std::move(next);
  };
  split_on(split_trie_, false);
  split_on(split_normalized_trie_, true);
  return pre;
}

}  // namespace optimum::tokenizers
