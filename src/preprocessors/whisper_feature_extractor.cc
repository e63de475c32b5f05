// WhisperFeatureExtractor (feature_extraction.h): transformers'
// feature_extraction_whisper.py with its torch STFT path, which is the one
// transformers runs when torch is installed.
#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/preprocessors/feature_extraction.h"

namespace optimum::preprocessors {

namespace {

// FFTW's planner (and plan destruction) is not thread-safe; executing a plan is.
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

struct FftwFree {
  void operator()(void* p) const { fftw_free(p); }
};
using FftwReals = std::unique_ptr<double, FftwFree>;
using FftwComplex = std::unique_ptr<fftw_complex, FftwFree>;

FftwReals alloc_real(int64_t n) {
  auto* p = static_cast<double*>(fftw_malloc(sizeof(double) * static_cast<size_t>(n)));
  if (p == nullptr) throw Error("fftw_malloc failed for " + std::to_string(n) + " doubles");
  return FftwReals(p);
}

FftwComplex alloc_complex(int64_t n) {
  auto* p = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * static_cast<size_t>(n)));
  if (p == nullptr) throw Error("fftw_malloc failed for " + std::to_string(n) + " complex values");
  return FftwComplex(p);
}

// audio_utils.hertz_to_mel / mel_to_hertz, mel_scale="slaney", in numpy's operation order.
double hertz_to_mel_slaney(double freq) {
  const double min_log_hertz = 1000.0;
  const double min_log_mel = 15.0;
  const double logstep = 27.0 / std::log(6.4);
  if (freq >= min_log_hertz) return min_log_mel + std::log(freq / min_log_hertz) * logstep;
  return 3.0 * freq / 200.0;
}

double mel_to_hertz_slaney(double mels) {
  const double min_log_hertz = 1000.0;
  const double min_log_mel = 15.0;
  const double logstep = std::log(6.4) / 27.0;
  if (mels >= min_log_mel) return min_log_hertz * std::exp(logstep * (mels - min_log_mel));
  return 200.0 * mels / 3.0;
}

// np.linspace(start, stop, num): start + i * step, the last value exactly stop.
std::vector<double> linspace(double start, double stop, int64_t num) {
  std::vector<double> out(static_cast<size_t>(num));
  const double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
  for (int64_t i = 0; i < num; ++i) out[static_cast<size_t>(i)] = static_cast<double>(i) * step + start;
  if (num > 1) out.back() = stop;
  return out;
}

// A config field as an integer in [lo, hi]; absent or null keeps `value`.
void read_int(const io::Json& json, const char* key, int64_t lo, int64_t hi, const std::string& source,
              int64_t& value) {
  if (!json.contains(key) || json.at(key).is_null()) return;
  const io::Json& v = json.at(key);
  if (!v.is_number_integer()) {
    throw FormatError(source + ": \"" + key + "\" must be an integer, got " + v.dump());
  }
  const bool in_range = v.is_number_unsigned() ? (v.get<uint64_t>() <= static_cast<uint64_t>(hi) &&
                                                   static_cast<int64_t>(v.get<uint64_t>()) >= lo)
                                                : (v.get<int64_t>() >= lo && v.get<int64_t>() <= hi);
  if (!in_range) {
    throw FormatError(source + ": \"" + key + "\" = " + v.dump() + " is outside " + std::to_string(lo) + " to " +
                      std::to_string(hi));
  }
  value = v.get<int64_t>();
}

double read_number(const io::Json& json, const char* key, const std::string& source, double value) {
  if (!json.contains(key) || json.at(key).is_null()) return value;
  const io::Json& v = json.at(key);
  if (!v.is_number()) throw FormatError(source + ": \"" + key + "\" must be a number, got " + v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw FormatError(source + ": \"" + key + "\" must be finite, got " + v.dump());
  return d;
}

}  // namespace

Padding padding_from_name(const std::string& name) {
  if (name == "longest") return Padding::kLongest;
  if (name == "max_length") return Padding::kMaxLength;
  if (name == "do_not_pad") return Padding::kDoNotPad;
  throw InvalidArgument("padding '" + name + "' is not one of 'longest', 'max_length', 'do_not_pad'");
}

