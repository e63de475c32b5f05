// The ONNX exporter's graph builder and block builders: the opset check,
// LayerNorm per opset, fp16 casts around the norm, and that what they build
// passes the ONNX checker with strict shape inference at every opset written.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <string>

#include "exporters/onnx/blocks.h"
#include "optimum/core/errors.h"
#include "optimum/exporters/onnx.h"

namespace optimum::exporters::onnx_export {
namespace {

models::Norm make_norm(int64_t dim) {
  models::Norm n;
  n.gamma = Tensor::zeros(DType::F32, {dim});
  n.beta = Tensor::zeros(DType::F32, {dim});
  n.dim = dim;
  n.eps = 1e-5;
  return n;
}

models::Linear make_linear(int64_t in, int64_t out) {
  models::Linear l;
  l.in = in;
  l.out = out;
  l.weight = Tensor::zeros(DType::F32, {out, in});
  l.bias = Tensor::zeros(DType::F32, {out});
  return l;
}

// x [batch, 8] -> Linear(8, 4) -> GELU -> LayerNorm -> y, checked as export_onnx checks.
onnx::ModelProto small_model(int opset, bool fp16) {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.add_opset_import()->set_version(opset);
  m.mutable_graph()->set_name("small");
  GraphBuilder g(m.mutable_graph(), opset, fp16);
  g.add_input("x", g.compute_type(), {-1, 8}, {"batch_size", ""});
  std::string y = linear(g, "x", make_linear(8, 4), "dense");
  y = activation(g, y, kernels::Activation::Gelu);
  y = layer_norm(g, y, make_norm(4), "norm");
  g.add_output(y, "y", g.compute_type(), {-1, 4}, {"batch_size", ""});
  onnx::checker::check_model(m);
  onnx::ShapeInferenceOptions options(true, 1, true);
  onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), options);
  return m;
}

bool has_op(const onnx::ModelProto& m, const std::string& op) {
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == op) return true;
  }
  return false;
}

TEST(OnnxGraph, AnOpTheOpsetLacksIsRefusedNamingBoth) {
  onnx::GraphProto graph;
  GraphBuilder g(&graph, 10, false);
  try {
    g.node("Range", {"a", "b", "c"});
    FAIL() << "Range at opset 10 was accepted";
  } catch (const Unsupported& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("opset 10"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'Range'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--opset 11"), std::string::npos) << msg;
  }
  EXPECT_EQ(graph.node_size(), 0);
}

TEST(OnnxGraph, LayerNormIsAnOpFrom17AndDecomposedBelow) {
  for (int opset = kOnnxMinOpset; opset <= kOnnxMaxOpset; ++opset) {
    SCOPED_TRACE(opset);
    const onnx::ModelProto m = small_model(opset, false);
    EXPECT_EQ(has_op(m, "LayerNormalization"), opset >= 17);
    EXPECT_EQ(has_op(m, "ReduceMean"), opset < 17);
  }
}

TEST(OnnxGraph, Fp16KeepsTheNormInFp32) {
  const onnx::ModelProto m = small_model(17, true);
  int casts = 0;
  for (const auto& n : m.graph().node()) casts += n.op_type() == "Cast" ? 1 : 0;
  EXPECT_EQ(casts, 2);  // to f32 before the norm, back to f16 after
  for (const auto& t : m.graph().initializer()) {
    const bool norm = t.name().rfind("norm.", 0) == 0;
    if (t.dims_size() > 0) {
      EXPECT_EQ(t.data_type(), norm ? onnx::TensorProto_DataType_FLOAT : onnx::TensorProto_DataType_FLOAT16)
          << t.name();
    }
  }
}

TEST(OnnxGraph, ASharedWeightIsStoredOnce) {
  onnx::GraphProto graph;
  GraphBuilder g(&graph, 17, false);
  const Tensor w = Tensor::zeros(DType::F32, {3, 2});
  EXPECT_EQ(g.weight("layer.0.w", w), g.weight("layer.0.w", w));
  EXPECT_EQ(graph.initializer_size(), 1);
  EXPECT_EQ(g.parameters(), 6);
}

TEST(OnnxGraph, IfBranchesPassTheCheckerAndKeepWeightsInTheMainGraph) {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.add_opset_import()->set_version(17);
  m.mutable_graph()->set_name("if");
  GraphBuilder g(m.mutable_graph(), 17, false);
  g.add_input("cond", onnx::TensorProto_DataType_BOOL, {1}, {});
  g.add_input("x", g.compute_type(), {-1, 8}, {"batch_size", ""});
  g.add_input("cached", g.compute_type(), {-1, 4}, {"batch_size", ""});
  const std::vector<std::string> outs = g.if_node(
      "cond", [&] { return std::vector<std::string>{"cached"}; },
      [&] { return std::vector<std::string>{linear(g, "x", make_linear(8, 4), "dense")}; }, g.compute_type());
  ASSERT_EQ(outs.size(), 1u);
  g.add_output(outs[0], "y", g.compute_type(), {-1, 4}, {"batch_size", ""});
  onnx::checker::check_model(m);
  onnx::ShapeInferenceOptions options(true, 1, true);
  onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), options);
  EXPECT_TRUE(has_op(m, "If"));
  EXPECT_FALSE(has_op(m, "MatMul"));  // the Linear is in the else branch
  EXPECT_GE(m.graph().initializer_size(), 1);  // its weight in the main graph
  // Unequal branch arities are an internal error naming the If.
  EXPECT_THROW(g.if_node("cond", [&] { return std::vector<std::string>{"cached"}; },
                         [&] { return std::vector<std::string>{}; }, g.compute_type()),
               Error);
}

}  // namespace
}  // namespace optimum::exporters::onnx_export
