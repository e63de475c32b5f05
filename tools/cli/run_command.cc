// `run`: a task pipeline over texts given on the command line or as JSON
// lines, printing one JSON result per input line on stdout.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/pipelines/pipeline.h"

namespace optimum::cli {

namespace {

struct RunArgs {
  std::string model;
  std::string task;
  std::string input_file;
  std::vector<std::string> texts;
  std::vector<std::string> options;  // key=value (value parsed as JSON when it is JSON)
  std::string options_json;
  std::optional<int> top_k;
  bool top_k_all = false;
  std::string function_to_apply;
  std::string aggregation_strategy;
  std::vector<std::string> ignore_labels;
  std::vector<std::string> targets;
  std::vector<std::string> candidate_labels;
  std::string hypothesis_template;
  bool multi_label = false;
  std::optional<int> doc_stride, max_seq_len, max_question_len, max_answer_len, stride;
  bool handle_impossible_answer = false;
  bool truncation = false;
  std::string revision;
  std::string subfolder;
  bool export_model = false;
  bool local_files_only = false;
  int threads = 0;
  bool no_progress = false;
};

// One input of --input: {"text"}, {"text", "text_pair"} or {"question", "context"}.
io::Json input_from_line(const io::Json& row, const std::string& where, const std::string& task) {
  if (!row.is_object()) throw InvalidArgument(where + ": expected a JSON object, got " + row.dump());
  if (row.contains("question") || row.contains("context")) {
    for (const char* k : {"question", "context"}) {
      if (!row.contains(k) || !row[k].is_string())
        throw InvalidArgument(where + ": field '" + k + "' must be a string");
    }
    return io::Json{{"question", row["question"]}, {"context", row["context"]}};
  }
  if (!row.contains("text") || !row["text"].is_string()) {
    throw InvalidArgument(where + ": missing string field 'text' (or 'question' and 'context')");
  }
  if (row.contains("text_pair") && !row["text_pair"].is_null()) {
    if (task != "text-classification" && task != "sentiment-analysis") {
      throw InvalidArgument(where + ": 'text_pair' is only accepted by text-classification");
    }
    return io::Json{{"text", row["text"]}, {"text_pair", row["text_pair"]}};
  }
  return row["text"];
}

void run(const RunArgs& a) {
  // Call options from the typed flags, then --option key=value, then --options JSON.
  io::Json options = io::Json::object();
  if (a.top_k_all) options["top_k"] = nullptr;
  if (a.top_k) options["top_k"] = *a.top_k;
  if (!a.function_to_apply.empty()) options["function_to_apply"] = a.function_to_apply;
  if (!a.aggregation_strategy.empty()) options["aggregation_strategy"] = a.aggregation_strategy;
  if (!a.ignore_labels.empty()) options["ignore_labels"] = a.ignore_labels;
  if (!a.targets.empty()) options["targets"] = a.targets;
  if (!a.candidate_labels.empty()) options["candidate_labels"] = a.candidate_labels;
  if (!a.hypothesis_template.empty()) options["hypothesis_template"] = a.hypothesis_template;
  if (a.multi_label) options["multi_label"] = true;
  if (a.doc_stride) options["doc_stride"] = *a.doc_stride;
  if (a.max_seq_len) options["max_seq_len"] = *a.max_seq_len;
  if (a.max_question_len) options["max_question_len"] = *a.max_question_len;
  if (a.max_answer_len) options["max_answer_len"] = *a.max_answer_len;
  if (a.stride) options["stride"] = *a.stride;
  if (a.handle_impossible_answer) options["handle_impossible_answer"] = true;
  if (a.truncation) options["truncation"] = true;
  for (const auto& kv : a.options) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument("--option '" + kv + "': expected key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    io::Json v = io::Json::parse(value, nullptr, false);
    options[key] = v.is_discarded() ? io::Json(value) : v;
  }
  if (!a.options_json.empty()) {
    const io::Json extra = io::parse_json(a.options_json, "--options");
    if (!extra.is_object()) throw InvalidArgument("--options must be a JSON object");
    for (auto it = extra.begin(); it != extra.end(); ++it) options[it.key()] = it.value();
  }

  // Each input, where it came from ("argument 2", "FILE:7") and why it cannot run ("" when it can).
  struct Input {
    io::Json value;
    std::string where;
    std::string error;
  };
  std::vector<Input> inputs;
  for (size_t i = 0; i < a.texts.size(); ++i) inputs.push_back({a.texts[i], "argument " + std::to_string(i + 1), ""});
  if (!a.input_file.empty()) {
    std::ifstream in(a.input_file);
    if (!in) throw NotFound("--input: cannot open '" + a.input_file + "'");
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = a.input_file + ":" + std::to_string(n);
      // A malformed line is reported in its place; the other lines still run.
      try {
        inputs.push_back({input_from_line(io::parse_json(line, where), where, a.task), where, ""});
      } catch (const Error& e) {
        inputs.push_back({io::Json(), where, e.what()});
      }
    }
  }
  if (inputs.empty()) throw InvalidArgument("no input: give texts as arguments or --input FILE.jsonl");