WhisperFeatureExtractorConfig WhisperFeatureExtractorConfig::from_json(const io::Json& json,
                                                                       const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": the feature extractor config must be a JSON object");
  WhisperFeatureExtractorConfig c;
  read_int(json, "feature_size", 1, 4096, source, c.feature_size);
  read_int(json, "sampling_rate", 1, 1'000'000, source, c.sampling_rate);
  read_int(json, "hop_length", 1, 1 << 20, source, c.hop_length);
  read_int(json, "chunk_length", 1, 36'000, source, c.chunk_length);
  read_int(json, "n_fft", 2, 1 << 16, source, c.n_fft);
  c.padding_value = static_cast<float>(read_number(json, "padding_value", source, c.padding_value));
  c.dither = read_number(json, "dither", source, c.dither);
  if (json.contains("return_attention_mask") && !json.at("return_attention_mask").is_null()) {
    const io::Json& v = json.at("return_attention_mask");
    if (!v.is_boolean()) throw FormatError(source + ": \"return_attention_mask\" must be true or false, got " + v.dump());
    c.return_attention_mask = v.get<bool>();
  }
  if (json.contains("padding_side") && !json.at("padding_side").is_null()) {
    const io::Json& v = json.at("padding_side");
    if (!v.is_string() || (v.get<std::string>() != "right" && v.get<std::string>() != "left")) {
      throw FormatError(source + ": \"padding_side\" must be \"right\" or \"left\", got " + v.dump());
    }
    c.padding_side = v.get<std::string>();
  }
  const int64_t n_samples = c.chunk_length * c.sampling_rate;
  if (n_samples > (int64_t{1} << 31)) {
    throw FormatError(source + ": chunk_length * sampling_rate = " + std::to_string(n_samples) +
                      " samples is more than 2^31");
  }
  return c;
}

std::vector<double> mel_filter_bank_slaney(int64_t num_frequency_bins, int64_t num_mel_filters, double min_frequency,
                                           double max_frequency, int64_t sampling_rate) {
  if (num_frequency_bins < 2) {
    throw InvalidArgument("mel_filter_bank: num_frequency_bins " + std::to_string(num_frequency_bins) + " < 2");
  }
  if (num_mel_filters < 1) throw InvalidArgument("mel_filter_bank: num_mel_filters must be >= 1");
  if (min_frequency > max_frequency) {
    throw InvalidArgument("mel_filter_bank: min_frequency " + std::to_string(min_frequency) + " > max_frequency " +
                          std::to_string(max_frequency));
  }
  const std::vector<double> mel_freqs =
      linspace(hertz_to_mel_slaney(min_frequency), hertz_to_mel_slaney(max_frequency), num_mel_filters + 2);
  std::vector<double> filter_freqs(mel_freqs.size());
  for (size_t i = 0; i < mel_freqs.size(); ++i) filter_freqs[i] = mel_to_hertz_slaney(mel_freqs[i]);
  const std::vector<double> fft_freqs =
      linspace(0.0, static_cast<double>(sampling_rate / 2), num_frequency_bins);  // sampling_rate // 2
  const auto n_mel = static_cast<size_t>(num_mel_filters);
  std::vector<double> out(static_cast<size_t>(num_frequency_bins) * n_mel);
  for (size_t b = 0; b < fft_freqs.size(); ++b) {
    for (size_t m = 0; m < n_mel; ++m) {
      // _create_triangular_filter_bank: max(0, min(down_slope, up_slope)), then the slaney enorm.
      const double down = -(filter_freqs[m] - fft_freqs[b]) / (filter_freqs[m + 1] - filter_freqs[m]);
      const double up = (filter_freqs[m + 2] - fft_freqs[b]) / (filter_freqs[m + 2] - filter_freqs[m + 1]);
      const double tri = std::max(0.0, std::min(down, up));
      const double enorm = 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);
      out[b * n_mel + m] = tri * enorm;
    }
  }
  return out;
}

struct WhisperFeatureExtractor::Plan {
  fftw_plan plan = nullptr;
  ~Plan() {
    if (plan != nullptr) {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      fftw_destroy_plan(plan);
    }
  }
};

