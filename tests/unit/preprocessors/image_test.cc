// Image decoding, PIL-style resize, center crop and the image processor
// config, on PNGs written here byte by byte (stored deflate blocks, so the
// expected pixels are exactly the bytes written). Parity with Pillow and
// transformers on real files is tests/image_processing/.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/image.h"
#include "optimum/preprocessors/image_processor.h"

using namespace optimum;
using namespace optimum::preprocessors;

namespace {

uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

void put32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string chunk(const std::string& type, const std::string& data) {
  std::string out;
  put32(out, static_cast<uint32_t>(data.size()));
  out += type + data;
  put32(out, crc32(type + data));
  return out;
}

// A zlib stream of one stored (uncompressed) deflate block.
std::string zlib_stored(const std::string& raw) {
  std::string out = "\x78\x01";
  out.push_back('\x01');  // final stored block
  const auto n = static_cast<uint16_t>(raw.size());
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(~n & 0xff));
  out.push_back(static_cast<char>((~n >> 8) & 0xff));
  out += raw;
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put32(out, (b << 16) | a);
  return out;
}

// A PNG of `rows` (each with its filter byte) as given.
std::string make_png(uint32_t w, uint32_t h, int color_type, int bit_depth, const std::string& rows,
                     const std::string& plte = "", const std::string& trns = "") {
  std::string ihdr;
  put32(ihdr, w);
  put32(ihdr, h);
  ihdr += {static_cast<char>(bit_depth), static_cast<char>(color_type), 0, 0, 0};
  std::string png = "\x89PNG\r\n\x1a\n" + chunk("IHDR", ihdr);
  if (!plte.empty()) png += chunk("PLTE", plte);
  if (!trns.empty()) png += chunk("tRNS", trns);
  return png + chunk("IDAT", zlib_stored(rows)) + chunk("IEND", "");
}

Image decode(const std::string& bytes, const DecodeOptions& options = {}) {
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.png", options);
}

std::string raw(std::initializer_list<int> v) {
  std::string s;
  for (int x : v) s.push_back(static_cast<char>(x));
  return s;
}

Image solid(int64_t h, int64_t w, std::vector<uint8_t> pixels) {
  Image img;
  img.height = h;
  img.width = w;
  img.pixels = std::move(pixels);
  return img;
}

}  // namespace

