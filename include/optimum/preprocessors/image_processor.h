// Image processors driven by preprocessor_config.json exactly as transformers'
// PIL-backend processors read it: ViTImageProcessor and the generic pieces
// (resize by {height, width} or {shortest_edge[, longest_edge]}, center crop,
// rescale, normalize) that CLIPImageProcessor and ConvNextImageProcessor reuse.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "optimum/preprocessors/image.h"

namespace optimum::preprocessors {

// A `size` / `crop_size` value after transformers' get_size_dict.
struct SizeSpec {
  std::optional<int64_t> height, width;                // {"height", "width"}
  std::optional<int64_t> shortest_edge, longest_edge;  // {"shortest_edge"[, "longest_edge"]}
};

// Every setting of one processor, class defaults already applied.
struct ImageProcessorConfig {
  std::string image_processor_type;  // the family's canonical name ("ViTImageProcessor")
  bool do_resize = true;
  SizeSpec size;
  Resample resample = Resample::kBilinear;
  bool do_center_crop = false;
  std::optional<SizeSpec> crop_size;  // height and width when do_center_crop
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};
  std::array<double, 3> image_std{0.5, 0.5, 0.5};
  // transformers' convert_to_rgb: RGBA arrays are composited onto white, gray
  // ones repeated, and a decoded PNG's transparent colour (PIL's
  // info["transparency"]) turns white.
  bool do_convert_rgb = false;
  // ConvNeXt: below 384 the shortest edge is resized to shortest_edge / crop_pct
  // and center-cropped to shortest_edge (square); at 384 and above, warped.
  std::optional<double> crop_pct;
};

// The image processor families this build implements, by canonical name.
std::vector<std::string> supported_image_processors();

class ImageProcessor {
 public:
  // From a parsed preprocessor_config.json; `source` names it in errors.
  // Dispatches on image_processor_type, else feature_extractor_type (a
  // "...FeatureExtractor" or "...Pil"/"...Fast" name maps to its family);
  // Unsupported naming the type for any other.
  static ImageProcessor from_config(const io::Json& config, const std::string& source);
  // From `dir`/preprocessor_config.json (or a path to the JSON file itself).
  static ImageProcessor from_pretrained(const std::filesystem::path& path);

  explicit ImageProcessor(ImageProcessorConfig config) : config_(std::move(config)) {}

  const ImageProcessorConfig& config() const { return config_; }

  // Resize and center crop as configured (the uint8 part of the pipeline).
  Image transform(const Image& image) const;

  // pixel_values [N, 3, H, W] float32 for a batch; InvalidArgument when the
  // processed images do not share one size (no resize to a fixed size).
  Tensor preprocess(const std::vector<Image>& images) const;

 private:
  ImageProcessorConfig config_;
};

}  // namespace optimum::preprocessors
