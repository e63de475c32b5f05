// Speech feature extractors driven by preprocessor_config.json, as
// transformers reads it, and AutoFeatureExtractor's dispatch on
// "feature_extractor_type".
//
// WhisperFeatureExtractor: pad/truncate to chunk_length * sampling_rate
// samples, STFT (periodic Hann window, n_fft, hop_length, centered with
// reflect padding, as torch.stft), power spectrum, the Slaney mel filter bank
// of transformers' mel_filter_bank(norm="slaney", mel_scale="slaney", 0 to
// 8000 Hz), log10 clamped at 1e-10, floored at the item's max - 8,
// (x + 4) / 4, the last frame dropped. FFT: FFTW's double-precision r2c,
// planned once per extractor (planning under a lock: it is not thread-safe).
// The spectrum is computed in float64 (torch's float32 STFT is off the exact
// result by up to ~7e-5 on these features; a float32 FFT here doubled the
// gap to transformers past 1e-4 on chirps), the output is float32.
// A mismatched sampling rate is refused, as transformers does; resample first
// (preprocessors::resample in audio.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"

namespace optimum::preprocessors {

// transformers' PaddingStrategy for sequence feature extractors.
enum class Padding {
  kLongest,    // to the longest item of the batch ("longest" / True)
  kMaxLength,  // to max_length ("max_length", Whisper's default)
  kDoNotPad,   // none ("do_not_pad" / False): every item must then have the same length
};

// Parses "longest", "max_length", "do_not_pad"; InvalidArgument naming the value otherwise.
Padding padding_from_name(const std::string& name);

// One call's options, named and defaulted as WhisperFeatureExtractor.__call__'s.
struct FeatureExtractionOptions {
  Padding padding = Padding::kMaxLength;
  std::optional<int64_t> max_length;          // default: chunk_length * sampling_rate
  bool truncation = true;                     // cut items longer than max_length
  std::optional<int64_t> pad_to_multiple_of;  // rounds max_length up
  // None: the config's return_attention_mask. As in transformers, the mask is
  // per frame only when this is true; a mask that only the config (or
  // do_normalize) asked for stays per sample.
  std::optional<bool> return_attention_mask;
  std::optional<int64_t> sampling_rate;       // checked against the extractor's when given
  std::optional<bool> do_normalize;           // zero-mean unit-variance per item over its samples
};

// Model inputs of one batch.
struct BatchFeatures {
  Tensor input_features;  // F32 [batch, feature_size, frames]
  Tensor attention_mask;  // I32 [batch, frames] (or [batch, samples], see above); undefined when not asked
};

// A feature extractor loaded from a model folder.
class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // transformers' class name ("WhisperFeatureExtractor").
  virtual std::string type() const = 0;
  // Rate the model was trained at; inputs must be at it.
  virtual int64_t sampling_rate() const = 0;
  // Features of a batch of mono float32 waveforms.
  virtual BatchFeatures extract(const std::vector<std::span<const float>>& batch,
                                const FeatureExtractionOptions& options = {}) const = 0;
};

// preprocessor_config.json's fields of WhisperFeatureExtractor (transformers' defaults).
struct WhisperFeatureExtractorConfig {
  int64_t feature_size = 80;  // mel bins (80, or 128 for large-v3)
  int64_t sampling_rate = 16000;
  int64_t hop_length = 160;
  int64_t chunk_length = 30;  // seconds: inputs are padded/cut to chunk_length * sampling_rate
  int64_t n_fft = 400;
  float padding_value = 0.0f;
  double dither = 0.0;  // std of Gaussian noise added to the waveform (0: none)
  bool return_attention_mask = false;
  std::string padding_side = "right";  // or "left"

  // Reads the fields from a parsed config; FormatError naming `source` and the field when one has the
  // wrong type or is out of range. Unknown keys are ignored, as transformers keeps them as attributes.
  static WhisperFeatureExtractorConfig from_json(const io::Json& json, const std::string& source);
};

// transformers' audio_utils.mel_filter_bank(num_frequency_bins, num_mel_filters,
// min_frequency, max_frequency, sampling_rate, norm="slaney", mel_scale="slaney")
// in float64, row-major [num_frequency_bins, num_mel_filters].
std::vector<double> mel_filter_bank_slaney(int64_t num_frequency_bins, int64_t num_mel_filters, double min_frequency,
                                           double max_frequency, int64_t sampling_rate);

class WhisperFeatureExtractor : public FeatureExtractor {
 public:
  explicit WhisperFeatureExtractor(const WhisperFeatureExtractorConfig& config);
  ~WhisperFeatureExtractor() override;
  WhisperFeatureExtractor(const WhisperFeatureExtractor&) = delete;
  WhisperFeatureExtractor& operator=(const WhisperFeatureExtractor&) = delete;

  // Loads preprocessor_config.json from a folder (or a config file's path), as from_pretrained does.
  static std::shared_ptr<WhisperFeatureExtractor> from_pretrained(const std::filesystem::path& path);

  std::string type() const override { return "WhisperFeatureExtractor"; }
  int64_t sampling_rate() const override { return config_.sampling_rate; }
  BatchFeatures extract(const std::vector<std::span<const float>>& batch,
                        const FeatureExtractionOptions& options = {}) const override;
  const WhisperFeatureExtractorConfig& config() const { return config_; }
  // chunk_length * sampling_rate.
  int64_t n_samples() const { return config_.chunk_length * config_.sampling_rate; }

  // Log-mel features of one padded waveform, [feature_size, frames] row-major.
  std::vector<float> log_mel(std::span<const float> waveform) const;

 private:
  struct Plan;
  WhisperFeatureExtractorConfig config_;
  std::vector<double> window_;  // periodic Hann, n_fft
  // Per mel filter: its first non-zero frequency bin and its weights from there.
  std::vector<int64_t> filter_start_;
  std::vector<std::vector<double>> filter_weights_;
  std::unique_ptr<Plan> plan_;
};

// The feature extractor's config dict of a folder (or a JSON file), found as
// transformers finds it: processor_config.json's nested "feature_extractor"
// (or "audio_processor") first, else preprocessor_config.json. `source` is set
// to the file read. NotFound naming the folder when neither exists.
io::Json read_feature_extractor_config(const std::filesystem::path& path, std::string* source = nullptr);

// AutoFeatureExtractor.from_pretrained: dispatch on "feature_extractor_type",
// else on config.json's model_type. Unsupported naming the type (or the
// folder, when it names none) for anything but WhisperFeatureExtractor.
std::shared_ptr<FeatureExtractor> load_feature_extractor(const std::filesystem::path& path);

}  // namespace optimum::preprocessors
