#include "optimum/exporters/accuracy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/tokenizers/tokenizer.h"

namespace optimum::exporters {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxTokens = 128;  // calibration sequences are truncated to this
constexpr int64_t kBatch = 16;
constexpr int64_t kRandomSamples = 64;

std::string fmt(double v, int digits = 5) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A threshold as given (0.995, 99), without trailing zeros.
std::string fmt_threshold(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// Token ids of the calibration samples and how they were made.
struct Calibration {
  std::vector<std::vector<int64_t>> ids;
  std::string source;
};

int64_t max_tokens(const models::EncoderModel& m) {
  const config::EncoderConfig& c = m.config();
  int64_t offset = 0;
  if (m.encoder().positions() == models::PositionStyle::FromPaddingIndex) {
    offset = (c.model_type == "mpnet" ? 1 : c.pad_token_id) + 1;
  }
  return std::max<int64_t>(2, std::min(kMaxTokens, c.max_position_embeddings - offset));
}

bool has_tokenizer(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "tokenizer.json", ec) || fs::exists(dir / "vocab.txt", ec) ||
         (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec));
}

Calibration random_ids(const models::EncoderModel& m, const std::string& why) {
  const config::EncoderConfig& c = m.config();
  std::mt19937_64 rng(20261123);
  const int64_t longest = std::min<int64_t>(48, max_tokens(m));
  std::uniform_int_distribution<int64_t> len(std::min<int64_t>(4, longest), longest);
  std::uniform_int_distribution<int64_t> tok(0, c.vocab_size - 1);
  Calibration cal;
  for (int64_t i = 0; i < kRandomSamples; ++i) {
    std::vector<int64_t> ids(static_cast<size_t>(len(rng)));
    for (int64_t& id : ids) {
      do {
        id = tok(rng);
      } while (id == c.pad_token_id && c.vocab_size > 1);
    }
    cal.ids.push_back(std::move(ids));
  }
  cal.source = "seeded random token ids (" + why + ")";
  return cal;
}

Calibration calibrate(const models::EncoderModel& m, const fs::path& dir, const AccuracyOptions& options) {
  if (!has_tokenizer(dir)) return random_ids(m, "no tokenizer.json in " + dir.string());
  const bool builtin = options.texts.empty();
  const std::vector<std::string>& texts = builtin ? builtin_calibration_texts() : options.texts;
  std::optional<tokenizers::Tokenizer> loaded;
  try {
    loaded.emplace(tokenizers::Tokenizer::from_pretrained(dir));
  } catch (const Error& e) {  // a tokenizer this build cannot read must not stop the export
    return random_ids(m, "the tokenizer in " + dir.string() + " could not be loaded: " + e.what());
  }
  tokenizers::Tokenizer& tok = *loaded;
  tok.no_padding();
  tokenizers::TruncationParams trunc;
  trunc.max_length = static_cast<size_t>(max_tokens(m));
  tok.enable_truncation(trunc);
  Calibration cal;
  for (const std::string& text : texts) {
    const tokenizers::Encoding e = tok.encode(text);
    std::vector<int64_t> ids(e.ids.begin(), e.ids.end());
    if (ids.empty()) continue;
    for (int64_t id : ids) {
      if (id < 0 || id >= m.config().vocab_size) {
        throw InvalidArgument("calibration: the tokenizer in " + dir.string() + " produced token id " +
                              std::to_string(id) + " outside the model's vocab_size " +
                              std::to_string(m.config().vocab_size));
      }
    }
    cal.ids.push_back(std::move(ids));
  }
  if (cal.ids.empty()) throw InvalidArgument("calibration: no text produced any token");
  cal.source = (builtin ? "built-in calibration texts" : "user calibration texts") +
               std::string(", tokenized with the tokenizer of ") + dir.string();
  return cal;
}

// One padded batch of calibration rows.
struct Batch {
  int64_t rows = 0;
  int64_t seq = 0;
  std::vector<int64_t> ids;
  std::vector<int64_t> mask;
};

