// The tokenizer pipeline with tokenizers' semantics (tokenizer/mod.rs):
// added tokens -> normalizer -> pre-tokenizer -> model -> truncation ->
// post-processor -> padding; char offsets; batch encoding on all cores.
#include "optimum/tokenizers/tokenizer.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <limits>

#include "added_vocabulary.h"
#include "json_fields.h"
#include "legacy.h"
#include "optimum/core/errors.h"
#include "optimum/tokenizers/unicode.h"

namespace optimum::tokenizers {

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::optional<TruncationParams> truncation;
  std::optional<PaddingParams> padding;
  TokenizerConfig config;

  Encoding encode_single(std::string_view sequence, uint32_t type_id) const;
  Encoding post_process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens) const {
    return post_process(std::move(encoding), std::move(pair), add_special_tokens, truncation, padding);
  }
  Encoding post_process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens,
                        const std::optional<TruncationParams>& truncation,
                        const std::optional<PaddingParams>& padding) const;
  void check_stride(const TruncationParams& params) const;
  size_t n_added_tokens(bool is_pair) const {
    return post_processor ? post_processor->added_tokens(is_pair) : 0;
  }
};

namespace {

Direction parse_direction(const Json& v, const std::string& where) {
  const std::string s = v.is_string() ? v.get<std::string>() : "";
  if (s == "Right" || s == "right") return Direction::Right;
  if (s == "Left" || s == "left") return Direction::Left;
  throw FormatError(where + ": direction must be Left or Right, got " + v.dump());
}

TruncationParams parse_truncation(const Json& j, const std::string& source) {
  const std::string where = source + ": truncation";
  if (!j.is_object()) throw FormatError(where + " must be an object or null");
  TruncationParams p;
  if (!j.contains("max_length")) throw FormatError(where + ": missing field 'max_length'");
  p.max_length = io::json_count(j["max_length"], where + ": field 'max_length'", SIZE_MAX);
  if (j.contains("stride")) p.stride = io::json_count(j["stride"], where + ": field 'stride'", SIZE_MAX);
  if (j.contains("direction")) p.direction = parse_direction(j["direction"], where);
  const std::string strategy = j.value("strategy", "LongestFirst");
  if (strategy == "LongestFirst") {
    p.strategy = TruncationStrategy::LongestFirst;
  } else if (strategy == "OnlyFirst") {
    p.strategy = TruncationStrategy::OnlyFirst;
  } else if (strategy == "OnlySecond") {
    p.strategy = TruncationStrategy::OnlySecond;
  } else {
    throw FormatError(where + ": unknown strategy '" + strategy + "'");
  }
  return p;
}

// Longest padded length a tokenizer.json may ask for (16M tokens): a larger
// one could only exhaust memory when a batch is padded.
constexpr uint64_t kMaxPaddingLength = uint64_t{1} << 24;

PaddingParams parse_padding(const Json& j, const std::string& source) {
  const std::string where = source + ": padding";
  if (!j.is_object()) throw FormatError(where + " must be an object or null");
  PaddingParams p;
  if (j.contains("strategy")) {
    const Json& s = j["strategy"];
    if (s.is_object() && s.contains("Fixed")) {
      p.length = io::json_count(s["Fixed"], where + ": field 'strategy.Fixed'", kMaxPaddingLength);
    } else if (!(s.is_string() && s.get<std::string>() == "BatchLongest")) {
      throw FormatError(where + ": unknown strategy " + s.dump());
    }
  }
  if (j.contains("direction")) p.direction = parse_direction(j["direction"], where);
  if (j.contains("pad_to_multiple_of") && !j["pad_to_multiple_of"].is_null()) {
    p.pad_to_multiple_of =
        io::json_count(j["pad_to_multiple_of"], where + ": field 'pad_to_multiple_of'", kMaxPaddingLength);
  }
  if (j.contains("pad_id")) p.pad_id = io::json_u32(j["pad_id"], where + ": field 'pad_id'");
  if (j.contains("pad_type_id")) p.pad_type_id = io::json_u32(j["pad_type_id"], where + ": field 'pad_type_id'");
  p.pad_token = j.value("pad_token", std::string("[PAD]"));
  return p;
}

AddedToken parse_added_token(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("content") || !j["content"].is_string()) {
    throw FormatError(where + ": added token without string field 'content': " + j.dump());
  }
  AddedToken t;
  t.content = j["content"].get<std::string>();
  if (j.contains("id")) t.id = io::json_u32(j["id"], where + ": id of added token '" + t.content + "'");
  t.single_word = j.value("single_word", false);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  t.special = j.value("special", false);
  t.normalized = j.value("normalized", !t.special);
  return t;
}

