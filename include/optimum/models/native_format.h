// The native export format: the engine's own weight layout (fused Q/K/V,
// heads as explicit steps) as safetensors plus a JSON layout description,
// so an exported folder loads without any family-specific name mapping.
#pragma once

#include <string>
#include <utility>

#include "optimum/io/safetensors.h"
#include "optimum/models/encoder.h"
#include "optimum/models/heads.h"

namespace optimum::models {

inline constexpr const char* kNativeFormat = "optimum-cpp-native";
// Version 2 adds per-Linear precisions ("linear_dtypes": bf16 weights, or
// int8 weights with an F32 "<name>.weight_scale"); version 1 (all f32) is
// still read.
inline constexpr int kNativeLayoutVersion = 2;

struct NativeLayout {
  std::vector<std::pair<std::string, Tensor>> tensors;  // engine-layout weights
  io::Json layout;                                      // how to rebuild them
};

// Engine-layout tensors and layout description of an encoder with a head.
NativeLayout to_native(const Encoder& encoder, const Head& head, bool uses_token_types);

struct NativeModel {
  EncoderWeights weights;
  Head head;
  PositionStyle positions = PositionStyle::Absolute;
  bool uses_token_types = true;
};

// Rebuilds weights and head from `store` and a layout written by to_native,
// checked against `config` before it is run: layer_order is the family's
// plan for num_hidden_layers, every head step fits the width before it and
// the last one the task's (2 for question-answering, num_labels for
// classification, vocab_size for fill-mask, 1 for multiple-choice).
// FormatError names `source` (the export record) and the JSON field, or the
// weights file and tensor, at fault.
NativeModel from_native(const io::WeightStore& store, const io::Json& layout,
                        const config::EncoderConfig& config, const std::string& source);

}  // namespace optimum::models
