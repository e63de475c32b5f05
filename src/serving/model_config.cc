// model-config.yaml (TorchServe's per-model configuration) read with
// yaml-cpp into ModelConfig; the `handler:` section becomes JSON.
#include "optimum/serving/model_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "yaml_json.h"

namespace optimum::serving {

namespace {

// model-config.yaml is a few lines; the cap stops a hostile file from growing.
constexpr uint64_t kMaxYamlBytes = 1 << 20;
// Nesting of the handler section (the JSON conversion recurses).
constexpr int kMaxYamlDepth = 32;

// TorchServe keys this server does not use: accepted with a warning.
const std::set<std::string>& torchserve_only_keys() {
  static const std::set<std::string> keys = {
      "deviceType",        "parallelType",        "parallelLevel",     "deviceIds",
      "torchrun",          "pt2",                 "continuousBatching",
      "startupTimeout",    "useJobTicket",        "asyncCommunication", "clientTimeoutInMills",
      "maxRetryTimeoutInSec", "runtimeType",      "useVenv",            "sequenceMaxIdleMSec",
      "maxSequenceJobQueueSize", "sequenceBatching",  "sequenceTimeoutMSec",
      "stateful",          "micro_batching",      "pippy",             "deepspeed",
      "tensor_parallel",   "shard"};
  return keys;
}

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw FormatError(source + ": key " + quote_untrusted(key) + ": " + what);
}

int64_t yaml_int(const YAML::Node& node, const std::string& source, const std::string& key, int64_t lo,
                 int64_t hi) {
  if (!node.IsScalar()) fail(source, key, "expected an integer, got a " + std::string(node.IsMap() ? "map" : node.IsSequence() ? "list" : "null"));
  if (node.Tag() == "!") fail(source, key, "expected an integer, got the string " + quote_untrusted(node.Scalar()));
  long long v = 0;
  try {
    v = node.as<long long>();
  } catch (const YAML::Exception&) {
    fail(source, key, "expected an integer, got " + quote_untrusted(node.Scalar()));
  }
  if (v < lo || v > hi) {
    fail(source, key, "value " + std::to_string(v) + " out of range [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
  }
  return v;
}

// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// beyond U+10FFFF): JSON values must be, or dumping them throws.
bool utf8_ok(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// A YAML scalar as JSON: YAML 1.2 core schema (null, booleans, integers,
// floats), quoted scalars stay strings.
io::Json scalar_to_json(const YAML::Node& node, const std::string& source, const std::string& key) {
  const std::string& s = node.Scalar();
  if (!utf8_ok(s)) fail(source, key, "value is not valid UTF-8");
  if (node.Tag() == "!") return s;  // quoted
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const bool numeric_start = (s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+' || s[0] == '.';
  if (numeric_start) {
    try {
      size_t used = 0;
      const long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return static_cast<int64_t>(i);
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      const double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return d;
    } catch (const std::exception&) {
    }
  }
  return s;
}

// Values converted from the handler section; YAML aliases share nodes, so a
// few lines can name exponentially many values ("billion laughs").
constexpr size_t kMaxYamlValues = 100000;

io::Json yaml_to_json(const YAML::Node& node, const std::string& source, const std::string& key, int depth,
                      size_t& budget) {
  if (budget == 0) fail(source, key, "more than " + std::to_string(kMaxYamlValues) + " values");
  --budget;
  if (depth > kMaxYamlDepth) fail(source, key, "nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node, source, key);
    case YAML::NodeType::Sequence: {
      io::Json out = io::Json::array();
      size_t i = 0;
      for (const auto& item : node) out.push_back(yaml_to_json(item, source, key + "/" + std::to_string(i++), depth + 1, budget));
      return out;
    }
    case YAML::NodeType::Map: {
      io::Json out = io::Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) fail(source, key, "map keys must be strings");
        const std::string k = kv.first.Scalar();
        if (!utf8_ok(k)) fail(source, key, "a key is not valid UTF-8");
        if (out.contains(k)) fail(source, key + "/" + k, "duplicate key");
        out[k] = yaml_to_json(kv.second, source, key + "/" + k, depth + 1, budget);
      }
      return out;
    }
  }
  return nullptr;
}

// The YAML document of `text`, size-checked; FormatError naming `source`.
YAML::Node load_yaml(const std::string& text, const std::string& source) {
  if (text.size() > kMaxYamlBytes) {
    throw FormatError(source + ": larger than " + std::to_string(kMaxYamlBytes) + " bytes");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw FormatError(source + ": invalid YAML: " + e.what());
  }
  return root;
}

}  // namespace

io::Json detail::parse_yaml(const std::string& text, const std::string& source) {
  YAML::Node root = load_yaml(text, source);
  size_t budget = kMaxYamlValues;
  return yaml_to_json(root, source, "", 0, budget);
}

ModelConfig ModelConfig::from_yaml_file(const std::filesystem::path& file) {
  return from_yaml_text(io::read_text_file(file, kMaxYamlBytes), file.string());
}

ModelConfig ModelConfig::from_yaml_text(const std::string& text, const std::string& source) {
  YAML::Node root = load_yaml(text, source);
  ModelConfig c;
  if (root.IsNull()) return c;  // an empty file: the defaults
  if (!root.IsMap()) throw FormatError(source + ": expected a map of keys at the top level");
  std::set<std::string> seen;
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) throw FormatError(source + ": top-level keys must be strings");
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) fail(source, key, "duplicate key");
    const YAML::Node& v = kv.second;
    if (key == "minWorkers") {
      c.min_workers = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "maxWorkers") {
      c.max_workers = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "batchSize") {
      c.batch_size = static_cast<int>(yaml_int(v, source, key, 1, kIntMax));
    } else if (key == "maxBatchDelay") {
      c.max_batch_delay_ms = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "responseTimeout") {
      c.response_timeout_s = static_cast<int>(yaml_int(v, source, key, 1, kIntMax));
    } else if (key == "maxBatchTokens") {
      c.max_batch_tokens = static_cast<size_t>(yaml_int(v, source, key, 0, std::numeric_limits<int64_t>::max()));
    } else if (key == "threadsPerWorker") {
      c.threads_per_worker = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "jobQueueSize") {
      c.job_queue_size = static_cast<int>(yaml_int(v, source, key, 1, kIntMax));
    } else if (key == "maxNumSequence") {
      c.max_num_sequence = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "maxSequenceLength") {
      c.max_sequence_length = static_cast<int>(yaml_int(v, source, key, 0, kIntMax));
    } else if (key == "handler") {
      if (!v.IsMap() && !v.IsNull()) fail(source, key, "expected a map of task options");
      size_t budget = kMaxYamlValues;
      c.handler = v.IsNull() ? io::Json::object() : yaml_to_json(v, source, key, 0, budget);
    } else if (torchserve_only_keys().count(key)) {
      std::cerr << "warning: " << source << ": TorchServe key '" << key << "' is accepted but not used by optimum-cpp\n";
    } else {
      std::cerr << "warning: " << source << ": unknown key " << quote_untrusted(key) << " ignored\n";
    }
  }
  try {
    c.validate(source);
  } catch (const InvalidArgument& e) {
    throw FormatError(e.what());
  }
  return c;
}

void ModelConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& field, const std::string& what) {
    throw InvalidArgument(source + ": " + field + ": " + what);
  };
  // Bounds that stop a configuration from asking for unbounded resources.
  constexpr int kMaxWorkers = 1024;
  constexpr int kMaxBatch = 65536;
  constexpr int kMaxDelayMs = 3600 * 1000;
  constexpr int kMaxTimeoutS = 7 * 24 * 3600;
  constexpr int kMaxThreads = 4096;
  constexpr int kMaxQueue = 10'000'000;
  if (min_workers < 0 || min_workers > kMaxWorkers) bad("minWorkers", std::to_string(min_workers) + " not in [0, 1024]");
  if (max_workers < 0 || max_workers > kMaxWorkers) bad("maxWorkers", std::to_string(max_workers) + " not in [0, 1024]");
  if (min_workers > max_workers) {
    bad("minWorkers", std::to_string(min_workers) + " is above maxWorkers " + std::to_string(max_workers));
  }
  if (batch_size < 1 || batch_size > kMaxBatch) bad("batchSize", std::to_string(batch_size) + " not in [1, 65536]");
  if (max_batch_delay_ms < 0 || max_batch_delay_ms > kMaxDelayMs) {
    bad("maxBatchDelay", std::to_string(max_batch_delay_ms) + " ms not in [0, 3600000]");
  }
  if (response_timeout_s < 1 || response_timeout_s > kMaxTimeoutS) {
    bad("responseTimeout", std::to_string(response_timeout_s) + " s not in [1, 604800]");
  }
  if (max_batch_tokens > (size_t{1} << 32)) bad("maxBatchTokens", std::to_string(max_batch_tokens) + " is above 2^32");
  if (threads_per_worker < 0 || threads_per_worker > kMaxThreads) {
    bad("threadsPerWorker", std::to_string(threads_per_worker) + " not in [0, 4096]");
  }
  if (job_queue_size < 1 || job_queue_size > kMaxQueue) {
    bad("jobQueueSize", std::to_string(job_queue_size) + " not in [1, 10000000]");
  }
  if (max_num_sequence < 0 || max_num_sequence > 4096) {
    bad("maxNumSequence", std::to_string(max_num_sequence) + " not in [0, 4096]");
  }
  if (max_sequence_length < 0 || max_sequence_length > (1 << 20)) {
    bad("maxSequenceLength", std::to_string(max_sequence_length) + " not in [0, 1048576]");
  }
  if (!handler.is_object()) bad("handler", "must be a map of task options");
}

}  // namespace optimum::serving
