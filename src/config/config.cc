#include "optimum/config/config.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "optimum/core/errors.h"

namespace optimum::config {

namespace {

const std::vector<std::string> kRequired = {"vocab_size", "hidden_size", "num_hidden_layers",
                                            "num_attention_heads", "intermediate_size"};

std::vector<ConfigSpec>& specs() {
  static std::vector<ConfigSpec> table;
  return table;
}

const std::vector<ConfigSpec>& registered_specs() {
  if (specs().empty()) {
    throw Error("no encoder config specs are registered: models::register_architectures() must run first");
  }
  return specs();
}

class Reader {
 public:
  Reader(const Json& json, const ConfigSpec& spec, const std::string& source)
      : json_(json), spec_(spec), source_(source) {}

  std::string key(const std::string& field) const {
    auto it = spec_.key_names.find(field);
    return it == spec_.key_names.end() ? field : it->second;
  }

  const Json* find(const std::string& field) const {
    const std::string k = key(field);
    if (json_.contains(k) && !json_[k].is_null()) return &json_[k];
    if (spec_.defaults.contains(k)) return &spec_.defaults[k];
    return nullptr;
  }

  int64_t integer(const std::string& field, bool required = false) const {
    const Json* v = find(field);
    if (v == nullptr) {
      if (required) missing(field);
      return 0;
    }
    if (!v->is_number_integer()) bad(field, *v, "an integer");
    return v->get<int64_t>();
  }

  int64_t positive(const std::string& field) const {
    const int64_t v = integer(field, true);
    if (v <= 0) bad(field, Json(v), "a positive integer");
    return v;
  }

  double number(const std::string& field) const {
    const Json* v = find(field);
    if (v == nullptr) missing(field);
    if (!v->is_number()) bad(field, *v, "a number");
    return v->get<double>();
  }

  std::string string(const std::string& field, const std::string& fallback = "") const {
    const Json* v = find(field);
    if (v == nullptr) return fallback;
    if (!v->is_string()) bad(field, *v, "a string");
    return v->get<std::string>();
  }

  bool boolean(const std::string& field, bool fallback) const {
    const Json* v = find(field);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) bad(field, *v, "a boolean");
    return v->get<bool>();
  }

  // A positive integer, or a list of two ([height, width]); returns {height, width}.
  std::pair<int64_t, int64_t> size2(const std::string& field) const {
    const Json* v = find(field);
    if (v == nullptr) missing(field);
    if (v->is_array()) {
      if (v->size() != 2 || !(*v)[0].is_number_integer() || !(*v)[1].is_number_integer() ||
          (*v)[0].get<int64_t>() <= 0 || (*v)[1].get<int64_t>() <= 0) {
        bad(field, *v, "a positive integer or a list of two positive integers");
      }
      return {(*v)[0].get<int64_t>(), (*v)[1].get<int64_t>()};
    }
    const int64_t n = positive(field);
    return {n, n};
  }

  [[noreturn]] void missing(const std::string& field) const {
    throw FormatError(source_ + ": missing required key '" + key(field) + "' for model_type '" +
                      spec_.model_type + "'");
  }
  [[noreturn]] void bad(const std::string& field, const Json& v, const char* want) const {
    throw FormatError(source_ + ": key '" + key(field) + "' must be " + want + ", got " + v.dump());
  }

 private:
  const Json& json_;
  const ConfigSpec& spec_;
  const std::string& source_;
};

void read_labels(const Json& json, const std::string& source, EncoderConfig& c) {
  if (json.contains("id2label") && !json["id2label"].is_null()) {
    const Json& m = json["id2label"];
    if (!m.is_object()) throw FormatError(source + ": key 'id2label' must be an object");
    for (auto it = m.begin(); it != m.end(); ++it) {
      int64_t id = 0;
      try {
        size_t used = 0;
        id = std::stoll(it.key(), &used);
        if (used != it.key().size()) throw std::invalid_argument("trailing characters");
      } catch (const std::exception&) {
        throw FormatError(source + ": id2label key '" + it.key() + "' is not an integer");
      }
      if (!it.value().is_string()) throw FormatError(source + ": id2label['" + it.key() + "'] is not a string");
      c.id2label[id] = it.value().get<std::string>();
    }
    c.num_labels = static_cast<int64_t>(c.id2label.size());
  } else if (json.contains("num_labels") && json["num_labels"].is_number_integer()) {
    c.num_labels = json["num_labels"].get<int64_t>();
  }
  if (json.contains("problem_type") && !json["problem_type"].is_null()) {
    if (!json["problem_type"].is_string()) {
      throw FormatError(source + ": key 'problem_type' must be a string, got " + json["problem_type"].dump());
    }
    c.problem_type = json["problem_type"].get<std::string>();
    static const std::vector<std::string> kKnown = {"single_label_classification",
                                                    "multi_label_classification", "regression"};
    if (std::find(kKnown.begin(), kKnown.end(), c.problem_type) == kKnown.end()) {
      throw FormatError(source + ": key 'problem_type' has unknown value '" + c.problem_type + "'");
    }
  }
}

// Most patches a vision config may ask for (a 64k-token sequence).
constexpr int64_t kMaxPatches = int64_t{1} << 16;

void read_vision(const Reader& r, EncoderConfig& c) {
  std::tie(c.image_height, c.image_width) = r.size2("image_size");
  std::tie(c.patch_height, c.patch_width) = r.size2("patch_size");
  c.num_channels = r.positive("num_channels");
  if (c.patch_height > c.image_height || c.patch_width > c.image_width) {
    throw FormatError(c.source + ": patch_size " + std::to_string(c.patch_height) + "x" +
                      std::to_string(c.patch_width) + " exceeds image_size " + std::to_string(c.image_height) +
                      "x" + std::to_string(c.image_width));
  }
  if (c.image_height / c.patch_height > kMaxPatches / (c.image_width / c.patch_width)) {
    throw FormatError(c.source + ": image_size / patch_size gives more than " + std::to_string(kMaxPatches) +
                      " patches");
  }
  c.max_position_embeddings = c.num_patches() + 1;
  c.vocab_size = 0;
  c.type_vocab_size = 0;
  c.qkv_bias = r.boolean("qkv_bias", true);
  c.pooler_act = r.string("pooler_act", "tanh");
  const Json* pooler = r.find("pooler_output_size");
  c.pooler_output_size = pooler != nullptr && !pooler->is_null() ? r.positive("pooler_output_size") : 0;
}

}  // namespace

