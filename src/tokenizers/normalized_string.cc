// NormalizedString, patterns and PreTokenizedString, following tokenizers'
// normalizer.rs, pattern.rs and pre_tokenizer.rs step by step (including
// their quirks: transform() addresses the whole *original* range, so
// zero-width alignments at the start change what it replaces). Where the
// Rust code would panic (an index out of bounds), InvalidArgument is thrown.
#include "optimum/tokenizers/normalized_string.h"

#include <utf8proc.h>

#include <algorithm>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {
namespace {

bool is_char_boundary(const std::string& s, size_t i) {
  if (i == s.size()) return true;
  if (i > s.size()) return false;
  return (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

[[noreturn]] void fail(const std::string& what) {
  throw InvalidArgument("NormalizedString: " + what + " (tokenizers panics here)");
}

// ---- Unicode normalization with alignment changes, as the
// unicode-normalization-alignments crate produces them.

uint8_t combining_class(char32_t c) {
  return static_cast<uint8_t>(utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class);
}

// Canonical or compatibility decomposition of one character, recursively.
void decompose_char(char32_t c, bool compat, std::vector<char32_t>& out) {
  utf8proc_int32_t buffer[32];
  int boundclass = 0;
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer, 32, options, &boundclass);
  if (n <= 0 || n > 32) {
    out.push_back(c);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buffer[i]));
}

// The primary composite of (a, b), if any.
std::optional<char32_t> compose_pair(char32_t a, char32_t b) {
  utf8proc_int32_t buffer[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  const utf8proc_ssize_t n = utf8proc_normalize_utf32(buffer, 2, UTF8PROC_COMPOSE);
  if (n == 1) return static_cast<char32_t>(buffer[0]);
  return std::nullopt;
}

struct Decomposed {
  uint8_t ccc;
  char32_t c;
  int change;
};

// Decompositions: each character decomposes to (first: 0, others: 1); runs
// of non-starters are stably sorted by combining class, changes moving with
// their characters.
std::vector<CharChange> decompose(std::string_view s, bool compat) {
  std::vector<Decomposed> buffer;
  std::vector<CharChange> out;
  out.reserve(s.size());
  size_t pending = 0;  // start of the unsorted tail
  auto sort_pending = [&] {
    if (buffer.size() - pending > 1) {
      std::stable_sort(buffer.begin() + static_cast<ptrdiff_t>(pending), buffer.end(),
                       [](const Decomposed& x, const Decomposed& y) { return x.ccc < y.ccc; });
    }
    for (const auto& d : buffer) out.emplace_back(d.c, d.change);
    buffer.clear();
    pending = 0;
  };
  std::vector<char32_t> parts;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = unicode::next_char(s, pos);
    if (c < 0x80) {  // ASCII: itself, combining class 0
      sort_pending();
      buffer.push_back({0, c, 0});
      continue;
    }
    parts.clear();
    decompose_char(c, compat, parts);
    for (size_t i = 0; i < parts.size(); ++i) {
      const uint8_t ccc = combining_class(parts[i]);
      if (ccc == 0) sort_pending();
      buffer.push_back({ccc, parts[i], i == 0 ? 0 : 1});
    }
  }
  sort_pending();
  return out;
}

// Recompositions over the decomposed stream; a composition merges changes as
// k.change + change - 1.
std::vector<CharChange> recompose(const std::vector<CharChange>& decomposed) {
  std::vector<CharChange> out;
  out.reserve(decomposed.size());
  std::optional<CharChange> composee;
  std::optional<uint8_t> last_ccc;
  std::vector<CharChange> buffer;
  auto flush_buffer = [&] {
    out.insert(out.end(), buffer.begin(), buffer.end());
    buffer.clear();
  };
  for (const auto& [ch, change] : decomposed) {
    const uint8_t ch_class = combining_class(ch);
    if (!composee) {
      if (ch_class != 0) {
        out.emplace_back(ch, change);
        continue;
      }
      composee = CharChange{ch, change};
      continue;
    }
    const CharChange k = *composee;
    if (!last_ccc) {
      if (auto r = compose_pair(k.first, ch)) {
        composee = CharChange{*r, k.second + change - 1};
        continue;
      }
      if (ch_class == 0) {
        composee = CharChange{ch, change};
        out.push_back(k);
        continue;
      }
      buffer.emplace_back(ch, change);
      last_ccc = ch_class;
      continue;
    }
    if (*last_ccc >= ch_class) {
      // `ch` is blocked from the composee.
      if (ch_class == 0) {
        composee = CharChange{ch, change};
        last_ccc.reset();
        out.push_back(k);
        flush_buffer();
        continue;
      }
      buffer.emplace_back(ch, change);
      last_ccc = ch_class;
      continue;
    }
    if (auto r = compose_pair(k.first, ch)) {
      composee = CharChange{*r, k.second + change - 1};
      continue;
    }
    buffer.emplace_back(ch, change);
    last_ccc = ch_class;
  }
  if (composee) out.push_back(*composee);
  flush_buffer();
  return out;
}

}  // namespace

