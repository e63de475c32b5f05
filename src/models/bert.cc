// BERT layout and its variants that share it: RoBERTa, XLM-RoBERTa and
// CamemBERT (positions from the padding index, classification head on <s>),
// ELECTRA (factorized embeddings, no pooler, gelu heads). The variants are
// rows of a table, not copies of the code.
#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

using kernels::Activation;
using tasks::Task;

enum class Variant { Bert, Roberta, Electra };

struct VariantRow {
  std::string model_type;
  std::string prefix;
  Variant variant;
};

const std::vector<Task> kTasks = {Task::FeatureExtraction, Task::TextClassification,
                                  Task::TokenClassification, Task::QuestionAnswering,
                                  Task::FillMask,            Task::MultipleChoice};

EncoderWeights load_encoder(const WeightSource& w, const config::EncoderConfig& c, Variant v) {
  EncoderWeights out;
  blocks::load_embeddings(w, c, "embeddings", true, out);
  const int64_t h = c.hidden_size;
  if (v == Variant::Electra && w.has_base("embeddings_project.weight")) {
    out.embedding_project = w.linear(w.base("embeddings_project"), c.embedding_size, h);
  } else if (c.embedding_size != h) {
    throw FormatError(w.source() + ": embedding_size " + std::to_string(c.embedding_size) +
                      " differs from hidden_size " + std::to_string(h) + " but embeddings_project is missing");
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = w.base("encoder.layer." + std::to_string(i)) + ".";
    EncoderLayer l;
    l.qkv = blocks::fused_qkv(w, p + "attention.self.query", p + "attention.self.key",
                              p + "attention.self.value", h);
    l.attn_out = w.linear(p + "attention.output.dense", h, h);
    l.attn_norm = w.norm(p + "attention.output.LayerNorm", h, c.layer_norm_eps);
    l.ffn_in = w.linear(p + "intermediate.dense", h, c.intermediate_size);
    l.ffn_out = w.linear(p + "output.dense", c.intermediate_size, h);
    l.ffn_norm = w.norm(p + "output.LayerNorm", h, c.layer_norm_eps);
    out.layers.push_back(std::move(l));
  }
  out.layer_order = blocks::sequential_order(out.layers.size());
  blocks::load_pooler(w, "pooler.dense", h, out);
  return out;
}

