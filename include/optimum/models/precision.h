// Per-Linear precision of an encoder: which encoder-layer Linears run in
// bf16 or int8, how their weights are stored (what a native export writes)
// and a copy of a model with a given plan. Embeddings, norms, the embedding
// projection, the pooler and heads always stay f32.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "optimum/kernels/matmul.h"
#include "optimum/models/model.h"

namespace optimum::models {

// Encoder-layer Linear name ("layers.3.ffn_in", the native export's tensor
// prefix) -> precision; names absent from the map are f32. The key
// kWordEmbeddings set to S8 stores the word-embedding table in int8 too.
using PrecisionPlan = std::map<std::string, kernels::WeightType>;

// Plan key of the word-embedding table: S8 = I8 rows with per-row symmetric
// scales (kernels::quantize_rows_s8), dequantized at gather; absent = f32.
inline constexpr const char* kWordEmbeddings = "embeddings.word";

// The word-embedding table of `w` in int8 (I8 rows + per-row scales); an I8
// table is kept as it is.
void quantize_word_embeddings(EncoderWeights& w);

// Names of the encoder-layer Linears (qkv, attn_out, ffn_in, ffn_out of each
// distinct layer), in layer order.
std::vector<std::string> layer_linear_names(const EncoderWeights& weights);

// Every layer Linear in `type` (an empty plan for F32).
PrecisionPlan uniform_plan(const EncoderWeights& weights, kernels::WeightType type);

// The Linear with its weight stored in `type`: BF16 weight (round to
// nearest even), or I8 weight [out, in] + F32 weight_scale [out]
// (kernels::quantize_rows_s8), packed in that precision. `l` must hold f32
// weights. F32 returns `l` packed in f32.
Linear convert_linear(const Linear& l, kernels::WeightType type);

// The precision a Linear's stored weight implies (F32 for f32/f16 weights).
kernels::WeightType stored_type(const Linear& l);

// A copy of `model` whose layer Linears follow `plan` (converted from the
// model's f32 weights); `convert` (optional) supplies already converted
// Linears (name, source Linear, type) so that repeated plans reuse them.
using LinearConverter = std::function<Linear(const std::string&, const Linear&, kernels::WeightType)>;
std::shared_ptr<const EncoderModel> with_precision(const EncoderModel& model, const PrecisionPlan& plan,
                                                   const LinearConverter& convert = {});

}  // namespace optimum::models
