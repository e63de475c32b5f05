// export_onnx: loads the source weights with the architecture entry's
// loader, builds the graph, runs the ONNX checker with strict shape
// inference, and writes model.onnx (+ model.onnx_data), config.json, the
// preprocessors and optimum_export.json into a temporary folder renamed at the end.
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <unistd.h>

#include <fstream>

#include "onnx_internal.h"
#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/exporters/decoder_export.h"
#include "optimum/exporters/onnx.h"
#include "optimum/models/architecture.h"
#include "optimum/models/decoder.h"
#include "optimum/models/registry.h"
#include "optimum/models/seq2seq.h"
#include "optimum/preprocessors/preprocessors.h"
#include "../export_internal.h"

namespace optimum::exporters {

namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFile = "model.onnx";
// Protobuf cannot serialize a message of 2 GiB; weights go to model.onnx_data before.
constexpr size_t kProtobufLimit = size_t{2000} * 1000 * 1000;
// Initializers at least this large move to the external file (onnx's size_threshold).
constexpr size_t kExternalThreshold = 1024;

void check_options(const OnnxExportOptions& o) {
  if (o.opset < 1 || o.opset > kOnnxMaxOpset) {
    throw InvalidArgument("--opset " + std::to_string(o.opset) + " is out of range: this build writes opsets " +
                          std::to_string(kOnnxMinOpset) + ".." + std::to_string(kOnnxMaxOpset) +
                          " (ONNX 1.12 knows opsets up to " + std::to_string(kOnnxMaxOpset) + ")");
  }
  if (o.dtype != "fp32" && o.dtype != "fp16") {
    throw InvalidArgument("--dtype '" + o.dtype + "' is not an ONNX export precision (fp32 or fp16)");
  }
  if (o.batch_size < 0 || o.batch_size > 1024) {
    throw InvalidArgument("--batch-size " + std::to_string(o.batch_size) + " is out of range (1..1024)");
  }
  if (o.sequence_length < 0) {
    throw InvalidArgument("--sequence-length " + std::to_string(o.sequence_length) + " must be positive");
  }
}

// Moves initializers of at least kExternalThreshold bytes to `data_path`.
void externalize(onnx::ModelProto& model, const fs::path& data_path) {
  const std::string data_file = data_path.filename().string();
  std::ofstream out(data_path, std::ios::binary);
  if (!out) throw Error("cannot write " + data_path.string());
  int64_t offset = 0;
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    if (t.raw_data().size() < kExternalThreshold) continue;
    const std::string& raw = t.raw_data();
    out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
    auto add = [&](const std::string& k, const std::string& v) {
      onnx::StringStringEntryProto* e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", data_file);
    add("offset", std::to_string(offset));
    add("length", std::to_string(raw.size()));
    offset += static_cast<int64_t>(raw.size());
    t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    t.clear_raw_data();
  }
  if (!out) throw Error("writing " + data_path.string() + " failed");
}

// The ONNX checker and strict shape inference (type checks, data
// propagation), as onnx.checker.check_model(full_check=True).
void check_graph(onnx::ModelProto& model, const std::string& what) {
  try {
    onnx::checker::check_model(model);
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*strict_mode=*/1, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    throw Error("ONNX export of " + what + " failed the ONNX checker: " + e.what());
  }
}

}  // namespace

