// Fuzz target: JPEG / PNG / WebP decoding (decode_image, the C libraries'
// error paths included) and, on a decoded image, PIL-style resize with a
// filter and size taken from the input, and transformers' center crop.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "optimum/preprocessors/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace optimum::preprocessors;
  optimum::fuzz::accept_or_refuse([&] {
    DecodeOptions options;
    options.max_pixels = int64_t{1} << 22;  // bounded work per input
    const Image img = decode_image(data, size, "fuzz input", options);
    optimum::fuzz::touch(img.pixels.data(), img.pixels.size());
    if (img.pixels.size() != static_cast<size_t>(img.width * img.height * 3)) __builtin_trap();
    const uint8_t a = size > 0 ? data[size - 1] : 0;
    const auto filter = static_cast<Resample>(a % 6);
    const Image small = resize(img, 1 + a % 13, 1 + (a / 13) % 17, filter);
    optimum::fuzz::touch(small.pixels.data(), small.pixels.size());
    const Image crop = center_crop(small, 1 + a % 7, 1 + a % 5);
    optimum::fuzz::touch(crop.pixels.data(), crop.pixels.size());
  });
  return 0;
}
