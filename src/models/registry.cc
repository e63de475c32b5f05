#include "optimum/models/registry.h"

#include "optimum/core/errors.h"

namespace optimum::models {

namespace blocks {

config::Json bert_config_defaults(int64_t pad_token_id) {
  return {{"max_position_embeddings", 512}, {"type_vocab_size", 2}, {"pad_token_id", pad_token_id},
          {"layer_norm_eps", 1e-12},        {"hidden_act", "gelu"}};
}

void load_embeddings(const WeightSource& w, const config::EncoderConfig& c, const std::string& prefix,
                     bool token_types, EncoderWeights& out) {
  const int64_t e = c.embedding_size;
  out.word_embeddings = w.tensor(w.base(prefix + ".word_embeddings.weight"), {c.vocab_size, e});
  out.position_embeddings =
      w.tensor(w.base(prefix + ".position_embeddings.weight"), {c.max_position_embeddings, e});
  if (token_types) {
    // transformers cannot build (negative) or run (0) token-type embeddings of no rows.
    if (c.type_vocab_size <= 0) {
      throw FormatError(c.source + ": type_vocab_size " + std::to_string(c.type_vocab_size) +
                        " must be positive: model_type '" + c.model_type + "' adds token-type embeddings");
    }
    out.token_type_embeddings =
        w.tensor(w.base(prefix + ".token_type_embeddings.weight"), {c.type_vocab_size, e});
  }
  out.embedding_norm = w.norm(w.base(prefix + ".LayerNorm"), e, c.layer_norm_eps);
}

Linear fused_qkv(const WeightSource& w, const std::string& q, const std::string& k, const std::string& v,
                 int64_t hidden) {
  const Linear lq = w.linear(q, hidden, hidden);
  const Linear lk = w.linear(k, hidden, hidden);
  const Linear lv = w.linear(v, hidden, hidden);
  return fuse_linears({&lq, &lk, &lv});
}

void load_pooler(const WeightSource& w, const std::string& name, int64_t hidden, EncoderWeights& out) {
  const std::string full = w.base(name + ".weight");
  if (w.has(full)) out.pooler = w.linear(full.substr(0, full.size() - 7), hidden, hidden);
}

Linear tied_decoder(const WeightSource& w, const std::string& name, const std::string& bias_name,
                    const config::EncoderConfig& c) {
  Linear l;
  l.in = c.embedding_size;
  l.out = c.vocab_size;
  l.weight = w.has(name + ".weight") ? w.tensor(name + ".weight", {c.vocab_size, c.embedding_size})
                                     : w.tensor(w.base("embeddings.word_embeddings.weight"),
                                                {c.vocab_size, c.embedding_size});
  l.bias = w.has(bias_name) ? w.tensor(bias_name, {c.vocab_size}) : w.tensor(name + ".bias", {c.vocab_size});
  return l;
}

std::vector<size_t> sequential_order(size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  return order;
}

LayerPlan sequential_plan(const config::EncoderConfig& c) {
  if (c.num_hidden_layers > kMaxLayerRuns) {
    throw FormatError(c.source + ": num_hidden_layers " + std::to_string(c.num_hidden_layers) +
                      " exceeds the " + std::to_string(kMaxLayerRuns) + " layers this build runs");
  }
  const auto n = static_cast<size_t>(c.num_hidden_layers);
  return {n, sequential_order(n)};
}

LayerPlan layer_plan(const Family& family, const config::EncoderConfig& c) {
  return family.layer_plan ? family.layer_plan(c) : sequential_plan(c);
}

void unsupported_task(const std::string& model_type, tasks::Task task,
                      const std::vector<tasks::Task>& supported) {
  std::string list;
  for (tasks::Task t : supported) list += (list.empty() ? "" : ", ") + tasks::task_name(t);
  throw Unsupported("task '" + tasks::task_name(task) + "' is not supported for model_type '" + model_type +
                    "' (supported: " + list + ")");
}

}  // namespace blocks

}  // namespace optimum::models
