// config.json to a typed model configuration. Each supported model_type has a
// spec (its key names, defaults and required keys, as its transformers
// configuration class defines them); every key of the file is kept in `raw`,
// unknown ones included.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optimum/io/json.h"

namespace optimum::config {

using io::Json;

// Configuration of a transformer encoder, with the names BertConfig uses.
// Families that spell a field differently (DistilBERT's dim, n_layers...)
// are mapped onto these names by their spec.
struct EncoderConfig {
  std::string model_type;
  std::vector<std::string> architectures;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t embedding_size = 0;  // = hidden_size unless the family factorizes embeddings
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;  // 0: the family has no token types
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
  int64_t num_hidden_groups = 1;  // ALBERT parameter sharing
  int64_t inner_group_num = 1;    // ALBERT
  int64_t relative_attention_num_buckets = 32;  // MPNet
  // Sequence summary (ELECTRA multiple choice).
  std::string summary_type = "first";
  bool summary_use_proj = true;
  std::string summary_activation;
  bool summary_proj_to_labels = false;
  // Vision encoders (ConfigSpec::vision): pixel_values [batch, num_channels,
  // image_height, image_width] cut into patch_height x patch_width patches;
  // 0 for text encoders. image_size / patch_size may be one integer or
  // [height, width] in config.json, as in transformers.
  int64_t num_channels = 0;
  int64_t image_height = 0;
  int64_t image_width = 0;
  int64_t patch_height = 0;
  int64_t patch_width = 0;
  bool qkv_bias = true;           // ViT's q/k/v projections have biases
  std::string pooler_act = "tanh";  // ViT's pooler activation
  int64_t pooler_output_size = 0;   // ViT's pooler width (hidden_size when unset)
  // Heads.
  int64_t num_labels = 2;
  std::map<int64_t, std::string> id2label;
  std::string problem_type;  // "", single_label_classification, multi_label_classification, regression
  Json raw;                  // the whole config.json
  std::string source;        // file name for messages

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool is_vision() const { return num_channels > 0; }
  // Patches per image (vision encoders): floor division, as the strided convolution drops the rest.
  int64_t num_patches() const {
    return is_vision() ? (image_height / patch_height) * (image_width / patch_width) : 0;
  }
};

// ------------------------------------------------------------ key tables
// A declarative table of config.json keys (the decoders' specs): each key's
// transformers spelling, accepted aliases, type, default, check and refused
// values. read_keys() reads a config object with one; the models layer turns
// the values into its typed configs.

// What a key's value must be.
enum class KeyType {
  Integer,     // a JSON integer (an integral float such as 2.0 is accepted)
  Number,      // any JSON number
  Boolean,
  String,
  StringList,  // a list of strings (per_layer: one per layer)
  Object,      // a JSON object (nested settings such as rope_parameters)
};

// A range check on a number.
enum class KeyCheck { None, Positive, NonNegative };

struct KeySpec {
  // The engine's name for the value (transformers' canonical attribute name:
  // hidden_size, num_hidden_layers...); read_keys' result is looked up by it.
  std::string field;
  // The key in config.json (the family's spelling: gpt2's n_embd). Empty: the
  // family fixes the value to `fallback` (no key is read).
  std::string key;
  KeyType type = KeyType::Integer;
  // The configuration class's default, used when the key (and every alias)
  // is absent or null; null: no default (the value is then absent).
  Json fallback;
  // Other spellings accepted when `key` is absent (transformers' attribute_map).
  std::vector<std::string> aliases;
  KeyCheck check = KeyCheck::None;
  // What an explicit null means when it differs from an absent key
  // (MistralConfig's sliding_window: absent = 4096, null = none).
  std::optional<Json> null_means;
  // A value the engine refuses (Unsupported naming the key), and why.
  Json refused;
  std::string refused_why;
  // StringList: one entry per layer (FormatError otherwise).
  bool per_layer = false;
  // Read and checked, but the engine ignores it (as transformers' model does).
  bool ignored = false;
};

// The key table of one model_type with one value replaced: fallback of
// `field` (InvalidArgument when the table has no such field).
std::vector<KeySpec> with_default(std::vector<KeySpec> keys, const std::string& field, Json fallback);

// The values read_keys() found, by field. Getters throw InvalidArgument for a
// field the table lacks (a programming error) and FormatError for an absent
// value without default.
class KeyValues {
 public:
  bool declared(const std::string& field) const { return values_.count(field) != 0; }
  // Declared and not null (given, or a non-null default).
  bool has(const std::string& field) const;
  const Json& get(const std::string& field) const;
  int64_t integer(const std::string& field) const;
  double number(const std::string& field) const;
  bool boolean(const std::string& field) const;
  std::string string(const std::string& field) const;
  std::vector<std::string> strings(const std::string& field) const;
  // The config.json key a field was read from (its spelling, or the alias found).
  const std::string& key(const std::string& field) const;
  // Where the values come from, for messages.
  const std::string& source() const { return source_; }

