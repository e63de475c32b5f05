#include "optimum/generation/generation_config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <sstream>

#include "optimum/core/errors.h"

namespace optimum::generation {

namespace {

using io::Json;

std::string where(const std::string& source, const std::string& key) { return source + ": '" + key + "'"; }

[[noreturn]] void bad(const std::string& source, const std::string& key, const Json& v, const char* expected) {
  throw InvalidArgument(where(source, key) + " must be " + expected + ", got " + v.dump());
}

int64_t get_int(const Json& v, const std::string& source, const std::string& key) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) bad(source, key, v, "an integer in int64 range");
    return static_cast<int64_t>(u);
  }
  bad(source, key, v, "an integer");
}

double get_double(const Json& v, const std::string& source, const std::string& key) {
  if (v.is_number()) return v.get<double>();
  bad(source, key, v, "a number");
}

bool get_bool(const Json& v, const std::string& source, const std::string& key) {
  if (v.is_boolean()) return v.get<bool>();
  bad(source, key, v, "true or false");
}

std::vector<int64_t> get_int_list(const Json& v, const std::string& source, const std::string& key) {
  if (v.is_null()) return {};
  if (!v.is_array()) return {get_int(v, source, key)};
  std::vector<int64_t> out;
  for (const auto& x : v) out.push_back(get_int(x, source, key));
  return out;
}

