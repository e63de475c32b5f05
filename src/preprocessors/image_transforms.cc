// PIL's resize (the semantics of Pillow 13's Resample.c / Geometry.c,
// re-implemented) and
// transformers' center_crop on RGB images.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/image.h"

namespace optimum::preprocessors {

namespace {

// Fixed-point coefficients: 8 bits of result, 2 of headroom for the negative
// lobes of bicubic and lanczos, as PIL.
constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  // PIL's constants are floats (0.54f, 0.46f); keep them so, bit for bit.
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filter_of(Resample r) {
  switch (r) {
    case Resample::kBox: return {box_filter, 0.5};
    case Resample::kBilinear: return {bilinear_filter, 1.0};
    case Resample::kHamming: return {hamming_filter, 1.0};
    case Resample::kBicubic: return {bicubic_filter, 2.0};
    case Resample::kLanczos: return {lanczos_filter, 3.0};
    case Resample::kNearest: break;
  }
  throw InvalidArgument("resample filter " + std::to_string(static_cast<int>(r)) + " has no convolution kernel");
}

// For each output position: first input index, count, and ksize fixed-point weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

Coefficients precompute(int64_t in_size, int64_t out_size, const Filter& filter) {
  // PIL passes the box as floats: (0, 0, in_w, in_h).
  const double scale = static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    int32_t* out = &c.weights[xx * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = k[x] * (1 << kPrecisionBits);
      out[x] = static_cast<int32_t>(k[x] < 0 ? -0.5 + v : 0.5 + v);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + rows) of `in` resampled horizontally to c.first.size() columns.
Image resample_horizontal(const Image& in, int64_t row0, int64_t rows, const Coefficients& c) {
  Image out;
  out.width = static_cast<int64_t>(c.first.size());
  out.height = rows;
  out.pixels.resize(static_cast<size_t>(out.width * out.height * 3));
  for (int64_t yy = 0; yy < rows; ++yy) {
    const uint8_t* src = in.row(yy + row0);
    uint8_t* dst = out.row(yy);
    for (int64_t xx = 0; xx < out.width; ++xx) {
      const int32_t* k = &c.weights[xx * c.ksize];
      const uint8_t* p = src + 3 * c.first[xx];
      int s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x) {
        s0 += p[3 * x] * k[x];
        s1 += p[3 * x + 1] * k[x];
        s2 += p[3 * x + 2] * k[x];
      }
      dst[3 * xx] = clip8(s0);
      dst[3 * xx + 1] = clip8(s1);
      dst[3 * xx + 2] = clip8(s2);
    }
  }
  return out;
}

// `in` resampled vertically; c.first is relative to in's first row minus `shift`.
Image resample_vertical(const Image& in, const Coefficients& c, int shift) {
  Image out;
  out.width = in.width;
  out.height = static_cast<int64_t>(c.first.size());
  out.pixels.resize(static_cast<size_t>(out.width * out.height * 3));
  const int64_t stride = in.width * 3;
  for (int64_t yy = 0; yy < out.height; ++yy) {
    const int32_t* k = &c.weights[yy * c.ksize];
    const uint8_t* base = in.row(c.first[yy] - shift);
    uint8_t* dst = out.row(yy);
    for (int64_t i = 0; i < stride; ++i) {
      int s = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) s += base[y * stride + i] * k[y];
      dst[i] = clip8(s);
    }
  }
  return out;
}

// PIL's COORD(): truncation, with anything negative as -1.
inline int coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

Image resize_nearest(const Image& in, int64_t height, int64_t width) {
  const double ax = static_cast<double>(static_cast<float>(in.width)) / static_cast<double>(width);
  const double ay = static_cast<double>(static_cast<float>(in.height)) / static_cast<double>(height);
  std::vector<int> xin(width, -1);
  double xo = ax * 0.5;
  for (int64_t x = 0; x < width; ++x) {
    const int v = coord(xo);
    if (v >= 0 && v < in.width) xin[x] = v;
    xo += ax;
  }
  Image out;
  out.width = width;
  out.height = height;
  out.pixels.assign(static_cast<size_t>(width * height * 3), 0);
  double yo = ay * 0.5;
  for (int64_t y = 0; y < height; ++y) {
    const int yi = coord(yo);
    if (yi >= 0 && yi < in.height) {
      const uint8_t* src = in.row(yi);
      uint8_t* dst = out.row(y);
      for (int64_t x = 0; x < width; ++x) {
        if (xin[x] >= 0) std::memcpy(dst + 3 * x, src + 3 * xin[x], 3);
      }
    }
    yo += ay;
  }
  return out;
}

// Python's floor division.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Resample resample_from_id(int64_t id, const std::string& field) {
  if (id < 0 || id > 5) {
    throw InvalidArgument(field + ": resample " + std::to_string(id) +
                          " is not a PIL filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
  }
  return static_cast<Resample>(id);
}

Image resize(const Image& image, int64_t height, int64_t width, Resample resample) {
  if (height <= 0 || width <= 0) {
    throw InvalidArgument("resize: target size " + std::to_string(height) + "x" + std::to_string(width) +
                          " must be positive");
  }
  // Bounded as the decoders are: PIL itself would allocate the result.
  if (width > (int64_t{1} << 20) || height > (int64_t{1} << 20) || width * height > 2 * kPilMaxImagePixels) {
    throw InvalidArgument("resize: target size " + std::to_string(height) + "x" + std::to_string(width) +
                          " is too large");
  }
  if (image.width <= 0 || image.height <= 0) throw InvalidArgument("resize: the image is empty");
  if (height == image.height && width == image.width) return image;
  if (resample == Resample::kNearest) return resize_nearest(image, height, width);
  const Filter filter = filter_of(resample);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  const Coefficients vert = precompute(image.height, height, filter);
  if (!need_horizontal) return resample_vertical(image, vert, 0);
  const Coefficients horiz = precompute(image.width, width, filter);
  if (!need_vertical) return resample_horizontal(image, 0, image.height, horiz);
  // Pillow >= 13 runs the vertical pass first when the height shrinks by more
  // than twice as many pixels as the width; the order changes the rounding.
  const int64_t dh = image.height - height, dw = image.width - width;
  if (dh > 0 && dh > dw * 2) {
    const Image tmp = resample_vertical(image, vert, 0);
    return resample_horizontal(tmp, 0, tmp.height, horiz);
  }
  // Horizontal first, over the input rows the vertical pass reads only.
  const int first_row = vert.first.front();
  const int last_row = vert.first.back() + vert.count.back();
  const Image tmp = resample_horizontal(image, first_row, last_row - first_row, horiz);
  return resample_vertical(tmp, vert, first_row);
}

Image center_crop(const Image& image, int64_t height, int64_t width) {
  if (height <= 0 || width <= 0) {
    throw InvalidArgument("center_crop: crop size " + std::to_string(height) + "x" + std::to_string(width) +
                          " must be positive");
  }
  if (width > (int64_t{1} << 20) || height > (int64_t{1} << 20) || width * height > 2 * kPilMaxImagePixels) {
    throw InvalidArgument("center_crop: crop size " + std::to_string(height) + "x" + std::to_string(width) +
                          " is too large");
  }
  // transformers pads a too-small image with zeros, centered with ceil((new - old) / 2)
  // before; the crop window is then always height x width.
  const int64_t new_h = std::max(height, image.height);
  const int64_t new_w = std::max(width, image.width);
  const int64_t top_pad = (new_h - image.height + 1) / 2;
  const int64_t left_pad = (new_w - image.width + 1) / 2;
  const int64_t top = floor_div(image.height - height, 2) + top_pad;
  const int64_t left = floor_div(image.width - width, 2) + left_pad;
  Image out;
  out.height = height;
  out.width = width;
  out.pixels.assign(static_cast<size_t>(height * width * 3), 0);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = y + top - top_pad;  // row in the unpadded image
    if (sy < 0 || sy >= image.height) continue;
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sx = x + left - left_pad;
      if (sx < 0 || sx >= image.width) continue;
      std::memcpy(out.row(y) + 3 * x, image.row(sy) + 3 * sx, 3);
    }
  }
  return out;
}

}  // namespace optimum::preprocessors
