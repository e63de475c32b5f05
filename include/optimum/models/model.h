// An encoder checkpoint with one task head, ready to run: loads config.json
// and the weights (safetensors, or pytorch_model.bin) of a folder, validates named inputs and
// returns named outputs with transformers' ModelOutput field names.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "optimum/models/native_format.h"
#include "optimum/models/registry.h"
#include "optimum/models/session.h"

namespace optimum::models {

class EncoderModel : public Session {
 public:
  // File an exported folder carries; its "layout" describes native weights.
  static constexpr const char* kExportFile = "optimum_export.json";

  // Loads `dir` (config.json + model.safetensors or its sharded index) for
  // `task`: a transformers checkpoint, or a native export (optimum_export.json),
  // which only serves the task it was exported for. Unsupported names the model_type or the task and lists what is
  // supported; NotFound / FormatError name the file and weight at fault.
  // Weights may also be pytorch_model.bin (or its sharded index): see
  // io::WeightStore::open_dir. `config_dir`, when not empty, is where
  // config.json is read from instead of `dir` (a repository subfolder
  // without its own config.json uses the top-level one, as Optimum does).
  // `compute`: precision of the encoder-layer Linears. A checkpoint or an
  // fp32 export packs them in it (bf16; int8 quantized at load); an export
  // written in bf16 / int8 uses its stored per-Linear precisions and
  // accepts only its own dtype (or none). Unset: fp32 / as stored.
  static std::shared_ptr<const EncoderModel> load(const std::filesystem::path& dir, tasks::Task task,
                                                  const std::filesystem::path& config_dir = {},
                                                  std::optional<kernels::WeightType> compute = std::nullopt);
  // The same with config.json already read and parsed (from_pretrained reads
  // it once per load).
  static std::shared_ptr<const EncoderModel> load(const std::filesystem::path& dir, tasks::Task task,
                                                  const config::EncoderConfig& config,
                                                  std::optional<kernels::WeightType> compute = std::nullopt);

  // Inputs by name (int64 or int32): input_ids [batch, seq] ([batch,
  // choices, seq] for multiple-choice) and optionally attention_mask,
  // token_type_ids, position_ids of the same shape; vision encoders take
  // pixel_values [batch, channels, height, width] (float32) instead. Outputs: f32 tensors
  // named last_hidden_state / pooler_output, logits, start_logits /
  // end_logits. Thread-safe: the model is immutable.
  // `skip_padding`: see EncoderInputs::skip_padding (outputs at padding
  // positions are then not transformers' values).
  NamedTensors forward(const std::map<std::string, Tensor>& inputs, const ForwardHook* hook = nullptr,
                       bool skip_padding = false) const;

  // The engine-layout weights and their description, for export.
  NativeLayout native_layout() const { return to_native(*encoder_, head_, uses_token_types_); }

  // A copy whose encoder-layer Linears are `replace(name, linear)` (names as
  // in the native layout, "layers.3.qkv"); everything else is shared, after
  // `edit` (optional) changed the other weights (the int8 word embeddings).
  // Defined in precision.cc (see models/precision.h).
  std::shared_ptr<const EncoderModel> with_layer_linears(
      const std::function<Linear(const std::string&, const Linear&)>& replace,
      const std::function<void(EncoderWeights&)>& edit = {}) const;
  const Encoder& encoder() const { return *encoder_; }

  // Session: forward(inputs, nullptr, options.skip_padding).
  NamedTensors run(const std::map<std::string, Tensor>& inputs, const RunOptions& options = {}) const override {
    return forward(inputs, nullptr, options.skip_padding);
  }
  std::vector<std::string> input_names() const override;
  std::vector<std::string> output_names() const override;
  const config::EncoderConfig& config() const { return encoder_->config(); }
  tasks::Task task() const override { return head_.task; }
  const std::string& model_type() const override { return encoder_->config().model_type; }
  const io::Json& config_json() const override { return encoder_->config().raw; }
  bool is_decoder() const override { return false; }
  const char* session_type() const override { return "EncoderModel"; }

 private:
  EncoderModel() = default;
  // Vision encoders: pixel_values [batch, channels, height, width].
  NamedTensors forward_pixels(const std::map<std::string, Tensor>& inputs, const ForwardHook* hook) const;
  // The task's outputs from last_hidden_state [rows*seq, hidden]; `shape` is the main input's
  // (multiple-choice reshapes its logits to [batch, choices]).
  NamedTensors heads_output(const Tensor& hidden, int64_t rows, int64_t seq, const Shape& shape) const;
  bool uses_token_types_ = true;
  std::unique_ptr<Encoder> encoder_;
  Head head_;
};

}  // namespace optimum::models
