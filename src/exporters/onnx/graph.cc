#include "graph.h"

#include <cstring>
#include <map>
#include <set>

#include "optimum/core/dtype.h"
#include "optimum/core/errors.h"

namespace optimum::exporters::onnx_export {

namespace {

// The opset that introduced each op in the form the builders emit it (ops
// absent here date from opset 1..9 and exist at every opset we write).
int min_opset(const std::string& op) {
  static const std::map<std::string, int> table = {
      {"CumSum", 11}, {"Range", 11}, {"LayerNormalization", 17}, {"Erf", 9},
  };
  auto it = table.find(op);
  return it == table.end() ? 1 : it->second;
}

}  // namespace

GraphBuilder::GraphBuilder(onnx::GraphProto* graph, int opset, bool fp16)
    : graph_(graph), node_graph_(graph), opset_(opset), fp16_(fp16) {}

int32_t GraphBuilder::compute_type() const {
  return fp16_ ? onnx::TensorProto_DataType_FLOAT16 : onnx::TensorProto_DataType_FLOAT;
}

void GraphBuilder::require(const std::string& op, int min) const {
  if (opset_ < min) {
    throw Unsupported("ONNX opset " + std::to_string(opset_) + " lacks the operator '" + op +
                      "' this model needs (it exists from opset " + std::to_string(min) +
                      "): export with --opset " + std::to_string(min) + " or higher");
  }
}

std::string GraphBuilder::unique(const std::string& base) {
  return scope_ + "/" + base + "_" + std::to_string(counter_++);
}

std::vector<std::string> GraphBuilder::nodes(const std::string& op, const std::vector<std::string>& inputs,
                                             int n_outputs, const std::vector<Attr>& attrs) {
  require(op, min_opset(op));
  onnx::NodeProto* n = node_graph_->add_node();
  const std::string name = unique(op);
  n->set_name(name);
  n->set_op_type(op);
  for (const std::string& in : inputs) n->add_input(in);
  std::vector<std::string> outs;
  for (int k = 0; k < n_outputs; ++k) {
    outs.push_back(name + "_output_" + std::to_string(k));
    n->add_output(outs.back());
  }
  for (const Attr& a : attrs) {
    onnx::AttributeProto* p = n->add_attribute();
    p->set_name(a.name);
    switch (a.kind) {
      case Attr::Kind::Int:
        p->set_type(onnx::AttributeProto_AttributeType_INT);
        p->set_i(a.i);
        break;
      case Attr::Kind::Ints:
        p->set_type(onnx::AttributeProto_AttributeType_INTS);
        for (int64_t v : a.ints) p->add_ints(v);
        break;
      case Attr::Kind::Float:
        p->set_type(onnx::AttributeProto_AttributeType_FLOAT);
        p->set_f(a.f);
        break;
    }
  }
  return outs;
}

std::string GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                               const std::vector<Attr>& attrs) {
  return nodes(op, inputs, 1, attrs)[0];
}

onnx::TensorProto* GraphBuilder::add_initializer(const std::string& name, int32_t type, const Shape& shape) {
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : shape) t->add_dims(d);
  return t;
}

std::string GraphBuilder::weight_values(const std::string& base, const std::vector<float>& values,
                                        const Shape& shape, bool keep_f32) {
  const std::string& name = base;
  if (!defined_.insert(name).second) return name;  // a shared weight (ALBERT's layers) is stored once
  const bool half = fp16_ && !keep_f32;
  onnx::TensorProto* t =
      add_initializer(name, half ? onnx::TensorProto_DataType_FLOAT16 : onnx::TensorProto_DataType_FLOAT, shape);
  std::string* raw = t->mutable_raw_data();
  if (half) {
    raw->resize(values.size() * sizeof(uint16_t));
    auto* out = reinterpret_cast<uint16_t*>(raw->data());
    for (size_t i = 0; i < values.size(); ++i) out[i] = float_to_half(values[i]);
  } else {
    raw->assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  }
  parameters_ += static_cast<int64_t>(values.size());
  return name;
}

std::string GraphBuilder::weight(const std::string& base, const Tensor& t, bool transpose, bool keep_f32) {
  if (defined_.count(base) != 0) return base;
  if (t.dtype() != DType::F32) {
    throw Unsupported("ONNX export: weight '" + base + "' is " + std::string(dtype_name(t.dtype())) +
                      "; only f32 source weights are exported");
  }
  const float* src = t.data<float>();
  std::vector<float> v(static_cast<size_t>(t.numel()));
  Shape shape = t.shape();
  if (transpose) {
    if (shape.size() != 2) throw Error("ONNX export: transposing weight '" + base + "' of rank " +
                                       std::to_string(shape.size()));
    const int64_t rows = shape[0], cols = shape[1];
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) v[static_cast<size_t>(c * rows + r)] = src[r * cols + c];
    }
    shape = {cols, rows};
  } else {
    std::memcpy(v.data(), src, v.size() * sizeof(float));
  }
  return weight_values(base, v, shape, keep_f32);
}

