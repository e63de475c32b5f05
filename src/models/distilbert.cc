// DistilBERT: BERT without token types or pooler; its own weight names and a
// pre_classifier + ReLU head.
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
    const std::string p = w.base("transformer.layer." + std::to_string(i)) + ".";
    EncoderLayer l;
    l.qkv = blocks::fused_qkv(w, p + "attention.q_lin", p + "attention.k_lin", p + "attention.v_lin", h);
    l.attn_out = w.linear(p + "attention.out_lin", h, h);
    l.attn_norm = w.norm(p + "sa_layer_norm", h, c.layer_norm_eps);
    l.ffn_in = w.linear(p + "ffn.lin1", h, c.intermediate_size);
    l.ffn_out = w.linear(p + "ffn.lin2", c.intermediate_size, h);
    l.ffn_norm = w.norm(p + "output_layer_norm", h, c.layer_norm_eps);
    out.layers.push_back(std::move(l));
  }
  out.layer_order = blocks::sequential_order(out.layers.size());
  return out;
}

Head load_head(Task task, const WeightSource& w, const config::EncoderConfig& c) {
  const int64_t h = c.hidden_size;
  Head head;
  head.task = task;
  switch (task) {
    case Task::TextClassification:
    case Task::MultipleChoice:
      head.input = HeadInput::FirstToken;
      head.steps.push_back(HeadStep::dense(w.linear("pre_classifier", h, h)));
      head.steps.push_back(HeadStep::act(Activation::Relu));
      head.steps.push_back(HeadStep::dense(
          w.linear("classifier", h, task == Task::MultipleChoice ? 1 : c.num_labels)));
      return head;
    case Task::TokenClassification:
      head.steps.push_back(HeadStep::dense(w.linear("classifier", h, c.num_labels)));
      return head;
    case Task::QuestionAnswering:
      head.steps.push_back(HeadStep::dense(w.linear("qa_outputs", h, 2)));
      return head;
    case Task::FillMask:
      head.steps.push_back(HeadStep::dense(w.linear("vocab_transform", h, h)));
      head.steps.push_back(HeadStep::act(kernels::activation_from_name(c.hidden_act)));
      head.steps.push_back(HeadStep::layer_norm(w.norm("vocab_layer_norm", h, 1e-12)));
      head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "vocab_projector", "vocab_projector.bias", c)));
      return head;
    case Task::FeatureExtraction:
    case Task::TextGeneration:
    case Task::ImageClassification:
    case Task::Text2TextGeneration:
      break;
  }
  blocks::unsupported_task("distilbert", task, kTasks);
}

}  // namespace

Architecture distilbert_architecture() {
  Architecture a;
  a.model_type = "distilbert";
  a.blocks = encoder_blocks();
  a.blocks.embeddings.token_types = false;
  // DistilBertConfig spells the BERT fields its own way.
  a.config.key_names = {{"hidden_size", "dim"},
                        {"num_hidden_layers", "n_layers"},
                        {"num_attention_heads", "n_heads"},
                        {"intermediate_size", "hidden_dim"},
                        {"hidden_act", "activation"}};
  a.config.defaults = {{"max_position_embeddings", 512},
                       {"type_vocab_size", 0},
                       {"pad_token_id", 0},
                       {"layer_norm_eps", 1e-12},
                       {"activation", "gelu"}};
  a.exports.inputs = {tasks::InputKind::InputIds, tasks::InputKind::AttentionMask};
  a.exports.pooler = false;
  Family f;
  f.base_prefix = "distilbert";
  f.tasks = kTasks;
  f.load_encoder = load_encoder;
  f.load_head = load_head;
  a.encoder = std::move(f);
  return a;
}

}  // namespace optimum::models
