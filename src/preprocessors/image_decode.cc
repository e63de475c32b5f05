// JPEG, PNG and WebP decoding to RGB as PIL's Image.open(...).convert("RGB").
//
// libjpeg and libpng report errors by calling a handler that must not return.
// The handlers here longjmp back into a function that holds only trivially
// destructible locals (no C++ object lives between setjmp and longjmp), which
// then returns a status; the C++ caller turns it into an exception. Output
// buffers are owned by the caller's frame and sized before decoding starts.
// jpeglib.h needs <cstdio> (FILE, size_t) first, jerror.h needs jpeglib.h.
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>

#include <new>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/preprocessors/image.h"

namespace optimum::preprocessors {

namespace {

// Outcome of one C-level decode.
enum DecodeStatus { kOk = 0, kCorrupt = 1, kTooLarge = 2, kNoMemory = 3, kUnsupported = 4 };

// What the C-level decoders fill in. Trivially destructible on purpose.
struct DecodeJob {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;                   // read cursor (PNG)
  int64_t max_pixels = 0;
  std::vector<uint8_t>* out = nullptr;  // owned by the caller's frame
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;     // bytes per pixel in *out (JPEG: 1, 3 or 4 for CMYK)
  int color_type = 0;   // PNG colour type
  int bit_depth = 0;    // PNG bit depth
  uint8_t palette[256 * 3] = {};
  int palette_size = 0;
  int transparent = 0;        // PNG tRNS as PIL keeps it: 1 palette index, 2 colour key
  int transparent_index = 0;
  int transparent_key[3] = {};
  char message[JMSG_LENGTH_MAX + 64] = {};
};

// Grows `out` to n bytes; false when that cannot be allocated.
bool reserve_output(DecodeJob* job, size_t n) {
  try {
    job->out->assign(n, 0);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  } catch (const std::length_error&) {
    return false;
  }
}

bool too_many_pixels(const DecodeJob* job, int64_t w, int64_t h) {
  return w > 0 && h > 0 && (w > job->max_pixels / h);
}

// ---------------------------------------------------------------------------
// JPEG (libjpeg-turbo)

struct JpegError {
  jpeg_error_mgr pub;  // first member: libjpeg casts cinfo->err to this
  jmp_buf jump;
  DecodeJob* job;
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  char buffer[JMSG_LENGTH_MAX] = {};
  (*cinfo->err->format_message)(cinfo, buffer);
  std::snprintf(err->job->message, sizeof err->job->message, "%s", buffer);
  longjmp(err->jump, 1);
}

// Warnings are silent, except the end of data before the image ends: PIL
// refuses a truncated JPEG ("image file is truncated"), so do we.
void jpeg_emit(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

void jpeg_silent(j_common_ptr) {}

int decode_jpeg_c(DecodeJob* job) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.emit_message = jpeg_emit;
  err.pub.output_message = jpeg_silent;
  err.job = job;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return kCorrupt;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(&cinfo, TRUE);
  job->width = cinfo.image_width;
  job->height = cinfo.image_height;
  if (too_many_pixels(job, job->width, job->height)) {
    jpeg_destroy_decompress(&cinfo);
    return kTooLarge;
  }
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  jpeg_start_decompress(&cinfo);
  job->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(cinfo.output_width) * static_cast<size_t>(cinfo.output_components);
  if (!reserve_output(job, stride * cinfo.output_height)) {
    jpeg_destroy_decompress(&cinfo);
    return kNoMemory;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = job->out->data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return kOk;
}

// ---------------------------------------------------------------------------
// PNG (libpng)

void png_fail(png_structp png, png_const_charp message) {
  auto* job = static_cast<DecodeJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof job->message, "%s", message);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

void png_read_memory(png_structp png, png_bytep dst, png_size_t n) {
  auto* job = static_cast<DecodeJob*>(png_get_io_ptr(png));
  if (n > job->size - job->offset) png_error(png, "truncated file (unexpected end of data)");
  std::memcpy(dst, job->data + job->offset, n);
  job->offset += n;
}

// Reads the image in its own layout (bit depth and colour type kept; samples
// below 8 bits unpacked to one byte each), de-interlaced.
int decode_png_c(DecodeJob* job) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_fail, png_warn);
  if (png == nullptr) return kNoMemory;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return kNoMemory;
  }
  // Set after setjmp and read after a longjmp: volatile, or its value is indeterminate.
  png_bytep* volatile rows = nullptr;
  if (setjmp(png_jmpbuf(png))) {
    std::free(rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return kCorrupt;
  }
  png_set_read_fn(png, job, png_read_memory);
  png_read_info(png, info);
  job->width = png_get_image_width(png, info);
  job->height = png_get_image_height(png, info);
  job->color_type = png_get_color_type(png, info);
  job->bit_depth = png_get_bit_depth(png, info);
  if (too_many_pixels(job, job->width, job->height)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kTooLarge;
  }
  if (job->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp palette = nullptr;
    int n = 0;
    if (png_get_PLTE(png, info, &palette, &n) == 0 || n <= 0 || n > 256) png_error(png, "palette image without a valid PLTE chunk");
    for (int i = 0; i < n; ++i) {
      job->palette[3 * i] = palette[i].red;
      job->palette[3 * i + 1] = palette[i].green;
      job->palette[3 * i + 2] = palette[i].blue;
    }
    job->palette_size = n;
  }
  png_bytep trans_alpha = nullptr;
  int num_trans = 0;
  png_color_16p trans_color = nullptr;
  if (png_get_tRNS(png, info, &trans_alpha, &num_trans, &trans_color) != 0) {
    if (job->color_type == PNG_COLOR_TYPE_PALETTE && trans_alpha != nullptr) {
      // PIL keeps an index only when one entry is fully transparent and all others opaque.
      int zeros = 0, opaque = 0, index = 0;
      for (int i = 0; i < num_trans; ++i) {
        if (trans_alpha[i] == 0) {
          ++zeros;
          index = i;
        } else if (trans_alpha[i] == 255) {
          ++opaque;
        }
      }
      if (zeros == 1 && zeros + opaque == num_trans) {
        job->transparent = 1;
        job->transparent_index = index;
      }
    } else if (trans_color != nullptr && job->bit_depth >= 2 && job->bit_depth <= 8) {
      // Gray below 8 bits: PIL keeps the raw sample value, unscaled, as the key.
      if (job->color_type == PNG_COLOR_TYPE_GRAY) {
        job->transparent = 2;
        job->transparent_key[0] = job->transparent_key[1] = job->transparent_key[2] = trans_color->gray;
      } else if (job->color_type == PNG_COLOR_TYPE_RGB) {
        job->transparent = 2;
        job->transparent_key[0] = trans_color->red;
        job->transparent_key[1] = trans_color->green;
        job->transparent_key[2] = trans_color->blue;
      }
    }
  }
  if (job->bit_depth < 8) png_set_packing(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t stride = png_get_rowbytes(png, info);
  const size_t height = static_cast<size_t>(job->height);
  if (stride == 0 || stride > SIZE_MAX / height || !reserve_output(job, stride * height)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kNoMemory;
  }
  rows = static_cast<png_bytep*>(std::malloc(height * sizeof(png_bytep)));
  if (rows == nullptr) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kNoMemory;
  }
  for (size_t y = 0; y < height; ++y) rows[y] = job->out->data() + y * stride;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
  return kOk;
}

// ---------------------------------------------------------------------------

[[noreturn]] void throw_status(int status, const DecodeJob& job, const std::string& source, const char* format,
                               const DecodeOptions& options) {
  switch (status) {
    case kTooLarge:
      throw InvalidArgument(source + ": image size " + std::to_string(job.width) + "x" + std::to_string(job.height) +
                            " (" + std::to_string(job.width * job.height) + " pixels) exceeds the limit of " +
                            std::to_string(options.max_pixels) + " pixels (possible decompression bomb)");
    case kNoMemory:
      throw InvalidArgument(source + ": cannot allocate the pixels of a " + std::to_string(job.width) + "x" +
                            std::to_string(job.height) + " " + format + " image");
    case kUnsupported: throw Unsupported(source + ": " + job.message);
    default: throw FormatError(source + ": invalid or truncated " + format + " image: " + job.message);
  }
}

void check_dimensions(const DecodeJob& job, const std::string& source, const char* format) {
  if (job.width <= 0 || job.height <= 0) {
    throw FormatError(source + ": " + format + " image has an empty size " + std::to_string(job.width) + "x" +
                      std::to_string(job.height));
  }
}

Image jpeg_to_rgb(const uint8_t* data, size_t size, const std::string& source, const DecodeOptions& options) {
  std::vector<uint8_t> raw;
  DecodeJob job;
  job.data = data;
  job.size = size;
  job.max_pixels = options.max_pixels;
  job.out = &raw;
  const int status = decode_jpeg_c(&job);
  if (status != kOk) throw_status(status, job, source, "JPEG", options);
  check_dimensions(job, source, "JPEG");
  Image img;
  img.width = job.width;
  img.height = job.height;
  const size_t n = static_cast<size_t>(img.width * img.height);
  if (job.channels == 3) {
    img.pixels = std::move(raw);
    return img;
  }
  img.pixels.resize(n * 3);
  uint8_t* o = img.pixels.data();
  if (job.channels == 1) {
    for (size_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = raw[i];
  } else {
    // PIL reads CMYK JPEGs inverted (Adobe's convention, rawmode "CMYK;I") and
    // converts CMYK to RGB as (255 - k) - (c * (255 - k)) / 255, rounded.
    auto muldiv255 = [](int a, int b) {
      const int t = a * b + 128;
      return ((t >> 8) + t) >> 8;
    };
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* p = &raw[4 * i];
      const int nk = p[3];  // 255 - k, with the inversion
      for (int c = 0; c < 3; ++c) o[3 * i + c] = static_cast<uint8_t>(nk - muldiv255(255 - p[c], nk));
    }
  }
  return img;
}

Image png_to_rgb(const uint8_t* data, size_t size, const std::string& source, const DecodeOptions& options) {
  std::vector<uint8_t> raw;
  DecodeJob job;
  job.data = data;
  job.size = size;
  job.max_pixels = options.max_pixels;
  job.out = &raw;
  const int status = decode_png_c(&job);
  if (status != kOk) throw_status(status, job, source, "PNG", options);
  check_dimensions(job, source, "PNG");
  Image img;
  img.width = job.width;
  img.height = job.height;
  const size_t n = static_cast<size_t>(img.width * img.height);
  img.pixels.resize(n * 3);
  uint8_t* o = img.pixels.data();
  const int bytes = job.bit_depth == 16 ? 2 : 1;
  const uint8_t* in = raw.data();
  switch (job.color_type) {
    case PNG_COLOR_TYPE_GRAY: {
      if (job.bit_depth == 16) {
        // PIL opens 16-bit gray as "I;16" and its conversion to RGB clips at 255.
        for (size_t i = 0; i < n; ++i) {
          const int v = (in[2 * i] << 8) | in[2 * i + 1];
          o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = static_cast<uint8_t>(v > 255 ? 255 : v);
        }
      } else {
        const int scale = job.bit_depth == 1 ? 255 : job.bit_depth == 2 ? 85 : job.bit_depth == 4 ? 17 : 1;
        for (size_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = static_cast<uint8_t>(in[i] * scale);
      }
      break;
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      for (size_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = in[2 * bytes * i];
      break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const int per_pixel = (job.color_type == PNG_COLOR_TYPE_RGB ? 3 : 4) * bytes;
      for (size_t i = 0; i < n; ++i) {
        for (int c = 0; c < 3; ++c) o[3 * i + c] = in[per_pixel * i + c * bytes];
      }
      break;
    }
    case PNG_COLOR_TYPE_PALETTE:
      // An index past the palette reads as black (libpng pads PLTE with zeros).
      for (size_t i = 0; i < n; ++i) {
        const int idx = in[i];
        for (int c = 0; c < 3; ++c) o[3 * i + c] = idx < job.palette_size ? job.palette[3 * idx + c] : 0;
      }
      break;
    default: throw FormatError(source + ": PNG colour type " + std::to_string(job.color_type) + " is not valid");
  }
  if (job.transparent == 1) {
    const int i = job.transparent_index;
    img.transparent_rgb = i < job.palette_size ? std::array<uint8_t, 3>{job.palette[3 * i], job.palette[3 * i + 1],
                                                                        job.palette[3 * i + 2]}
                                               : std::array<uint8_t, 3>{0, 0, 0};
  } else if (job.transparent == 2 && job.transparent_key[0] < 256 && job.transparent_key[1] < 256 &&
             job.transparent_key[2] < 256) {
    img.transparent_rgb = std::array<uint8_t, 3>{static_cast<uint8_t>(job.transparent_key[0]),
                                                 static_cast<uint8_t>(job.transparent_key[1]),
                                                 static_cast<uint8_t>(job.transparent_key[2])};
  }
  return img;
}

Image webp_to_rgb(const uint8_t* data, size_t size, const std::string& source, const DecodeOptions& options) {
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(data, size, &features);
  if (status != VP8_STATUS_OK) {
    throw FormatError(source + ": invalid or truncated WebP image (libwebp status " + std::to_string(status) + ")");
  }
  if (features.has_animation) throw Unsupported(source + ": animated WebP images are not supported");
  DecodeJob job;
  job.max_pixels = options.max_pixels;
  job.width = features.width;
  job.height = features.height;
  check_dimensions(job, source, "WebP");
  if (too_many_pixels(&job, job.width, job.height)) throw_status(kTooLarge, job, source, "WebP", options);
  Image img;
  img.width = job.width;
  img.height = job.height;
  const size_t n = static_cast<size_t>(img.width * img.height);
  // PIL decodes to RGBA when the image has alpha and drops it in convert("RGB").
  const int channels = features.has_alpha ? 4 : 3;
  std::vector<uint8_t> raw(n * channels);
  const int stride = static_cast<int>(img.width) * channels;
  const uint8_t* ok = features.has_alpha ? WebPDecodeRGBAInto(data, size, raw.data(), raw.size(), stride)
                                         : WebPDecodeRGBInto(data, size, raw.data(), raw.size(), stride);
  if (ok == nullptr) throw FormatError(source + ": invalid or truncated WebP image (decoding failed)");
  if (channels == 3) {
    img.pixels = std::move(raw);
  } else {
    img.pixels.resize(n * 3);
    for (size_t i = 0; i < n; ++i) std::memcpy(&img.pixels[3 * i], &raw[4 * i], 3);
  }
  return img;
}

}  // namespace

ImageFormat detect_image_format(const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::kJpeg;
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return ImageFormat::kPng;
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  return ImageFormat::kUnknown;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& source, const DecodeOptions& options) {
  if (options.max_pixels <= 0) throw InvalidArgument(source + ": max_pixels must be positive");
  switch (detect_image_format(data, size)) {
    case ImageFormat::kJpeg: return jpeg_to_rgb(data, size, source, options);
    case ImageFormat::kPng: return png_to_rgb(data, size, source, options);
    case ImageFormat::kWebp: return webp_to_rgb(data, size, source, options);
    default: break;
  }
  throw FormatError(source + ": not a JPEG, PNG or WebP image (" + std::to_string(size) +
                    " bytes; unrecognized magic bytes)");
}

Image load_image(const std::filesystem::path& path, const DecodeOptions& options) {
  const std::string bytes = io::read_text_file(path, options.max_file_bytes);
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path.string(), options);
}

void composite_transparent_color(Image& image) {
  if (!image.transparent_rgb) return;
  const auto key = *image.transparent_rgb;
  const size_t n = image.pixels.size() / 3;
  for (size_t i = 0; i < n; ++i) {
    uint8_t* p = &image.pixels[3 * i];
    if (p[0] == key[0] && p[1] == key[1] && p[2] == key[2]) p[0] = p[1] = p[2] = 255;
  }
  image.transparent_rgb.reset();
}

Image image_from_pixels(const uint8_t* data, int64_t height, int64_t width, int64_t channels,
                        bool composite_alpha) {
  if (height <= 0 || width <= 0) {
    throw InvalidArgument("image array has an empty size " + std::to_string(height) + "x" + std::to_string(width));
  }
  if (channels != 1 && channels != 3 && channels != 4) {
    throw InvalidArgument("image array has " + std::to_string(channels) + " channels; expected 1, 3 or 4");
  }
  Image img;
  img.height = height;
  img.width = width;
  const size_t n = static_cast<size_t>(height * width);
  img.pixels.resize(n * 3);
  uint8_t* o = img.pixels.data();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = data + i * channels;
    if (channels == 1) {
      o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = p[0];
    } else if (channels == 4 && composite_alpha) {
      // transformers: round(alpha * rgb + (1 - alpha) * 255) in float64, alpha = a / 255.
      const double alpha = p[3] / 255.0;
      for (int c = 0; c < 3; ++c) {
        o[3 * i + c] = static_cast<uint8_t>(std::nearbyint(alpha * p[c] + (1.0 - alpha) * 255.0));
      }
    } else {
      std::memcpy(o + 3 * i, p, 3);
    }
  }
  return img;
}

}  // namespace optimum::preprocessors