TEST(ImageDecode, RgbRgbaGrayPalette) {
  // 2x1 RGB, 8-bit.
  Image a = decode(make_png(2, 1, 2, 8, raw({0, 1, 2, 3, 250, 251, 252})));
  EXPECT_EQ(a.width, 2);
  EXPECT_EQ(a.height, 1);
  EXPECT_EQ(a.pixels, (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
  // RGBA: alpha dropped.
  Image b = decode(make_png(1, 1, 6, 8, raw({0, 9, 8, 7, 0})));
  EXPECT_EQ(b.pixels, (std::vector<uint8_t>{9, 8, 7}));
  // 16-bit RGB keeps the high byte.
  Image c = decode(make_png(1, 1, 2, 16, raw({0, 0x12, 0xff, 0x34, 0x00, 0x56, 0x80})));
  EXPECT_EQ(c.pixels, (std::vector<uint8_t>{0x12, 0x34, 0x56}));
  // 16-bit gray is clipped at 255 (PIL's I;16 -> RGB).
  Image d = decode(make_png(2, 1, 0, 16, raw({0, 0x00, 0x7f, 0x01, 0x00})));
  EXPECT_EQ(d.pixels, (std::vector<uint8_t>{127, 127, 127, 255, 255, 255}));
  // 2-bit gray scaled to 0, 85, 170, 255.
  Image e = decode(make_png(4, 1, 0, 2, raw({0, 0b00011011})));
  EXPECT_EQ(e.pixels, (std::vector<uint8_t>{0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255}));
  // Palette, with one index past the palette (black), and a simple tRNS kept as the key.
  Image f = decode(make_png(3, 1, 3, 8, raw({0, 1, 0, 7}), raw({10, 20, 30, 40, 50, 60}), raw({255, 0})));
  EXPECT_EQ(f.pixels, (std::vector<uint8_t>{40, 50, 60, 10, 20, 30, 0, 0, 0}));
  ASSERT_TRUE(f.transparent_rgb.has_value());
  EXPECT_EQ(*f.transparent_rgb, (std::array<uint8_t, 3>{40, 50, 60}));
  composite_transparent_color(f);
  EXPECT_EQ(f.pixels, (std::vector<uint8_t>{255, 255, 255, 10, 20, 30, 0, 0, 0}));
}

TEST(ImageDecode, HostileInputsGiveClearErrors) {
  const std::string good = make_png(2, 1, 2, 8, raw({0, 1, 2, 3, 4, 5, 6}));
  for (size_t cut : {size_t{8}, size_t{20}, good.size() / 2, good.size() - 13}) {
    EXPECT_THROW(decode(good.substr(0, cut)), FormatError) << cut;
  }
  try {
    decode("not an image at all");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("test.png"), std::string::npos);
  }
  EXPECT_THROW(decode(""), FormatError);
  // Declared 100000x100000: refused before allocating, naming the size.
  try {
    decode(make_png(100000, 100000, 2, 8, raw({0})));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("100000x100000"), std::string::npos) << e.what();
  }
  DecodeOptions small;
  small.max_pixels = 1;
  EXPECT_THROW(decode(good, small), InvalidArgument);
  EXPECT_THROW(decode(make_png(0, 0, 2, 8, "")), FormatError);
  EXPECT_THROW(decode(make_png(1, 1, 3, 8, raw({0, 0}))), FormatError);                    // no PLTE
  EXPECT_THROW(decode(make_png(1, 1, 3, 8, raw({0, 0}), raw({1, 2, 3, 4}))), FormatError);  // PLTE of 4 bytes
  EXPECT_THROW(decode(make_png(1, 1, 2, 3, raw({0, 0}))), FormatError);                    // bit depth 3
  std::string bad_crc = good;
  bad_crc[30] ^= 0x55;
  EXPECT_THROW(decode(bad_crc), FormatError);
  // JPEG and WebP magic with nothing behind it.
  EXPECT_THROW(decode(raw({0xff, 0xd8, 0xff, 0xe0, 0, 16})), FormatError);
  EXPECT_THROW(decode(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)), FormatError);
  EXPECT_THROW(load_image("/nonexistent/dir/x.png"), NotFound);
}

