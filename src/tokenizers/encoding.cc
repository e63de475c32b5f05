// Encoding operations with the semantics of tokenizers' encoding.rs.
#include "optimum/tokenizers/encoding.h"

#include <algorithm>

#include "optimum/core/errors.h"

namespace optimum::tokenizers {

namespace {

template <typename T>
std::vector<T> slice(const std::vector<T>& v, size_t start, size_t stop) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(start),
                        v.begin() + static_cast<std::ptrdiff_t>(stop));
}

Encoding sub_encoding(const Encoding& e, size_t start, size_t stop) {
  Encoding out;
  out.ids = slice(e.ids, start, stop);
  out.type_ids = slice(e.type_ids, start, stop);
  out.tokens = slice(e.tokens, start, stop);
  out.words = slice(e.words, start, stop);
  out.offsets = slice(e.offsets, start, stop);
  out.special_tokens_mask = slice(e.special_tokens_mask, start, stop);
  out.attention_mask = slice(e.attention_mask, start, stop);
  return out;
}

template <typename T>
void pad_vector(std::vector<T>& v, size_t n, const T& value, Direction direction) {
  if (direction == Direction::Left) {
    v.insert(v.begin(), n, value);
  } else {
    v.insert(v.end(), n, value);
  }
}

}  // namespace

std::vector<std::optional<size_t>> Encoding::sequence_ids() const {
  std::vector<std::optional<size_t>> out(size());
  if (sequence_ranges.empty()) {
    std::fill(out.begin(), out.end(), std::optional<size_t>(0));
    return out;
  }
  // tokenizers: every sequence id 0..n-1; an id without a range covers everything.
  for (size_t id = 0; id < sequence_ranges.size(); ++id) {
    auto it = sequence_ranges.find(id);
    const std::pair<size_t, size_t> range =
        it == sequence_ranges.end() ? std::pair<size_t, size_t>{0, out.size()} : it->second;
    for (size_t i = range.first; i < range.second && i < out.size(); ++i) out[i] = id;
  }
  return out;
}

void Encoding::set_sequence_id(size_t id) { sequence_ranges[id] = {0, size()}; }

void Encoding::set_type_ids(uint32_t type_id) { type_ids.assign(size(), type_id); }

void Encoding::push(uint32_t id, std::string token, Offsets off, std::optional<uint32_t> word,
                    uint32_t type_id, bool special) {
  ids.push_back(id);
  tokens.push_back(std::move(token));
  offsets.push_back(off);
  words.push_back(word);
  type_ids.push_back(type_id);
  special_tokens_mask.push_back(special ? 1 : 0);
  attention_mask.push_back(1);
}

void Encoding::truncate(size_t max_length, size_t stride, Direction direction) {
  const size_t len = size();
  if (max_length >= len) return;
  if (max_length == 0) {
    Encoding whole = std::move(*this);
    *this = Encoding();
    overflowing.push_back(std::move(whole));
    return;
  }
  if (stride >= max_length) {
    throw InvalidArgument("truncation stride " + std::to_string(stride) +
                          " must be strictly less than max_length " + std::to_string(max_length) +
                          " (max_length here excludes the special tokens the post-processor adds)");
  }
  const size_t step = max_length - stride;
  std::vector<std::pair<size_t, size_t>> parts;
  if (direction == Direction::Right) {
    for (size_t start = 0; start < len; start += step) {
      const size_t stop = std::min(start + max_length, len);
      parts.emplace_back(start, stop);
      if (stop == len) break;
    }
  } else {
    // Windows from the end: stop = len, len - step, ...
    for (size_t k = 0;; ++k) {
      const size_t last = len - 1;
      if (k * step > last) break;
      const size_t stop = last - k * step + 1;
      const size_t start = stop > max_length ? stop - max_length : 0;
      parts.emplace_back(start, stop);
      if (start == 0) break;
    }
  }
  Encoding result = sub_encoding(*this, parts[0].first, parts[0].second);
  for (size_t i = 1; i < parts.size(); ++i) {
    result.overflowing.push_back(sub_encoding(*this, parts[i].first, parts[i].second));
  }
  *this = std::move(result);
}

void Encoding::merge_with(Encoding pair, bool growing_offsets) {
  std::vector<Encoding> merged_overflowing;
  for (const Encoding& self_o : overflowing) {
    Encoding n = self_o;
    n.merge_with(pair, growing_offsets);
    merged_overflowing.push_back(std::move(n));
    for (const Encoding& other_o : pair.overflowing) {
      Encoding m = self_o;
      m.merge_with(other_o, growing_offsets);
      merged_overflowing.push_back(std::move(m));
    }
  }
  for (const Encoding& other_o : pair.overflowing) {
    Encoding n = *this;
    n.merge_with(other_o, growing_offsets);
    merged_overflowing.push_back(std::move(n));
  }
  const size_t original_len = size();
  for (const auto& [id, range] : pair.sequence_ranges) {
    sequence_ranges[id] = {original_len + range.first, original_len + range.second};
  }
  ids.insert(ids.end(), pair.ids.begin(), pair.ids.end());
  type_ids.insert(type_ids.end(), pair.type_ids.begin(), pair.type_ids.end());
  tokens.insert(tokens.end(), std::make_move_iterator(pair.tokens.begin()),
                std::make_move_iterator(pair.tokens.end()));
  words.insert(words.end(), pair.words.begin(), pair.words.end());
  const size_t shift = growing_offsets && !offsets.empty() ? offsets.back().second : 0;
  for (const Offsets& o : pair.offsets) offsets.emplace_back(o.first + shift, o.second + shift);
  special_tokens_mask.insert(special_tokens_mask.end(), pair.special_tokens_mask.begin(),
                             pair.special_tokens_mask.end());
  attention_mask.insert(attention_mask.end(), pair.attention_mask.begin(), pair.attention_mask.end());
  overflowing = std::move(merged_overflowing);
}

Encoding Encoding::merge(std::vector<Encoding> encodings, bool growing_offsets) {
  Encoding out;
  for (Encoding& e : encodings) out.merge_with(std::move(e), growing_offsets);
  return out;
}

void Encoding::pad(size_t target_length, uint32_t pad_id, uint32_t pad_type_id, const std::string& pad_token,
                   Direction direction) {
  for (Encoding& o : overflowing) o.pad(target_length, pad_id, pad_type_id, pad_token, direction);
  if (size() >= target_length) return;
  const size_t n = target_length - size();
  pad_vector(ids, n, pad_id, direction);
  pad_vector(type_ids, n, pad_type_id, direction);
  pad_vector(tokens, n, pad_token, direction);
  pad_vector(words, n, std::optional<uint32_t>(), direction);
  pad_vector(attention_mask, n, 0u, direction);
  pad_vector(special_tokens_mask, n, 1u, direction);
  pad_vector(offsets, n, Offsets{0, 0}, direction);
  if (direction == Direction::Left) {
    for (auto& [id, range] : sequence_ranges) range = {range.first + n, range.second + n};
  }
}

}  // namespace optimum::tokenizers
