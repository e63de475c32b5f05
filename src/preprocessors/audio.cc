// Audio decoding (libsndfile, virtual I/O over bytes in memory) and
// resampling (libsoxr HQ), as documented in audio.h.
#include "optimum/preprocessors/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "optimum/core/errors.h"
#include "optimum/io/mapped_file.h"

namespace optimum::preprocessors {

namespace {

// Bytes in memory as a read-only libsndfile "file".
struct MemoryFile {
  const char* data;
  sf_count_t size;
  sf_count_t pos;
};

sf_count_t vio_length(void* user) { return static_cast<MemoryFile*>(user)->size; }

sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  sf_count_t base = 0;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = f->pos; break;
    case SEEK_END: base = f->size; break;
    default: return -1;
  }
  // Offsets come from the file's headers: refuse what would overflow or leave the buffer's range.
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
  f->pos = std::min(base + offset, f->size);
  return f->pos;
}

sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  if (count <= 0 || f->pos >= f->size) return 0;
  const sf_count_t n = std::min(count, f->size - f->pos);
  std::memcpy(ptr, f->data + f->pos, static_cast<size_t>(n));
  f->pos += n;
  return n;
}

sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

sf_count_t vio_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

// sf_strerror(nullptr) reads libsndfile's global error of the last failed
// open: opens are serialized so that each reads its own.
std::mutex& open_mutex() {
  static std::mutex m;
  return m;
}

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

}  // namespace

Audio load_audio_bytes(std::string_view bytes, const std::string& source, const AudioLimits& limits) {
  if (bytes.empty()) throw FormatError(source + ": empty audio file (0 bytes)");
  MemoryFile memory{bytes.data(), static_cast<sf_count_t>(bytes.size()), 0};
  SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info;
  std::memset(&info, 0, sizeof(info));
  std::unique_ptr<SNDFILE, SndfileCloser> file;
  {
    std::lock_guard<std::mutex> lock(open_mutex());
    file.reset(sf_open_virtual(&vio, SFM_READ, &info, &memory));
    if (!file) throw FormatError(source + ": cannot decode audio: " + sf_strerror(nullptr));
  }
  if (info.channels <= 0 || info.channels > limits.max_channels) {
    throw FormatError(source + ": " + std::to_string(info.channels) + " channels (expected 1 to " +
                      std::to_string(limits.max_channels) + ")");
  }
  if (info.samplerate < limits.min_sample_rate || info.samplerate > limits.max_sample_rate) {
    throw FormatError(source + ": sample rate " + std::to_string(info.samplerate) + " Hz is outside " +
                      std::to_string(limits.min_sample_rate) + " to " + std::to_string(limits.max_sample_rate) +
                      " Hz");
  }
  // SF_COUNT_MAX means "unknown length" (read to the end); any other count is the header's.
  if (info.frames < 0 || (info.frames != SF_COUNT_MAX && info.frames > limits.max_frames)) {
    throw FormatError(source + ": the header declares " + std::to_string(info.frames) +
                      " frames, more than the limit of " + std::to_string(limits.max_frames));
  }
  sf_command(file.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);

  Audio audio;
  audio.sample_rate = info.samplerate;
  audio.channels = info.channels;
  // Reserve what the header declares, bounded by what the bytes could hold at
  // one bit per sample (a header may lie; the vector grows past it if needed).
  const int64_t plausible = static_cast<int64_t>(bytes.size()) * 8 / info.channels;
  if (info.frames != SF_COUNT_MAX) audio.samples.reserve(static_cast<size_t>(std::min<int64_t>(info.frames, plausible)));
  constexpr sf_count_t kChunk = 4096;
  const auto channels = static_cast<size_t>(info.channels);
  std::vector<float> buffer(static_cast<size_t>(kChunk) * channels);
  const float scale = static_cast<float>(info.channels);
  for (;;) {
    const sf_count_t n = sf_readf_float(file.get(), buffer.data(), kChunk);
    if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
      throw FormatError(source + ": decoding stopped after " + std::to_string(audio.samples.size()) +
                        " frames: " + sf_strerror(file.get()));
    }
    if (n <= 0) break;
    if (static_cast<int64_t>(audio.samples.size()) + n > limits.max_frames) {
      throw FormatError(source + ": more than " + std::to_string(limits.max_frames) + " frames of audio");
    }
    if (channels == 1) {
      audio.samples.insert(audio.samples.end(), buffer.begin(), buffer.begin() + n);
      continue;
    }
    // numpy's mean over the channel axis in float32: x0 + x1 + ... then / channels.
    for (sf_count_t i = 0; i < n; ++i) {
      const float* frame = buffer.data() + static_cast<size_t>(i) * channels;
      float sum = frame[0];
      for (size_t c = 1; c < channels; ++c) sum += frame[c];
      audio.samples.push_back(sum / scale);
    }
  }
  return audio;
}

Audio load_audio(const std::filesystem::path& path, const AudioLimits& limits) {
  const auto mapped = io::MappedFile::open(path);  // NotFound / IoError (FIFOs, devices, folders) name the path
  return load_audio_bytes(std::string_view(reinterpret_cast<const char*>(mapped->data()), mapped->size()),
                          path.string(), limits);
}

std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate, int64_t max_samples) {
  for (const int rate : {from_rate, to_rate}) {
    if (rate < 1 || rate > 1'000'000) {
      throw InvalidArgument("resample: sample rate " + std::to_string(rate) + " Hz is outside 1 to 1000000 Hz");
    }
  }
  if (from_rate == to_rate) return {samples.begin(), samples.end()};
  const auto n = static_cast<int64_t>(samples.size());
  if (n > (int64_t{1} << 40)) throw InvalidArgument("resample: " + std::to_string(n) + " samples is more than 2^40");
  // ceil(n * to / from), as transformers computes the resampled length.
  const int64_t out_len = (n * to_rate + from_rate - 1) / from_rate;
  if (out_len > max_samples) {
    throw InvalidArgument("resample: " + std::to_string(n) + " samples from " + std::to_string(from_rate) +
                          " Hz to " + std::to_string(to_rate) + " Hz would give " + std::to_string(out_len) +
                          " samples, more than the limit of " + std::to_string(max_samples));
  }
  std::vector<float> out(static_cast<size_t>(out_len) + 64, 0.0f);
  if (n == 0) return std::vector<float>(static_cast<size_t>(out_len), 0.0f);
  const soxr_io_spec_t io_spec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  size_t done_in = 0;
  size_t done_out = 0;
  const soxr_error_t error =
      soxr_oneshot(from_rate, to_rate, 1, samples.data(), samples.size(), &done_in, out.data(), out.size(), &done_out,
                   &io_spec, &quality, &runtime);
  if (error != nullptr) {
    throw InvalidArgument("resample: libsoxr failed from " + std::to_string(from_rate) + " Hz to " +
                          std::to_string(to_rate) + " Hz: " + error);
  }
  out.resize(static_cast<size_t>(out_len));  // samples past done_out are zeros (transformers' np.pad)
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(done_out, out.size())), out.end(), 0.0f);
  return out;
}

}  // namespace optimum::preprocessors