// ---- Patterns

std::vector<Match> StringPattern::find_matches(std::string_view text) const {
  // tokenizers reports (0, char count) here; bytes keep the span valid.
  if (literal_.empty()) return {{0, text.size(), false}};
  if (text.empty()) return {{0, 0, false}};
  std::vector<Match> out;
  size_t prev = 0;
  size_t pos = text.find(literal_);
  while (pos != std::string_view::npos) {
    if (prev != pos) out.push_back({prev, pos, false});
    out.push_back({pos, pos + literal_.size(), true});
    prev = pos + literal_.size();
    pos = text.find(literal_, prev);
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

std::vector<Match> CharPredicatePattern::find_matches(std::string_view text) const {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Match> out;
  size_t last_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const char32_t c = unicode::next_char(text, pos);
    if (pred_(c)) {
      if (last_offset < start) out.push_back({last_offset, start, false});
      out.push_back({start, pos, true});
      last_offset = pos;
    }
  }
  if (text.size() > last_offset) out.push_back({last_offset, text.size(), false});
  return out;
}

std::vector<Match> InvertedPattern::find_matches(std::string_view text) const {
  std::vector<Match> out = inner_.find_matches(text);
  for (auto& m : out) m.is_match = !m.is_match;
  return out;
}

// ---- NormalizedString

NormalizedString::NormalizedString(std::string text) : original_(text), normalized_(std::move(text)) {
  alignments_.reserve(normalized_.size());
  size_t pos = 0;
  while (pos < normalized_.size()) {
    const size_t start = pos;
    unicode::next_char(normalized_, pos);
    for (size_t b = start; b < pos; ++b) alignments_.emplace_back(start, pos);
  }
}

std::optional<Offsets> NormalizedString::to_original(size_t start, size_t end) const {
  if (start == end) return Offsets{start, end};
  if (start > end) return std::nullopt;
  if (end > alignments_.size()) return std::nullopt;
  return Offsets{alignments_[start].first, alignments_[end - 1].second};
}

std::optional<Offsets> NormalizedString::to_normalized(size_t start, size_t end) const {
  if (start == end) return Offsets{start, end};
  if (start > end) return std::nullopt;
  std::optional<size_t> s;
  std::optional<size_t> e;
  for (size_t i = 0; i < alignments_.size(); ++i) {
    const auto& [a0, a1] = alignments_[i];
    if (end < a1) break;
    if (!s && start <= a0 && a0 != a1) s = i;
    e = i + 1;
  }
  if (s && e) return Offsets{*s, *e};
  if (s) return Offsets{*s, *s};
  if (e) return Offsets{*e, *e};
  return std::nullopt;
}

std::optional<NormalizedString> NormalizedString::slice(size_t start, size_t end) const {
  if (!is_char_boundary(normalized_, start) || !is_char_boundary(normalized_, end)) return std::nullopt;
  const auto original_range = to_original(start, end);
  if (!original_range) return std::nullopt;
  if (start > end || end > alignments_.size()) return std::nullopt;
  const size_t n_shift = original_range->first;
  NormalizedString out;
  if (original_range->first <= original_range->second && original_range->second <= original_.size() &&
      is_char_boundary(original_, original_range->first) &&
      is_char_boundary(original_, original_range->second)) {
    out.original_ = original_.substr(original_range->first, original_range->second - original_range->first);
  }
  out.normalized_ = normalized_.substr(start, end - start);
  out.alignments_.reserve(end - start);
  for (size_t i = start; i < end; ++i) {
    out.alignments_.emplace_back(alignments_[i].first - n_shift, alignments_[i].second - n_shift);
  }
  out.original_shift_ = original_shift_ + original_range->first;
  return out;
}

void NormalizedString::transform_range(size_t start, size_t end, const std::vector<CharChange>& dest,
                                       size_t initial_offset) {
  if (start > end || end > normalized_.size() || !is_char_boundary(normalized_, start) ||
      !is_char_boundary(normalized_, end)) {
    fail("transform range out of bounds or not on character boundaries");
  }
  // The characters being replaced, consumed as `dest` replaces them.
  const std::string_view replaced(normalized_.data() + start, end - start);
  size_t replaced_pos = 0;
  auto next_replaced_len = [&]() -> size_t {
    if (replaced_pos >= replaced.size()) return 0;
    const size_t before = replaced_pos;
    unicode::next_char(replaced, replaced_pos);
    return replaced_pos - before;
  };
  size_t initial_removed = 0;
  for (size_t i = 0; i < initial_offset; ++i) initial_removed += next_replaced_len();

  size_t offset = initial_removed + start;
  std::string normalized;
  normalized.reserve(end - start);
  std::vector<Offsets> alignments;
  alignments.reserve(end - start);
  for (const auto& [c, change] : dest) {
    const size_t idx = offset;
    Offsets align;
    if (change > 0) {
      if (idx < 1) {
        align = {0, 0};
      } else {
        if (idx - 1 >= alignments_.size()) fail("alignment index out of bounds");
        align = alignments_[idx - 1];
      }
    } else {
      if (idx >= alignments_.size()) fail("alignment index out of bounds");
      align = alignments_[idx];
    }
    if (change <= 0) offset += next_replaced_len();
    if (change < 0) {
      for (int i = 0; i < -change; ++i) offset += next_replaced_len();
    }
    const size_t len = unicode::char_len(c);
    alignments.insert(alignments.end(), len, align);
    unicode::append_utf8(normalized, c);
  }
  alignments_.erase(alignments_.begin() + static_cast<ptrdiff_t>(start),
                    alignments_.begin() + static_cast<ptrdiff_t>(end));
  alignments_.insert(alignments_.begin() + static_cast<ptrdiff_t>(start), alignments.begin(),
                     alignments.end());
  normalized_.replace(start, end - start, normalized);
}

void NormalizedString::transform(const std::vector<CharChange>& dest, size_t initial_offset) {
  // tokenizers transforms Range::Original(..), converted to normalized bytes.
  const auto range = to_normalized(0, original_.size());
  if (!range) return;
  transform_range(range->first, range->second, dest, initial_offset);
}

namespace {

// Applies a one-to-one character mapping in place when every new character
// has the byte length of the one it replaces: what transform() with change 0
// everywhere gives (each byte of a character aligned like its first byte),
// without rebuilding the string. Returns false, changing nothing, otherwise.
template <typename F>
bool map_in_place(std::string& text, std::vector<Offsets>& alignments, F&& f) {
  size_t pos = 0;
  bool changes = false;
  while (pos < text.size()) {
    const auto b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      const char32_t c = f(static_cast<char32_t>(b));
      if (c >= 0x80) return false;  // also the > 0x10FFFF "no" answer
      changes |= c != b;
      ++pos;
      continue;
    }
    const size_t start = pos;
    const char32_t c = unicode::next_char(text, pos);
    const char32_t n = f(c);
    if (n > 0x10FFFF || unicode::char_len(n) != pos - start || unicode::char_len(c) != pos - start)
      return false;
    changes |= n != c;
  }
  if (!changes) return true;
  pos = 0;
  std::string encoded;
  while (pos < text.size()) {
    const auto b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      text[pos] = static_cast<char>(f(static_cast<char32_t>(b)));
      ++pos;
      continue;
    }
    const size_t start = pos;
    const char32_t c = unicode::next_char(text, pos);
    const char32_t n = f(c);
    if (n != c) {
      encoded.clear();
      unicode::append_utf8(encoded, n);
      text.replace(start, encoded.size(), encoded);
      for (size_t i = start + 1; i < pos; ++i) alignments[i] = alignments[start];
    }
  }
  return true;
}

}  // namespace