std::vector<Batch> make_batches(Calibration cal, int64_t pad, bool pairs) {
  // Similar lengths together: little padding (the order of samples does not matter).
  std::stable_sort(cal.ids.begin(), cal.ids.end(),
                   [](const auto& a, const auto& b) { return a.size() < b.size(); });
  std::vector<Batch> out;
  const auto n = static_cast<int64_t>(cal.ids.size());
  // Multiple-choice models take two "choices" per example: consecutive rows.
  const int64_t step = pairs ? 2 * (kBatch / 2) : kBatch;
  const int64_t usable = pairs ? n - n % 2 : n;
  for (int64_t b = 0; b < usable; b += step) {
    Batch batch;
    batch.rows = std::min(step, usable - b);
    for (int64_t r = 0; r < batch.rows; ++r) {
      batch.seq =
          std::max<int64_t>(batch.seq, static_cast<int64_t>(cal.ids[static_cast<size_t>(b + r)].size()));
    }
    batch.ids.assign(static_cast<size_t>(batch.rows * batch.seq), pad);
    batch.mask.assign(static_cast<size_t>(batch.rows * batch.seq), 0);
    for (int64_t r = 0; r < batch.rows; ++r) {
      const auto& ids = cal.ids[static_cast<size_t>(b + r)];
      for (size_t t = 0; t < ids.size(); ++t) {
        batch.ids[static_cast<size_t>(r * batch.seq) + t] = ids[t];
        batch.mask[static_cast<size_t>(r * batch.seq) + t] = 1;
      }
    }
    out.push_back(std::move(batch));
  }
  return out;
}

// What the guard compares: the mean-pooled last hidden state per row and
// the top-1 decisions of the head.
struct Outputs {
  std::vector<std::vector<double>> pooled;
  std::vector<int64_t> top1;
};

int64_t argmax(const float* v, int64_t n, int64_t stride = 1, const int64_t* mask = nullptr) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (mask != nullptr && mask[i] == 0) continue;
    if (best < 0 || v[i * stride] > v[best * stride]) best = i;
  }
  return best;
}

Outputs run(const models::EncoderModel& m, const std::vector<Batch>& batches) {
  Outputs o;
  const int64_t h = m.config().hidden_size;
  const tasks::Task task = m.task();
  for (const Batch& b : batches) {
    models::EncoderInputs in;
    in.batch = b.rows;
    in.seq = b.seq;
    in.input_ids = b.ids.data();
    in.attention_mask = b.mask.data();
    const Tensor hidden = m.encoder().forward(in);
    const float* x = hidden.data<float>();
    for (int64_t r = 0; r < b.rows; ++r) {
      std::vector<double> mean(static_cast<size_t>(h), 0.0);
      int64_t count = 0;
      for (int64_t t = 0; t < b.seq; ++t) {
        if (b.mask[static_cast<size_t>(r * b.seq + t)] == 0) continue;
        ++count;
        const float* row = x + (r * b.seq + t) * h;
        for (int64_t c = 0; c < h; ++c) mean[static_cast<size_t>(c)] += row[c];
      }
      for (double& v : mean) v /= static_cast<double>(std::max<int64_t>(count, 1));
      o.pooled.push_back(std::move(mean));
    }
    if (task == tasks::Task::FeatureExtraction) continue;
    const bool choices = task == tasks::Task::MultipleChoice;
    const Shape shape = choices ? Shape{b.rows / 2, 2, b.seq} : Shape{b.rows, b.seq};
    std::map<std::string, Tensor> inputs;
    inputs["input_ids"] = Tensor::from_data(DType::I64, shape, b.ids.data());
    inputs["attention_mask"] = Tensor::from_data(DType::I64, shape, b.mask.data());
    for (const auto& [name, t] : m.forward(inputs)) {
      const float* v = t.data<float>();
      if (task == tasks::Task::QuestionAnswering) {  // [rows, seq]: best real position per row
        for (int64_t r = 0; r < b.rows; ++r)
          o.top1.push_back(argmax(v + r * b.seq, b.seq, 1, &b.mask[r * b.seq]));
      } else if (t.dim() == 3) {  // token-level: every real token
        const int64_t width = t.size(2);
        for (int64_t i = 0; i < b.rows * b.seq; ++i) {
          if (b.mask[static_cast<size_t>(i)] != 0) o.top1.push_back(argmax(v + i * width, width));
        }
      } else {  // one decision per row
        const int64_t rows = t.size(0);
        const int64_t width = t.numel() / std::max<int64_t>(rows, 1);
        for (int64_t r = 0; r < rows; ++r) o.top1.push_back(argmax(v + r * width, width));
      }
    }
  }
  return o;
}

