// Audio decoding and resampling for the speech feature extractors.
//
// Decoding is libsndfile's (WAV, FLAC, OGG/Vorbis, AIFF, ... whatever the
// installed libsndfile reads), from a file or from bytes in memory (its
// virtual I/O), to float32 samples in [-1, 1] (libsndfile's normalized float
// read, as soundfile.read(dtype="float32")). Several channels are mixed down
// to mono by their mean, as transformers' audio loader does.
//
// Resampling is libsoxr's "HQ" recipe (soxr_quality_spec(SOXR_HQ, 0), 20-bit
// precision), the one transformers.audio_utils.load_audio and librosa.load
// use (soxr.resample(..., quality="soxr_hq")); the output is padded or cut to
// ceil(n * to_rate / from_rate) samples, as transformers does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace optimum::preprocessors {

// Bounds on what one decode may produce; a file past them is refused.
struct AudioLimits {
  // Frames (samples per channel) decoded at most, and the largest length a
  // header may declare: 2^28 frames (1 GiB of float32, 4.6 hours at 16 kHz).
  int64_t max_frames = int64_t{1} << 28;
  // Channels at most (libsndfile itself stops at 1024).
  int max_channels = 256;
  // Sample rates accepted, in Hz.
  int min_sample_rate = 1;
  int max_sample_rate = 1'000'000;
};

// Mono audio: samples in [-1, 1] (float formats may exceed it) and their rate.
struct Audio {
  std::vector<float> samples;
  int sample_rate = 0;
  int channels = 0;  // of the source, before the mixdown
};

// Decodes the audio file at `path` (a regular file; FIFOs and devices are
// refused). NotFound if it is missing; FormatError naming the file when
// libsndfile cannot read it or a header is out of bounds (no channels, a
// rate or length past `limits`, decoding stopped by an error).
Audio load_audio(const std::filesystem::path& path, const AudioLimits& limits = {});

// Decodes audio file bytes; `source` names them in error messages.
Audio load_audio_bytes(std::string_view bytes, const std::string& source = "<audio bytes>",
                       const AudioLimits& limits = {});

// `samples` at `from_rate` resampled to `to_rate` with libsoxr HQ, padded
// with zeros or cut to ceil(n * to_rate / from_rate) samples. A copy when the
// rates are equal. InvalidArgument for a rate outside [1, 10^6] Hz or an
// output longer than `max_samples`.
std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate,
                            int64_t max_samples = int64_t{1} << 30);

}  // namespace optimum::preprocessors
