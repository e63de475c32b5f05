// Score functions shared by the pipelines, computed as transformers' pipelines
// compute them (numpy, float32 in, max-shifted exponentials).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace optimum::pipelines {

// softmax over one row: exp(x - max) / sum(exp(x - max)).
std::vector<float> softmax(std::span<const float> row);

// 1 / (1 + exp(-x)) element-wise.
std::vector<float> sigmoid(std::span<const float> row);

// What text-classification applies to logits (`function_to_apply`).
enum class ScoreFunction { Softmax, Sigmoid, None };

// "softmax" | "sigmoid" | "none" (case-insensitive); InvalidArgument otherwise.
ScoreFunction score_function_from_name(const std::string& name);

std::vector<float> apply(ScoreFunction f, std::span<const float> row);

}  // namespace optimum::pipelines
