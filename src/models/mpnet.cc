// MPNet: RoBERTa-style positions, no token types, and a relative position
// bias shared by all layers.
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

using kernels::Activation;
using tasks::Task;

const std::vector<Task> kTasks = {Task::FeatureExtraction, Task::TextClassification,
                                  Task::TokenClassification, Task::QuestionAnswering,
                                  Task::FillMask,            Task::MultipleChoice};

EncoderWeights load_encoder(const WeightSource& w, const config::EncoderConfig& c) {
  EncoderWeights out;
  blocks::load_embeddings(w, c, "embeddings", false, out);
  const int64_t h = c.hidden_size;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = w.base("encoder.layer." + std::to_string(i)) + ".";
    EncoderLayer l;
    l.qkv = blocks::fused_qkv(w, p + "attention.attn.q", p + "attention.attn.k", p + "attention.attn.v", h);
    l.attn_out = w.linear(p + "attention.attn.o", h, h);
    l.attn_norm = w.norm(p + "attention.LayerNorm", h, c.layer_norm_eps);
    l.ffn_in = w.linear(p + "intermediate.dense", h, c.intermediate_size);
    l.ffn_out = w.linear(p + "output.dense", c.intermediate_size, h);
    l.ffn_norm = w.norm(p + "output.LayerNorm", h, c.layer_norm_eps);
    out.layers.push_back(std::move(l));
  }
  out.layer_order = blocks::sequential_order(out.layers.size());
  // transformers always buckets relative positions into 32 (MPNetEncoder.compute_position_bias).
  if (c.relative_attention_num_buckets < 32) {
    throw FormatError(w.source() + ": relative_attention_num_buckets " +
                      std::to_string(c.relative_attention_num_buckets) + " is below the 32 buckets MPNet uses");
  }
  out.relative_attention_bias = w.tensor(w.base("encoder.relative_attention_bias.weight"),
                                         {c.relative_attention_num_buckets, c.num_attention_heads});
  blocks::load_pooler(w, "pooler.dense", h, out);
  return out;
}

Head load_head(Task task, const WeightSource& w, const config::EncoderConfig& c) {
  const int64_t h = c.hidden_size;
  Head head;
  head.task = task;
  switch (task) {
    case Task::TextClassification:
      head.input = HeadInput::FirstToken;
      head.steps.push_back(HeadStep::dense(w.linear("classifier.dense", h, h)));
      head.steps.push_back(HeadStep::act(Activation::Tanh));
      head.steps.push_back(HeadStep::dense(w.linear("classifier.out_proj", h, c.num_labels)));
      return head;
    case Task::MultipleChoice:
      head.input = HeadInput::Pooled;
      head.steps.push_back(HeadStep::dense(w.linear("classifier", h, 1)));
      return head;
    case Task::TokenClassification:
      head.steps.push_back(HeadStep::dense(w.linear("classifier", h, c.num_labels)));
      return head;
    case Task::QuestionAnswering:
      head.steps.push_back(HeadStep::dense(w.linear("qa_outputs", h, 2)));
      return head;
    case Task::FillMask:
      head.steps.push_back(HeadStep::dense(w.linear("lm_head.dense", h, h)));
      head.steps.push_back(HeadStep::act(Activation::Gelu));
      head.steps.push_back(HeadStep::layer_norm(w.norm("lm_head.layer_norm", h, c.layer_norm_eps)));
      head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "lm_head.decoder", "lm_head.bias", c)));
      return head;
    case Task::FeatureExtraction:
    case Task::TextGeneration:
    case Task::ImageClassification:
    case Task::Text2TextGeneration:
      break;
  }
  blocks::unsupported_task("mpnet", task, kTasks);
}

}  // namespace

Architecture mpnet_architecture() {
  Architecture a;
  a.model_type = "mpnet";
  a.blocks = encoder_blocks();
  a.blocks.embeddings.positions_from_padding_index = true;
  a.blocks.embeddings.token_types = false;
  a.blocks.attention.relative_bias = true;
  a.config.defaults = blocks::bert_config_defaults(1);
  a.config.defaults["relative_attention_num_buckets"] = 32;
  a.config.defaults["type_vocab_size"] = 0;  // MPNet has no token types
  a.exports.inputs = {tasks::InputKind::InputIds, tasks::InputKind::AttentionMask};
  a.exports.pooler = true;
  Family f;
  f.base_prefix = "mpnet";
  f.tasks = kTasks;
  f.load_encoder = load_encoder;
  f.load_head = load_head;
  a.encoder = std::move(f);
  return a;
}

}  // namespace optimum::models