void NormalizedString::map(const std::function<char32_t(char32_t)>& f) {
  if (map_in_place(normalized_, alignments_, f)) return;
  std::vector<CharChange> dest;
  dest.reserve(normalized_.size());
  size_t pos = 0;
  while (pos < normalized_.size()) dest.emplace_back(f(unicode::next_char(normalized_, pos)), 0);
  transform(dest, 0);
}

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
  {
    // Nothing removed: the string stays as it is (valid UTF-8 only, where
    // transform() would not re-encode anything).
    size_t pos = 0;
    bool all_kept = true;
    while (pos < normalized_.size() && all_kept) {
      const size_t start = pos;
      const char32_t c = unicode::next_char(normalized_, pos);
      all_kept = keep(c) && unicode::char_len(c) == pos - start;
    }
    if (all_kept) return;
  }
  const std::u32string chars = unicode::decode(normalized_);
  std::vector<CharChange> reversed;
  reversed.reserve(chars.size());
  int removed = 0;
  for (auto it = chars.rbegin(); it != chars.rend(); ++it) {
    if (keep(*it)) {
      reversed.emplace_back(*it, -removed);
      removed = 0;
    } else {
      ++removed;
    }
  }
  std::vector<CharChange> dest(reversed.rbegin(), reversed.rend());
  transform(dest, static_cast<size_t>(removed));
}

