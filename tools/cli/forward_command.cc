#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/modeling/modeling.h"

namespace optimum::cli {

namespace {

constexpr int64_t kSummaryValues = 8;

struct ForwardArgs {
  std::string model;
  std::string task = "feature-extraction";
  std::vector<std::string> sequences;  // comma-separated token ids, one per sequence
  int threads = 0;
  int64_t max_values = -1;  // all
  bool summarize = false;   // first kSummaryValues values, shape and norm
};

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      ids.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw InvalidArgument("--input-ids: '" + item + "' is not an integer token id");
    }
  }
  if (ids.empty()) throw InvalidArgument("--input-ids: empty sequence");
  return ids;
}

void run(const ForwardArgs& a) {
  modeling::LoadOptions opts;
  opts.task = tasks::task_from_name(a.task);
  opts.num_threads = a.threads;
  auto model = modeling::OptimizedModel::from_pretrained(check_local_path(a.model, "--model"), opts);
  // Right-pad the sequences into one batch with an attention mask.
  std::vector<std::vector<int64_t>> seqs;
  size_t longest = 0;
  for (const auto& s : a.sequences) {
    seqs.push_back(parse_ids(s));
    longest = std::max(longest, seqs.back().size());
  }
  const auto batch = static_cast<int64_t>(seqs.size());
  const auto len = static_cast<int64_t>(longest);
  Tensor ids = Tensor::zeros(DType::I64, {batch, len});
  Tensor mask = Tensor::zeros(DType::I64, {batch, len});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < len; ++i) {
      const bool real = i < static_cast<int64_t>(seqs[b].size());
      ids.mutable_data<int64_t>()[b * len + i] = real ? seqs[b][i] : model->config().pad_token_id;
      mask.mutable_data<int64_t>()[b * len + i] = real ? 1 : 0;
    }
  }
  std::map<std::string, Tensor> inputs = {{"input_ids", ids}, {"attention_mask", mask}};
  if (opts.task == tasks::Task::MultipleChoice) {
    // One question with `batch` choices.
    inputs = {{"input_ids", ids.reshape({1, batch, len})}, {"attention_mask", mask.reshape({1, batch, len})}};
  }
  for (const auto& [name, t] : model->forward(inputs)) {
    nlohmann::json row;
    row["output"] = name;
    row["shape"] = t.shape();
    const float* v = t.data<float>();
    const int64_t limit = a.summarize && a.max_values < 0 ? kSummaryValues : a.max_values;
    const int64_t n = limit < 0 ? t.numel() : std::min(t.numel(), limit);
    row["values"] = std::vector<float>(v, v + n);
    row["truncated"] = n < t.numel();
    if (n < t.numel()) {
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < t.numel(); ++i) {
        sum += v[i];
        sq += static_cast<double>(v[i]) * v[i];
      }
      row["summary"] = {{"numel", t.numel()}, {"mean", sum / static_cast<double>(t.numel())}, {"l2_norm", std::sqrt(sq)}};
    }
    std::cout << row.dump() << "\n";
  }
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = app.add_subcommand("forward", "Run a model folder on token ids; print each output as a JSON line");
  cmd->add_option("--model", args->model, "Model folder (config.json + model.safetensors)")->required();
  cmd->add_option("--task", args->task, "Task head: feature-extraction, text-classification, token-classification, "
                                        "question-answering, fill-mask, multiple-choice")
      ->capture_default_str();
  cmd->add_option("--input-ids", args->sequences, "Comma-separated token ids of one sequence; repeat for a batch")
      ->required();
  cmd->add_option("--threads", args->threads, "Compute threads (0: all cores)")
      ->envname("OPTIMUM_NUM_THREADS")
      ->capture_default_str();
  cmd->add_option("--max-values", args->max_values,
                  "Values printed per output (-1: all, the default); fewer adds a summary (numel, mean, L2 norm)")
      ->capture_default_str();
  cmd->add_flag("--summarize", args->summarize,
                "Print the first 8 values of each output and a summary (numel, mean, L2 norm) instead of all");
  cmd->callback([args] { run(*args); });
}

}  // namespace optimum::cli
