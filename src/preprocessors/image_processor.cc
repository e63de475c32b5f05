// preprocessor_config.json -> ImageProcessorConfig, as transformers' PIL
// backend resolves it (a key missing or null takes the class default), and the
// resize / crop / rescale / normalize pipeline of PilBackend._preprocess.
#include "optimum/preprocessors/image_processor.h"

#include <cmath>
#include <cstring>
#include <set>

#include "optimum/core/errors.h"

namespace optimum::preprocessors {

namespace {

constexpr std::array<double, 3> kImagenetStandardMean{0.5, 0.5, 0.5};
constexpr std::array<double, 3> kImagenetStandardStd{0.5, 0.5, 0.5};
constexpr std::array<double, 3> kOpenAiClipMean{0.48145466, 0.4578275, 0.40821073};
constexpr std::array<double, 3> kOpenAiClipStd{0.26862954, 0.26130258, 0.27577711};

// A family's class attributes (transformers' models/<family>/image_processing_pil_*.py).
struct Family {
  const char* name;
  ImageProcessorConfig defaults;
  bool default_to_square;
};

const std::vector<Family>& families() {
  static const std::vector<Family> table = [] {
    std::vector<Family> t;
    {
      ImageProcessorConfig c;
      c.image_processor_type = "ViTImageProcessor";
      c.size.height = 224;
      c.size.width = 224;
      c.resample = Resample::kBilinear;
      c.image_mean = kImagenetStandardMean;
      c.image_std = kImagenetStandardStd;
      t.push_back({"ViTImageProcessor", c, true});
    }
    {
      ImageProcessorConfig c;
      c.image_processor_type = "CLIPImageProcessor";
      c.size.shortest_edge = 224;
      c.resample = Resample::kBicubic;
      c.do_center_crop = true;
      c.crop_size = SizeSpec{224, 224, std::nullopt, std::nullopt};
      c.image_mean = kOpenAiClipMean;
      c.image_std = kOpenAiClipStd;
      c.do_convert_rgb = true;
      t.push_back({"CLIPImageProcessor", c, false});
    }
    {
      ImageProcessorConfig c;
      c.image_processor_type = "ConvNextImageProcessor";
      c.size.shortest_edge = 384;
      c.resample = Resample::kBicubic;
      c.image_mean = kImagenetStandardMean;
      c.image_std = kImagenetStandardStd;
      c.crop_pct = 224.0 / 256.0;
      t.push_back({"ConvNextImageProcessor", c, false});
    }
    return t;
  }();
  return table;
}

// "ViTFeatureExtractor", "ViTImageProcessorPil", "ViTImageProcessorFast" -> "ViTImageProcessor".
std::string canonical_type(std::string type) {
  auto strip = [&](const std::string& suffix) {
    if (type.size() > suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0) {
      type.resize(type.size() - suffix.size());
      return true;
    }
    return false;
  };
  if (strip("FeatureExtractor")) return type + "ImageProcessor";
  if (!strip("Pil")) strip("Fast");
  return type;
}

bool present(const io::Json& config, const char* key) {
  return config.is_object() && config.contains(key) && !config.at(key).is_null();
}

bool get_bool(const io::Json& config, const char* key, bool fallback, const std::string& source) {
  if (!present(config, key)) return fallback;
  const io::Json& v = config.at(key);
  if (!v.is_boolean()) throw FormatError(source + ": " + key + " must be true or false, got " + v.dump());
  return v.get<bool>();
}

double get_number(const io::Json& v, const std::string& where) {
  if (!v.is_number()) throw FormatError(where + " must be a number, got " + v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw FormatError(where + " must be finite, got " + v.dump());
  return d;
}

int64_t get_dim(const io::Json& v, const std::string& where) {
  if (!v.is_number_integer()) throw FormatError(where + " must be an integer, got " + v.dump());
  const int64_t d = v.get<int64_t>();
  if (d <= 0 || d > (int64_t{1} << 20)) throw FormatError(where + " must be in [1, 1048576], got " + v.dump());
  return d;
}

// transformers' get_size_dict: an int is square (default_to_square) or the
// shortest edge; a [h, w] list; a dict with one of the known key sets.
SizeSpec parse_size(const io::Json& v, bool default_to_square, const std::string& where) {
  SizeSpec s;
  if (v.is_number_integer()) {
    const int64_t n = get_dim(v, where);
    if (default_to_square) {
      s.height = s.width = n;
    } else {
      s.shortest_edge = n;
    }
    return s;
  }
  if (v.is_array()) {
    if (v.size() != 2) throw FormatError(where + " as a list must be [height, width], got " + v.dump());
    s.height = get_dim(v[0], where + "[0]");
    s.width = get_dim(v[1], where + "[1]");
    return s;
  }
  if (!v.is_object()) throw FormatError(where + " must be an int, a [height, width] list or a dict, got " + v.dump());
  std::set<std::string> keys;
  for (auto it = v.begin(); it != v.end(); ++it) keys.insert(it.key());
  if (keys == std::set<std::string>{"height", "width"}) {
    s.height = get_dim(v.at("height"), where + ".height");
    s.width = get_dim(v.at("width"), where + ".width");
  } else if (keys == std::set<std::string>{"shortest_edge"}) {
    s.shortest_edge = get_dim(v.at("shortest_edge"), where + ".shortest_edge");
  } else if (keys == std::set<std::string>{"shortest_edge", "longest_edge"}) {
    s.shortest_edge = get_dim(v.at("shortest_edge"), where + ".shortest_edge");
    s.longest_edge = get_dim(v.at("longest_edge"), where + ".longest_edge");
  } else {
    throw Unsupported(where + " with keys " + v.dump() +
                      " is not supported (expected {height, width}, {shortest_edge} or {shortest_edge, longest_edge})");
  }
  return s;
}

std::array<double, 3> parse_triple(const io::Json& v, const std::string& where) {
  if (v.is_number()) {
    const double d = get_number(v, where);
    return {d, d, d};
  }
  if (!v.is_array() || v.size() != 3) throw FormatError(where + " must be a number or a list of 3, got " + v.dump());
  return {get_number(v[0], where + "[0]"), get_number(v[1], where + "[1]"), get_number(v[2], where + "[2]")};
}

// get_resize_output_image_size(default_to_square=False): the shorter side
// becomes `size`, the longer int(size * long / short).
std::pair<int64_t, int64_t> shortest_edge_size(int64_t height, int64_t width, int64_t size) {
  const bool width_short = width <= height;
  const int64_t shorter = width_short ? width : height;
  const int64_t longer = width_short ? height : width;
  const int64_t new_long = static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(longer) /
                                                static_cast<double>(shorter));
  return width_short ? std::pair{new_long, size} : std::pair{size, new_long};
}

// get_size_with_aspect_ratio((h, w), shortest_edge, longest_edge).
std::pair<int64_t, int64_t> aspect_ratio_size(int64_t height, int64_t width, int64_t size, int64_t max_size) {
  std::optional<double> raw_size;
  const double min_original = static_cast<double>(std::min(height, width));
  const double max_original = static_cast<double>(std::max(height, width));
  if (max_original / min_original * static_cast<double>(size) > static_cast<double>(max_size)) {
    raw_size = static_cast<double>(max_size) * min_original / max_original;
    size = static_cast<int64_t>(std::nearbyint(*raw_size));
  }
  if ((height <= width && height == size) || (width <= height && width == size)) return {height, width};
  const double base = raw_size ? *raw_size : static_cast<double>(size);
  if (width < height) return {static_cast<int64_t>(base * height / width), size};
  return {size, static_cast<int64_t>(base * width / height)};
}

void check_output_size(std::pair<int64_t, int64_t> hw, const Image& image) {
  if (hw.first <= 0 || hw.second <= 0) {
    throw InvalidArgument("resizing a " + std::to_string(image.height) + "x" + std::to_string(image.width) +
                          " image gives an empty size " + std::to_string(hw.first) + "x" +
                          std::to_string(hw.second) + " (transformers fails on it too)");
  }
}

}  // namespace

std::vector<std::string> supported_image_processors() {
  std::vector<std::string> out;
  for (const auto& f : families()) out.emplace_back(f.name);
  return out;
}

ImageProcessor ImageProcessor::from_config(const io::Json& config, const std::string& source) {
  if (!config.is_object()) throw FormatError(source + ": the preprocessor config must be a JSON object");
  std::string type;
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    if (!present(config, key)) continue;
    if (!config.at(key).is_string()) throw FormatError(source + ": " + key + " must be a string");
    type = config.at(key).get<std::string>();
    break;
  }
  if (type.empty()) {
    throw FormatError(source + ": has neither image_processor_type nor feature_extractor_type");
  }
  const std::string canonical = canonical_type(type);
  const Family* family = nullptr;
  for (const auto& f : families()) {
    if (canonical == f.name) family = &f;
  }
  if (family == nullptr) {
    std::string names;
    for (const auto& f : families()) names += (names.empty() ? "" : ", ") + std::string(f.name);
    throw Unsupported(source + ": image processor type '" + type + "' is not supported (supported: " + names + ")");
  }
  ImageProcessorConfig c = family->defaults;
  const std::string at = source + ": ";
  c.do_resize = get_bool(config, "do_resize", c.do_resize, source);
  c.do_center_crop = get_bool(config, "do_center_crop", c.do_center_crop, source);
  c.do_rescale = get_bool(config, "do_rescale", c.do_rescale, source);
  c.do_normalize = get_bool(config, "do_normalize", c.do_normalize, source);
  c.do_convert_rgb = get_bool(config, "do_convert_rgb", c.do_convert_rgb, source);
  if (present(config, "size")) c.size = parse_size(config.at("size"), family->default_to_square, at + "size");
  if (present(config, "crop_size")) c.crop_size = parse_size(config.at("crop_size"), true, at + "crop_size");
  if (present(config, "resample")) {
    const io::Json& r = config.at("resample");
    if (!r.is_number_integer()) throw FormatError(at + "resample must be a PIL filter id, got " + r.dump());
    c.resample = resample_from_id(r.get<int64_t>(), at + "resample");
  }
  if (present(config, "rescale_factor")) c.rescale_factor = get_number(config.at("rescale_factor"), at + "rescale_factor");
  if (present(config, "image_mean")) c.image_mean = parse_triple(config.at("image_mean"), at + "image_mean");
  if (present(config, "image_std")) c.image_std = parse_triple(config.at("image_std"), at + "image_std");
  if (c.crop_pct && present(config, "crop_pct")) {
    c.crop_pct = get_number(config.at("crop_pct"), at + "crop_pct");
    if (*c.crop_pct <= 0) throw FormatError(at + "crop_pct must be positive, got " + config.at("crop_pct").dump());
  }
  // transformers' validate_preprocess_arguments.
  if (c.do_resize && !c.size.height && !c.size.shortest_edge) throw FormatError(at + "do_resize needs size");
  if (c.do_resize && c.crop_pct && !c.size.shortest_edge) {
    throw FormatError(at + "size must have 'shortest_edge' for " + c.image_processor_type);
  }
  if (c.do_center_crop && (!c.crop_size || !c.crop_size->height)) {
    throw FormatError(at + "do_center_crop needs crop_size with height and width");
  }
  for (int i = 0; i < 3; ++i) {
    if (c.do_normalize && c.image_std[i] == 0) throw FormatError(at + "image_std[" + std::to_string(i) + "] is 0");
  }
  return ImageProcessor(std::move(c));
}