WhisperFeatureExtractor::WhisperFeatureExtractor(const WhisperFeatureExtractorConfig& config)
    : config_(config), plan_(std::make_unique<Plan>()) {
  const int64_t n_fft = config_.n_fft;
  // torch.hann_window(n_fft) (periodic): 0.5 - 0.5 cos(2 pi n / N).
  window_.resize(static_cast<size_t>(n_fft));
  const double pi = std::acos(-1.0);
  for (int64_t n = 0; n < n_fft; ++n) {
    window_[static_cast<size_t>(n)] = 0.5 - 0.5 * std::cos(2.0 * pi * static_cast<double>(n) / static_cast<double>(n_fft));
  }
  const int64_t n_bins = 1 + n_fft / 2;
  const std::vector<double> bank = mel_filter_bank_slaney(n_bins, config_.feature_size, 0.0, 8000.0, config_.sampling_rate);
  const auto n_mel = static_cast<size_t>(config_.feature_size);
  filter_start_.resize(n_mel);
  filter_weights_.resize(n_mel);
  for (size_t m = 0; m < n_mel; ++m) {
    int64_t lo = n_bins;
    int64_t hi = 0;
    for (int64_t b = 0; b < n_bins; ++b) {
      if (bank[static_cast<size_t>(b) * n_mel + m] != 0.0) {
        lo = std::min(lo, b);
        hi = b + 1;
      }
    }
    if (hi <= lo) lo = hi = 0;  // an all-zero filter (too many mels for the bins)
    filter_start_[m] = lo;
    for (int64_t b = lo; b < hi; ++b) {
      // Cast to float32 as transformers' torch path does (torch.from_numpy(mel_filters).to(float32)).
      filter_weights_[m].push_back(static_cast<double>(static_cast<float>(bank[static_cast<size_t>(b) * n_mel + m])));
    }
  }
  FftwReals in = alloc_real(n_fft);
  FftwComplex out = alloc_complex(n_bins);
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  // FFTW_ESTIMATE: a deterministic plan (FFTW_MEASURE may pick another algorithm on each run).
  plan_->plan = fftw_plan_dft_r2c_1d(static_cast<int>(n_fft), in.get(), out.get(), FFTW_ESTIMATE);
  if (plan_->plan == nullptr) throw Error("FFTW could not plan a real FFT of size " + std::to_string(n_fft));
}

WhisperFeatureExtractor::~WhisperFeatureExtractor() = default;

std::vector<float> WhisperFeatureExtractor::log_mel(std::span<const float> waveform) const {
  const int64_t n_fft = config_.n_fft;
  const int64_t hop = config_.hop_length;
  const int64_t pad = n_fft / 2;
  const auto length = static_cast<int64_t>(waveform.size());
  if (length <= pad) {
    // torch.stft's reflect padding needs more samples than the pad.
    throw InvalidArgument("WhisperFeatureExtractor: " + std::to_string(length) + " samples are too few for n_fft " +
                          std::to_string(n_fft) + " (reflect padding of " + std::to_string(pad) +
                          " needs more than that many samples)");
  }
  const int64_t padded_length = length + 2 * pad;
  const int64_t n_frames = padded_length < n_fft ? 0 : 1 + (padded_length - n_fft) / hop - 1;  // last frame dropped
  if (n_frames < 1) {
    throw InvalidArgument("WhisperFeatureExtractor: " + std::to_string(length) +
                          " samples give no frame once the last one is dropped (hop_length " + std::to_string(hop) +
                          ")");
  }
  const int64_t n_bins = 1 + n_fft / 2;
  const auto n_mel = static_cast<int64_t>(filter_weights_.size());
  std::vector<float> mel(static_cast<size_t>(n_mel * n_frames));
  const float* x = waveform.data();
  // The centered signal's sample i: reflect padding (no edge repeated), as torch.stft(center=True).
  auto sample = [x, length, pad](int64_t i) {
    int64_t j = i - pad;
    if (j < 0) j = -j;
    if (j >= length) j = 2 * (length - 1) - j;
    return x[j];
  };
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), n_frames / 64)));
  // Per-thread buffers, allocated here: nothing may throw inside the parallel region.
  std::vector<FftwReals> ins;
  std::vector<FftwComplex> outs;
  for (int t = 0; t < threads; ++t) {
    ins.push_back(alloc_real(n_fft));
    outs.push_back(alloc_complex(n_bins));
  }
  std::vector<double> powers(static_cast<size_t>(threads * n_bins));