// Byte offset -> character index of the char holding that byte.
class CharOffsets {
 public:
  explicit CharOffsets(std::string_view s) : map_(s.size()) {
    size_t pos = 0;
    size_t index = 0;
    while (pos < s.size()) {
      const size_t start = pos;
      unicode::next_char(s, pos);
      for (size_t b = start; b < pos; ++b) map_[b] = index;
      ++index;
    }
  }
  Offsets convert(Offsets o) const {
    if (o.first >= map_.size()) return o;
    const size_t start = map_[o.first];
    if (o.second < map_.size()) return {start, map_[o.second]};
    const size_t last = o.second >= 1 && o.second - 1 < map_.size() ? map_[o.second - 1] : start;
    return {start, last + 1};
  }

 private:
  std::vector<size_t> map_;
};

Encoding into_encoding(const PreTokenizedString& pre, uint32_t type_id) {
  Encoding e;
  const CharOffsets chars(pre.original());
  const auto& splits = pre.splits();
  for (size_t idx = 0; idx < splits.size(); ++idx) {
    const Split& split = splits[idx];
    const size_t shift = split.normalized.original_shift();
    for (const Token& t : *split.tokens) {
      Offsets o = t.offsets;
      if (auto r = split.normalized.to_original(t.offsets.first, t.offsets.second)) {
        o = {shift + r->first, shift + r->second};
      }
      e.push(t.id, t.value, chars.convert(o), static_cast<uint32_t>(idx), type_id, false);
    }
  }
  return e;
}

void truncate_encodings(Encoding& encoding, std::optional<Encoding>& pair, const TruncationParams& p) {
  if (p.max_length == 0) {
    encoding.truncate(0, p.stride, p.direction);
    if (pair) pair->truncate(0, p.stride, p.direction);
    return;
  }
  const size_t total = encoding.size() + (pair ? pair->size() : 0);
  if (total <= p.max_length) return;
  const size_t to_remove = total - p.max_length;
  if (p.strategy == TruncationStrategy::LongestFirst) {
    if (!pair) {
      encoding.truncate(total - to_remove, p.stride, p.direction);
      return;
    }
    size_t n1 = encoding.size();
    size_t n2 = pair->size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > p.max_length ? n1 : std::max(n1, p.max_length - n1);
    if (n1 + n2 > p.max_length) {
      n1 = p.max_length / 2;
      n2 = n1 + p.max_length % 2;
    }
    if (swap) std::swap(n1, n2);
    encoding.truncate(n1, p.stride, p.direction);
    pair->truncate(n2, p.stride, p.direction);
    return;
  }
  Encoding* target = &encoding;
  if (p.strategy == TruncationStrategy::OnlySecond) {
    if (!pair) throw InvalidArgument("truncation error: second sequence not provided (strategy only_second)");
    target = &*pair;
  }
  if (target->size() <= to_remove) {
    throw InvalidArgument(
        "truncation error: sequence to truncate too short to respect the provided max_length " +
        std::to_string(p.max_length));
  }
  target->truncate(target->size() - to_remove, p.stride, p.direction);
}

void pad_encodings(std::vector<Encoding*>& encodings, const PaddingParams& p) {
  if (encodings.empty()) return;
  size_t length = 0;
  if (p.length) {
    length = *p.length;
  } else {
    for (const Encoding* e : encodings) length = std::max(length, e->size());
  }
  if (p.pad_to_multiple_of > 0 && length % p.pad_to_multiple_of > 0) {
    length += p.pad_to_multiple_of - length % p.pad_to_multiple_of;
  }
  for (Encoding* e : encodings) e->pad(length, p.pad_id, p.pad_type_id, p.pad_token, p.direction);
}

}  // namespace

Encoding Tokenizer::Impl::encode_single(std::string_view sequence, uint32_t type_id) const {
  PreTokenizedString pre = added.extract_and_normalize(normalizer.get(), sequence);
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(pre);
  pre.tokenize([&](const NormalizedString& n) { return model->tokenize(n.normalized()); });
  return into_encoding(pre, type_id);
}

