// Audio decoding (libsndfile), resampling (libsoxr) and the Whisper log-mel
// features on inputs built here. Parity with soundfile, soxr/scipy and
// transformers is checked by tests/audio_processing/ against the real
// libraries; these cases pin the C++ API, the hostile-input refusals and
// properties that need no oracle.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/preprocessors/audio.h"
#include "optimum/preprocessors/feature_extraction.h"
#include "test_util.h"

namespace optimum::preprocessors {
namespace {

using test_util::throws_with;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>(v >> 8));
}

// A 16-bit PCM WAV; `declared_data` overrides the data chunk's size field.
std::string wav_int16(const std::vector<int16_t>& interleaved, uint16_t channels, uint32_t rate,
                      int64_t declared_data = -1) {
  const auto data_bytes = static_cast<uint32_t>(interleaved.size() * 2);
  std::string s = "RIFF";
  put_u32(s, 36 + data_bytes);
  s += "WAVEfmt ";
  put_u32(s, 16);
  put_u16(s, 1);  // PCM
  put_u16(s, channels);
  put_u32(s, rate);
  put_u32(s, rate * channels * 2u);
  put_u16(s, static_cast<uint16_t>(channels * 2));
  put_u16(s, 16);
  s += "data";
  put_u32(s, declared_data >= 0 ? static_cast<uint32_t>(declared_data) : data_bytes);
  for (const int16_t v : interleaved) put_u16(s, static_cast<uint16_t>(v));
  return s;
}

TEST(Audio, DecodesMonoInt16AsNormalizedFloat) {
  const std::vector<int16_t> pcm = {0, 16384, -16384, 32767, -32768};
  const Audio a = load_audio_bytes(wav_int16(pcm, 1, 8000));
  EXPECT_EQ(a.sample_rate, 8000);
  EXPECT_EQ(a.channels, 1);
  ASSERT_EQ(a.samples.size(), pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) EXPECT_FLOAT_EQ(a.samples[i], static_cast<float>(pcm[i]) / 32768.0f);
}

TEST(Audio, StereoIsMixedDownByTheMean) {
  const std::vector<int16_t> pcm = {16384, 0, -16384, -16384, 8192, 16384};
  const Audio a = load_audio_bytes(wav_int16(pcm, 2, 44100));
  EXPECT_EQ(a.channels, 2);
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.25f);
  EXPECT_FLOAT_EQ(a.samples[1], -0.5f);
  EXPECT_FLOAT_EQ(a.samples[2], 0.375f);
}

TEST(Audio, FileAndBytesAgree) {
  test_util::TempDir dir;
  const std::vector<int16_t> pcm = {1, 2, 3, -4, 5000};
  test_util::write_bytes(dir / "a.wav", wav_int16(pcm, 1, 16000));
  const Audio from_file = load_audio(dir / "a.wav");
  const Audio from_bytes = load_audio_bytes(wav_int16(pcm, 1, 16000));
  EXPECT_EQ(from_file.samples, from_bytes.samples);
}

TEST(Audio, HostileInputsAreRefusedNamingTheSource) {
  const std::string good = wav_int16({1, 2, 3, 4}, 1, 16000);
  EXPECT_TRUE(throws_with<FormatError>([] { load_audio_bytes("", "empty.wav"); }, {"empty.wav", "empty"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_audio_bytes(good.substr(0, 20), "cut.wav"); }, {"cut.wav"}));
  EXPECT_TRUE(throws_with<FormatError>([] { load_audio_bytes(std::string(1000, '\x7f'), "junk.bin"); },
                                       {"junk.bin"}));
  EXPECT_TRUE(throws_with<FormatError>([] { load_audio_bytes(wav_int16({1, 2}, 0, 16000), "zero.wav"); },
                                       {"zero.wav"}));
  AudioLimits small;
  small.max_frames = 2;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_audio_bytes(good, "long.wav", small); }, {"long.wav", "limit"}));
  test_util::TempDir dir;
  EXPECT_TRUE(throws_with<NotFound>([&] { load_audio(dir / "missing.wav"); }, {"missing.wav"}));
  EXPECT_TRUE(throws_with<Error>([&] { load_audio(dir.path()); }, {dir.path().string()}));
}

TEST(Audio, ADataChunkLongerThanTheFileDecodesWhatIsThere) {
  // libsndfile clamps the declared length to the bytes present (as soundfile reads it).
  const Audio a = load_audio_bytes(wav_int16({100, 200, 300}, 1, 16000, 0x7ffffff0));
  EXPECT_EQ(a.samples.size(), 3u);
}

TEST(Resample, LengthIsCeilOfTheRatioAndAToneSurvives) {
  const int from = 44100;
  const int to = 16000;
  std::vector<float> x(44100);
  const double pi = std::acos(-1.0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(2 * pi * 440.0 * i / from));
  const std::vector<float> y = resample(x, from, to);
  ASSERT_EQ(y.size(), 16000u);
  double err = 0;
  for (size_t i = 2000; i < 14000; ++i) err = std::max(err, std::abs(y[i] - 0.5 * std::sin(2 * pi * 440.0 * i / to)));
  EXPECT_LT(err, 1e-3);
  EXPECT_EQ(resample(x, 16000, 16000), x);
  EXPECT_EQ(resample(std::vector<float>(7), 8000, 16000).size(), 14u);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { resample(x, 0, 16000); }, {"0 Hz"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { resample(x, 1, 1'000'000, 1 << 20); }, {"limit"}));
}

