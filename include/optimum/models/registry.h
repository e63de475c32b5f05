// The encoder loader of an architecture entry (models/architecture.h): how a
// family maps its checkpoint onto EncoderWeights and builds its task heads,
// and the shared loading pieces the family files use.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "optimum/config/config.h"
#include "optimum/models/encoder.h"
#include "optimum/models/heads.h"

namespace optimum::models {

// The encoder layers a family loads (`distinct`, indexed as
// EncoderWeights::layers) and the order it runs them in, from the config.
struct LayerPlan {
  size_t distinct = 0;
  std::vector<size_t> order;
};

// Most layer runs a plan may hold (num_hidden_layers, times
// inner_group_num for ALBERT): FormatError beyond, naming the config field.
inline constexpr int64_t kMaxLayerRuns = int64_t{1} << 16;

struct Family {
  std::string model_type;   // filled by the registry from the entry
  std::string base_prefix;  // attribute of the base model in head classes
  // Filled by the registry from the entry's BlockOptions::embeddings.
  PositionStyle positions = PositionStyle::Absolute;
  bool uses_token_types = true;
  std::vector<tasks::Task> tasks;  // tasks with a head, feature-extraction included
  std::function<EncoderWeights(const WeightSource&, const config::EncoderConfig&)> load_encoder;
  // Head of a task other than feature-extraction.
  std::function<Head(tasks::Task, const WeightSource&, const config::EncoderConfig&)> load_head;
  // Layers loaded and run; unset: blocks::sequential_plan (one layer per
  // num_hidden_layers, in order). Native exports are checked against it.
  std::function<LayerPlan(const config::EncoderConfig&)> layer_plan;
};

// The encoder loader of `model_type` (architecture.cc); Unsupported lists
// the encoder model types.
const Family& find_family(const std::string& model_type);

// Shared pieces of family files.
namespace blocks {
// BertConfig's defaults (max_position_embeddings 512, type_vocab_size 2,
// layer_norm_eps 1e-12, hidden_act gelu) with `pad_token_id`: the base of
// the encoder config specs.
config::Json bert_config_defaults(int64_t pad_token_id);
// Word/position/token-type embeddings and their LayerNorm under `prefix`
// ("embeddings"), sized by embedding_size.
void load_embeddings(const WeightSource& w, const config::EncoderConfig& c, const std::string& prefix,
                     bool token_types, EncoderWeights& out);
// Fuses three Linear layers named q, k, v into one [3*hidden, hidden].
Linear fused_qkv(const WeightSource& w, const std::string& q, const std::string& k, const std::string& v,
                 int64_t hidden);
// "<name>.dense" + tanh pooler, when the checkpoint has it.
void load_pooler(const WeightSource& w, const std::string& name, int64_t hidden, EncoderWeights& out);
// The tied output embedding: `<name>.weight` if saved, else the word embeddings.
Linear tied_decoder(const WeightSource& w, const std::string& name, const std::string& bias_name,
                    const config::EncoderConfig& c);
// layer_order 0..n-1 over n distinct layers.
std::vector<size_t> sequential_order(size_t n);
// num_hidden_layers distinct layers run once each, in order.
LayerPlan sequential_plan(const config::EncoderConfig& c);
// The family's plan (its layer_plan, else sequential_plan).
LayerPlan layer_plan(const Family& family, const config::EncoderConfig& c);
// Head of `task` built from steps; Unsupported if the family lacks it.
[[noreturn]] void unsupported_task(const std::string& model_type, tasks::Task task,
                                   const std::vector<tasks::Task>& supported);
}  // namespace blocks

}  // namespace optimum::models
