// config.json to a typed model configuration. Each supported model_type has a
// spec (its key names, defaults and required keys, as its transformers
// configuration class defines them); every key of the file is kept in `raw`,
// unknown ones included.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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

// How one encoder model_type spells and defaults the EncoderConfig fields
// (its transformers configuration class). Each architecture entry of the
// models layer holds one (models/architecture.h) and registers it here.
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