AccuracyMetrics compare(const Outputs& ref, const Outputs& got) {
  AccuracyMetrics m;
  double sum = 0;
  for (size_t i = 0; i < ref.pooled.size(); ++i) {
    double dot = 0, na = 0, nb = 0;
    const auto& a = ref.pooled[i];
    const auto& b = got.pooled[i];
    for (size_t c = 0; c < a.size(); ++c) {
      dot += a[c] * b[c];
      na += a[c] * a[c];
      nb += b[c] * b[c];
    }
    double cos = (na == 0 || nb == 0) ? (na == nb ? 1.0 : 0.0) : dot / std::sqrt(na * nb);
    if (!std::isfinite(cos)) cos = 0;  // NaN / inf in the low-precision model fails the guard
    m.min_cosine = std::min(m.min_cosine, cos);
    sum += cos;
  }
  m.mean_cosine = ref.pooled.empty() ? 1.0 : sum / static_cast<double>(ref.pooled.size());
  if (!ref.top1.empty()) {
    int64_t same = 0;
    for (size_t i = 0; i < ref.top1.size(); ++i) same += ref.top1[i] == got.top1[i] ? 1 : 0;
    m.decisions = static_cast<int64_t>(ref.top1.size());
    m.agreement = static_cast<double>(same) / static_cast<double>(m.decisions);
  }
  return m;
}

// The first threshold `m` misses, as a sentence; empty when it passes.
std::string failure(const AccuracyMetrics& m, const AccuracyOptions& o, int64_t samples) {
  if (m.min_cosine < o.min_cosine) {
    return std::string(o.causal_lm ? "logit cosine " : "embedding cosine ") + fmt(m.min_cosine) + " < " + fmt_threshold(o.min_cosine) + " (minimum over " +
           std::to_string(samples) + " calibration samples)";
  }
  if (m.agreement && *m.agreement < o.min_agreement) {
    return std::string(o.causal_lm ? "next-token agreement " : "top-1 agreement ") + fmt(*m.agreement * 100, 2) + "% < " + fmt_threshold(o.min_agreement * 100) +
           "% (over " + std::to_string(m.decisions) + " decisions)";
  }
  return {};
}

// How far `m` is from the thresholds (0 at fp32); used to rank Linears.
double badness(const AccuracyMetrics& m, const AccuracyOptions& o) {
  double b = (1.0 - m.min_cosine) / std::max(1e-9, 1.0 - o.min_cosine);
  if (m.agreement) b += (1.0 - *m.agreement) / std::max(1e-9, 1.0 - o.min_agreement);
  return b;
}

std::string metrics_line(const AccuracyMetrics& m, bool causal_lm) {
  std::string s = std::string(causal_lm ? "logit" : "embedding") + " cosine min " + fmt(m.min_cosine) + " (mean " +
                  fmt(m.mean_cosine) + ")";
  if (m.agreement)
    s += std::string(causal_lm ? ", next-token" : ", top-1") + " agreement " + fmt(*m.agreement * 100, 2) + "% of " +
         std::to_string(m.decisions);
  return s;
}

}  // namespace

const std::vector<std::string>& builtin_calibration_texts() {
  static const std::vector<std::string> texts = {
#include "calibration_texts.inc"
  };
  return texts;
}

std::vector<std::string> read_calibration_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw NotFound("calibration file " + path.string() + " does not exist");
  std::ifstream in(path);
  if (!in) throw IoError("cannot read calibration file " + path.string());
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    texts.push_back(line);
  }
  if (texts.empty())
    throw InvalidArgument("calibration file " + path.string() + " has no text (one text per line)");
  return texts;
}

io::Json AccuracyMetrics::to_json() const {
  io::Json j = {{"min_cosine", min_cosine}, {"mean_cosine", mean_cosine}};
  if (agreement) {
    j["top1_agreement"] = *agreement;
    j["top1_decisions"] = decisions;
  }
  return j;
}

io::Json AccuracyReport::to_json() const {
  io::Json j = {{"dtype", dtype},
                {"calibration", calibration},
                {"samples", samples},
                {"thresholds",
                 {{"min_cosine", thresholds.min_cosine}, {"min_top1_agreement", thresholds.min_agreement}}},
                {"all_layers", initial.to_json()},
                {"exported", final.to_json()},
                {"fallback_dtype", std::string(kernels::weight_type_name(thresholds.fallback))},
                {"fallback_linears", fallback_linears},
                {"fp32_linears", fp32_linears},
                {"layer_linears", layer_linears},
                {"cpu_isa", cpu_isa},
                {"passed", true}};
  if (!ranking_unit.empty()) j["ranking_unit"] = ranking_unit;
  if (int8_activation_levels > 0) j["int8_activation_levels"] = int8_activation_levels;
  if (!int8_kernel.empty()) j["int8_kernel"] = int8_kernel;
  if (!word_embeddings.empty()) j["word_embeddings"] = word_embeddings;
  if (thresholds.causal_lm) {
    j["metrics"] = "causal LM: cosine of the logits at every calibration position (min over texts of the "
                   "per-text mean) and next-token (argmax) agreement over every position";
    j["thresholds"]["min_next_token_agreement"] = thresholds.min_agreement;
    for (const char* k : {"all_layers", "exported"}) {
      if (j[k].contains("top1_agreement")) j[k]["next_token_agreement"] = j[k]["top1_agreement"];
    }
  }
  return j;
}

