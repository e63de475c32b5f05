#include "optimum/models/weights.h"

#include <cstring>
#include <memory>

#include "optimum/core/errors.h"
#include "optimum/io/mapped_file.h"

#include "optimum/kernels/gemm.h"
#include "optimum/kernels/ops.h"

namespace optimum::models {

void Linear::forward(const float* x, int64_t rows, float* y, kernels::Activation act) const {
  if (packed.defined()) {
    packed.forward(x, rows, y, act);
    return;
  }
  if (weight.dtype() != DType::F32) {
    throw InvalidArgument("Linear::forward: a " + std::string(dtype_name(weight.dtype())) +
                          " weight must be packed first");
  }
  kernels::linear(x, rows, in, weight.data<float>(), out, bias.defined() ? bias.data<float>() : nullptr, y);
  kernels::apply_activation(y, rows * out, act);
}

void Linear::pack(kernels::WeightType type) {
  if (!weight.defined()) throw InvalidArgument("Linear::pack: layer has no weight to pack");
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  if (weight.dtype() == DType::I8) {
    if (packed.defined() && packed.type() == kernels::WeightType::S8) return;
    if (!weight_scale.defined() || weight_scale.numel() != out) {
      throw InvalidArgument("Linear::pack: an I8 weight needs " + std::to_string(out) + " weight_scale values");
    }
    packed = kernels::PackedLinear::from_s8(weight.data<int8_t>(), weight_scale.data<float>(), out, in, b);
  } else if (weight.dtype() == DType::BF16) {
    if (packed.defined() && packed.type() == kernels::WeightType::BF16) return;
    packed = kernels::PackedLinear::from_bf16(static_cast<const uint16_t*>(weight.raw()), out, in, b);
  } else if (type == kernels::WeightType::F32) {
    if (packed.defined() && packed.type() == type) return;
    // Where the f32 matmul reads PyTorch's layout (CPUs below AVX-512) the
    // layer uses the weight where it lies (the mapped checkpoint): no copy at
    // load; a copy of this tensor keeps its storage alive.
    packed = kernels::PackedLinear::view_f32(weight.data<float>(), out, in, b, std::make_shared<Tensor>(weight));
  } else {
    if (packed.defined() && packed.type() == type) return;
    packed = kernels::PackedLinear::from_f32(weight.data<float>(), out, in, b, type);
  }
  // A weight read straight from the mapped checkpoint has been copied into the
  // packed layout: its pages leave memory (and are re-read from the file if
  // export needs them), so peak RSS holds the weights once.
  if (!weight.is_owned() && !packed.borrows()) io::advise_unneeded(weight.raw(), weight.nbytes());
}

void Norm::forward(const float* x, const float* residual, int64_t rows, float* out, uint16_t* out_bf16) const {
  kernels::layer_norm(x, residual, gamma.data<float>(), beta.data<float>(), eps, rows, dim, out, out_bf16);
}

WeightSource::WeightSource(io::WeightStore store, std::string base_prefix)
    : store_(std::move(store)) {
  // Head checkpoints nest the base model under its attribute name; base
  // checkpoints (AutoModel) do not.
  const std::string dotted = base_prefix + ".";
  for (const std::string& n : store_.names()) {
    if (!base_prefix.empty() && n.starts_with(dotted)) {
      prefix_ = dotted;
      break;
    }
  }
}

std::string WeightSource::base(const std::string& name) const { return prefix_ + name; }

Tensor WeightSource::tensor(const std::string& name, const Shape& expected) const {
  if (!store_.contains(name)) {
    throw NotFound("weight '" + name + "' not found in " + store_.source());
  }
  Tensor t = store_.get(name);
  if (t.shape() != expected) {
    throw FormatError("weight '" + name + "' in " + store_.source() + " has shape " +
                      shape_str(t.shape()) + ", expected " + shape_str(expected) +
                      " from config.json");
  }
  if (t.dtype() != DType::F32) {
    if (t.dtype() != DType::F16 && t.dtype() != DType::BF16) {
      throw Unsupported("weight '" + name + "' in " + store_.source() + " has dtype " +
                        std::string(dtype_name(t.dtype())) + "; expected F32, F16 or BF16");
    }
    t = t.to(DType::F32);
  }
  return t;
}

Linear WeightSource::linear(const std::string& name, int64_t in, int64_t out, bool bias) const {
  Linear l;
  l.in = in;
  l.out = out;
  l.weight = tensor(name + ".weight", {out, in});
  if (bias) l.bias = tensor(name + ".bias", {out});
  return l;
}

Norm WeightSource::norm(const std::string& name, int64_t dim, double eps) const {
  Norm n;
  n.dim = dim;
  n.eps = eps;
  const bool legacy = !has(name + ".weight") && has(name + ".gamma");
  n.gamma = tensor(name + (legacy ? ".gamma" : ".weight"), {dim});
  n.beta = tensor(name + (legacy ? ".beta" : ".bias"), {dim});
  return n;
}

Linear fuse_linears(const std::vector<const Linear*>& parts) {
  Linear f;
  f.in = parts.front()->in;
  for (const Linear* p : parts) {
    if (p->in != f.in) throw InvalidArgument("fuse_linears: input sizes differ");
    f.out += p->out;
  }
  f.weight = Tensor::zeros(DType::F32, {f.out, f.in});
  const bool bias = parts.front()->bias.defined();
  if (bias) f.bias = Tensor::zeros(DType::F32, {f.out});
  int64_t row = 0;
  for (const Linear* p : parts) {
    std::memcpy(f.weight.mutable_data<float>() + row * f.in, p->weight.data<float>(),
                static_cast<size_t>(p->out * f.in) * sizeof(float));
    if (bias) {
      std::memcpy(f.bias.mutable_data<float>() + row, p->bias.data<float>(),
                  static_cast<size_t>(p->out) * sizeof(float));
    }
    row += p->out;
  }
  return f;
}

}  // namespace optimum::models