namespace {

// No character of s changes under canonical or compatibility (de)composition
// (ASCII only: the common case, checked cheaply).
bool normalization_inert(std::string_view s) {
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

// dest replaces every character of s by itself (transform() would change nothing).
bool is_identity(std::string_view s, const std::vector<CharChange>& dest) {
  size_t pos = 0;
  for (const auto& [c, change] : dest) {
    if (change != 0 || pos >= s.size()) return false;
    const size_t start = pos;
    if (unicode::next_char(s, pos) != c || unicode::char_len(c) != pos - start) return false;
  }
  return pos == s.size();
}

}  // namespace

void NormalizedString::transform_unless_identity(const std::vector<CharChange>& dest) {
  if (!is_identity(normalized_, dest)) transform(dest, 0);
}

namespace {}  // namespace

void NormalizedString::nfd() {
  if (normalization_inert(normalized_)) return;
  transform_unless_identity(decompose(normalized_, false));
}

void NormalizedString::nfkd() {
  if (normalization_inert(normalized_)) return;
  transform_unless_identity(decompose(normalized_, true));
}

void NormalizedString::nfc() {
  if (normalization_inert(normalized_)) return;
  transform_unless_identity(recompose(decompose(normalized_, false)));
}

void NormalizedString::nfkc() {
  if (normalization_inert(normalized_)) return;
  transform_unless_identity(recompose(decompose(normalized_, true)));
}

void NormalizedString::lowercase() {
  // One-to-one lowercasings of the same byte length (all of ASCII) in place.
  bool multi = false;
  const bool done = map_in_place(normalized_, alignments_, [&multi](char32_t c) -> char32_t {
    if (c < 0x80) return c >= U'A' && c <= U'Z' ? c + 32 : c;
    const std::u32string lower = unicode::to_lowercase(c);
    if (lower.size() != 1) {
      multi = true;
      return 0x110000;  // not a character: map_in_place gives up, the general path runs
    }
    return lower[0];
  });
  if (done) return;
  std::vector<CharChange> dest;
  dest.reserve(normalized_.size());
  size_t pos = 0;
  while (pos < normalized_.size()) {
    const std::u32string lower = unicode::to_lowercase(unicode::next_char(normalized_, pos));
    for (size_t i = 0; i < lower.size(); ++i) dest.emplace_back(lower[i], i > 0 ? 1 : 0);
  }
  transform(dest, 0);
}

void NormalizedString::strip(bool left, bool right) {
  const std::u32string chars = unicode::decode(normalized_);
  size_t leading = 0;
  if (left) {
    while (leading < chars.size() && unicode::is_whitespace(chars[leading])) ++leading;
  }
  size_t trailing = 0;
  if (right) {
    while (trailing < chars.size() && unicode::is_whitespace(chars[chars.size() - 1 - trailing])) ++trailing;
  }
  if (leading == 0 && trailing == 0) return;
  std::vector<CharChange> dest;
  dest.reserve(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) {
    if (i < leading || i + trailing >= chars.size()) continue;
    const bool last_kept = i + trailing + 1 == chars.size();
    dest.emplace_back(chars[i], last_kept ? -static_cast<int>(trailing) : 0);
  }
  transform(dest, leading);
}

void NormalizedString::prepend(std::string_view s) {
  if (normalized_.empty()) return;
  size_t first_len = 0;
  const char32_t next = unicode::next_char(normalized_, first_len);
  std::vector<CharChange> dest;
  size_t pos = 0;
  while (pos < s.size()) dest.emplace_back(unicode::next_char(s, pos), dest.empty() ? 0 : 1);
  dest.emplace_back(next, 1);
  transform_range(0, first_len, dest, 0);
}

void NormalizedString::append(std::string_view s) {
  if (normalized_.empty()) return;
  size_t last = normalized_.size() - 1;
  while (last > 0 && !is_char_boundary(normalized_, last)) --last;
  size_t pos = last;
  const char32_t prev = unicode::next_char(normalized_, pos);
  std::vector<CharChange> dest{{prev, 0}};
  pos = 0;
  while (pos < s.size()) dest.emplace_back(unicode::next_char(s, pos), 1);
  transform_range(last, normalized_.size(), dest, 0);
}

void NormalizedString::replace(const Pattern& pattern, std::string_view content) {
  // tokenizers applies transform_range per match (content inserted, the match
  // removed); done here in one pass with the same result. Inserted bytes take
  // the alignment of the byte before the match's end in the string being
  // built: the match's own last byte, or for an empty match the previous
  // output byte ((0, 0) at the very start).
  std::string normalized;
  std::vector<Offsets> alignments;
  normalized.reserve(normalized_.size());
  alignments.reserve(alignments_.size());
  bool changed = false;
  for (const Match& m : pattern.find_matches(normalized_)) {
    if (!m.is_match) {
      normalized.append(normalized_, m.start, m.end - m.start);
      alignments.insert(alignments.end(), alignments_.begin() + static_cast<ptrdiff_t>(m.start),
                        alignments_.begin() + static_cast<ptrdiff_t>(m.end));
      continue;
    }
    changed = true;
    Offsets align{0, 0};
    if (m.end > m.start) {
      align = alignments_[m.end - 1];
    } else if (!alignments.empty()) {
      align = alignments.back();
    }
    normalized.append(content);
    alignments.insert(alignments.end(), content.size(), align);
  }
  if (!changed) return;
  normalized_ = std::move(normalized);
  alignments_ = std::move(alignments);
}

namespace {

// One piece of a split: [start, end) normalized bytes, removed or kept.
struct SplitPiece {
  size_t start;
  size_t end;
  bool remove;
};

std::vector<SplitPiece> split_pieces(const Pattern& pattern, SplitBehavior behavior, std::string_view text) {
  const std::vector<Match> matches = pattern.find_matches(text);
  std::vector<SplitPiece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::Removed:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const auto& m : matches) {
        if (m.is_match == previous_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const auto& m : matches) {
        if (m.is_match && !previous_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty()) {
          pieces.back().start = it->start;
        } else {
          pieces.push_back({it->start, it->end, false});
        }
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  return pieces;
}

}  // namespace

std::vector<NormalizedString> NormalizedString::split(const Pattern& pattern, SplitBehavior behavior) const& {
  const std::vector<SplitPiece> pieces = split_pieces(pattern, behavior, normalized_);
  std::vector<NormalizedString> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) {
    if (p.remove) continue;
    auto s = slice(p.start, p.end);
    if (!s) fail("bad split");
    out.push_back(std::move(*s));
  }
  return out;
}

std::vector<NormalizedString> NormalizedString::split(const Pattern& pattern, SplitBehavior behavior) && {
  const std::vector<SplitPiece> pieces = split_pieces(pattern, behavior, normalized_);
  // One piece that is the whole string, aligned to the whole original: the
  // slice would equal the string itself, so it is moved instead of copied.
  if (pieces.size() == 1 && !pieces[0].remove && pieces[0].start == 0 &&
      pieces[0].end == normalized_.size() && !alignments_.empty() && alignments_.front().first == 0 &&
      alignments_.back().second == original_.size()) {
    std::vector<NormalizedString> out;
    out.push_back(std::move(*this));
    return out;
  }
  std::vector<NormalizedString> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) {
    if (p.remove) continue;
    auto s = slice(p.start, p.end);
    if (!s) fail("bad split");
    out.push_back(std::move(*s));
  }
  return out;
}

