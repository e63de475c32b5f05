// Image decoding (JPEG with libjpeg-turbo, PNG with libpng, WebP with libwebp)
// to 8-bit RGB, as PIL's `Image.open(f).convert("RGB")` gives it, and the
// PIL-equivalent transforms the image processors are built from (resize with
// PIL's resampling filters, transformers' center crop).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace optimum::preprocessors {

// An 8-bit RGB image, rows top to bottom, pixels interleaved (HxWx3).
struct Image {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes
  // The colour PIL records as info["transparency"] after convert("RGB") (a PNG
  // tRNS colour key, or the one fully transparent entry of a palette). Pixels
  // of exactly this colour turn white where transformers' convert_to_rgb runs.
  std::optional<std::array<uint8_t, 3>> transparent_rgb;

  uint8_t* row(int64_t y) { return pixels.data() + y * width * 3; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * 3; }
};

// Container formats decode_image recognizes by their magic bytes.
enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp };

// PIL's Image.MAX_IMAGE_PIXELS (about 89.5 megapixels): PIL refuses twice this
// as a decompression bomb, so do we.
constexpr int64_t kPilMaxImagePixels = 89478485;

// Limits of one decode.
struct DecodeOptions {
  // Images with more pixels than this are refused before any pixel buffer is
  // allocated (PIL's DecompressionBombError threshold by default).
  int64_t max_pixels = 2 * kPilMaxImagePixels;
  // Largest file load_image reads (bytes).
  uint64_t max_file_bytes = uint64_t{1} << 30;
};

// The format `data` starts with (kUnknown when none of the three).
ImageFormat detect_image_format(const uint8_t* data, size_t size);

// Decodes a JPEG, PNG or WebP held in memory (format by magic bytes, not by
// name) to RGB. `source` names the input in error messages. FormatError on a
// truncated, corrupt or unrecognized image, InvalidArgument above the pixel
// limit; the C libraries never print, exit or unwind through C++ frames.
// RGBA/LA drop alpha, L/P expand, 16-bit samples keep their high byte except
// 16-bit gray, which PIL clips to 255 ("I;16" -> "RGB").
Image decode_image(const uint8_t* data, size_t size, const std::string& source,
                   const DecodeOptions& options = {});

// Reads and decodes the file at `path` (NotFound if missing).
Image load_image(const std::filesystem::path& path, const DecodeOptions& options = {});

// An RGB image from interleaved uint8 pixels with 1 (gray), 3 (RGB) or 4
// (RGBA) channels. With `composite_alpha`, RGBA is blended onto white as
// transformers' numpy convert_to_rgb does (round(a*c + (1-a)*255)); without it
// the alpha channel is dropped. Gray is repeated into three channels.
Image image_from_pixels(const uint8_t* data, int64_t height, int64_t width, int64_t channels,
                        bool composite_alpha);

// PIL's resampling filters, numbered as PIL.Image.Resampling (and the
// `resample` field of preprocessor_config.json).
enum class Resample { kNearest = 0, kLanczos = 1, kBilinear = 2, kBicubic = 3, kBox = 4, kHamming = 5 };

// transformers' convert_to_rgb on a PIL image decoded from a file: pixels
// equal to image.transparent_rgb become white (alpha composite onto white).
void composite_transparent_color(Image& image);

// Resample from its PIL id; InvalidArgument naming `field` for anything else.
Resample resample_from_id(int64_t id, const std::string& field);

// PIL's Image.resize((width, height), resample) on an RGB image: nearest as
// PIL's affine scale, the others as its two-pass separable convolution with
// the support widened by the downscale factor (antialiased), fixed-point
// 22-bit coefficients and rounding to uint8 after each pass.
Image resize(const Image& image, int64_t height, int64_t width, Resample resample);

// transformers' center_crop: the centered height x width window; where the
// image is smaller it is padded with zeros around it as transformers pads.
Image center_crop(const Image& image, int64_t height, int64_t width);

}  // namespace optimum::preprocessors