Head load_head(Task task, const WeightSource& w, const config::EncoderConfig& c, Variant v,
               const std::string& model_type) {
  const int64_t h = c.hidden_size;
  const int64_t labels = c.num_labels;
  Head head;
  head.task = task;
  switch (task) {
    case Task::TextClassification:
      if (v == Variant::Bert) {
        head.input = HeadInput::Pooled;
        head.steps.push_back(HeadStep::dense(w.linear("classifier", h, labels)));
      } else {
        head.input = HeadInput::FirstToken;
        head.steps.push_back(HeadStep::dense(w.linear("classifier.dense", h, h)));
        head.steps.push_back(HeadStep::act(v == Variant::Electra ? Activation::Gelu : Activation::Tanh));
        head.steps.push_back(HeadStep::dense(w.linear("classifier.out_proj", h, labels)));
      }
      return head;
    case Task::TokenClassification:
      head.steps.push_back(HeadStep::dense(w.linear("classifier", h, labels)));
      return head;
    case Task::QuestionAnswering:
      head.steps.push_back(HeadStep::dense(w.linear("qa_outputs", h, 2)));
      return head;
    case Task::FillMask:
      if (v == Variant::Bert) {
        head.steps.push_back(HeadStep::dense(w.linear("cls.predictions.transform.dense", h, h)));
        head.steps.push_back(HeadStep::act(kernels::activation_from_name(c.hidden_act)));
        head.steps.push_back(HeadStep::layer_norm(w.norm("cls.predictions.transform.LayerNorm", h, c.layer_norm_eps)));
        head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "cls.predictions.decoder", "cls.predictions.bias", c)));
      } else if (v == Variant::Roberta) {
        head.steps.push_back(HeadStep::dense(w.linear("lm_head.dense", h, h)));
        head.steps.push_back(HeadStep::act(Activation::Gelu));
        head.steps.push_back(HeadStep::layer_norm(w.norm("lm_head.layer_norm", h, c.layer_norm_eps)));
        head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "lm_head.decoder", "lm_head.bias", c)));
      } else {
        const int64_t e = c.embedding_size;
        head.steps.push_back(HeadStep::dense(w.linear("generator_predictions.dense", h, e)));
        head.steps.push_back(HeadStep::act(Activation::Gelu));
        head.steps.push_back(HeadStep::layer_norm(w.norm("generator_predictions.LayerNorm", e, c.layer_norm_eps)));
        head.steps.push_back(HeadStep::dense(blocks::tied_decoder(w, "generator_lm_head", "generator_lm_head.bias", c)));
      }
      return head;
    case Task::MultipleChoice:
      if (v == Variant::Electra) {
        // ElectraSequenceSummary: first token -> projection -> activation.
        if (c.summary_type != "first") {
          throw Unsupported(w.source() + ": ELECTRA summary_type '" + c.summary_type +
                            "' is not supported (supported: first)");
        }
        head.input = HeadInput::FirstToken;
        if (c.summary_use_proj) {
          const int64_t n = c.summary_proj_to_labels && labels > 0 ? labels : h;
          head.steps.push_back(HeadStep::dense(w.linear("sequence_summary.summary", h, n)));
          if (!c.summary_activation.empty()) {
            head.steps.push_back(HeadStep::act(kernels::activation_from_name(c.summary_activation)));
          }
          head.steps.push_back(HeadStep::dense(w.linear("classifier", n, 1)));
        } else {
          if (!c.summary_activation.empty()) {
            head.steps.push_back(HeadStep::act(kernels::activation_from_name(c.summary_activation)));
          }
          head.steps.push_back(HeadStep::dense(w.linear("classifier", h, 1)));
        }
      } else {
        head.input = HeadInput::Pooled;
        head.steps.push_back(HeadStep::dense(w.linear("classifier", h, 1)));
      }
      return head;
    case Task::FeatureExtraction:
    case Task::TextGeneration:
    case Task::ImageClassification:
    case Task::Text2TextGeneration:
      break;
  }
  blocks::unsupported_task(model_type, task, kTasks);
}

Family make_family(const VariantRow& row) {
  Family f;
  f.base_prefix = row.prefix;
  f.tasks = kTasks;
  const Variant v = row.variant;
  f.load_encoder = [v](const WeightSource& w, const config::EncoderConfig& c) { return load_encoder(w, c, v); };
  const std::string mt = row.model_type;
  f.load_head = [v, mt](Task t, const WeightSource& w, const config::EncoderConfig& c) {
    return load_head(t, w, c, v, mt);
  };
  return f;
}

}  // namespace

std::vector<Architecture> bert_architectures() {
  static const std::vector<VariantRow> kRows = {
      {"bert", "bert", Variant::Bert},
      {"roberta", "roberta", Variant::Roberta},
      {"xlm-roberta", "roberta", Variant::Roberta},
      {"camembert", "roberta", Variant::Roberta},
      {"electra", "electra", Variant::Electra},
  };
  using K = tasks::InputKind;
  std::vector<Architecture> out;
  for (const VariantRow& r : kRows) {
    Architecture a;
    a.model_type = r.model_type;
    a.blocks = encoder_blocks();
    a.blocks.embeddings.positions_from_padding_index = r.variant == Variant::Roberta;
    a.blocks.embeddings.factorized = r.variant == Variant::Electra;
    // RoBERTa and its variants pad with <pad> = 1 (RobertaConfig).
    a.config.defaults = blocks::bert_config_defaults(r.variant == Variant::Roberta ? 1 : 0);
    if (r.variant == Variant::Electra) {
      a.config.defaults["embedding_size"] = 128;
      a.config.defaults["summary_activation"] = "gelu";
    }
    // Optimum's export inputs: token_type_ids for BERT and ELECTRA only.
    a.exports.inputs = {K::InputIds, K::AttentionMask};
    if (r.variant != Variant::Roberta) a.exports.inputs.push_back(K::TokenTypeIds);
    a.exports.pooler = r.variant != Variant::Electra;
    a.encoder = make_family(r);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace optimum::models