OnnxExportResult export_onnx(const fs::path& model_dir, const fs::path& output_dir, const OnnxExportOptions& options) {
  check_options(options);
  fs::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  std::error_code ec;
  if (fs::exists(out, ec) && (!fs::is_directory(out, ec) || !fs::is_empty(out, ec))) {
    throw InvalidArgument("output folder '" + out.string() + "' exists and is not empty: choose a new folder");
  }
  const fs::path config_dir = options.config_dir.empty() ? model_dir : options.config_dir;
  models::register_architectures();
  const std::string library = tasks::check_loadable(config_dir);
  const bool decoder = is_decoder_checkpoint(config_dir);
  const io::Json raw_config = io::read_json(config_dir / "config.json");
  std::string task = options.task == "auto" ? tasks::infer_task(config_dir) : tasks::canonical_task(options.task);
  // Optimum exports a causal LM with its past by default (the merged decoder).
  if (decoder && options.task == "auto" && (task == "text-generation" || task == "feature-extraction")) {
    task += "-with-past";
  }
  if (!raw_config.is_object() || !raw_config.contains("model_type") || !raw_config.at("model_type").is_string()) {
    throw FormatError((config_dir / "config.json").string() + ": field 'model_type' is missing or not a string");
  }
  const std::string model_type = raw_config.at("model_type").get<std::string>();
  // Optimum exports an encoder-decoder with its past by default (encoder + merged decoder).
  if (models::is_seq2seq_model_type(model_type) && options.task == "auto") task = "text2text-generation-with-past";
  const tasks::ExportConfig& export_config = tasks::get_export_config("onnx", model_type, task);
  if (export_config.is_encoder_decoder && options.monolith) {
    throw Unsupported("--monolith (one model.onnx) is not written yet for the encoder-decoder '" + model_type +
                      "': export without it for Optimum's encoder_model.onnx + " +
                      (export_config.use_past ? "decoder_model_merged.onnx" : "decoder_model.onnx"));
  }

  OnnxExportResult result;
  result.model_type = model_type;
  result.task = task;
  result.dtype = options.dtype;
  result.opset = options.opset;

  // One ModelProto per file: model.onnx, or Optimum's encoder/decoder split.
  struct OnnxFile {
    std::string name;
    onnx::ModelProto model;
    onnx_export::BuiltGraph built;
  };
  std::vector<OnnxFile> files;
  auto new_file = [&](const std::string& name) -> OnnxFile& {
    OnnxFile& f = files.emplace_back();
    f.name = name;
    onnx::ModelProto& model = f.model;
    model.set_ir_version(onnx::IR_VERSION);
    model.set_producer_name("optimum-cpp");
    model.set_producer_version(tool_version());
    onnx::OperatorSetIdProto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(options.opset);
    model.mutable_graph()->set_name(model_type + "_" + task + (name == kModelFile ? "" : "_" + name.substr(0, name.find('.'))));
    return f;
  };
  files.reserve(2);
  onnx_export::GraphShapes shapes;
  shapes.dynamic = options.dynamic_axes;
  if (options.batch_size > 0) shapes.batch_size = options.batch_size;
  if (options.sequence_length > 0) shapes.sequence_length = options.sequence_length;
  shapes.encoder_sequence_length = shapes.sequence_length;
  const bool fp16 = options.dtype == "fp16";
  if (export_config.is_encoder_decoder) {
    ProgressStep step("load", model_dir.string());
    const models::Seq2SeqFamily& family = models::seq2seq_family(model_type);
    const std::string source = (config_dir / "config.json").string();
    models::Seq2SeqConfig c = family.parse_config(raw_config, source);
    c.model_type = family.model_type;
    c.raw = raw_config;
    const io::WeightStore store = io::WeightStore::open_dir(model_dir);
    const models::Seq2SeqWeights weights = family.load_weights(c, store);
    step.set_detail("building the graphs");
    const onnx_export::Seq2SeqSource src{c, weights};
    {
      OnnxFile& f = new_file("encoder_model.onnx");
      onnx_export::GraphBuilder g(f.model.mutable_graph(), options.opset, fp16);
      f.built = onnx_export::build_seq2seq_encoder_graph(g, src, export_config, shapes);
      result.nodes += g.node_count();
      result.parameters += g.parameters();
    }
    {
      OnnxFile& f = new_file(export_config.use_past ? "decoder_model_merged.onnx" : "decoder_model.onnx");
      onnx_export::GraphBuilder g(f.model.mutable_graph(), options.opset, fp16);
      f.built = onnx_export::build_seq2seq_decoder_graph(g, src, export_config, shapes);
      result.nodes += g.node_count();
      result.parameters += g.parameters();
    }
  } else if (decoder) {
    OnnxFile& f = new_file(kModelFile);
    onnx_export::GraphBuilder g(f.model.mutable_graph(), options.opset, fp16);
    ProgressStep step("load", model_dir.string());
    const models::DecoderFamily& family = models::decoder_family(model_type);
    const std::string source = (config_dir / "config.json").string();
    models::DecoderConfig c = family.parse_config(raw_config, source);
    c.model_type = family.model_type;
    models::validate_decoder_config(c, source);
    const io::WeightStore store = io::WeightStore::open_dir(model_dir);
    const models::DecoderWeights weights =
        family.load_weights ? family.load_weights(c, store) : models::load_decoder_weights(c, family.names, store);
    step.set_detail("building the graph");
    f.built = onnx_export::build_decoder_graph(g, onnx_export::DecoderSource{c, weights}, export_config, shapes);
    result.nodes = g.node_count();
    result.parameters = g.parameters();
  } else {
    OnnxFile& f = new_file(kModelFile);
    onnx_export::GraphBuilder g(f.model.mutable_graph(), options.opset, fp16);
    ProgressStep step("load", model_dir.string());
    const config::EncoderConfig cfg = config::load_config(config_dir);
    const models::Family& family = models::find_family(cfg.model_type);
    const tasks::Task engine_task = tasks::task_from_name(task);
    models::WeightSource weights(io::WeightStore::open_dir(model_dir), family.base_prefix);
    const models::EncoderWeights encoder = family.load_encoder(weights, cfg);
    models::Head head;
    head.task = engine_task;
    if (engine_task != tasks::Task::FeatureExtraction) {
      if (std::find(family.tasks.begin(), family.tasks.end(), engine_task) == family.tasks.end()) {
        models::blocks::unsupported_task(cfg.model_type, engine_task, family.tasks);
      }
      head = family.load_head(engine_task, weights, cfg);
    }
    if (cfg.is_vision()) {
      // Static shapes of a vision export: the checkpoint's image, patches + CLS as the sequence.
      shapes.num_channels = cfg.num_channels;
      shapes.height = cfg.image_height;
      shapes.width = cfg.image_width;
      shapes.sequence_length = cfg.num_patches() + 1;
    }
    step.set_detail("building the graph");
    f.built = onnx_export::build_encoder_graph(
        g, onnx_export::EncoderSource{cfg, encoder, family.positions, head}, export_config, shapes);
    result.nodes = g.node_count();
    result.parameters = g.parameters();
  }
  for (const OnnxFile& f : files) {
    const std::string prefix = files.size() > 1 ? f.name + ":" : "";
    for (const std::string& n : f.built.inputs) result.inputs.push_back(prefix + n);
    for (const std::string& n : f.built.outputs) result.outputs.push_back(prefix + n);
  }
  {
    ProgressStep step("check", "ONNX checker and shape inference");
    for (OnnxFile& f : files) {
      // Inference may pin a declared symbolic output dim (ViT's sequence_length from the position
      // table): the file keeps the declared axes.
      const auto declared = f.model.graph().output();
      check_graph(f.model, model_type + " (" + task + ")" + (files.size() > 1 ? ", " + f.name : ""));
      f.model.mutable_graph()->clear_value_info();  // inferred shapes are not part of the file
      *f.model.mutable_graph()->mutable_output() = declared;
    }
  }

  internal::TempDir tmp(out.parent_path() / (out.filename().string() + ".partial-" + std::to_string(::getpid())));
  {
    ProgressStep step("write", out.string());
    size_t bytes = 0;
    for (const OnnxFile& f : files) {
      for (const onnx::TensorProto& t : f.model.graph().initializer()) bytes += t.raw_data().size();
    }
    result.external_data = options.external_data || bytes >= kProtobufLimit;
    std::vector<std::string> written;
    for (OnnxFile& f : files) {
      const std::string data_file = f.name + "_data";
      if (result.external_data) externalize(f.model, tmp.path() / data_file);
      const fs::path path = tmp.path() / f.name;
      {
        std::ofstream file(path, std::ios::binary);
        if (!file || !f.model.SerializeToOstream(&file)) throw Error("cannot write " + path.string());
      }
      written.push_back(f.name);
      if (result.external_data) {
        written.push_back(data_file);
        try {
          onnx::checker::check_model(path.string());
        } catch (const std::exception& e) {
          throw Error("ONNX export: the written " + f.name + " with external data fails the checker: " + e.what());
        }
      }
    }
    io::Json config_json = raw_config;
    for (const auto& [key, value] : export_config.values_override) config_json[key] = value;
    io::write_json(tmp.path() / "config.json", config_json);
    preprocessors::CopyReport copied = preprocessors::copy(model_dir, tmp.path());
    if (copied.copied.empty() && config_dir != model_dir) copied = preprocessors::copy(config_dir, tmp.path());
    result.preprocessors = copied.copied;
    io::Json meta = {{"format", "onnx"},
                     {"tool", "optimum-cpp"},
                     {"tool_version", tool_version()},
                     {"source",
                      {{"model_id", options.source_id.empty() ? model_dir.string() : options.source_id},
                       {"commit", options.source_commit},
                       {"revision", options.revision},
                       {"subfolder", options.subfolder},
                       {"library", library}}},
                     {"model_type", model_type},
                     {"task", task},
                     {"dtype", options.dtype},
                     {"opset", options.opset},
                     {"dynamic_axes", options.dynamic_axes},
                     {"external_data", result.external_data},
                     {"files", written},
                     {"inputs", result.inputs},
                     {"outputs", result.outputs},
                     {"preprocessors", copied.copied}};
    io::write_json(tmp.path() / "optimum_export.json", meta);
  }
  if (fs::exists(out, ec)) fs::remove(out, ec);  // an empty folder: replaced by the export
  fs::create_directories(out.parent_path().empty() ? fs::path(".") : out.parent_path());
  fs::rename(tmp.path(), out);
  tmp.release();
  result.output_dir = out;
  return result;
}

}  // namespace optimum::exporters