  pipelines::PipelineOptions po;
  po.load.hub.revision = a.revision;
  po.load.hub.subfolder = a.subfolder;
  po.load.hub.local_files_only = a.local_files_only;
  po.load.export_model = a.export_model;
  po.load.num_threads = a.threads;
  std::unique_ptr<pipelines::Pipeline> pipe;
  {
    ProgressStep step("load", a.model);
    pipe = pipelines::pipeline(a.task, check_local_path(a.model, "--model"), po);
  }
  std::vector<std::string> failures;  // where each input that gave no result came from
  std::optional<ProgressStep> progress;
  if (!a.no_progress) progress.emplace("run", a.task, inputs.size());
  for (Input& input : inputs) {
    if (input.error.empty()) {
      try {
        const io::Json result = (*pipe)(input.value, options);
        std::cout << result.dump(-1, ' ', false, io::Json::error_handler_t::replace) << "\n";
      } catch (const Error& e) {
        input.error = e.what();
        if (!a.truncation && input.error.find("exceeds the model's") != std::string::npos) {
          input.error += "; the input is too long for the model: pass --truncation to cut it to the model's length";
        }
      }
    }
    if (!input.error.empty()) {
      // One line per input on stdout, so results stay aligned with the inputs.
      std::cout << io::Json{{"error", input.error}, {"input", input.where}}.dump(-1, ' ', false,
                                                                               io::Json::error_handler_t::replace)
                << "\n";
      report_error("error: " + input.where + ": " + input.error);
      failures.push_back(input.where);
    }
    if (progress) progress->advance();
  }
  progress.reset();
  std::cout.flush();
  if (!failures.empty()) {
    std::string list;
    for (size_t i = 0; i < failures.size() && i < 10; ++i) list += (i ? ", " : "") + failures[i];
    if (failures.size() > 10) list += ", ...";
    throw InvalidArgument(std::to_string(failures.size()) + " of " + std::to_string(inputs.size()) +
                          " inputs failed (" + list + "); the others were processed");
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a task pipeline on texts (arguments or --input JSON lines); print one JSON result per input");
  cmd->add_option("--model", a->model, "Model folder or Hub id")->required();
  cmd->add_option("--task", a->task,
                  "text-classification (sentiment-analysis), token-classification (ner), question-answering, "
                  "fill-mask, feature-extraction, zero-shot-classification")
      ->required();
  cmd->add_option("texts", a->texts, "Input texts, one result line each");
  cmd->add_option(
      "--input", a->input_file,
      "JSON lines file: {\"text\"}, {\"text\", \"text_pair\"} or {\"question\", \"context\"} per line");
  cmd->add_option("--top-k", a->top_k,
                  "Results per input (text-classification, fill-mask, question-answering)");
  cmd->add_flag("--all-labels", a->top_k_all, "text-classification: every label, sorted (top_k=None)");
  cmd->add_option("--function-to-apply", a->function_to_apply,
                  "text-classification: softmax, sigmoid or none");
  cmd->add_option("--aggregation-strategy", a->aggregation_strategy,
                  "token-classification: none, simple, first, average or max");
  cmd->add_option("--ignore-labels", a->ignore_labels, "token-classification: labels to drop (default O)");
  cmd->add_option("--stride", a->stride,
                  "token-classification: window overlap for texts beyond model_max_length");
  cmd->add_option("--targets", a->targets, "fill-mask: candidate tokens");
  cmd->add_option("--candidate-labels", a->candidate_labels, "zero-shot-classification: labels");
  cmd->add_option("--hypothesis-template", a->hypothesis_template,
                  "zero-shot-classification: template with {} for the label");
  cmd->add_flag("--multi-label", a->multi_label, "zero-shot-classification: score labels independently");
  cmd->add_option("--doc-stride", a->doc_stride, "question-answering: overlap between context windows");
  cmd->add_option("--max-seq-len", a->max_seq_len, "question-answering: tokens per window");
  cmd->add_option("--max-question-len", a->max_question_len,
                  "question-answering: accepted, as in transformers");
  cmd->add_option("--max-answer-len", a->max_answer_len, "question-answering: longest answer in tokens");
  cmd->add_flag("--handle-impossible-answer", a->handle_impossible_answer,
                "question-answering: allow an empty answer");
  cmd->add_flag("--truncation", a->truncation,
                "text-classification, feature-extraction: truncate to model_max_length (without it a longer "
                "input is an error on its line; the other inputs still run)");
  cmd->add_option("--option", a->options,
                  "Any other pipeline option as key=value (value parsed as JSON if it is)");
  cmd->add_option("--options", a->options_json, "Pipeline options as one JSON object");
  cmd->add_option("--revision", a->revision, "Hub revision");
  cmd->add_option("--subfolder", a->subfolder, "Sub-folder holding the model files");
  cmd->add_flag("--export", a->export_model,
                "Convert the checkpoint to the native format (cached) before running");
  cmd->add_flag("--local-files-only", a->local_files_only, "Never touch the network");
  cmd->add_option("--threads", a->threads, "Compute threads (0: all cores)")
      ->envname("OPTIMUM_NUM_THREADS")
      ->capture_default_str();
  cmd->add_flag("--no-progress", a->no_progress, "No progress over the inputs on stderr (see also --quiet)");
  cmd->callback([a] { run(*a); });
}

}  // namespace optimum::cli
