// A small builder over onnx::GraphProto: unique node and value names,
// initializers from engine tensors (in the export's compute precision),
// constants, and the opset check every op goes through, so an op the
// requested opset lacks is refused with a message naming both.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "optimum/core/tensor.h"

namespace optimum::exporters::onnx_export {

// One node attribute.
struct Attr {
  std::string name;
  enum class Kind { Int, Ints, Float } kind = Kind::Int;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0;

  static Attr of(std::string n, int64_t v) { return {std::move(n), Kind::Int, v, {}, 0}; }
  static Attr of(std::string n, std::vector<int64_t> v) { return {std::move(n), Kind::Ints, 0, std::move(v), 0}; }
  static Attr of_float(std::string n, float v) { return {std::move(n), Kind::Float, 0, {}, v}; }
};

class GraphBuilder {
 public:
  // `fp16`: weights and activations in float16 (compute_type()).
  GraphBuilder(onnx::GraphProto* graph, int opset, bool fp16);

  int opset() const { return opset_; }
  bool fp16() const { return fp16_; }
  // FLOAT or FLOAT16.
  int32_t compute_type() const;

  // Unsupported naming `op`, the opset asked for and `min_opset` when it is below.
  void require(const std::string& op, int min_opset) const;

  // Adds a node; returns its outputs (named "<scope>/<op>_<n>_output_<k>").
  std::vector<std::string> nodes(const std::string& op, const std::vector<std::string>& inputs, int n_outputs,
                                 const std::vector<Attr>& attrs = {});
  // The same with one output.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<Attr>& attrs = {});

  // An initializer named `name` from an f32 engine tensor, stored in the
  // compute precision (or kept f32 when `keep_f32`); a name given twice is
  // stored once (weights shared by layers). `transpose` stores a 2-D tensor transposed
  // (PyTorch's [out, in] Linear weight as MatMul's [in, out]).
  std::string weight(const std::string& name, const Tensor& t, bool transpose = false, bool keep_f32 = false);
  // An f32 initializer of raw values with `shape`.
  std::string weight_values(const std::string& name, const std::vector<float>& values, const Shape& shape,
                            bool keep_f32);
  // int64 / int32 constants (initializers).
  std::string ints(const std::string& name, const std::vector<int64_t>& values, const Shape& shape);
  std::string ints32(const std::string& name, const std::vector<int32_t>& values, const Shape& shape);
  std::string scalar_i64(const std::string& name, int64_t v) { return ints(name, {v}, {}); }
  // A scalar in the compute precision (or f32 when `keep_f32`).
  std::string scalar(const std::string& name, float v, bool keep_f32 = false);

  // Cast to a TensorProto data type; no node when `to` is already the type
  // the caller knows `x` has (`from`).
  std::string cast(const std::string& x, int32_t from, int32_t to);

  // Name prefix of the nodes and initializers added next ("/encoder/layer.0/attention").
  void set_scope(std::string scope) { scope_ = std::move(scope); }
  const std::string& scope() const { return scope_; }

  // Declares a graph input / output; dims < 0 are symbolic (`dim_names`).
  void add_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims,
                 const std::vector<std::string>& dim_names);
  void add_output(const std::string& value, const std::string& name, int32_t elem_type,
                  const std::vector<int64_t>& dims, const std::vector<std::string>& dim_names);

  // An If node on the bool [1] `cond`: each callback adds its branch's nodes
  // through this builder (initializers stay in the main graph, which both
  // branches see) and returns its outputs, of `elem_type` each; both
  // branches return as many. Returns the If's outputs.
  std::vector<std::string> if_node(const std::string& cond, const std::function<std::vector<std::string>()>& then_fn,
                                   const std::function<std::vector<std::string>()>& else_fn, int32_t elem_type);

  int64_t parameters() const { return parameters_; }
  int64_t node_count() const { return static_cast<int64_t>(graph_->node_size()); }

 private:
  std::string unique(const std::string& base);
  onnx::TensorProto* add_initializer(const std::string& name, int32_t type, const Shape& shape);

  onnx::GraphProto* graph_;       // initializers, inputs, outputs
  onnx::GraphProto* node_graph_;  // where nodes go: graph_, or an If branch being built
  int opset_;
  bool fp16_;
  std::string scope_;
  std::set<std::string> defined_;  // named weights already stored
  int64_t counter_ = 0;
  int64_t parameters_ = 0;
};

}  // namespace optimum::exporters::onnx_export
