// Fuzz target: audio file bytes decoded by libsndfile (virtual I/O), then
// what decodes is resampled to 16 kHz (libsoxr) and run through a
// WhisperFeatureExtractor with a 1 s window, so the whole speech front end
// sees the decoded samples (NaN, inf and huge values included).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "optimum/preprocessors/audio.h"
#include "optimum/preprocessors/feature_extraction.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace optimum::preprocessors;
  static const WhisperFeatureExtractor extractor([] {
    WhisperFeatureExtractorConfig c;
    c.chunk_length = 1;
    return c;
  }());
  AudioLimits limits;
  limits.max_frames = int64_t{1} << 20;  // bounded work per input
  optimum::fuzz::accept_or_refuse([&] {
    const Audio audio =
        load_audio_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.wav", limits);
    optimum::fuzz::touch(audio.samples.data(), audio.samples.size() * sizeof(float));
    if (audio.samples.size() > 200'000) return;
    const std::vector<float> x = resample(audio.samples, audio.sample_rate, 16000, int64_t{1} << 20);
    FeatureExtractionOptions o;
    o.sampling_rate = 16000;
    const BatchFeatures f = extractor.extract({x}, o);
    optimum::fuzz::touch(f.input_features.raw(), f.input_features.nbytes());
  });
  return 0;
}