// ---- PreTokenizedString

PreTokenizedString::PreTokenizedString(std::string text)
    : PreTokenizedString(NormalizedString(std::move(text))) {}

PreTokenizedString::PreTokenizedString(NormalizedString normalized) : original_(normalized.original()) {
  splits_.push_back({std::move(normalized), std::nullopt});
}

void PreTokenizedString::split(
    const std::function<std::vector<NormalizedString>(size_t, NormalizedString&&)>& f) {
  std::vector<Split> out;
  out.reserve(splits_.size());
  for (size_t i = 0; i < splits_.size(); ++i) {
    Split& split = splits_[i];
    if (split.tokens) {
      out.push_back(std::move(split));
      continue;
    }
    for (auto& piece : f(i, std::move(split.normalized))) {
      if (!piece.empty()) out.push_back({std::move(piece), std::nullopt});
    }
  }
  splits_ = std::move(out);
}

void PreTokenizedString::normalize(const std::function<void(NormalizedString&)>& f) {
  for (auto& split : splits_) {
    if (!split.tokens) f(split.normalized);
  }
}

void PreTokenizedString::tokenize(const std::function<std::vector<Token>(const NormalizedString&)>& f) {
  for (auto& split : splits_) {
    if (!split.tokens) split.tokens = f(split.normalized);
  }
}

}  // namespace optimum::tokenizers