std::string GraphBuilder::ints(const std::string& base, const std::vector<int64_t>& values, const Shape& shape) {
  const std::string name = unique(base);
  onnx::TensorProto* t = add_initializer(name, onnx::TensorProto_DataType_INT64, shape);
  t->mutable_raw_data()->assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t));
  return name;
}

std::string GraphBuilder::ints32(const std::string& base, const std::vector<int32_t>& values, const Shape& shape) {
  const std::string name = unique(base);
  onnx::TensorProto* t = add_initializer(name, onnx::TensorProto_DataType_INT32, shape);
  t->mutable_raw_data()->assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int32_t));
  return name;
}

std::string GraphBuilder::scalar(const std::string& base, float v, bool keep_f32) {
  const std::string name = unique(base);
  const bool half = fp16_ && !keep_f32;
  onnx::TensorProto* t =
      add_initializer(name, half ? onnx::TensorProto_DataType_FLOAT16 : onnx::TensorProto_DataType_FLOAT, {});
  if (half) {
    const uint16_t h = float_to_half(v);
    t->mutable_raw_data()->assign(reinterpret_cast<const char*>(&h), sizeof h);
  } else {
    t->mutable_raw_data()->assign(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return name;
}

std::string GraphBuilder::cast(const std::string& x, int32_t from, int32_t to) {
  if (from == to) return x;
  return node("Cast", {x}, {Attr::of("to", static_cast<int64_t>(to))});
}

namespace {

void set_type(onnx::ValueInfoProto* v, int32_t elem_type, const std::vector<int64_t>& dims,
              const std::vector<std::string>& dim_names) {
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  onnx::TensorShapeProto* s = t->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    onnx::TensorShapeProto_Dimension* d = s->add_dim();
    if (dims[i] >= 0) {
      d->set_dim_value(dims[i]);
    } else {
      d->set_dim_param(i < dim_names.size() ? dim_names[i] : "");
    }
  }
}

}  // namespace

void GraphBuilder::add_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims,
                             const std::vector<std::string>& dim_names) {
  set_type(graph_->add_input(), elem_type, dims, dim_names);
  graph_->mutable_input(graph_->input_size() - 1)->set_name(name);
}

void GraphBuilder::add_output(const std::string& value, const std::string& name, int32_t elem_type,
                              const std::vector<int64_t>& dims, const std::vector<std::string>& dim_names) {
  // The output takes its public name through an Identity: values keep their
  // scoped names and two outputs may come from one value.
  onnx::NodeProto* n = graph_->add_node();
  n->set_name("/output/" + name);
  n->set_op_type("Identity");
  n->add_input(value);
  n->add_output(name);
  set_type(graph_->add_output(), elem_type, dims, dim_names);
  graph_->mutable_output(graph_->output_size() - 1)->set_name(name);
}

std::vector<std::string> GraphBuilder::if_node(const std::string& cond,
                                               const std::function<std::vector<std::string>()>& then_fn,
                                               const std::function<std::vector<std::string>()>& else_fn,
                                               int32_t elem_type) {
  onnx::GraphProto* outer = node_graph_;
  const std::string name = unique("If");
  onnx::GraphProto branches[2];
  std::vector<std::string> outs[2];
  for (int b = 0; b < 2; ++b) {
    branches[b].set_name(name + (b == 0 ? "_then" : "_else"));
    node_graph_ = &branches[b];
    try {
      outs[b] = b == 0 ? then_fn() : else_fn();
    } catch (...) {
      node_graph_ = outer;
      throw;
    }
    for (const std::string& v : outs[b]) {
      // Each branch output through an Identity of its own (a branch may return an outer value).
      onnx::NodeProto* id = branches[b].add_node();
      const std::string out = v + "_" + name.substr(name.rfind('/') + 1) + (b == 0 ? "_then" : "_else");
      id->set_name(out);
      id->set_op_type("Identity");
      id->add_input(v);
      id->add_output(out);
      onnx::ValueInfoProto* vi = branches[b].add_output();
      vi->set_name(out);
      vi->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
    }
  }
  node_graph_ = outer;
  if (outs[0].size() != outs[1].size()) {
    throw Error("ONNX export: If branches of " + name + " return " + std::to_string(outs[0].size()) + " and " +
                std::to_string(outs[1].size()) + " values");
  }
  onnx::NodeProto* n = node_graph_->add_node();
  n->set_name(name);
  n->set_op_type("If");
  n->add_input(cond);
  std::vector<std::string> result;
  for (size_t k = 0; k < outs[0].size(); ++k) {
    result.push_back(name + "_output_" + std::to_string(k));
    n->add_output(result.back());
  }
  for (int b = 0; b < 2; ++b) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(b == 0 ? "then_branch" : "else_branch");
    a->set_type(onnx::AttributeProto_AttributeType_GRAPH);
    *a->mutable_g() = branches[b];
  }
  return result;
}

}  // namespace optimum::exporters::onnx_export