void register_config_spec(ConfigSpec spec) {
  for (const ConfigSpec& s : specs()) {
    if (s.model_type == spec.model_type) {
      throw InvalidArgument("config spec of model_type '" + spec.model_type + "' registered twice");
    }
  }
  specs().push_back(std::move(spec));
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const auto& s : registered_specs()) out.push_back(s.model_type);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// The model_type string of a config object.
std::string model_type_of(const Json& json, const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": config is not a JSON object");
  if (!json.contains("model_type")) throw FormatError(source + ": missing required key 'model_type'");
  if (!json["model_type"].is_string()) throw FormatError(source + ": key 'model_type' must be a string");
  return json["model_type"].get<std::string>();
}

// parse_config without the JSON error context.
EncoderConfig parse_config_unchecked(const Json& json, const ConfigSpec& spec, const std::string& source) {
  const std::string model_type = model_type_of(json, source);
  if (model_type != spec.model_type) {
    throw InvalidArgument(source + ": model_type '" + model_type + "' parsed with the spec of '" +
                          spec.model_type + "'");
  }
  Reader r(json, spec, source);
  EncoderConfig c;
  c.model_type = model_type;
  c.raw = json;
  c.source = source;
  for (const auto& f : kRequired) {
    if (r.find(f) == nullptr && !(spec.vision && f == "vocab_size")) r.missing(f);
  }
  if (spec.vision) {
    read_vision(r, c);
  } else {
    c.vocab_size = r.positive("vocab_size");
  }
  c.hidden_size = r.positive("hidden_size");
  c.num_hidden_layers = r.positive("num_hidden_layers");
  c.num_attention_heads = r.positive("num_attention_heads");
  c.intermediate_size = r.positive("intermediate_size");
  c.embedding_size = r.find("embedding_size") ? r.positive("embedding_size") : c.hidden_size;
  if (!spec.vision) {
    c.max_position_embeddings = r.positive("max_position_embeddings");
    c.type_vocab_size = r.integer("type_vocab_size");
  }
  c.pad_token_id = r.integer("pad_token_id");
  c.layer_norm_eps = r.number("layer_norm_eps");
  c.hidden_act = r.string("hidden_act");
  c.num_hidden_groups = r.find("num_hidden_groups") ? r.positive("num_hidden_groups") : 1;
  c.inner_group_num = r.find("inner_group_num") ? r.positive("inner_group_num") : 1;
  c.relative_attention_num_buckets =
      r.find("relative_attention_num_buckets") ? r.positive("relative_attention_num_buckets") : 32;
  c.summary_type = r.string("summary_type", "first");
  c.summary_use_proj = r.boolean("summary_use_proj", true);
  c.summary_activation = r.string("summary_activation");
  c.summary_proj_to_labels = r.boolean("summary_proj_to_labels", false);
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw FormatError(source + ": hidden_size " + std::to_string(c.hidden_size) +
                      " is not a multiple of num_attention_heads " + std::to_string(c.num_attention_heads));
  }
  if (json.contains("architectures") && json["architectures"].is_array()) {
    for (const Json& a : json["architectures"]) {
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
    }
  }
  read_labels(json, source, c);
  return c;
}

}  // namespace

EncoderConfig parse_config(const Json& json, const ConfigSpec& spec, const std::string& source) {
  // nlohmann type/range errors name the file and the JSON path.
  return io::with_json_context(source, [&] { return parse_config_unchecked(json, spec, source); });
}

EncoderConfig parse_config(const Json& json, const std::string& source) {
  const auto& table = registered_specs();
  const std::string model_type = model_type_of(json, source);
  auto spec = std::find_if(table.begin(), table.end(),
                           [&](const ConfigSpec& s) { return s.model_type == model_type; });
  if (spec == table.end()) {
    std::string list;
    for (const auto& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
    throw Unsupported(source + ": model_type '" + model_type + "' is not supported (supported: " + list + ")");
  }
  return parse_config(json, *spec, source);
}

EncoderConfig load_config(const std::filesystem::path& path) {
  std::error_code ec;
  const auto file = std::filesystem::is_directory(path, ec) ? path / "config.json" : path;
  return parse_config(io::read_json(file), file.string());
}

}  // namespace optimum::config
