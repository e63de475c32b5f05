// The native export format of encoder-decoders (t5, bart, mbart, marian):
// the engine's layout (fused self-attention q/k/v, fused cross-attention
// k/v, fused gate/up for gated MLPs, norms by role) in
// model.optimum-cpp.safetensors, each projection Linear in f32, bf16 or
// int8 (I8 weight + F32 per-output-channel "<name>.weight_scale"), next to
// the source's config.json; the layout description lives in
// optimum_export.json ("layout", kind "seq2seq"). Seq2SeqModel::load(dir)
// reads such a folder as it reads a transformers checkpoint.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optimum/io/json.h"
#include "optimum/io/safetensors.h"
#include "optimum/models/precision.h"
#include "optimum/models/seq2seq.h"

namespace optimum::models {

// "kind" of an encoder-decoder layout in optimum_export.json.
inline constexpr const char* kSeq2SeqLayoutKind = "seq2seq";
inline constexpr int kSeq2SeqLayoutVersion = 1;

// Projection Linears a precision plan may name, in order:
// encoder.layers.{i}.self_attn.qkv / .o, ffn.up / .down, then
// decoder.layers.{i}.self_attn.qkv / .o, cross_attn.q / .kv / .o, ffn.up /
// .down, then lm_head when it is not tied to the embeddings.
std::vector<std::string> seq2seq_linear_names(const Seq2SeqWeights& weights);

// A copy of `model` whose projection Linears follow `plan` (absent names
// stay f32); `convert` (optional) supplies already converted Linears.
// Embeddings, positions, norms and a tied lm_head stay f32.
std::shared_ptr<const Seq2SeqModel> seq2seq_with_precision(const Seq2SeqModel& model, const PrecisionPlan& plan,
                                                           const LinearConverter& convert = {});

struct Seq2SeqNativeLayout {
  std::vector<std::pair<std::string, Tensor>> tensors;
  io::Json layout;  // {"kind": "seq2seq", "version", "linear_dtypes", "tied_lm_head", "final_logits_bias"}
};

// Engine-layout tensors of `model`. Marian's sinusoidal position table is
// not written (it is rebuilt from config.json).
Seq2SeqNativeLayout seq2seq_to_native(const Seq2SeqModel& model);

// Rebuilds the weights written by seq2seq_to_native, each tensor's shape and
// dtype checked against `config` and `layout`; FormatError names `source`
// and the tensor or field at fault.
Seq2SeqWeights seq2seq_from_native(const Seq2SeqConfig& config, const io::WeightStore& store, const io::Json& layout,
                                   const std::string& source);

// The layout of a native encoder-decoder export in `dir` (optimum_export.json
// with the native format and a seq2seq layout), or null when `dir` is not one.
io::Json native_seq2seq_layout(const std::filesystem::path& dir);

}  // namespace optimum::models