std::vector<std::string> get_string_list(const Json& v, const std::string& source, const std::string& key) {
  if (v.is_null()) return {};
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) bad(source, key, v, "a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& x : v) {
    if (!x.is_string()) bad(source, key, v, "a string or a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

// Sets one field from `v`; false when `key` is not a generation option.
bool set_field(GenerationConfig& c, const std::string& key, const Json& v, const std::string& source) {
  const bool null = v.is_null();
  if (key == "max_length") {
    c.max_length = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "max_new_tokens") {
    c.max_new_tokens = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "min_length") {
    if (!null) c.min_length = get_int(v, source, key);
  } else if (key == "min_new_tokens") {
    c.min_new_tokens = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "do_sample") {
    if (!null) c.do_sample = get_bool(v, source, key);
  } else if (key == "num_beams") {
    if (!null) c.num_beams = get_int(v, source, key);
  } else if (key == "num_return_sequences") {
    if (!null) c.num_return_sequences = get_int(v, source, key);
  } else if (key == "temperature") {
    if (!null) c.temperature = get_double(v, source, key);
  } else if (key == "top_k") {
    if (!null) c.top_k = get_int(v, source, key);
  } else if (key == "top_p") {
    if (!null) c.top_p = get_double(v, source, key);
  } else if (key == "min_p") {
    c.min_p = null ? std::nullopt : std::optional<double>(get_double(v, source, key));
  } else if (key == "typical_p") {
    if (!null) c.typical_p = get_double(v, source, key);
  } else if (key == "repetition_penalty") {
    if (!null) c.repetition_penalty = get_double(v, source, key);
  } else if (key == "no_repeat_ngram_size") {
    if (!null) c.no_repeat_ngram_size = get_int(v, source, key);
  } else if (key == "length_penalty") {
    if (!null) c.length_penalty = get_double(v, source, key);
  } else if (key == "early_stopping") {
    if (null) return true;
    if (v.is_boolean()) {
      c.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
    } else if (v.is_string() && v.get<std::string>() == "never") {
      c.early_stopping = EarlyStopping::kNever;
    } else {
      throw InvalidArgument(where(source, key) + ": `early_stopping` must be a boolean or 'never', but is " +
                            v.dump());
    }
  } else if (key == "bos_token_id") {
    c.bos_token_id = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "eos_token_id") {
    c.eos_token_id = get_int_list(v, source, key);
  } else if (key == "pad_token_id") {
    c.pad_token_id = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "decoder_start_token_id") {
    c.decoder_start_token_id = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "forced_bos_token_id") {
    c.forced_bos_token_id = null ? std::nullopt : std::optional<int64_t>(get_int(v, source, key));
  } else if (key == "forced_eos_token_id") {
    c.forced_eos_token_id = get_int_list(v, source, key);
  } else if (key == "suppress_tokens") {
    c.suppress_tokens = get_int_list(v, source, key);
  } else if (key == "begin_suppress_tokens") {
    c.begin_suppress_tokens = get_int_list(v, source, key);
  } else if (key == "stop_strings") {
    c.stop_strings = get_string_list(v, source, key);
  } else if (key == "seed") {
    if (null) {
      c.seed.reset();
    } else {
      const int64_t s = get_int(v, source, key);
      if (s < 0) bad(source, key, v, "a non-negative integer");
      c.seed = static_cast<uint64_t>(s);
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& generation_option_names() {
  static const std::vector<std::string> names = {
      "max_length",   "max_new_tokens", "min_length",         "min_new_tokens",       "do_sample",
      "num_beams",    "num_return_sequences", "temperature",  "top_k",                "top_p",
      "min_p",        "typical_p",      "repetition_penalty", "no_repeat_ngram_size", "length_penalty",
      "early_stopping", "bos_token_id", "eos_token_id",       "pad_token_id",         "stop_strings",
      "seed",         "decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens",
      "begin_suppress_tokens"};
  return names;
}

GenerationConfig GenerationConfig::from_json(const Json& json, const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": expected a JSON object, got " + std::string(json.type_name()));
  GenerationConfig c;
  for (auto it = json.begin(); it != json.end(); ++it) {
    try {
      set_field(c, it.key(), it.value(), source);
    } catch (const InvalidArgument& e) {
      throw FormatError(e.what());
    }
  }
  return c;
}

GenerationConfig GenerationConfig::from_pretrained(const std::filesystem::path& folder) {
  for (const char* name : {"generation_config.json", "config.json"}) {
    const auto path = folder / name;
    if (std::filesystem::exists(path)) return from_json(io::read_json(path), path.string());
  }
  return GenerationConfig{};
}

void GenerationConfig::update(const Json& options, const std::string& source) {
  if (options.is_null()) return;
  if (!options.is_object()) throw InvalidArgument(source + ": expected an object of options");
  for (auto it = options.begin(); it != options.end(); ++it) {
    if (!set_field(*this, it.key(), it.value(), source)) {
      std::string known;
      for (const auto& n : generation_option_names()) known += (known.empty() ? "" : ", ") + n;
      throw InvalidArgument(source + ": unknown generation option '" + it.key() + "' (known: " + known + ")");
    }
  }
}

void GenerationConfig::validate() const {
  auto fail = [](const std::string& msg) { throw InvalidArgument(msg); };
  auto num = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  if (max_new_tokens && *max_new_tokens <= 0)
    fail("`max_new_tokens` must be greater than 0, but is " + std::to_string(*max_new_tokens) + ".");
  if (max_length && *max_length <= 0) fail("`max_length` must be greater than 0, but is " + std::to_string(*max_length));
  if (min_length < 0) fail("`min_length` has to be a non-negative integer, but is " + std::to_string(min_length));
  if (min_new_tokens && *min_new_tokens < 0)
    fail("`min_new_tokens` has to be a non-negative integer, but is " + std::to_string(*min_new_tokens));
  if (num_beams < 1) fail("`num_beams` has to be a positive integer, but is " + std::to_string(num_beams));
  if (num_return_sequences < 1)
    fail("`num_return_sequences` has to be a positive integer, but is " + std::to_string(num_return_sequences));
  if (num_return_sequences > 1) {
    if (num_beams == 1 && !do_sample)
      fail("Greedy methods (do_sample != True) without beam search do not support `num_return_sequences` "
           "different than 1 (got " + std::to_string(num_return_sequences) + ").");
    if (num_beams > 1 && num_return_sequences > num_beams)
      fail("`num_return_sequences` (" + std::to_string(num_return_sequences) +
           ") has to be smaller or equal to `num_beams` (" + std::to_string(num_beams) + ").");
  }
  if (!(repetition_penalty > 0))
    fail("`repetition_penalty` has to be a strictly positive float, but is " + num(repetition_penalty));
  if (no_repeat_ngram_size < 0)
    fail("`no_repeat_ngram_size` has to be a strictly positive integer, but is " +
         std::to_string(no_repeat_ngram_size));
  if (!std::isfinite(length_penalty)) fail("`length_penalty` must be finite, but is " + num(length_penalty));
  for (const int64_t e : eos_token_id)
    if (e < 0) fail("`eos_token_id` should consist of positive integers, but is " + std::to_string(e));
  if (pad_token_id && *pad_token_id < 0)
    fail("`pad_token_id` should be positive but got " + std::to_string(*pad_token_id));
  for (const auto& s : stop_strings)
    if (s.empty()) fail("`stop_strings` must not contain an empty string");
  if (do_sample) {
    if (!(temperature > 0)) {
      std::string msg = "`temperature` (=" + num(temperature) +
                        ") has to be a strictly positive float, otherwise your next token scores will be invalid.";
      if (temperature == 0.0) msg += " If you're looking for greedy decoding strategies, set `do_sample=False`.";
      fail(msg);
    }
    if (top_k < 0) fail("`top_k` has to be a strictly positive integer, but is " + std::to_string(top_k));
    // top_p >= 1 turns the warper off (transformers builds it only below 1).
    if (!(top_p >= 0)) fail("`top_p` has to be a float > 0 and < 1, but is " + num(top_p));
    if (min_p && !(*min_p >= 0 && *min_p <= 1.0))
      fail("`min_p` has to be a float in the [0, 1] interval, but is " + num(*min_p));
    if (typical_p < 1.0 && !(typical_p > 0))
      fail("`typical_p` has to be a float > 0 and < 1, but is " + num(typical_p));
  }
}

std::optional<int64_t> GenerationConfig::effective_pad_token_id() const {
  if (pad_token_id) return pad_token_id;
  if (!eos_token_id.empty()) return eos_token_id.front();
  return std::nullopt;
}

int64_t GenerationConfig::resolved_max_length(int64_t prompt_length, int64_t max_positions) const {
  // Saturating: a hostile max_new_tokens must not wrap around.
  if (max_new_tokens) return *max_new_tokens > INT64_MAX - prompt_length ? INT64_MAX : *max_new_tokens + prompt_length;
  if (max_length) return *max_length;
  int64_t m = 20 + prompt_length;
  if (max_positions > 0) m = std::min(m, max_positions);
  return m;
}

int64_t GenerationConfig::resolved_min_length(int64_t prompt_length) const {
  if (min_new_tokens) return *min_new_tokens > INT64_MAX - prompt_length ? INT64_MAX : *min_new_tokens + prompt_length;
  return min_length;
}

Json GenerationConfig::to_json() const {
  Json j;
  j["max_length"] = max_length ? Json(*max_length) : Json(nullptr);
  j["max_new_tokens"] = max_new_tokens ? Json(*max_new_tokens) : Json(nullptr);
  j["min_length"] = min_length;
  j["min_new_tokens"] = min_new_tokens ? Json(*min_new_tokens) : Json(nullptr);
  j["do_sample"] = do_sample;
  j["num_beams"] = num_beams;
  j["num_return_sequences"] = num_return_sequences;
  j["temperature"] = temperature;
  j["top_k"] = top_k;
  j["top_p"] = top_p;
  j["min_p"] = min_p ? Json(*min_p) : Json(nullptr);
  j["typical_p"] = typical_p;
  j["repetition_penalty"] = repetition_penalty;
  j["no_repeat_ngram_size"] = no_repeat_ngram_size;
  j["length_penalty"] = length_penalty;
  j["early_stopping"] = early_stopping == EarlyStopping::kNever ? Json("never")
                                                                : Json(early_stopping == EarlyStopping::kTrue);
  j["bos_token_id"] = bos_token_id ? Json(*bos_token_id) : Json(nullptr);
  if (eos_token_id.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (eos_token_id.size() == 1) {
    j["eos_token_id"] = eos_token_id.front();
  } else {
    j["eos_token_id"] = eos_token_id;
  }
  j["pad_token_id"] = pad_token_id ? Json(*pad_token_id) : Json(nullptr);
  j["stop_strings"] = stop_strings;
  j["seed"] = seed ? Json(*seed) : Json(nullptr);
  // Encoder-decoder keys only when set (decoder-only configs stay as they were).
  if (decoder_start_token_id) j["decoder_start_token_id"] = *decoder_start_token_id;
  if (forced_bos_token_id) j["forced_bos_token_id"] = *forced_bos_token_id;
  if (!forced_eos_token_id.empty()) j["forced_eos_token_id"] = forced_eos_token_id;
  if (!suppress_tokens.empty()) j["suppress_tokens"] = suppress_tokens;
  if (!begin_suppress_tokens.empty()) j["begin_suppress_tokens"] = begin_suppress_tokens;
  return j;
}

}  // namespace optimum::generation
