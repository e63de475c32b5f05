// `features`: a speech feature extractor (preprocessor_config.json of a model
// folder) run on one audio file: the file is decoded (libsndfile), resampled
// to the extractor's rate when it differs (libsoxr HQ), and the features'
// shape and statistics are printed as JSON; --output writes them as .npy.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/preprocessors/audio.h"
#include "optimum/preprocessors/feature_extraction.h"

namespace optimum::cli {

namespace {

struct FeaturesArgs {
  std::string model;
  std::string audio;
  std::string output;
};

// A float32 array in NumPy's .npy format (version 1.0, little-endian, C order).
void write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += (i > 0 ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.shape().size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64.
  const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint16_t n = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8)};
  out.write(len, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  out.close();
  if (!out) throw IoError(errno_message("cannot write " + path));
}

void run_features(const FeaturesArgs& a) {
  const auto fe = preprocessors::load_feature_extractor(check_local_path(a.model, "model"));
  const preprocessors::Audio audio = preprocessors::load_audio(a.audio);
  const auto rate = static_cast<int>(fe->sampling_rate());
  const std::vector<float> samples =
      audio.sample_rate == rate ? audio.samples : preprocessors::resample(audio.samples, audio.sample_rate, rate);
  preprocessors::FeatureExtractionOptions o;
  o.sampling_rate = rate;
  const preprocessors::BatchFeatures f = fe->extract({samples}, o);
  const float* v = f.input_features.data<float>();
  const int64_t n = f.input_features.numel();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += v[i];
  nlohmann::json out;
  out["feature_extractor_type"] = fe->type();
  out["audio"] = a.audio;
  out["source_sample_rate"] = audio.sample_rate;
  out["source_channels"] = audio.channels;
  out["duration_s"] = static_cast<double>(audio.samples.size()) / audio.sample_rate;
  out["sampling_rate"] = rate;
  out["shape"] = f.input_features.shape();
  out["min"] = n > 0 ? *std::min_element(v, v + n) : 0.0f;
  out["max"] = n > 0 ? *std::max_element(v, v + n) : 0.0f;
  out["mean"] = n > 0 ? sum / static_cast<double>(n) : 0.0;
  if (!a.output.empty()) {
    write_npy(a.output, f.input_features);
    out["output"] = a.output;
  }
  std::cout << out.dump() << "\n";
}

}  // namespace

void add_features_command(CLI::App& app) {
  auto a = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "features",
      "Run a model folder's feature extractor (preprocessor_config.json, e.g. WhisperFeatureExtractor) on an audio "
      "file (WAV, FLAC, OGG... via libsndfile; resampled to the extractor's rate with libsoxr HQ); prints the "
      "features' shape and statistics as JSON");
  cmd->add_option("model", a->model, "Model folder holding preprocessor_config.json")->required();
  cmd->add_option("--audio,-a", a->audio, "Audio file")->required();
  cmd->add_option("--output,-o", a->output, "Write the features [1, n_mels, frames] to this .npy file");
  cmd->callback([a] { run_features(*a); });
}

}  // namespace optimum::cli
