// Shared by the forward tests: the tiny models of every family and what the
// reference libraries computed on them (make_tiny_models.py writes both into
// OPTIMUM_FORWARD_FIXTURES; CTest runs it first as the forward_models
// fixture), and the comparisons against those references.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "test_util.h"

#ifndef OPTIMUM_FORWARD_FIXTURES
#error "OPTIMUM_FORWARD_FIXTURES (the folder make_tiny_models.py writes) must be defined"
#endif

namespace optimum::forward_test {

using io::Json;

// The families of src/models/registry.cc; each has every head in the fixtures.
inline const std::vector<std::string> kFamilies = {"bert",       "roberta", "xlm-roberta", "camembert",
                                                   "distilbert", "electra", "albert",      "mpnet"};

// The heads built per family, by canonical task name.
inline const std::vector<std::string> kHeads = {"feature-extraction",   "fill-mask",          "text-classification",
                                                "token-classification", "question-answering", "multiple-choice"};

// Tolerance of fp32 results against transformers (the registry's fp32 ATOL).
inline constexpr double kAtol = 1e-4;

inline std::filesystem::path fixtures_dir() { return OPTIMUM_FORWARD_FIXTURES; }

// manifest.json, read once; a missing fixture is an error, never a skip.
inline const Json& manifest() {
  static const Json m = [] {
    const auto path = fixtures_dir() / "manifest.json";
    std::ifstream in(path);
    if (!in) {
      throw std::runtime_error(path.string() +
                               " is missing: run tests/unit/forward/make_tiny_models.py " +
                               fixtures_dir().string() + " (CTest's forward_models fixture does)");
    }
    return Json::parse(in);
  }();
  return m;
}

// The manifest entry of one family.
inline const Json& family_entry(const std::string& family) { return manifest().at("families").at(family); }

// A model folder of the fixtures.
inline std::filesystem::path model_dir(const Json& entry) {
  return fixtures_dir() / entry.at("folder").get<std::string>();
}

// {"shape", "data"} as an I64 tensor.
inline Tensor int_tensor(const Json& j) {
  const auto shape = j.at("shape").get<Shape>();
  const auto data = j.at("data").get<std::vector<int64_t>>();
  return Tensor::from_data(DType::I64, shape, data.data());
}

// A gtest-friendly name for a family ("xlm-roberta" -> "xlm_roberta").
inline std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

// The forward inputs of a manifest case, by name.
inline std::map<std::string, Tensor> forward_inputs(const Json& forward_case) {
  std::map<std::string, Tensor> inputs;
  for (const auto& [name, value] : forward_case.at("inputs").items()) inputs[name] = int_tensor(value);
  return inputs;
}

// `got` against {"shape", "data"} from the reference: same shape, every value within atol.
inline ::testing::AssertionResult all_close(const Tensor& got, const Json& expected, double atol) {
  const auto shape = expected.at("shape").get<Shape>();
  if (got.shape() != shape) {
    return ::testing::AssertionFailure() << "shape " << shape_str(got.shape()) << " vs " << shape_str(shape);
  }
  const auto want = expected.at("data").get<std::vector<double>>();
  const float* g = got.to(DType::F32).data<float>();
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(static_cast<double>(g[i]) - want[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  if (!(worst <= atol)) {
    return ::testing::AssertionFailure() << "max |diff| " << worst << " > " << atol << " at flat index " << at
                                         << " (" << g[at] << " vs " << want[at] << ")";
  }
  return ::testing::AssertionSuccess();
}

// Cosine similarity of `got` with the reference values, over the whole tensor.
inline double cosine(const Tensor& got, const Json& expected) {
  const auto want = expected.at("data").get<std::vector<double>>();
  const Tensor f = got.to(DType::F32);
  if (f.numel() != static_cast<int64_t>(want.size())) return 0.0;
  const float* g = f.data<float>();
  double dot = 0, gg = 0, ww = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    dot += g[i] * want[i];
    gg += static_cast<double>(g[i]) * g[i];
    ww += want[i] * want[i];
  }
  return dot / std::sqrt(gg * ww);
}

// Deep comparison of a pipeline result with transformers': the same
// structure, keys, strings and integers; numbers within atol.
inline ::testing::AssertionResult same_json(const Json& expected, const Json& got, double atol,
                                            const std::string& path = "result") {
  if (expected.is_number_float() || (expected.is_number() && got.is_number_float())) {
    if (!got.is_number()) return ::testing::AssertionFailure() << path << ": expected a number, got " << got.dump();
    const double d = std::abs(expected.get<double>() - got.get<double>());
    if (!(d <= atol)) {
      return ::testing::AssertionFailure() << path << ": " << expected.dump() << " vs " << got.dump();
    }
    return ::testing::AssertionSuccess();
  }
  if (expected.is_object()) {
    if (!got.is_object()) return ::testing::AssertionFailure() << path << ": expected an object, got " << got.dump();
    if (expected.size() != got.size()) {
      return ::testing::AssertionFailure() << path << ": keys of " << expected.dump() << " vs " << got.dump();
    }
    for (const auto& [key, value] : expected.items()) {
      if (!got.contains(key)) return ::testing::AssertionFailure() << path << ": no key '" << key << "'";
      auto r = same_json(value, got.at(key), atol, path + "." + key);
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (expected.is_array()) {
    if (!got.is_array() || got.size() != expected.size()) {
      return ::testing::AssertionFailure() << path << ": " << expected.dump() << " vs " << got.dump();
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      auto r = same_json(expected[i], got[i], atol, path + "[" + std::to_string(i) + "]");
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (expected != got) return ::testing::AssertionFailure() << path << ": " << expected.dump() << " vs " << got.dump();
  return ::testing::AssertionSuccess();
}

}  // namespace optimum::forward_test
