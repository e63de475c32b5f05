// ONNX builders of the shared blocks (models/blocks.h), one per block:
// Linear, norms, activations, embeddings, attention, MLP and the task heads.
// The architecture graphs (encoder_graph.cc, decoder_graph.cc) assemble them
// from an entry's BlockOptions and its loaded weights; no family has its own graph.
#pragma once

#include <optional>
#include <string>

#include "graph.h"
#include "optimum/kernels/ops.h"
#include "optimum/models/heads.h"
#include "optimum/models/weights.h"

namespace optimum::exporters::onnx_export {

// Output rows [row0, row0 + rows) of a fused Linear (Q/K/V, gate/up), copied.
models::Linear slice_linear(const models::Linear& l, int64_t row0, int64_t rows);

// x[..., in] · Wᵀ + b, weights stored as `name`.weight ([in, out]) / `name`.bias.
std::string linear(GraphBuilder& g, const std::string& x, const models::Linear& l, const std::string& name);

// LayerNorm over the last axis: LayerNormalization from opset 17, else
// decomposed (ReduceMean, Sub, Mul, Sqrt, Div). In fp16 the input is cast to
// fp32 around it (gamma/beta stay fp32).
std::string layer_norm(GraphBuilder& g, const std::string& x, const models::Norm& n, const std::string& name);

// RMSNorm: x * rsqrt(mean(x²) + eps) * w (or * (1 + w) with `plus_one`), in fp32.
std::string rms_norm(GraphBuilder& g, const std::string& x, const Tensor& weight, double eps, bool plus_one,
                     const std::string& name);

// ACT2FN activations written with elementwise ops (GELU as Erf or Tanh).
std::string activation(GraphBuilder& g, const std::string& x, kernels::Activation act);

// Softmax over the last axis of scores in the compute type, computed in fp32
// after adding `mask` (fp32, broadcastable; empty: none); returns the compute type.
std::string masked_softmax(GraphBuilder& g, const std::string& scores, const std::string& mask);

// [B, S, heads*head_dim] -> [B, heads, S, head_dim] (or [B, heads, head_dim, S] with `keys_transposed`).
std::string split_heads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim,
                        bool keys_transposed = false);
// [B, heads, S, head_dim] -> [B, S, heads*head_dim].
std::string merge_heads(GraphBuilder& g, const std::string& x, int64_t width);

// Rows of the task head (models/heads.h): its steps on x.
std::string head_steps(GraphBuilder& g, const std::string& x, const models::Head& head, const std::string& name);

}  // namespace optimum::exporters::onnx_export
