// Pieces shared by the ONNX exporter's graphs and its writer.
#pragma once

#include <string>
#include <vector>

#include "graph.h"
#include "optimum/config/config.h"
#include "optimum/models/decoder.h"
#include "optimum/models/encoder.h"
#include "optimum/models/heads.h"
#include "optimum/models/seq2seq.h"
#include "optimum/tasks/registry.h"

namespace optimum::exporters::onnx_export {

// Input/output dimensions: symbolic axis names from the registry's
// ExportConfig, or fixed sizes when dynamic axes are off.
struct GraphShapes {
  bool dynamic = true;
  int64_t batch_size = 2;
  int64_t sequence_length = 16;
  int64_t num_choices = 4;
  int64_t past_sequence_length = 16;
  // Vision inputs (pixel_values): the checkpoint's channels and image size.
  int64_t num_channels = 3;
  int64_t height = 224;
  int64_t width = 224;
  // Seq2seq decoders: the encoder's sequence length.
  int64_t encoder_sequence_length = 16;

  // Size of a named axis when fixed; -1 when symbolic.
  int64_t axis_size(const std::string& axis) const {
    if (dynamic) return -1;
    if (axis == "batch_size") return batch_size;
    if (axis == "sequence_length") return sequence_length;
    if (axis == "num_choices") return num_choices;
    if (axis == "past_sequence_length") return past_sequence_length;
    if (axis == "past_sequence_length + sequence_length") return past_sequence_length + sequence_length;
    if (axis == "past_decoder_sequence_length") return past_sequence_length;
    if (axis == "past_decoder_sequence_length + 1") return past_sequence_length + 1;
    if (axis == "decoder_sequence_length") return sequence_length;
    if (axis == "encoder_sequence_length" || axis == "encoder_sequence_length_out") return encoder_sequence_length;
    if (axis == "num_channels") return num_channels;
    if (axis == "height") return height;
    if (axis == "width") return width;
    return -1;
  }
  // Dims of a rank-`rank` tensor: -1 at the spec's axes when dynamic, their size when fixed, else 0 (to fill).
  std::vector<int64_t> input_dims(const tasks::TensorSpec& spec, int rank) const {
    std::vector<int64_t> d(static_cast<size_t>(rank), 0);
    for (const auto& [i, name] : spec.axes) {
      if (i < rank) d[static_cast<size_t>(i)] = axis_size(name);
    }
    return d;
  }
  std::vector<std::string> dim_names(const tasks::TensorSpec& spec, int rank) const {
    std::vector<std::string> n(static_cast<size_t>(rank));
    for (const auto& [i, name] : spec.axes) {
      if (i < rank) n[static_cast<size_t>(i)] = name;
    }
    return n;
  }
};

// Graph inputs and outputs, in order.
struct BuiltGraph {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

// What an encoder export is built from: the family loader's weights and head.
struct EncoderSource {
  const config::EncoderConfig& config;
  const models::EncoderWeights& weights;
  models::PositionStyle positions;
  const models::Head& head;  // unused for feature-extraction
};

BuiltGraph build_encoder_graph(GraphBuilder& g, const EncoderSource& src, const tasks::ExportConfig& ec,
                               const GraphShapes& shapes);

// What a decoder export is built from: the family's config and loaded weights.
struct DecoderSource {
  const models::DecoderConfig& config;
  const models::DecoderWeights& weights;
};

// Optimum's merged decoder: past_key_values inputs / present outputs with -with-past tasks.
BuiltGraph build_decoder_graph(GraphBuilder& g, const DecoderSource& src, const tasks::ExportConfig& ec,
                               const GraphShapes& shapes);

// What an encoder-decoder export is built from: the family's config and loaded weights.
struct Seq2SeqSource {
  const models::Seq2SeqConfig& config;
  const models::Seq2SeqWeights& weights;
};

// encoder_model.onnx: input_ids, attention_mask -> last_hidden_state (the ExportConfig's inputs/outputs).
BuiltGraph build_seq2seq_encoder_graph(GraphBuilder& g, const Seq2SeqSource& src, const tasks::ExportConfig& ec,
                                       const GraphShapes& shapes);
// decoder_model.onnx, or with past Optimum's decoder_model_merged.onnx (use_cache_branch If): the
// ExportConfig's decoder_inputs/decoder_outputs.
BuiltGraph build_seq2seq_decoder_graph(GraphBuilder& g, const Seq2SeqSource& src, const tasks::ExportConfig& ec,
                                       const GraphShapes& shapes);

}  // namespace optimum::exporters::onnx_export
