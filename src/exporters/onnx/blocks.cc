#include "blocks.h"

#include <cmath>
#include <limits>

#include "optimum/core/errors.h"

namespace optimum::exporters::onnx_export {

namespace {

constexpr int32_t kF32 = onnx::TensorProto_DataType_FLOAT;

}  // namespace

models::Linear slice_linear(const models::Linear& l, int64_t row0, int64_t rows) {
  if (row0 < 0 || rows <= 0 || row0 + rows > l.out || l.weight.dtype() != DType::F32) {
    throw Error("ONNX export: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                ") are outside a fused Linear of " + std::to_string(l.out) + " f32 rows");
  }
  models::Linear out;
  out.in = l.in;
  out.out = rows;
  out.weight = Tensor::from_data(DType::F32, {rows, l.in}, l.weight.data<float>() + row0 * l.in);
  if (l.bias.defined()) out.bias = Tensor::from_data(DType::F32, {rows}, l.bias.data<float>() + row0);
  return out;
}

std::string linear(GraphBuilder& g, const std::string& x, const models::Linear& l, const std::string& name) {
  if (l.weight.dtype() != DType::F32) {
    throw Unsupported("ONNX export: Linear '" + name + "' is stored in " + std::string(dtype_name(l.weight.dtype())) +
                      "; export from the fp32 checkpoint");
  }
  const std::string w = g.weight(name + ".weight", l.weight, /*transpose=*/true);
  std::string y = g.node("MatMul", {x, w});
  if (l.bias.defined()) y = g.node("Add", {y, g.weight(name + ".bias", l.bias)});
  return y;
}

std::string layer_norm(GraphBuilder& g, const std::string& x, const models::Norm& n, const std::string& name) {
  const std::string in = g.cast(x, g.compute_type(), kF32);
  const std::string gamma = g.weight(name + ".weight", n.gamma, false, /*keep_f32=*/true);
  const std::string beta = g.weight(name + ".bias", n.beta, false, /*keep_f32=*/true);
  std::string y;
  if (g.opset() >= 17) {
    y = g.node("LayerNormalization", {in, gamma, beta},
               {Attr::of("axis", int64_t{-1}), Attr::of_float("epsilon", static_cast<float>(n.eps))});
  } else {
    const std::vector<Attr> last = {Attr::of("axes", std::vector<int64_t>{-1}), Attr::of("keepdims", int64_t{1})};
    const std::string mean = g.node("ReduceMean", {in}, last);
    const std::string d = g.node("Sub", {in, mean});
    const std::string var = g.node("ReduceMean", {g.node("Mul", {d, d})}, last);
    const std::string sd = g.node("Sqrt", {g.node("Add", {var, g.scalar("eps", static_cast<float>(n.eps), true)})});
    y = g.node("Add", {g.node("Mul", {g.node("Div", {d, sd}), gamma}), beta});
  }
  return g.cast(y, kF32, g.compute_type());
}

std::string rms_norm(GraphBuilder& g, const std::string& x, const Tensor& weight, double eps, bool plus_one,
                     const std::string& name) {
  const std::string in = g.cast(x, g.compute_type(), kF32);
  const std::vector<Attr> last = {Attr::of("axes", std::vector<int64_t>{-1}), Attr::of("keepdims", int64_t{1})};
  const std::string ms = g.node("ReduceMean", {g.node("Mul", {in, in})}, last);
  const std::string r = g.node("Sqrt", {g.node("Add", {ms, g.scalar("eps", static_cast<float>(eps), true)})});
  std::string w = g.weight(name + ".weight", weight, false, /*keep_f32=*/true);
  if (plus_one) w = g.node("Add", {w, g.scalar("one", 1.0f, true)});
  const std::string y = g.node("Mul", {g.node("Div", {in, r}), w});
  return g.cast(y, kF32, g.compute_type());
}

std::string activation(GraphBuilder& g, const std::string& x, kernels::Activation act) {
  using kernels::Activation;
  switch (act) {
    case Activation::Identity:
      return x;
    case Activation::Relu:
      return g.node("Relu", {x});
    case Activation::Tanh:
      return g.node("Tanh", {x});
    case Activation::Silu:
      return g.node("Mul", {x, g.node("Sigmoid", {x})});
    case Activation::QuickGelu:
      return g.node("Mul", {x, g.node("Sigmoid", {g.node("Mul", {x, g.scalar("quick_gelu", 1.702f)})})});
    case Activation::Gelu: {
      // 0.5·x·(1 + erf(x / √2))
      const std::string e = g.node("Erf", {g.node("Div", {x, g.scalar("sqrt2", static_cast<float>(std::sqrt(2.0)))})});
      return g.node("Mul", {g.node("Mul", {x, g.scalar("half", 0.5f)}), g.node("Add", {e, g.scalar("one", 1.0f)})});
    }
    case Activation::GeluTanh:
    case Activation::GeluFast: {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const std::string x3 = g.node("Mul", {g.node("Mul", {x, x}), x});
      const std::string inner = g.node("Add", {x, g.node("Mul", {x3, g.scalar("c", 0.044715f)})});
      const std::string t = g.node(
          "Tanh", {g.node("Mul", {inner, g.scalar("sqrt_2_pi", static_cast<float>(std::sqrt(2.0 / M_PI)))})});
      return g.node("Mul", {g.node("Mul", {x, g.scalar("half", 0.5f)}), g.node("Add", {t, g.scalar("one", 1.0f)})});
    }
  }
  throw Error("ONNX export: unhandled activation " + kernels::activation_name(act));
}

std::string masked_softmax(GraphBuilder& g, const std::string& scores, const std::string& mask) {
  std::string s = g.cast(scores, g.compute_type(), kF32);
  if (!mask.empty()) s = g.node("Add", {s, mask});
  const std::string p = g.node("Softmax", {s}, {Attr::of("axis", int64_t{-1})});
  return g.cast(p, kF32, g.compute_type());
}

std::string split_heads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim,
                        bool keys_transposed) {
  const std::string r = g.node("Reshape", {x, g.ints("heads_shape", {0, 0, heads, head_dim}, {4})});
  return g.node("Transpose", {r},
                {Attr::of("perm", keys_transposed ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3})});
}

std::string merge_heads(GraphBuilder& g, const std::string& x, int64_t width) {
  const std::string t = g.node("Transpose", {x}, {Attr::of("perm", std::vector<int64_t>{0, 2, 1, 3})});
  return g.node("Reshape", {t, g.ints("merged_shape", {0, 0, width}, {3})});
}

std::string head_steps(GraphBuilder& g, const std::string& x, const models::Head& head, const std::string& name) {
  std::string cur = x;
  int linear_index = 0, norm_index = 0;
  for (const models::HeadStep& s : head.steps) {
    switch (s.kind) {
      case models::HeadStep::Kind::Linear:
        cur = linear(g, cur, s.linear, name + ".dense_" + std::to_string(linear_index++));
        break;
      case models::HeadStep::Kind::Activation:
        cur = activation(g, cur, s.activation);
        break;
      case models::HeadStep::Kind::Norm:
        cur = layer_norm(g, cur, s.norm, name + ".norm_" + std::to_string(norm_index++));
        break;
    }
  }
  return cur;
}

}  // namespace optimum::exporters::onnx_export
