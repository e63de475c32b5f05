#include "optimum/pipelines/functions.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "optimum/core/errors.h"

namespace optimum::pipelines {

std::vector<float> softmax(std::span<const float> row) {
  std::vector<float> out(row.begin(), row.end());
  if (out.empty()) return out;
  const float m = *std::max_element(out.begin(), out.end());
  float sum = 0.f;
  for (float& v : out) {
    v = std::exp(v - m);
    sum += v;
  }
  for (float& v : out) v /= sum;
  return out;
}

std::vector<float> sigmoid(std::span<const float> row) {
  std::vector<float> out(row.begin(), row.end());
  for (float& v : out) v = 1.f / (1.f + std::exp(-v));
  return out;
}

ScoreFunction score_function_from_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "softmax") return ScoreFunction::Softmax;
  if (n == "sigmoid") return ScoreFunction::Sigmoid;
  if (n == "none") return ScoreFunction::None;
  throw InvalidArgument("function_to_apply '" + name + "' is not one of softmax, sigmoid, none");
}

std::vector<float> apply(ScoreFunction f, std::span<const float> row) {
  switch (f) {
    case ScoreFunction::Softmax:
      return softmax(row);
    case ScoreFunction::Sigmoid:
      return sigmoid(row);
    case ScoreFunction::None:
      break;
  }
  return {row.begin(), row.end()};
}

}  // namespace optimum::pipelines