TEST(ImageTransforms, ResizeBoxNearestAndCrop) {
  // Box downscale by 2 averages each 2x2 block (rounded half up).
  std::vector<uint8_t> px;
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      const auto v = static_cast<uint8_t>(10 * (y * 4 + x));
      px.insert(px.end(), {v, static_cast<uint8_t>(v + 1), 200});
    }
  }
  const Image src = solid(2, 4, px);
  const Image box = resize(src, 1, 2, Resample::kBox);
  ASSERT_EQ(box.pixels.size(), 6u);
  EXPECT_EQ(box.pixels[0], 25);  // (0 + 10 + 40 + 50) / 4
  EXPECT_EQ(box.pixels[3], 45);  // (20 + 30 + 60 + 70) / 4
  EXPECT_EQ(box.pixels[2], 200);
  // Every filter keeps a constant image constant, up and down.
  const Image flat = solid(3, 5, std::vector<uint8_t>(45, 77));
  for (int f = 0; f <= 5; ++f) {
    for (auto [h, w] : {std::pair{7, 2}, std::pair{1, 1}, std::pair{9, 11}}) {
      const Image r = resize(flat, h, w, static_cast<Resample>(f));
      EXPECT_EQ(r.pixels, std::vector<uint8_t>(static_cast<size_t>(h * w * 3), 77)) << f << " " << h << "x" << w;
    }
  }
  // Nearest 2x upscale repeats pixels.
  const Image two = solid(1, 2, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(resize(two, 2, 4, Resample::kNearest).pixels,
            (std::vector<uint8_t>{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
  EXPECT_THROW(resize(two, 0, 4, Resample::kBilinear), InvalidArgument);
  EXPECT_THROW(resample_from_id(9, "resample"), InvalidArgument);
  // Center crop: the centered window; where the image is smaller, zero padding
  // centered with ceil((crop - size) / 2) before, as transformers pads.
  const Image row = solid(1, 3, {1, 1, 1, 2, 2, 2, 3, 3, 3});
  EXPECT_EQ(center_crop(row, 1, 1).pixels, (std::vector<uint8_t>{2, 2, 2}));
  const Image padded = center_crop(row, 2, 4);
  EXPECT_EQ(padded.pixels, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                                 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
}

TEST(ImageProcessor, ConfigDispatchDefaultsAndPixelValues) {
  const auto vit = ImageProcessor::from_config(io::Json::parse(R"({"feature_extractor_type": "ViTFeatureExtractor",
      "size": 4, "resample": 0, "image_mean": 0.5, "image_std": [0.5, 0.25, 1.0]})"), "cfg");
  EXPECT_EQ(vit.config().image_processor_type, "ViTImageProcessor");
  EXPECT_EQ(*vit.config().size.height, 4);
  const Image img = solid(2, 2, {0, 0, 0, 255, 255, 255, 51, 51, 51, 102, 102, 102});
  const Tensor t = vit.preprocess({img, img});
  ASSERT_EQ(t.shape(), (Shape{2, 3, 4, 4}));
  const float* v = t.data<float>();
  EXPECT_FLOAT_EQ(v[0], -1.0f);                  // (0 - 0.5) / 0.5
  EXPECT_FLOAT_EQ(v[16 + 2], (1.0f - 0.5f) / 0.25f);  // channel 1, pixel (0, 2) is 255
  // CLIP: shortest edge then crop; ConvNeXt below 384 resizes to se / crop_pct then crops.
  const auto clip = ImageProcessor::from_config(
      io::Json::parse(R"({"image_processor_type": "CLIPImageProcessorPil", "size": {"shortest_edge": 6},
                          "crop_size": 5})"), "cfg");
  EXPECT_TRUE(clip.config().do_center_crop);
  const Image wide = solid(2, 6, std::vector<uint8_t>(36, 9));
  EXPECT_EQ(clip.transform(wide).height, 5);
  EXPECT_EQ(clip.transform(wide).width, 5);
  const auto convnext = ImageProcessor::from_config(
      io::Json::parse(R"({"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 8}})"), "cfg");
  EXPECT_EQ(convnext.transform(wide).height, 8);
  // Errors name the file and the field.
  try {
    ImageProcessor::from_config(io::Json::parse(R"({"image_processor_type": "SamImageProcessor"})"), "pc.json");
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("pc.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("SamImageProcessor"), std::string::npos);
  }
  EXPECT_THROW(ImageProcessor::from_config(io::Json::parse(R"({"size": 3})"), "pc.json"), FormatError);
  EXPECT_THROW(ImageProcessor::from_config(
                   io::Json::parse(R"({"image_processor_type": "ViTImageProcessor", "size": -3})"), "pc.json"),
               FormatError);
  EXPECT_THROW(ImageProcessor::from_config(
                   io::Json::parse(R"({"image_processor_type": "ViTImageProcessor", "do_resize": "yes"})"), "pc.json"),
               FormatError);
  EXPECT_THROW(vit.preprocess({}), InvalidArgument);
  const auto no_resize = ImageProcessor::from_config(
      io::Json::parse(R"({"image_processor_type": "ViTImageProcessor", "do_resize": false})"), "cfg");
  EXPECT_THROW(no_resize.preprocess({img, wide}), InvalidArgument);
}
