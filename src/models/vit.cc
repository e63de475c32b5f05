// ViT: patch embeddings (Conv2d with kernel = stride = patch_size, loaded as
// a Linear over flattened patches) after a learned CLS token, learned
// positions, pre-LayerNorm encoder layers, a final LayerNorm, a dense + tanh
// pooler on the CLS token (ViTModel) and a classifier on the CLS token of the
// final-normed sequence (ViTForImageClassification).
#include "optimum/core/errors.h"
#include "optimum/models/architecture.h"

namespace optimum::models {

namespace {

using tasks::Task;

const std::vector<Task> kTasks = {Task::FeatureExtraction, Task::ImageClassification};

EncoderWeights load_encoder(const WeightSource& w, const config::EncoderConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t ch = c.num_channels, ph = c.patch_height, pw = c.patch_width;
  EncoderWeights out;
  out.pre_norm = true;
  // Conv2d weight [hidden, channels, ph, pw] is, row-major, the Linear
  // [hidden, channels*ph*pw] over patches flattened (channel, row, column).
  const std::string conv = w.base("embeddings.patch_embeddings.projection");
  Linear patch;
  patch.in = ch * ph * pw;
  patch.out = h;
  patch.weight = w.tensor(conv + ".weight", {h, ch, ph, pw}).reshape({h, ch * ph * pw});
  patch.bias = w.tensor(conv + ".bias", {h});
  out.patch_embedding = std::move(patch);
  out.cls_token = w.tensor(w.base("embeddings.cls_token"), {1, 1, h}).reshape({h});
  out.position_embeddings =
      w.tensor(w.base("embeddings.position_embeddings"), {1, c.max_position_embeddings, h})
          .reshape({c.max_position_embeddings, h});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = w.base("encoder.layer." + std::to_string(i)) + ".";
    EncoderLayer l;
    const std::string a = p + "attention.attention.";
    const Linear q = w.linear(a + "query", h, h, c.qkv_bias);
    const Linear k = w.linear(a + "key", h, h, c.qkv_bias);
    const Linear v = w.linear(a + "value", h, h, c.qkv_bias);
    l.qkv = fuse_linears({&q, &k, &v});
    l.attn_out = w.linear(p + "attention.output.dense", h, h);
    l.attn_norm = w.norm(p + "layernorm_before", h, c.layer_norm_eps);
    l.ffn_in = w.linear(p + "intermediate.dense", h, c.intermediate_size);
    l.ffn_out = w.linear(p + "output.dense", c.intermediate_size, h);
    l.ffn_norm = w.norm(p + "layernorm_after", h, c.layer_norm_eps);
    out.layers.push_back(std::move(l));
  }
  out.layer_order = blocks::sequential_order(out.layers.size());
  out.final_norm = w.norm(w.base("layernorm"), h, c.layer_norm_eps);
  const std::string pooler = w.base("pooler.dense");
  if (w.has(pooler + ".weight")) {
    out.pooler = w.linear(pooler, h, c.pooler_output_size > 0 ? c.pooler_output_size : h);
  }
  return out;
}

Head load_head(Task task, const WeightSource& w, const config::EncoderConfig& c) {
  Head head;
  head.task = task;
  if (task == Task::ImageClassification) {
    // ViTForImageClassification: classifier(sequence_output[:, 0, :]), no pooler.
    head.input = HeadInput::FirstToken;
    head.steps.push_back(HeadStep::dense(w.linear("classifier", c.hidden_size, c.num_labels)));
    return head;
  }
  blocks::unsupported_task("vit", task, kTasks);
}

}  // namespace

Architecture vit_architecture() {
  Architecture a;
  a.model_type = "vit";
  a.blocks.embeddings.positions = PositionKind::Learned;
  a.blocks.embeddings.patches = true;
  a.blocks.norm.kind = NormKind::LayerNorm;
  a.blocks.norm.pre_norm = true;
  a.blocks.norm.final_norm = true;
  a.config.vision = true;
  // ViTConfig's defaults (google/vit-base-patch16-224).
  a.config.defaults = {{"hidden_size", 768},       {"num_hidden_layers", 12}, {"num_attention_heads", 12},
                       {"intermediate_size", 3072}, {"hidden_act", "gelu"},    {"layer_norm_eps", 1e-12},
                       {"image_size", 224},         {"patch_size", 16},        {"num_channels", 3},
                       {"qkv_bias", true},          {"pooler_act", "tanh"},    {"pad_token_id", 0}};
  a.exports.inputs = {tasks::InputKind::PixelValues};
  a.exports.pooler = true;
  Family f;
  f.base_prefix = "vit";
  f.tasks = kTasks;
  f.load_encoder = load_encoder;
  f.load_head = load_head;
  a.encoder = std::move(f);
  return a;
}

}  // namespace optimum::models