#pragma omp parallel num_threads(threads)
  {
    const auto t = static_cast<size_t>(omp_get_thread_num());
    FftwReals& in = ins[t];
    FftwComplex& out = outs[t];
    double* power = powers.data() + t * static_cast<size_t>(n_bins);
#pragma omp for schedule(static)
    for (int64_t f = 0; f < n_frames; ++f) {
      const int64_t start = f * hop;
      double* buf = in.get();
      if (start >= pad && start + n_fft <= pad + length) {
        const float* src = x + (start - pad);
        for (int64_t k = 0; k < n_fft; ++k) buf[k] = src[k] * window_[static_cast<size_t>(k)];
      } else {
        for (int64_t k = 0; k < n_fft; ++k) buf[k] = sample(start + k) * window_[static_cast<size_t>(k)];
      }
      fftw_execute_dft_r2c(plan_->plan, in.get(), out.get());
      const fftw_complex* spec = out.get();
      for (int64_t b = 0; b < n_bins; ++b) power[static_cast<size_t>(b)] = spec[b][0] * spec[b][0] + spec[b][1] * spec[b][1];
      for (int64_t m = 0; m < n_mel; ++m) {
        const auto& w = filter_weights_[static_cast<size_t>(m)];
        const double* p = power + filter_start_[static_cast<size_t>(m)];
        double acc = 0.0;
        for (size_t k = 0; k < w.size(); ++k) acc += w[k] * p[k];
        mel[static_cast<size_t>(m * n_frames + f)] = static_cast<float>(std::log10(std::max(acc, 1e-10)));
      }
    }
  }
  const float max_value = *std::max_element(mel.begin(), mel.end());
  const float floor = max_value - 8.0f;
  for (float& v : mel) v = (std::max(v, floor) + 4.0f) / 4.0f;
  return mel;
}

