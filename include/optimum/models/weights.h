// Typed access to a checkpoint's weights: shape-checked tensors, Linear and
// LayerNorm parameters, and the base-model prefix ("bert.", "roberta.")
// that head checkpoints carry and base checkpoints do not.
#pragma once

#include <string>

#include "optimum/core/tensor.h"
#include "optimum/io/safetensors.h"
#include "optimum/kernels/matmul.h"

namespace optimum::models {

// y = x·Wᵀ + b, PyTorch layout: weight [out, in], bias [out] (optional).
// `weight`/`bias` are the checkpoint's values (what export writes); `packed`
// is the same layer reordered for oneDNN in the compute precision, made by
// pack() at load. forward() uses `packed` when there is one.
// A low-precision export stores `weight` as BF16, or as I8 with one F32
// scale per output channel in `weight_scale` (models/precision.h).
struct Linear {
  Tensor weight;
  Tensor bias;
  Tensor weight_scale;  // [out] F32 when `weight` is I8; undefined otherwise
  int64_t in = 0;
  int64_t out = 0;
  kernels::PackedLinear packed;
  // y[rows, out] = act(x[rows, in]·Wᵀ + b).
  void forward(const float* x, int64_t rows, float* y,
               kernels::Activation act = kernels::Activation::Identity) const;
  // Builds `packed` from `weight` in precision `type` (no-op when already
  // packed in it). A weight stored in bf16 or int8 packs in its stored
  // precision whatever `type` says (int8 without re-quantization).
  void pack(kernels::WeightType type);
  bool is_bf16() const { return packed.defined() && packed.type() == kernels::WeightType::BF16; }
  // Packed in bf16 or int8 (not fp32).
  bool is_reduced() const { return packed.defined() && packed.type() != kernels::WeightType::F32; }
};

// LayerNorm parameters.
struct Norm {
  Tensor gamma;
  Tensor beta;
  double eps = 1e-12;
  int64_t dim = 0;
  // out = LayerNorm(x + residual); residual may be null; out may alias x.
  // out_bf16, when set, also receives out in bf16 (input of bf16 layers).
  void forward(const float* x, const float* residual, int64_t rows, float* out, uint16_t* out_bf16 = nullptr) const;
};

class WeightSource {
 public:
  // `base_prefix` is the attribute name of the base model inside head
  // models (BertForX.bert -> "bert").
  WeightSource(io::WeightStore store, std::string base_prefix);

  bool has(const std::string& name) const { return store_.contains(name); }
  // Full name of a base-model weight: "<prefix>.<name>" when the checkpoint
  // nests the base model under its prefix, else `name`.
  std::string base(const std::string& name) const;
  bool has_base(const std::string& name) const { return has(base(name)); }

  // The tensor as f32 with shape `expected`; NotFound / FormatError name the
  // tensor, the file and both shapes.
  Tensor tensor(const std::string& name, const Shape& expected) const;
  // `<name>.weight` [out, in] and, when `bias`, `<name>.bias` [out].
  Linear linear(const std::string& name, int64_t in, int64_t out, bool bias = true) const;
  // `<name>.weight` / `<name>.bias` (or legacy gamma / beta) of size dim.
  Norm norm(const std::string& name, int64_t dim, double eps) const;
  const std::string& source() const { return store_.source(); }

 private:
  io::WeightStore store_;
  std::string prefix_;  // "<base_prefix>." or empty
};

// Concatenates Linear layers with the same input size along the output
// dimension (fused Q/K/V), into owned memory.
Linear fuse_linears(const std::vector<const Linear*>& parts);

}  // namespace optimum::models