ImageProcessor ImageProcessor::from_pretrained(const std::filesystem::path& path) {
  const std::filesystem::path file =
      std::filesystem::is_directory(path) ? path / "preprocessor_config.json" : path;
  if (!std::filesystem::exists(file)) throw NotFound(file.string() + ": no preprocessor_config.json");
  const io::Json config = io::read_json(file);
  return from_config(config, file.string());
}

Image ImageProcessor::transform(const Image& image) const {
  const ImageProcessorConfig& c = config_;
  Image out = image;
  if (c.do_convert_rgb) composite_transparent_color(out);
  if (c.do_resize) {
    if (c.crop_pct) {
      // ConvNextImageProcessorPil.resize
      const int64_t se = *c.size.shortest_edge;
      if (se < 384) {
        const auto target = static_cast<int64_t>(static_cast<double>(se) / *c.crop_pct);
        const auto hw = shortest_edge_size(out.height, out.width, target);
        check_output_size(hw, out);
        out = center_crop(resize(out, hw.first, hw.second, c.resample), se, se);
      } else {
        out = resize(out, se, se, c.resample);
      }
    } else {
      std::pair<int64_t, int64_t> hw;
      if (c.size.shortest_edge && c.size.longest_edge) {
        hw = aspect_ratio_size(out.height, out.width, *c.size.shortest_edge, *c.size.longest_edge);
      } else if (c.size.shortest_edge) {
        hw = shortest_edge_size(out.height, out.width, *c.size.shortest_edge);
      } else {
        hw = {*c.size.height, *c.size.width};
      }
      check_output_size(hw, out);
      out = resize(out, hw.first, hw.second, c.resample);
    }
  }
  if (c.do_center_crop) out = center_crop(out, *c.crop_size->height, *c.crop_size->width);
  return out;
}