BatchFeatures WhisperFeatureExtractor::extract(const std::vector<std::span<const float>>& batch,
                                               const FeatureExtractionOptions& options) const {
  if (options.sampling_rate && *options.sampling_rate != config_.sampling_rate) {
    throw InvalidArgument("The model corresponding to this feature extractor: WhisperFeatureExtractor was trained "
                          "using a sampling rate of " + std::to_string(config_.sampling_rate) +
                          ". Please make sure that the provided `raw_speech` input was sampled with " +
                          std::to_string(config_.sampling_rate) + " and not " +
                          std::to_string(*options.sampling_rate) + ".");
  }
  if (batch.empty()) throw InvalidArgument("WhisperFeatureExtractor: raw_speech is an empty batch");
  // `return_attention_mask or do_normalize`, then pad()'s default from the config.
  const std::optional<bool> asked =
      options.return_attention_mask.value_or(false) ? std::optional<bool>(true) : options.do_normalize;
  const bool with_mask = asked.value_or(config_.return_attention_mask);
  const bool normalize = options.do_normalize.value_or(false);
  int64_t max_length = options.max_length.value_or(0) != 0 ? *options.max_length : n_samples();
  if (max_length < 0 || max_length > (int64_t{1} << 40)) {
    throw InvalidArgument("max_length " + std::to_string(max_length) + " is outside 0 to 2^40");
  }
  if (options.pad_to_multiple_of) {
    const int64_t multiple = *options.pad_to_multiple_of;
    if (multiple < 1 || multiple > (int64_t{1} << 31)) {
      throw InvalidArgument("pad_to_multiple_of " + std::to_string(multiple) + " is outside 1 to 2^31");
    }
    if (max_length % multiple != 0) max_length = (max_length / multiple + 1) * multiple;
  }
  // Truncation (to max_length rounded up to pad_to_multiple_of).
  std::vector<std::span<const float>> items;
  items.reserve(batch.size());
  for (const auto& item : batch) {
    items.push_back(options.truncation && static_cast<int64_t>(item.size()) > max_length
                        ? item.first(static_cast<size_t>(max_length))
                        : item);
  }
  int64_t target = max_length;
  Padding padding = options.padding;
  if (padding == Padding::kLongest) {
    target = 0;
    for (const auto& item : items) target = std::max<int64_t>(target, static_cast<int64_t>(item.size()));
    if (options.pad_to_multiple_of && target % *options.pad_to_multiple_of != 0) {
      target = (target / *options.pad_to_multiple_of + 1) * *options.pad_to_multiple_of;
    }
    padding = Padding::kMaxLength;
  }
  // Bound what one call allocates (a hostile max_length): 2^31 samples per item, as the config's n_samples.
  const int64_t longest_item = [&] {
    int64_t n = 0;
    for (const auto& item : items) n = std::max<int64_t>(n, static_cast<int64_t>(item.size()));
    return n;
  }();
  if (std::max(longest_item, padding == Padding::kDoNotPad ? int64_t{0} : target) > (int64_t{1} << 31)) {
    throw InvalidArgument("WhisperFeatureExtractor: padding or input length " +
                          std::to_string(std::max(longest_item, target)) + " samples is more than 2^31");
  }
  const bool left = config_.padding_side == "left";
  std::vector<std::vector<float>> padded(items.size());
  std::vector<int64_t> real_length(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const auto n = static_cast<int64_t>(items[i].size());
    real_length[i] = n;
    const int64_t total = padding != Padding::kDoNotPad && n < target ? target : n;
    padded[i].assign(static_cast<size_t>(total), config_.padding_value);
    std::copy(items[i].begin(), items[i].end(), padded[i].begin() + (left ? total - n : 0));
  }
  const auto length = static_cast<int64_t>(padded[0].size());
  for (size_t i = 1; i < padded.size(); ++i) {
    if (static_cast<int64_t>(padded[i].size()) != length) {
      throw InvalidArgument("WhisperFeatureExtractor: batch items have different lengths after padding (" +
                            std::to_string(length) + " and " + std::to_string(padded[i].size()) +
                            " samples); use padding='longest' or 'max_length'");
    }
  }
  if (normalize) {
    // zero_mean_unit_var_norm over the first sum(mask) samples (transformers' prefix, whatever the padding side).
    for (size_t i = 0; i < padded.size(); ++i) {
      const int64_t n = real_length[i];
      if (n == 0) continue;
      double mean = 0.0;
      for (int64_t k = 0; k < n; ++k) mean += padded[i][static_cast<size_t>(k)];
      mean /= static_cast<double>(n);
      double var = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        const double d = padded[i][static_cast<size_t>(k)] - mean;
        var += d * d;
      }
      var /= static_cast<double>(n);
      const double inv = 1.0 / std::sqrt(var + 1e-7);
      for (int64_t k = 0; k < n; ++k) {
        float& v = padded[i][static_cast<size_t>(k)];
        v = static_cast<float>((static_cast<double>(v) - mean) * inv);
      }
      for (int64_t k = n; k < length; ++k) padded[i][static_cast<size_t>(k)] = config_.padding_value;
    }
  }
  if (config_.dither != 0.0) {
    std::mt19937_64 rng(std::random_device{}());
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto dither = static_cast<float>(config_.dither);
    for (auto& item : padded) {
      for (float& v : item) v += dither * normal(rng);
    }
  }
  BatchFeatures out;
  std::vector<float> first = log_mel(padded[0]);
  const auto n_mel = config_.feature_size;
  const auto n_frames = static_cast<int64_t>(first.size()) / n_mel;
  const auto b = static_cast<int64_t>(padded.size());
  out.input_features = Tensor::zeros(DType::F32, {b, n_mel, n_frames});
  float* dst = out.input_features.mutable_data<float>();
  std::copy(first.begin(), first.end(), dst);
  for (int64_t i = 1; i < b; ++i) {
    const std::vector<float> feats = log_mel(padded[static_cast<size_t>(i)]);
    std::copy(feats.begin(), feats.end(), dst + i * n_mel * n_frames);
  }
  if (with_mask) {
    auto mask_of = [&](size_t i, int64_t k) -> int32_t {
      const int64_t n = real_length[i];
      return left ? (k >= length - n ? 1 : 0) : (k < n ? 1 : 0);
    };
    if (options.return_attention_mask.value_or(false)) {
      // mask[:, ::hop_length], less the last entry when hop_length does not divide the length.
      const int64_t hop = config_.hop_length;
      int64_t count = (length + hop - 1) / hop;
      if (length % hop != 0) --count;
      out.attention_mask = Tensor::zeros(DType::I32, {b, count});
      int32_t* m = out.attention_mask.mutable_data<int32_t>();
      for (int64_t i = 0; i < b; ++i) {
        for (int64_t f = 0; f < count; ++f) m[i * count + f] = mask_of(static_cast<size_t>(i), f * hop);
      }
    } else {
      out.attention_mask = Tensor::zeros(DType::I32, {b, length});
      int32_t* m = out.attention_mask.mutable_data<int32_t>();
      for (int64_t i = 0; i < b; ++i) {
        for (int64_t k = 0; k < length; ++k) m[i * length + k] = mask_of(static_cast<size_t>(i), k);
      }
    }
  }
  return out;
}

std::shared_ptr<WhisperFeatureExtractor> WhisperFeatureExtractor::from_pretrained(const std::filesystem::path& path) {
  std::string source;
  const io::Json json = read_feature_extractor_config(path, &source);
  return std::make_shared<WhisperFeatureExtractor>(WhisperFeatureExtractorConfig::from_json(json, source));
}

}  // namespace optimum::preprocessors
