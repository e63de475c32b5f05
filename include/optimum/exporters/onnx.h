// ONNX export: a transformers checkpoint folder -> an Optimum-compatible
// ONNX folder (model.onnx with Optimum's file, input/output and dynamic-axis
// names, config.json, every preprocessor, optimum_export.json). The graph is
// built in C++ from the architecture entry's blocks (models/architecture.h)
// and the loaded source weights, one builder per shared block; no Python or
// torch is involved. The ONNX checker with strict shape inference runs on
// every export and its failure fails the export.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "optimum/exporters/export.h"

namespace optimum::exporters {

// Lowest and highest ONNX opsets the exporter writes.
inline constexpr int kOnnxMinOpset = 11;  // CumSum, Range
inline constexpr int kOnnxMaxOpset = 17;  // the highest the linked ONNX (1.12) knows
inline constexpr int kOnnxDefaultOpset = 17;

struct OnnxExportOptions {
  std::string task = "auto";  // a task name or synonym; "auto" infers it offline
  int opset = kOnnxDefaultOpset;  // 11..17; LayerNormalization from 17, decomposed below
  // fp32 or fp16 (weights and compute in fp16; LayerNorm and Softmax inputs
  // cast to fp32 around them).
  std::string dtype = "fp32";
  // false: every axis is fixed to batch_size x sequence_length below.
  bool dynamic_axes = true;
  int64_t batch_size = 0;       // static shapes (with dynamic_axes = false); 0: Optimum's default 2
  int64_t sequence_length = 0;  // static shapes; 0: Optimum's default 16
  // Decoders: one model.onnx taking past_key_values (Optimum's merged
  // decoder, the default and the only layout written today).
  bool monolith = false;
  // Weights in model.onnx_data next to model.onnx; also forced when the
  // initializers pass 2 GB (protobuf's limit).
  bool external_data = false;
  // Folder holding config.json when it is not `model_dir`; empty: `model_dir`.
  std::filesystem::path config_dir;
  // Provenance written into optimum_export.json.
  std::string source_id;
  std::string source_commit;
  std::string revision;
  std::string subfolder;
};

struct OnnxExportResult {
  std::filesystem::path output_dir;
  std::string model_type;
  std::string task;
  std::string dtype;
  int opset = 0;
  bool external_data = false;
  std::vector<std::string> inputs;   // graph input names, in order
  std::vector<std::string> outputs;  // graph output names, in order
  std::vector<std::string> preprocessors;
  int64_t nodes = 0;
  int64_t parameters = 0;  // initializer elements
};

// Exports `model_dir` to ONNX in `output_dir`, which must not exist or be
// empty. Written into a temporary folder next to it and renamed at the end,
// so a failure leaves nothing behind. Unsupported names an unsupported
// model_type or task (listing the supported ones) or an opset that lacks an
// op; InvalidArgument names a bad option or a non-empty output folder;
// Error carries the ONNX checker's message when the graph fails it.
OnnxExportResult export_onnx(const std::filesystem::path& model_dir, const std::filesystem::path& output_dir,
                             const OnnxExportOptions& options);

}  // namespace optimum::exporters