TEST(MelFilterBank, SlaneyTrianglesHaveTheirPeaksInOrder) {
  const std::vector<double> bank = mel_filter_bank_slaney(201, 80, 0.0, 8000.0, 16000);
  ASSERT_EQ(bank.size(), 201u * 80u);
  int64_t previous_peak = -1;
  for (int64_t m = 0; m < 80; ++m) {
    int64_t peak = 0;
    for (int64_t b = 0; b < 201; ++b) {
      EXPECT_GE(bank[b * 80 + m], 0.0);
      if (bank[b * 80 + m] > bank[peak * 80 + m]) peak = b;
    }
    EXPECT_GE(peak, previous_peak);
    previous_peak = peak;
  }
}

WhisperFeatureExtractorConfig config_of(const std::string& json) {
  return WhisperFeatureExtractorConfig::from_json(io::Json::parse(json), "preprocessor_config.json");
}

TEST(WhisperFeatures, ShapeAndTheToneBin) {
  WhisperFeatureExtractor fe(config_of(R"({"feature_size": 80})"));
  std::vector<float> x(16000);
  const double pi = std::acos(-1.0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(2 * pi * 1000.0 * i / 16000));
  FeatureExtractionOptions o;
  o.sampling_rate = 16000;
  o.return_attention_mask = true;
  const BatchFeatures f = fe.extract({x}, o);
  ASSERT_EQ(f.input_features.shape(), (Shape{1, 80, 3000}));
  ASSERT_EQ(f.attention_mask.shape(), (Shape{1, 3000}));
  const int32_t* mask = f.attention_mask.data<int32_t>();
  EXPECT_EQ(mask[99], 1);
  EXPECT_EQ(mask[100], 0);
  // Values lie in [max - 2, max] after the floor and the (x + 4) / 4 scaling.
  const float* v = f.input_features.data<float>();
  float hi = -1e9f;
  float lo = 1e9f;
  for (int64_t i = 0; i < f.input_features.numel(); ++i) {
    hi = std::max(hi, v[i]);
    lo = std::min(lo, v[i]);
  }
  EXPECT_NEAR(hi - lo, 2.0f, 1e-5f);
  // The loudest mel bin in a middle frame holds 1000 Hz (bin 25 of 201).
  const std::vector<double> bank = mel_filter_bank_slaney(201, 80, 0.0, 8000.0, 16000);
  int64_t best = 0;
  for (int64_t m = 0; m < 80; ++m) {
    if (v[m * 3000 + 50] > v[best * 3000 + 50]) best = m;
  }
  EXPECT_GT(bank[25 * 80 + best], 0.0);
}

TEST(WhisperFeatures, SamplingRateAndConfigErrorsNameTheirValues) {
  WhisperFeatureExtractor fe(config_of("{}"));
  FeatureExtractionOptions o;
  o.sampling_rate = 44100;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { fe.extract({std::vector<float>(100)}, o); }, {"16000", "44100"}));
  EXPECT_TRUE(throws_with<FormatError>([] { config_of(R"({"feature_size": "80"})"); },
                                       {"preprocessor_config.json", "feature_size"}));
  EXPECT_TRUE(throws_with<FormatError>([] { config_of(R"({"hop_length": 0})"); }, {"hop_length", "0"}));
  EXPECT_TRUE(throws_with<FormatError>([] { config_of(R"({"n_fft": 1e9})"); }, {"n_fft"}));
  EXPECT_TRUE(throws_with<FormatError>([] { config_of(R"({"padding_side": "up"})"); }, {"padding_side"}));
  FeatureExtractionOptions longest;
  longest.padding = Padding::kLongest;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { fe.extract({std::vector<float>(150)}, longest); }, {"150"}));
}

TEST(AutoFeatureExtractor, DispatchesOnTheTypeAndNamesAnUnknownOne) {
  test_util::TempDir dir;
  test_util::write_bytes(dir / "preprocessor_config.json",
                         R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128})");
  const auto fe = load_feature_extractor(dir.path());
  EXPECT_EQ(fe->type(), "WhisperFeatureExtractor");
  EXPECT_EQ(std::dynamic_pointer_cast<WhisperFeatureExtractor>(fe)->config().feature_size, 128);
  test_util::write_bytes(dir / "preprocessor_config.json", R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor"})");
  EXPECT_TRUE(throws_with<Unsupported>([&] { load_feature_extractor(dir.path()); }, {"Wav2Vec2FeatureExtractor"}));
  test_util::write_bytes(dir / "preprocessor_config.json", R"({"feature_size": 80})");
  EXPECT_TRUE(throws_with<Unsupported>([&] { load_feature_extractor(dir.path()); }, {"feature_extractor_type"}));
  test_util::write_bytes(dir / "config.json", R"({"model_type": "whisper"})");
  EXPECT_EQ(load_feature_extractor(dir.path())->type(), "WhisperFeatureExtractor");
  test_util::TempDir empty;
  EXPECT_TRUE(throws_with<NotFound>([&] { load_feature_extractor(empty.path()); }, {"preprocessor_config.json"}));
}

}  // namespace
}  // namespace optimum::preprocessors