models::PrecisionPlan guard_search(models::PrecisionPlan plan, const std::vector<std::string>& names,
                                   kernels::WeightType type, const AccuracyOptions& options,
                                   const std::function<AccuracyMetrics(const models::PrecisionPlan&)>& measure,
                                   AccuracyReport& rep) {
  ProgressStep step("accuracy guard", "measuring --dtype " + rep.dtype + " on every layer");
  rep.initial = measure(plan);
  rep.final = rep.initial;
  std::string why = failure(rep.initial, options, rep.samples);
  if (!why.empty()) {
    if (options.strict) {
      throw AccuracyError("accuracy guard failed for --dtype " + rep.dtype + ": " + why +
                          "; calibration: " + rep.calibration +
                          " (without --strict-accuracy the export keeps the most sensitive " +
                          "layers in higher precision)");
    }
    // Each Linear's effect alone, then keep the worst in the fallback precision
    // until the guard passes (then in fp32, if a bf16 fallback was not enough).
    // Past options.max_ranked_units Linears, a layer's Linears ("layers.N.*") are
    // ranked together (one measurement per layer); the ranking is then
    // flattened, so the bisection below still cuts at single Linears.
    std::vector<std::vector<std::string>> units;
    std::vector<std::string> unit_keys;
    const bool by_layer = options.max_ranked_units > 0 && names.size() > options.max_ranked_units;
    rep.ranking_unit = by_layer ? "layer" : "linear";
    for (const std::string& name : names) {
      const size_t dot = name.starts_with("layers.") ? name.find('.', 7) : std::string::npos;
      const std::string key = by_layer && dot != std::string::npos ? name.substr(0, dot) : name;
      if (!unit_keys.empty() && unit_keys.back() == key) {
        units.back().push_back(name);
      } else {
        units.push_back({name});
        unit_keys.push_back(key);
      }
    }
    std::vector<std::pair<double, std::vector<std::string>>> scored;
    step.set_detail("ranking " + std::to_string(units.size()) + " " + rep.ranking_unit + "s by sensitivity");
    step.set_total(units.size());
    for (const auto& unit : units) {
      step.advance();
      models::PrecisionPlan alone;
      for (const std::string& name : unit) alone[name] = type;
      scored.emplace_back(badness(measure(alone), options), unit);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& [score, unit] : scored) {
      for (const std::string& name : unit) ranked.emplace_back(score, name);
    }
    // The k most sensitive Linears moved to `to` on top of `base`.
    auto moved = [&](models::PrecisionPlan base, size_t k, kernels::WeightType to) {
      for (size_t i = 0; i < k; ++i) {
        if (to == kernels::WeightType::F32) {
          base.erase(ranked[i].second);
        } else {
          base[ranked[i].second] = to;
        }
      }
      return base;
    };
    auto passes = [&](const AccuracyMetrics& m) { return failure(m, options, rep.samples).empty(); };
    const size_t n = ranked.size();
    std::vector<kernels::WeightType> rounds = {options.fallback};
    if (options.fallback != kernels::WeightType::F32) rounds.push_back(kernels::WeightType::F32);
    models::PrecisionPlan base = plan;
    for (kernels::WeightType to : rounds) {
      // Every Linear in `to`: exact fp32 passes by construction; a bf16 round may not.
      AccuracyMetrics at_hi;
      bool hi_measured = false;
      if (to != kernels::WeightType::F32) {
        at_hi = measure(moved(base, n, to));
        hi_measured = true;
        if (!passes(at_hi)) {  // not enough: everything in `to`, then fp32 in the next round
          base = moved(base, n, to);
          for (const auto& r : ranked) rep.fallback_linears.push_back(r.second);
          continue;
        }
      }
      // Fewest Linears that pass, by bisection over the sensitivity ranking (the
      // metrics improve about monotonically with k; only measured plans are kept).
      size_t lo = 0;
      size_t hi = n;
      step.set_detail("choosing the Linears kept in " + std::string(kernels::weight_type_name(to)));
      step.set_total(0);
      step.update(0);
      while (hi - lo > 1) {
        step.advance();
        const size_t mid = (lo + hi) / 2;
        const AccuracyMetrics m = measure(moved(base, mid, to));
        if (passes(m)) {
          hi = mid;
          at_hi = m;
          hi_measured = true;
        } else {
          lo = mid;
        }
      }
      if (!hi_measured) at_hi = measure(moved(base, hi, to));
      plan = moved(base, hi, to);
      rep.final = at_hi;
      for (size_t i = 0; i < hi; ++i) {
        const std::string& name = ranked[i].second;
        if (to == kernels::WeightType::F32) rep.fp32_linears.push_back(name);
        if (std::find(rep.fallback_linears.begin(), rep.fallback_linears.end(), name) ==
            rep.fallback_linears.end()) {
          rep.fallback_linears.push_back(name);
        }
      }
      break;
    }
    std::string note = "accuracy guard: --dtype " + rep.dtype + " on every layer gives " + why + "; kept " +
                       std::to_string(rep.fallback_linears.size()) + " of " + std::to_string(names.size()) +
                       " layer Linears in " + std::string(kernels::weight_type_name(options.fallback)) + ":";
    for (const std::string& n : rep.fallback_linears) note += " " + n;
    if (options.fallback != kernels::WeightType::F32 && !rep.fp32_linears.empty()) {
      note += " (" + std::to_string(rep.fp32_linears.size()) + " of them in fp32)";
    }
    progress_note(note + " -> " + metrics_line(rep.final, options.causal_lm));
  }
  return plan;
}