Encoding Tokenizer::Impl::post_process(Encoding encoding, std::optional<Encoding> pair, bool add_special_tokens,
                                       const std::optional<TruncationParams>& truncate,
                                       const std::optional<PaddingParams>& pad) const {
  if (truncate) {
    TruncationParams params = *truncate;
    const size_t n_added = n_added_tokens(pair.has_value());
    if (add_special_tokens && n_added > 0) {
      // tokenizers subtracts in usize: a max_length below the number of special
      // tokens wraps around, i.e. the pair is not truncated at all.
      params.max_length =
          params.max_length < n_added ? std::numeric_limits<size_t>::max() : params.max_length - n_added;
    }
    truncate_encodings(encoding, pair, params);
  }
  Encoding out;
  if (post_processor) {
    out = post_processor->process(std::move(encoding), std::move(pair), add_special_tokens);
  } else if (pair) {
    encoding.set_sequence_id(0);
    pair->set_sequence_id(1);
    std::vector<Encoding> both;
    both.push_back(std::move(encoding));
    both.push_back(std::move(*pair));
    out = Encoding::merge(std::move(both), false);
  } else {
    out = std::move(encoding);
  }
  if (pad) {
    std::vector<Encoding*> one{&out};
    pad_encodings(one, *pad);
  }
  return out;
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

// Error messages may quote bytes of a malformed file; keep them valid UTF-8
// (invalid bytes as \xNN) so that every caller, Python included, can show them.
std::string printable_utf8(std::string_view s) {
  if (unicode::is_valid_utf8(s)) return std::string(s);
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t c = unicode::next_char(s, pos);
    if (c == 0xFFFD && !unicode::is_valid_utf8(s.substr(start, pos - start))) {
      static const char* hex = "0123456789abcdef";
      const auto b = static_cast<unsigned char>(s[start]);
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    } else {
      out.append(s.substr(start, pos - start));
    }
  }
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_file(const std::filesystem::path& path) {
  Json json;
  try {
    // tokenizers reads tokenizer.json with serde_json, which refuses numbers
    // beyond double's range (1e400).
    json = io::read_json(path, {io::NumberOverflow::kReject});
  } catch (const FormatError& e) {
    throw FormatError(printable_utf8(e.what()));
  }
  return from_json(json, path.string());
}

Tokenizer Tokenizer::from_json(const Json& json, const std::string& source) {
  // nlohmann type/range errors anywhere below name the file and JSON path.
  return io::with_json_context(source, [&]() -> Tokenizer {
    if (!json.is_object()) throw FormatError(source + ": tokenizer.json is not a JSON object");
    Tokenizer t;
    Impl& m = *t.impl_;
    auto present = [&](const char* key) { return json.contains(key) && !json[key].is_null(); };
    auto with_source = [&](auto&& build) {
      try {
        return build();
      } catch (const FormatError& e) {
        throw FormatError(source + ": " + e.what());
      } catch (const Unsupported& e) {
        throw Unsupported(source + ": " + e.what());
      }
    };
    if (!present("model")) throw FormatError(source + ": missing field 'model'");
    m.model = with_source([&] { return make_model(json["model"]); });
    if (present("normalizer")) m.normalizer = with_source([&] { return make_normalizer(json["normalizer"]); });
    if (present("pre_tokenizer"))
      m.pre_tokenizer = with_source([&] { return make_pre_tokenizer(json["pre_tokenizer"]); });
    if (present("post_processor")) {
      m.post_processor = with_source([&] { return make_post_processor(json["post_processor"]); });
    }
    if (present("decoder")) m.decoder = with_source([&] { return make_decoder(json["decoder"]); });
    if (present("truncation")) m.truncation = parse_truncation(json["truncation"], source);
    if (present("padding")) m.padding = parse_padding(json["padding"], source);
    if (present("added_tokens")) {
      if (!json["added_tokens"].is_array())
        throw FormatError(source + ": field 'added_tokens' must be an array");
      std::vector<AddedToken> tokens;
      for (const Json& a : json["added_tokens"]) tokens.push_back(parse_added_token(a, source));
      m.added.add_tokens(tokens, *m.model, m.normalizer.get());
    }
    return t;
  });
}

Tokenizer Tokenizer::from_pretrained(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw NotFound("tokenizer folder '" + folder.string() + "' not found");
  const auto json_path = folder / "tokenizer.json";
  Tokenizer t = std::filesystem::exists(json_path, ec)
                    ? from_file(json_path)
                    : from_json(legacy::convert_folder(folder), folder.string());
  legacy::apply_folder_config(folder, t);
  return t;
}

Encoding Tokenizer::encode(std::string_view sequence, std::optional<std::string_view> pair,
                           bool add_special_tokens) const {
  Encoding first = impl_->encode_single(sequence, 0);
  std::optional<Encoding> second;
  if (pair) second = impl_->encode_single(*pair, 1);
  return impl_->post_process(std::move(first), std::move(second), add_special_tokens);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<EncodeInput>& inputs,
                                              bool add_special_tokens) const {
  std::vector<Encoding> out(inputs.size());
  std::exception_ptr error;
  const auto n = static_cast<int64_t>(inputs.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const EncodeInput& in = inputs[static_cast<size_t>(i)];
      out[static_cast<size_t>(i)] = in.second
                                        ? encode(in.first, std::string_view(*in.second), add_special_tokens)
                                        : encode(in.first, std::nullopt, add_special_tokens);
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  if (impl_->padding) {
    std::vector<Encoding*> all;
    for (Encoding& e : out) all.push_back(&e);
    pad_encodings(all, *impl_->padding);
  }
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<EncodeInput>& inputs,
                                              const EncodeSettings& settings) const {
  if (settings.truncation) impl_->check_stride(*settings.truncation);
  std::vector<Encoding> out(inputs.size());
  std::exception_ptr error;
  const auto n = static_cast<int64_t>(inputs.size());
  const std::optional<PaddingParams> no_padding;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const EncodeInput& in = inputs[static_cast<size_t>(i)];
      Encoding first = impl_->encode_single(in.first, 0);
      std::optional<Encoding> second;
      if (in.second) second = impl_->encode_single(*in.second, 1);
      out[static_cast<size_t>(i)] = impl_->post_process(std::move(first), std::move(second),
                                                         settings.add_special_tokens, settings.truncation,
                                                         no_padding);
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  if (settings.padding) {
    std::vector<Encoding*> all;
    for (Encoding& e : out) all.push_back(&e);
    pad_encodings(all, *settings.padding);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<uint32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (uint32_t id : ids) {
    std::optional<std::string> tok;
    if (const std::string* a = impl_->added.content_of(id)) {
      tok = *a;
    } else {
      tok = impl_->model->id_to_token(id);
    }
    if (!tok) continue;
    if (skip_special_tokens && impl_->added.is_special(*tok)) continue;
    tokens.push_back(std::move(*tok));
  }
  if (impl_->decoder) return impl_->decoder->decode(std::move(tokens));
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<uint32_t>>& ids,
                                                 bool skip_special_tokens) const {
  std::vector<std::string> out(ids.size());
  std::exception_ptr error;
  const auto n = static_cast<int64_t>(ids.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      out[static_cast<size_t>(i)] = decode(ids[static_cast<size_t>(i)], skip_special_tokens);
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

void Tokenizer::Impl::check_stride(const TruncationParams& params) const {
  const size_t n_added = n_added_tokens(false);
  // tokenizers: effective = max_length.saturating_sub(added); only a stride beyond it is refused.
  if ((params.max_length >= n_added ? params.max_length - n_added : 0) < params.stride) {
    throw InvalidArgument("tokenizer stride set to " + std::to_string(params.stride) +
                          ", which is greater than or equal to its effective max length of " +
                          std::to_string(params.max_length >= n_added ? params.max_length - n_added : 0) +
                          " (= " + std::to_string(params.max_length) + " original max length - " +
                          std::to_string(n_added) + " added special tokens)");
  }
}

void Tokenizer::enable_truncation(const TruncationParams& params) {
  impl_->check_stride(params);
  impl_->truncation = params;
}
void Tokenizer::no_truncation() { impl_->truncation.reset(); }
void Tokenizer::enable_padding(const PaddingParams& params) { impl_->padding = params; }
void Tokenizer::no_padding() { impl_->padding.reset(); }
const std::optional<TruncationParams>& Tokenizer::truncation() const { return impl_->truncation; }
const std::optional<PaddingParams>& Tokenizer::padding() const { return impl_->padding; }

std::optional<uint32_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->added.token_to_id(token, *impl_->model);
}

std::optional<std::string> Tokenizer::id_to_token(uint32_t id) const {
  return impl_->added.id_to_token(id, *impl_->model);
}

size_t Tokenizer::vocab_size(bool with_added_tokens) const {
  return impl_->model->vocab_size() + (with_added_tokens ? impl_->added.count_outside_model() : 0);
}

std::unordered_map<std::string, uint32_t> Tokenizer::vocab(bool with_added_tokens) const {
  auto v = impl_->model->vocab();
  if (with_added_tokens) {
    for (const auto& [content, id] : impl_->added.map()) v[content] = id;
  }
  return v;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added.ordered(); }
const TokenizerConfig& Tokenizer::config() const { return impl_->config; }
TokenizerConfig& Tokenizer::mutable_config() { return impl_->config; }

size_t Tokenizer::add_tokens(const std::vector<AddedToken>& tokens) {
  return impl_->added.add_tokens(tokens, *impl_->model, impl_->normalizer.get());
}

void Tokenizer::set_post_processor(const Json& json) { impl_->post_processor = make_post_processor(json); }

namespace {

// Two normalizers in a row; the second may be null.
class ChainedNormalizer : public Normalizer {
 public:
  ChainedNormalizer(std::unique_ptr<Normalizer> first, std::unique_ptr<Normalizer> second)
      : first_(std::move(first)), second_(std::move(second)) {}
  void normalize(NormalizedString& s) const override {
    first_->normalize(s);
    if (second_) second_->normalize(s);
  }

 private:
  std::unique_ptr<Normalizer> first_;
  std::unique_ptr<Normalizer> second_;
};

}  // namespace

void Tokenizer::prepend_normalizer(const Json& json) {
  impl_->normalizer =
      std::make_unique<ChainedNormalizer>(make_normalizer(json), std::move(impl_->normalizer));
}

}  // namespace optimum::tokenizers