 private:
  friend KeyValues read_keys(const Json& json, const std::vector<KeySpec>& keys, const std::string& source,
                             int64_t n_layers);
  std::map<std::string, Json> values_;
  std::map<std::string, std::string> keys_;
  std::string source_;
};

// Reads every key of `keys` from the config object `json`: the value, else
// the first alias present, else `null_means` for an explicit null, else the
// fallback; checks its type and range and refuses `refused` values.
// FormatError / Unsupported name `source` and the key. `n_layers` (>= 0) is
// the length per-layer lists must have (-1: not checked).
KeyValues read_keys(const Json& json, const std::vector<KeySpec>& keys, const std::string& source,
                    int64_t n_layers = -1);

// How one encoder model_type spells and defaults the EncoderConfig fields
// (its transformers configuration class). Each architecture entry of the
// models layer holds one (models/architecture.h) and registers it here.
// Decoders hold their keys as a table (`keys`, read by read_keys) and the
// models layer derives DecoderConfig from it.
struct ConfigSpec {
  std::string model_type;
  // EncoderConfig field -> key in config.json, for families with other names
  // (DistilBERT: hidden_size -> dim).
  std::map<std::string, std::string> key_names;
  // Defaults of the transformers configuration class, as JSON values, by
  // config.json key.
  Json defaults;
  // A vision encoder (ViT): reads image_size, patch_size and num_channels
  // instead of vocab_size; max_position_embeddings is the patch count + 1
  // (the CLS token), vocab_size and type_vocab_size are 0.
  bool vision = false;
  // Decoders: every key the generic decoder reader takes, with its type,
  // default and check (models/decoder_spec.h builds the shared tables).
  std::vector<KeySpec> keys;
  // Decoders' RoPE settings (rope_parameters / rope_scaling): rope_type
  // spellings the configuration class renames (Phi3Config: su, yarn ->
  // longrope), the types the family allows (empty: all the engine has),
  // and whether the settings are nested by layer type (Gemma3TextConfig:
  // full_attention, sliding_attention, each with its theta key).
  struct Rope {
    std::map<std::string, std::string> type_aliases;
    std::vector<std::string> types;
    // Nested by layer type: {layer type, the field of `keys` holding its
    // theta in the older flat layout}; ropes are indexed in this order, and
    // the older rope_scaling applies to the first.
    std::vector<std::pair<std::string, std::string>> by_layer_type;
  } rope;
};

// Adds the spec of an encoder model_type (InvalidArgument when it is
// registered twice). Called by the architecture registry
// (models::register_architectures()), which derives these from its entries.
void register_config_spec(ConfigSpec spec);

// Encoder model types registered, sorted. Error (not Unsupported) when none
// is: models::register_architectures() has not run.
std::vector<std::string> supported_model_types();

// Parses a config object with `spec`; `source` names the file in errors.
// Throws FormatError naming the missing or mistyped key.
EncoderConfig parse_config(const Json& json, const ConfigSpec& spec, const std::string& source);

// Parses a config object with the registered spec of its model_type. Throws
// FormatError naming the missing or mistyped key, Unsupported naming the
// model_type and listing the supported ones.
EncoderConfig parse_config(const Json& json, const std::string& source);

// Reads and parses `path` (a config.json file or a folder holding one).
EncoderConfig load_config(const std::filesystem::path& path);

}  // namespace optimum::config
