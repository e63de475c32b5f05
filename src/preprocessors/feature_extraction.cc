// Finding a feature extractor's config and AutoFeatureExtractor's dispatch
// (feature_extraction.h), as transformers' get_feature_extractor_dict and
// AutoFeatureExtractor.from_pretrained do for a local folder.
#include <system_error>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/feature_extraction.h"

namespace optimum::preprocessors {

namespace fs = std::filesystem;

io::Json read_feature_extractor_config(const fs::path& path, std::string* source) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    if (source != nullptr) *source = path.string();
    return io::read_json(path);
  }
  if (!fs::is_directory(path, ec)) throw NotFound(path.string() + ": no such feature extractor folder or file");
  // A processor_config.json that nests the feature extractor wins (transformers 5's single-file processors).
  const fs::path processor = path / "processor_config.json";
  if (fs::exists(processor, ec)) {
    const io::Json dict = io::read_json(processor);
    for (const char* key : {"feature_extractor", "audio_processor"}) {
      if (dict.is_object() && dict.contains(key)) {
        if (source != nullptr) *source = processor.string() + ": " + key;
        return dict.at(key);
      }
    }
  }
  const fs::path config = path / "preprocessor_config.json";
  if (!fs::exists(config, ec)) {
    throw NotFound("Can't load feature extractor for '" + path.string() +
                   "': no preprocessor_config.json (nor processor_config.json with a \"feature_extractor\") in it");
  }
  if (source != nullptr) *source = config.string();
  return io::read_json(config);
}

std::shared_ptr<FeatureExtractor> load_feature_extractor(const fs::path& path) {
  std::string source;
  const io::Json json = read_feature_extractor_config(path, &source);
  if (!json.is_object()) throw FormatError(source + ": the feature extractor config must be a JSON object");
  std::string type;
  if (json.contains("feature_extractor_type") && !json.at("feature_extractor_type").is_null()) {
    const io::Json& v = json.at("feature_extractor_type");
    if (!v.is_string()) throw FormatError(source + ": \"feature_extractor_type\" must be a string, got " + v.dump());
    type = v.get<std::string>();
  } else {
    // As transformers: the model's config.json (its feature_extractor_type, else its model_type).
    std::error_code ec;
    const fs::path config = fs::is_directory(path, ec) ? path / "config.json" : path.parent_path() / "config.json";
    if (fs::exists(config, ec)) {
      const io::Json model = io::read_json(config);
      if (model.is_object() && model.contains("feature_extractor_type") &&
          model.at("feature_extractor_type").is_string()) {
        type = model.at("feature_extractor_type").get<std::string>();
      } else if (model.is_object() && model.contains("model_type") && model.at("model_type").is_string() &&
                 model.at("model_type").get<std::string>() == "whisper") {
        type = "WhisperFeatureExtractor";
      }
    }
    if (type.empty()) {
      throw Unsupported("Unrecognized feature extractor in " + path.string() +
                        ": no \"feature_extractor_type\" in " + source +
                        " and no config.json with a supported model_type (supported: whisper)");
    }
  }
  if (type == "WhisperFeatureExtractor") {
    return std::make_shared<WhisperFeatureExtractor>(WhisperFeatureExtractorConfig::from_json(json, source));
  }
  throw Unsupported(source + ": feature_extractor_type '" + type +
                    "' is not supported by optimum-cpp (supported: WhisperFeatureExtractor)");
}

}  // namespace optimum::preprocessors
