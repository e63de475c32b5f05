#include "models/unigram.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "json_fields.h"

namespace optimum::tokenizers::models {
namespace {

constexpr double kUnkPenalty = 10.0;

size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// The double serde_json (without its float_roundtrip feature, as tokenizers
// builds it) reads for the shortest decimal text of `v`, the way tokenizers
// writes scores: the decimal significand as an integer converted to f64, then
// one multiplication or division by a power of ten. That differs from a
// correctly rounded parse by one ulp for some 17-digit scores, which decides
// near-ties of the Viterbi search.
double serde_json_f64(double v) {
  if (!std::isfinite(v) || v == 0.0) return v;
  static const std::array<double, 309> pow10 = [] {
    std::array<double, 309> t{};
    char buf[16];
    for (int k = 0; k < 309; ++k) {
      std::snprintf(buf, sizeof(buf), "1e%d", k);
      t[static_cast<size_t>(k)] = std::strtod(buf, nullptr);
    }
    return t;
  }();
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const char* p = buf;
  const bool negative = *p == '-';
  if (negative) ++p;
  uint64_t significand = 0;
  int fraction_digits = 0;
  bool after_point = false;
  for (; p < res.ptr && *p != 'e'; ++p) {
    if (*p == '.') {
      after_point = true;
      continue;
    }
    significand = significand * 10 + static_cast<uint64_t>(*p - '0');
    if (after_point) ++fraction_digits;
  }
  int exponent = 0;
  if (p < res.ptr && *p == 'e') std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), res.ptr, exponent);
  exponent -= fraction_digits;
  double f = static_cast<double>(significand);
  for (;;) {
    const int a = exponent < 0 ? -exponent : exponent;
    if (a <= 308) {
      if (exponent >= 0) {
        f *= pow10[static_cast<size_t>(a)];
      } else {
        f /= pow10[static_cast<size_t>(a)];
      }
      break;
    }
    if (f == 0.0 || exponent >= 0) break;
    f /= 1e308;
    exponent += 308;
  }
  return negative ? -f : f;
}

}  // namespace

Unigram::Unigram(std::vector<std::pair<std::string, double>> vocab, UnigramOptions options)
    : pieces_(std::move(vocab)), options_(options), min_score_(std::numeric_limits<double>::infinity()) {
  if (options_.unk_id) {
    if (pieces_.empty())
      throw FormatError("tokenizer.json: model 'Unigram': the vocab is empty but unk_id is set");
    if (*options_.unk_id >= pieces_.size()) {
      throw FormatError("tokenizer.json: model 'Unigram': unk_id " + std::to_string(*options_.unk_id) +
                        " is not below the vocab size " + std::to_string(pieces_.size()));
    }
  }
  for (size_t id = 0; id < pieces_.size(); ++id) {
    token_to_id_.set(pieces_[id].first, static_cast<uint32_t>(id));
    if (pieces_[id].second < min_score_) min_score_ = pieces_[id].second;
  }
  // Trie values: the id the token map keeps (the last of duplicates).
  token_to_id_.for_each([&](std::string_view piece, uint32_t id) { trie_.insert(piece, id); });
}

std::unique_ptr<Unigram> Unigram::from_json(const Json& json) {
  Fields f(json, "model");
  const Json& vocab_json = f.array("vocab");
  std::vector<std::pair<std::string, double>> vocab;
  vocab.reserve(vocab_json.size());
  for (const Json& entry : vocab_json) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      f.fail("field 'vocab' must hold [piece, score] pairs, got " + entry.dump());
    }
    vocab.emplace_back(entry[0].get<std::string>(), serde_json_f64(entry[1].get<double>()));
  }
  UnigramOptions options;
  if (f.has("unk_id")) {
    const int64_t unk_id = f.integer("unk_id");
    if (unk_id < 0) f.fail("field 'unk_id' must be >= 0");
    if (static_cast<uint64_t>(unk_id) >= vocab.size()) {
      f.fail("field 'unk_id' = " + std::to_string(unk_id) + " is not below the vocab size " +
             std::to_string(vocab.size()));
    }
    options.unk_id = static_cast<uint32_t>(unk_id);
  }
  options.byte_fallback = f.boolean("byte_fallback", false);
  return std::make_unique<Unigram>(std::move(vocab), options);
}

