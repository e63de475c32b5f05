// The backend/session interface OptimizedModel holds: a loaded model with one
// task head that takes named inputs and returns named outputs (transformers'
// ModelOutput field names). The encoder engine (EncoderModel) and the
// decoder heads (DecoderSession: base model, sequence classification,
// causal-LM logits) implement it.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "optimum/core/tensor.h"
#include "optimum/io/json.h"
#include "optimum/tasks/task.h"

namespace optimum::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct RunOptions {
  // Compute attended tokens only (EncoderInputs::skip_padding): outputs at
  // padding positions are then not transformers' values. Decoders never
  // compute padding positions (they return zeros there).
  bool skip_padding = false;
};

// A session input as contiguous int64 (int32 converted); InvalidArgument
// names the input `name` for any other dtype. Defined in model.cc.
Tensor input_as_int64(const Tensor& t, const std::string& name);
// A session input as contiguous float32 (f16/bf16 converted); InvalidArgument
// names the input `name` for an integer dtype. Defined in model.cc.
Tensor input_as_float32(const Tensor& t, const std::string& name);

class Session {
 public:
  virtual ~Session() = default;
  // Inputs by name (token ids int64 or int32, input_ids required; vision
  // models: float32 pixel_values instead); outputs in
  // output_names() order. InvalidArgument names an unknown input or a bad
  // shape. Thread-safe: a session is immutable.
  virtual NamedTensors run(const std::map<std::string, Tensor>& inputs, const RunOptions& options = {}) const = 0;
  virtual std::vector<std::string> input_names() const = 0;
  virtual std::vector<std::string> output_names() const = 0;
  virtual tasks::Task task() const = 0;
  // config.json's model_type.
  virtual const std::string& model_type() const = 0;
  // config.json as read, once, at load (the typed configs are the engines').
  virtual const io::Json& config_json() const = 0;
  // A causal decoder (DecoderSession) rather than an encoder (EncoderModel).
  virtual bool is_decoder() const = 0;
  // The implementation's name ("EncoderModel", "DecoderSession"), for reprs
  // and for tests that every architecture loads through a session.
  virtual const char* session_type() const = 0;
};

}  // namespace optimum::models