Tensor ImageProcessor::preprocess(const std::vector<Image>& images) const {
  if (images.empty()) throw InvalidArgument("image processor: no images given");
  std::vector<Image> done;
  done.reserve(images.size());
  for (const auto& image : images) done.push_back(transform(image));
  const int64_t h = done.front().height, w = done.front().width;
  for (size_t i = 1; i < done.size(); ++i) {
    if (done[i].height != h || done[i].width != w) {
      throw InvalidArgument("image processor: image " + std::to_string(i) + " becomes " +
                            std::to_string(done[i].height) + "x" + std::to_string(done[i].width) +
                            " but image 0 becomes " + std::to_string(h) + "x" + std::to_string(w) +
                            "; a batch needs one size (resize to a fixed size or pass images one by one)");
    }
  }
  const auto n = static_cast<int64_t>(done.size());
  Tensor out = Tensor::zeros(DType::F32, {n, 3, h, w});
  float* dst = out.mutable_data<float>();
  const ImageProcessorConfig& c = config_;
  // As numpy: rescale in float64 then to float32; normalize in float32.
  float lut[3][256];
  for (int ch = 0; ch < 3; ++ch) {
    const auto mean = static_cast<float>(c.image_mean[ch]);
    const auto std = static_cast<float>(c.image_std[ch]);
    for (int v = 0; v < 256; ++v) {
      float x = c.do_rescale ? static_cast<float>(static_cast<double>(v) * c.rescale_factor) : static_cast<float>(v);
      if (c.do_normalize) x = (x - mean) / std;
      lut[ch][v] = x;
    }
  }
  const int64_t plane = h * w;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = done[i].pixels.data();
    float* img = dst + i * 3 * plane;
    for (int64_t p = 0; p < plane; ++p) {
      img[p] = lut[0][src[3 * p]];
      img[plane + p] = lut[1][src[3 * p + 1]];
      img[2 * plane + p] = lut[2][src[3 * p + 2]];
    }
  }
  return out;
}

}  // namespace optimum::preprocessors