// model.rs encode_optimized: best path by Viterbi, unknown pieces fused.
void Unigram::encode(std::string_view sentence, std::vector<std::pair<size_t, size_t>>& pieces) const {
  struct Node {
    double score = 0.0;
    size_t starts_at = 0;
    uint32_t id = 0;
    bool set = false;
  };
  const size_t size = sentence.size();
  const double unk_score = min_score_ - kUnkPenalty;
  thread_local std::vector<Node> best;
  best.assign(size + 1, Node{});
  size_t starts_at = 0;
  while (starts_at < size) {
    const double score_here = best[starts_at].score;
    const size_t mblen =
        std::min(utf8_len(static_cast<unsigned char>(sentence[starts_at])), size - starts_at);
    bool has_single_node = false;
    uint32_t node = 0;
    for (size_t i = starts_at; i < size; ++i) {
      node = trie_.step(node, static_cast<uint8_t>(sentence[i]));
      if (node == ByteTrie::kNone) break;
      const uint32_t id = trie_.value(node);
      if (id == ByteTrie::kNone) continue;
      Node& target = best[i + 1];
      const double candidate = pieces_[id].second + score_here;
      if (!target.set || candidate > target.score) {
        target = Node{candidate, starts_at, id, true};
      }
      if (i + 1 - starts_at == mblen) has_single_node = true;
    }
    if (!has_single_node) {
      Node& target = best[starts_at + mblen];
      const double candidate = unk_score + score_here;
      if (!target.set || candidate > target.score) {
        if (!options_.unk_id) {
          throw InvalidArgument("Unigram: '" + std::string(sentence) +
                                "' has a character outside the vocab and the model has no unk_id");
        }
        target = Node{candidate, starts_at, *options_.unk_id, true};
      }
    }
    starts_at += mblen;
  }

  // Backtrack; consecutive unknown pieces are fused into one.
  pieces.clear();
  size_t ends_at = size;
  size_t unk_end = 0;
  bool in_unk = false;
  while (ends_at > 0) {
    const Node& n = best[ends_at];
    if (!n.set) throw InvalidArgument("Unigram: no path through '" + std::string(sentence) + "'");
    const bool is_unk = options_.unk_id && n.id == *options_.unk_id;
    if (is_unk) {
      if (!in_unk) unk_end = ends_at;
      in_unk = true;
    } else {
      if (in_unk) pieces.emplace_back(ends_at, unk_end);
      in_unk = false;
      pieces.emplace_back(n.starts_at, ends_at);
    }
    ends_at = n.starts_at;
  }
  if (in_unk) pieces.emplace_back(0, unk_end);
  std::reverse(pieces.begin(), pieces.end());
}

std::vector<Token> Unigram::tokenize(std::string_view sequence) const {
  std::vector<Token> out;
  if (sequence.empty()) return out;
  thread_local std::vector<std::pair<size_t, size_t>> pieces;
  encode(sequence, pieces);
  out.reserve(pieces.size());
  for (const auto& [start, end] : pieces) {
    const std::string_view piece = sequence.substr(start, end - start);
    if (auto id = token_to_id_.find(piece)) {
      out.push_back(Token{*id, std::string(piece), {start, end}});
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<uint32_t> ids;
      ids.reserve(piece.size());
      char name[8];
      for (unsigned char b : piece) {
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        auto id = token_to_id_.find(name);
        if (!id) break;
        ids.push_back(*id);
      }
      if (ids.size() == piece.size()) {
        for (size_t i = 0; i < piece.size(); ++i) {
          std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(piece[i]));
          out.push_back(Token{ids[i], name, {start, end}});
        }
        continue;
      }
    }
    if (!options_.unk_id) {
      throw InvalidArgument("Unigram: piece '" + std::string(piece) +
                            "' is unknown and the model has no unk_id");
    }
    out.push_back(Token{*options_.unk_id, std::string(piece), {start, end}});
  }
  return out;
}

std::optional<std::string> Unigram::id_to_token(uint32_t id) const {
  if (id >= pieces_.size()) return std::nullopt;
  return pieces_[id].first;
}

}  // namespace optimum::tokenizers::models
