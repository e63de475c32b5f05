// `similarity` and `embed`: sentence embeddings of a sentence-transformers
// model (pipelines::SentenceTransformer) from the command line.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "optimum/io/json.h"  // nlohmann::json with the project's JSON_DIAGNOSTICS setup

#include "cli_support.h"
#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/pipelines/sentence_transformer.h"

namespace optimum::cli {

namespace {

struct EmbedArgs {
  std::string model;
  std::vector<std::string> sentences;
  bool export_model = false;
  int threads = 0;
  size_t batch_size = 32;
  bool normalize = false;
  std::string prompt;
  std::string prompt_name;
  std::string similarity_fn;  // "" = the model's
  bool json = false;
  int64_t max_values = -1;  // all
  bool summarize = false;
};

std::shared_ptr<pipelines::SentenceTransformer> load(const EmbedArgs& a) {
  pipelines::SentenceTransformerOptions o;
  o.load.export_model = a.export_model;
  o.load.num_threads = a.threads;
  std::shared_ptr<pipelines::SentenceTransformer> st;
  {
    ProgressStep step("load", a.model);
    st = pipelines::SentenceTransformer::from_pretrained(check_local_path(a.model, "--model"), o);
  }
  if (!a.similarity_fn.empty())
    st->set_similarity_fn(pipelines::similarity_function_from_name(a.similarity_fn));
  return st;
}

Tensor embed(const pipelines::SentenceTransformer& st, const EmbedArgs& a) {
  pipelines::EncodeOptions o;
  o.batch_size = a.batch_size;
  o.normalize_embeddings = a.normalize;
  if (!a.prompt.empty()) o.prompt = a.prompt;
  if (!a.prompt_name.empty()) o.prompt_name = a.prompt_name;
  ProgressStep step("embed", std::to_string(a.sentences.size()) + " sentences");
  return st.encode(a.sentences, o);
}

std::string clip(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return s.substr(0, cut) + "...";
}

void run_similarity(const EmbedArgs& a) {
  auto st = load(a);
  const Tensor emb = embed(*st, a);
  const Tensor sim = st->similarity(emb, emb);
  const auto n = static_cast<int64_t>(a.sentences.size());
  const float* s = sim.data<float>();
  if (a.json) {
    nlohmann::json out;
    out["model"] = st->path().string();
    out["similarity_fn"] = pipelines::similarity_function_name(st->similarity_fn());
    out["dimension"] = st->dimension();
    out["sentences"] = a.sentences;
    std::vector<std::vector<float>> rows;
    for (int64_t i = 0; i < n; ++i) rows.emplace_back(s + i * n, s + (i + 1) * n);
    out["similarity"] = rows;
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << "model: " << st->path().string() << " (";
  for (size_t i = 0; i < st->module_names().size(); ++i)
    std::cout << (i ? " -> " : "") << st->module_names()[i];
  std::cout << ", dimension " << st->dimension() << ")\n";
  std::cout << pipelines::similarity_function_name(st->similarity_fn()) << " similarity of " << n
            << " sentences:\n";
  for (int64_t i = 0; i < n; ++i)
    std::cout << "  [" << i << "] " << a.sentences[static_cast<size_t>(i)] << "\n";
  std::cout << "       " << std::flush;
  for (int64_t j = 0; j < n; ++j) std::printf("%8s", ("[" + std::to_string(j) + "]").c_str());
  std::printf("\n");
  for (int64_t i = 0; i < n; ++i) {
    std::printf("  %-5s", ("[" + std::to_string(i) + "]").c_str());
    for (int64_t j = 0; j < n; ++j) std::printf("%8.4f", static_cast<double>(s[i * n + j]));
    std::printf("\n");
  }
  if (n > 1) {
    // The closest pair, the usual question.
    int64_t bi = 0;
    int64_t bj = 1;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = i + 1; j < n; ++j) {
        if (s[i * n + j] > s[bi * n + bj]) {
          bi = i;
          bj = j;
        }
      }
    }
    std::printf("most similar: [%lld] \"%s\" ~ [%lld] \"%s\" (%.4f)\n", static_cast<long long>(bi),
                clip(a.sentences[static_cast<size_t>(bi)], 60).c_str(), static_cast<long long>(bj),
                clip(a.sentences[static_cast<size_t>(bj)], 60).c_str(), static_cast<double>(s[bi * n + bj]));
  }
  std::fflush(stdout);
}

void run_embed(const EmbedArgs& a) {
  auto st = load(a);
  const Tensor emb = embed(*st, a);
  const int64_t d = st->dimension();
  const float* e = emb.data<float>();
  for (size_t i = 0; i < a.sentences.size(); ++i) {
    nlohmann::json row;
    row["sentence"] = a.sentences[i];
    row["dimension"] = d;
    const int64_t limit = a.summarize && a.max_values < 0 ? 8 : a.max_values;
    const int64_t k = limit < 0 ? d : std::min(d, limit);
    const float* r = e + static_cast<int64_t>(i) * d;
    row["embedding"] = std::vector<float>(r, r + k);
    row["truncated"] = k < d;
    if (k < d) {
      double sq = 0;
      for (int64_t j = 0; j < d; ++j) sq += static_cast<double>(r[j]) * r[j];
      row["l2_norm"] = std::sqrt(sq);
    }
    std::cout << row.dump() << "\n";
  }
}

CLI::App* add_common(CLI::App& app, const char* name, const char* help,
                     const std::shared_ptr<EmbedArgs>& args) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("--model", args->model,
                  "sentence-transformers model folder (modules.json) or exported folder; a plain "
                  "transformers encoder gets mean pooling")
      ->required();
  cmd->add_option("sentences", args->sentences, "Sentences to embed")->required();
  cmd->add_flag("--export", args->export_model,
                "Export the Transformer module to the native format first (cached)");
  cmd->add_option("--threads", args->threads, "Compute threads (0: all cores)")
      ->envname("OPTIMUM_NUM_THREADS")
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Sentences per forward pass")->capture_default_str();
  cmd->add_flag("--normalize", args->normalize, "L2-normalize the embeddings");
  cmd->add_option("--prompt", args->prompt, "Text prepended to every sentence");
  cmd->add_option("--prompt-name", args->prompt_name, "Name of one of the model's configured prompts");
  return cmd;
}

}  // namespace

void add_similarity_command(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* cmd = add_common(app, "similarity",
                             "Embed sentences with a sentence-transformers model; print their "
                             "similarity matrix",
                             args);
  cmd->add_option("--similarity-fn", args->similarity_fn,
                  "cosine, dot, euclidean or manhattan (default: the model's similarity_fn_name)");
  cmd->add_flag("--json", args->json, "Print one JSON object instead of a table");
  cmd->callback([args] { run_similarity(*args); });
}

void add_embed_command(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* cmd = add_common(app, "embed",
                             "Embed sentences with a sentence-transformers model; print one JSON line "
                             "per sentence",
                             args);
  cmd->add_option("--max-values", args->max_values,
                  "Values printed per embedding (-1: all, the default); fewer adds the vector's L2 norm")
      ->capture_default_str();
  cmd->add_flag("--summarize", args->summarize, "Print the first 8 values of each embedding and its L2 norm");
  cmd->callback([args] { run_embed(*args); });
}

}  // namespace optimum::cli
