// The native export format of causal decoders: the engine's layout (fused
// q/k/v and gate/up, norms by role) in model.safetensors, each projection
// Linear in f32, bf16 or int8 (I8 weight + F32 per-output-channel
// "<name>.weight_scale"), next to the source's config.json; the layout
// description lives in optimum_export.json ("layout"). Per-Linear
// precision plans (the accuracy guard's) and copies of a model with a plan.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"
#include "optimum/models/decoder.h"
#include "optimum/models/precision.h"

namespace optimum::models {

// "kind" of a decoder layout in optimum_export.json.
inline constexpr const char* kDecoderLayoutKind = "decoder";
inline constexpr int kDecoderLayoutVersion = 1;

// Projection Linears a plan may name: layers.{i}.qkv / o / gate_up / down,
// then lm_head (when the model has one), in that order.
std::vector<std::string> decoder_linear_names(const DecoderWeights& weights);

// Every projection Linear in `type` (an empty plan for F32).
PrecisionPlan decoder_uniform_plan(const DecoderWeights& weights, kernels::WeightType type);

// A copy of `model` (loaded with keep_weights, f32) whose projection Linears
// follow `plan` (absent names stay f32); `convert` (optional) supplies
// already converted Linears. Embeddings and norms stay f32; a tied lm_head
// in bf16 / int8 gets its own converted copy of the embedding table.
std::shared_ptr<const DecoderModel> decoder_with_precision(const DecoderModel& model, const PrecisionPlan& plan,
                                                           const LinearConverter& convert = {});

struct DecoderNativeLayout {
  std::vector<std::pair<std::string, Tensor>> tensors;
  io::Json layout;  // {"kind": "decoder", "version", "linear_dtypes", "tied_lm_head", "has_lm_head"}
};

// Engine-layout tensors of `model` (loaded with keep_weights).
// InvalidArgument when a Linear's weight was released.
DecoderNativeLayout decoder_to_native(const DecoderModel& model);

// Rebuilds the weights written by decoder_to_native, each tensor's shape and
// dtype checked against `config` and `layout`; FormatError names `source`
// and the tensor or field at fault.
DecoderWeights decoder_from_native(const DecoderConfig& config, const io::WeightStore& store,
                                   const io::Json& layout, const std::string& source);

// The layout of a native decoder export in `dir` (optimum_export.json with
// the native format and a decoder layout), or null when `dir` is not one.
io::Json native_decoder_layout(const std::filesystem::path& dir);

}  // namespace optimum::models
