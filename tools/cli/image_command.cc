// `optimum-cpp preprocess-image`: decode images and run a folder's image
// processor (preprocessor_config.json) on them, as transformers would.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/preprocessors/image_processor.h"

namespace optimum::cli {

namespace {

struct ImageOptions {
  std::string processor;  // folder with preprocessor_config.json, or the file
  std::vector<std::string> images;
  std::string npy;        // write pixel_values [N, 3, H, W] float32 here
  int64_t max_pixels = 2 * preprocessors::kPilMaxImagePixels;
};

// A little-endian float32 .npy file (format version 1.0).
void write_npy(const std::string& path, const Tensor& t) {
  std::string shape;
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError(errno_message("cannot write " + path));
  out.write("\x93NUMPY\x01\x00", 8);
  const auto n = static_cast<uint16_t>(header.size());
  const char len[2] = {static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
  out.write(len, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (!out) throw IoError(errno_message("cannot write " + path));
}

void run(const ImageOptions& o) {
  const auto proc = preprocessors::ImageProcessor::from_pretrained(o.processor);
  preprocessors::DecodeOptions decode;
  decode.max_pixels = o.max_pixels;
  std::vector<preprocessors::Image> images;
  for (const auto& path : o.images) images.push_back(preprocessors::load_image(path, decode));
  const Tensor pixel_values = proc.preprocess(images);
  const int64_t per_image = pixel_values.numel() / static_cast<int64_t>(images.size());
  const float* v = pixel_values.data<float>();
  for (size_t i = 0; i < images.size(); ++i) {
    double sum = 0;
    const float* p = v + static_cast<int64_t>(i) * per_image;
    for (int64_t k = 0; k < per_image; ++k) sum += p[k];
    io::Json line = {{"image", o.images[i]},
                     {"width", images[i].width},
                     {"height", images[i].height},
                     {"shape", {pixel_values.size(1), pixel_values.size(2), pixel_values.size(3)}},
                     {"mean", sum / static_cast<double>(per_image)}};
    std::cout << line.dump() << "\n";
  }
  if (!o.npy.empty()) write_npy(o.npy, pixel_values);
}

}  // namespace

void add_image_command(CLI::App& app) {
  auto o = std::make_shared<ImageOptions>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess-image",
      "Decode JPEG/PNG/WebP images and run an image processor (preprocessor_config.json) on them; "
      "print one JSON line per image (decoded size, pixel_values shape and mean)");
  cmd->add_option("-p,--processor", o->processor, "Folder with preprocessor_config.json, or the JSON file")
      ->required();
  cmd->add_option("images", o->images, "Image files (format from the magic bytes)")->required();
  cmd->add_option("--npy", o->npy, "Also write pixel_values [N, 3, H, W] float32 to this .npy file");
  cmd->add_option("--max-pixels", o->max_pixels,
                  "Refuse images with more pixels than this (default: PIL's decompression-bomb limit)")
      ->check(CLI::PositiveNumber);
  cmd->callback([o] { run(*o); });
}

}  // namespace optimum::cli
