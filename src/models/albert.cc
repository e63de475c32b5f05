// ALBERT: factorized embeddings (embedding_size -> hidden through
// embedding_hidden_mapping_in) and layers shared across groups.
#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

using tasks::Task;

const std::vector<Task> kTasks = {Task::FeatureExtraction, Task::TextClassification,
                                  Task::TokenClassification, Task::QuestionAnswering,
                                  Task::FillMask,            Task::MultipleChoice};

// num_hidden_groups * inner_group_num distinct layers; AlbertTransformer runs
// layer i of group int(i / (num_hidden_layers / num_hidden_groups)), each
// group's inner layers in turn.
LayerPlan albert_plan(const config::EncoderConfig& c) {
  const int64_t groups = c.num_hidden_groups;
  const int64_t inner = c.inner_group_num;
  if (groups > kMaxLayerRuns || inner > kMaxLayerRuns || c.num_hidden_layers > kMaxLayerRuns ||
      c.num_hidden_layers * inner > kMaxLayerRuns || groups * inner > kMaxLayerRuns) {
    throw FormatError(c.source + ": num_hidden_layers " + std::to_string(c.num_hidden_layers) +
                      ", num_hidden_groups " + std::to_string(groups) + " and inner_group_num " +
                      std::to_string(inner) + " exceed the " + std::to_string(kMaxLayerRuns) +
                      " layers this build runs");
  }
  LayerPlan plan;
  plan.distinct = static_cast<size_t>(groups * inner);
  const double per_group = static_cast<double>(c.num_hidden_layers) / static_cast<double>(groups);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const auto g = static_cast<int64_t>(static_cast<double>(i) / per_group);
    for (int64_t j = 0; j < inner; ++j) plan.order.push_back(static_cast<size_t>(g * inner + j));
  }
  return plan;
}

EncoderWeights load_encoder(const WeightSource& w, const config::EncoderConfig& c) {
  EncoderWeights out;
  out.layer_order = albert_plan(c).order;
  blocks::load_embeddings(w, c, "embeddings", true, out);
  const int64_t h = c.hidden_size;
  out.embedding_project = w.linear(w.base("encoder.embedding_hidden_mapping_in"), c.embedding_size, h);
  const int64_t groups = c.num_hidden_groups;
  const int64_t inner = c.inner_group_num;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t j = 0; j < inner; ++j) {
      const std::string p = w.base("encoder.albert_layer_groups." + std::to_string(g) + ".albert_layers." +
                                   std::to_string(j)) + ".";
      EncoderLayer l;
      l.qkv = blocks::fused_qkv(w, p + "attention.query", p + "attention.key", p + "attention.value", h);
      l.attn_out = w.linear(p + "attention.dense", h, h);
      l.attn_norm = w.norm(p + "attention.LayerNorm", h, c.layer_norm_eps);
      l.ffn_in = w.linear(p + "ffn", h, c.intermediate_size);
      l.ffn_out = w.linear(p + "ffn_output", c.intermediate_size, h);
      l.ffn_norm = w.norm(p + "full_layer_layer_norm", h, c.layer_norm_eps);
      out.layers.push_back(std::move(l));
    }
  }
  const std::string pooler = w.base("pooler.weight");
  if (w.has(pooler)) out.pooler = w.linear(w.base("pooler"), h, h);
  return out;
}

Head load_head(Task task, const WeightSource& w, const config::EncoderConfig& c) {
  const int64_t h = c.hidden_size;
  Head head;
  head.task = task;
  switch (task) {
    case Task::TextClassification:
    case Task::MultipleChoice:
      head.input = HeadInput::Pooled;
      head.steps.push_back(HeadStep::dense(
          w.linear("classifier", h, task == Task::MultipleChoice ? 1 : c.num_labels)));
      return head;
    case Task::TokenClassification:
      head.steps.push_back(HeadStep::dense(w.linear("classifier", h, c.num_labels)));
      return head;
    case Task::QuestionAnswering:
      head.steps.push_back(HeadStep::dense(w.linear("qa_outputs", h, 2)));
      return head;
    case Task::FillMask: {
      const int64_t e = c.embedding_size;
      head.steps.push_back(HeadStep::dense(w.linear("predictions.dense", h, e)));
      head.steps.push_back(HeadStep::act(kernels::activation_from_name(c.hidden_act)));
      head.steps.push_back(HeadStep::layer_norm(w.norm("predictions.LayerNorm", e, c.layer_norm_eps)));
      head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "predictions.decoder", "predictions.bias", c)));
      return head;
    }
    case Task::FeatureExtraction:
    case Task::TextGeneration:
    case Task::ImageClassification:
    case Task::Text2TextGeneration:
      break;
  }
  blocks::unsupported_task("albert", task, kTasks);
}

}  // namespace

Architecture albert_architecture() {
  Architecture a;
  a.model_type = "albert";
  a.blocks = encoder_blocks();
  a.blocks.embeddings.factorized = true;
  a.config.defaults = blocks::bert_config_defaults(0);
  a.config.defaults["embedding_size"] = 128;
  a.config.defaults["hidden_act"] = "gelu_new";
  a.config.defaults["num_hidden_groups"] = 1;
  a.config.defaults["inner_group_num"] = 1;
  using K = tasks::InputKind;
  a.exports.inputs = {K::InputIds, K::AttentionMask, K::TokenTypeIds};
  a.exports.pooler = true;
  Family f;
  f.base_prefix = "albert";
  f.tasks = kTasks;
  f.load_encoder = load_encoder;
  f.load_head = load_head;
  f.layer_plan = albert_plan;
  a.encoder = std::move(f);
  return a;
}

}  // namespace optimum::models