models::PrecisionPlan choose_precision(const models::EncoderModel& fp32, const fs::path& tokenizer_dir,
                                       kernels::WeightType type, const AccuracyOptions& options,
                                       const models::LinearConverter& convert, AccuracyReport* report) {
  if (type == kernels::WeightType::F32)
    throw InvalidArgument("choose_precision: the accuracy guard is for bf16 / int8");
  if (options.fallback == type ||
      (type == kernels::WeightType::BF16 && options.fallback != kernels::WeightType::F32)) {
    throw InvalidArgument("fallback dtype " + std::string(kernels::weight_type_name(options.fallback)) +
                          " is not a higher precision than " + std::string(kernels::weight_type_name(type)) +
                          " (use fp32" + (type == kernels::WeightType::S8 ? std::string(" or bf16") : "") +
                          ")");
  }
  const models::EncoderWeights& w = fp32.encoder().weights();
  models::PrecisionPlan plan = models::uniform_plan(w, type);
  // int8 exports store the word-embedding table in int8 too (about 4x smaller files); the
  // guard measures with it in every candidate and never moves it back (its error is small).
  if (type == kernels::WeightType::S8) plan[models::kWordEmbeddings] = kernels::WeightType::S8;
  AccuracyReport rep;
  rep.dtype = std::string(kernels::weight_type_name(type));
  rep.thresholds = options;
  rep.thresholds.texts.clear();
  const std::vector<std::string> names = models::layer_linear_names(w);
  rep.layer_linears = static_cast<int64_t>(names.size());
  rep.cpu_isa = kernels::cpu_isa();
  if (type == kernels::WeightType::S8) {
    rep.int8_activation_levels = kernels::int8_activation_levels();
    rep.int8_kernel = std::string(kernels::int8_kernel_name());
    rep.word_embeddings = "int8";
  }

  const Calibration cal = calibrate(fp32, tokenizer_dir, options);
  const bool pairs = fp32.task() == tasks::Task::MultipleChoice;
  const std::vector<Batch> batches = make_batches(cal, fp32.config().pad_token_id, pairs);
  rep.samples = static_cast<int64_t>(cal.ids.size()) - (pairs ? static_cast<int64_t>(cal.ids.size() % 2) : 0);
  rep.calibration = cal.source;
  if (cal.source.starts_with("seeded")) progress_note("accuracy guard: calibrating on " + cal.source);
  const Outputs ref = run(fp32, batches);
  auto measure = [&](const models::PrecisionPlan& p) {
    return compare(ref, run(*models::with_precision(fp32, p, convert), batches));
  };
  plan = guard_search(std::move(plan), names, type, options, measure, rep);
  if (report != nullptr) *report = std::move(rep);
  return plan;
}

}  // namespace optimum::exporters
