// Native export of causal decoders and their accuracy guard.
#include "optimum/exporters/decoder_export.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <random>

#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/models/decoder_heads.h"
#include "optimum/models/native_files.h"
#include "optimum/preprocessors/preprocessors.h"
#include "optimum/tasks/registry.h"
#include "optimum/tokenizers/tokenizer.h"

#include "export_internal.h"

namespace optimum::exporters {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxTokens = 64;  // calibration sequences are truncated to this
constexpr int64_t kBatch = 16;      // sequences per step
constexpr int64_t kRandomSamples = 32;

using Rows = std::vector<std::vector<int64_t>>;

// Runs each of `rows` in its own cache slot after its `past` tokens (if any):
// the logits (with an lm_head and `logits`) or final hidden states of every
// new token, [sum of lengths, width], rows in order.
Tensor run_rows(const models::DecoderModel& m, const Rows& rows, bool logits, const Rows* past = nullptr) {
  int64_t capacity = 1;
  for (size_t i = 0; i < rows.size(); ++i) {
    capacity = std::max<int64_t>(capacity, static_cast<int64_t>(rows[i].size() + (past ? (*past)[i].size() : 0)));
  }
  auto cache = m.new_cache(static_cast<int64_t>(rows.size()), capacity);
  if (past != nullptr) {
    std::vector<models::StepSegment> segs;
    for (size_t i = 0; i < past->size(); ++i) {
      if (!(*past)[i].empty()) {
        segs.push_back({static_cast<int64_t>(i), (*past)[i].data(), static_cast<int64_t>((*past)[i].size())});
      }
    }
    if (!segs.empty()) m.hidden_states(*cache, segs);
  }
  std::vector<models::StepSegment> segs;
  for (size_t i = 0; i < rows.size(); ++i) {
    segs.push_back({static_cast<int64_t>(i), rows[i].data(), static_cast<int64_t>(rows[i].size())});
  }
  if (logits && m.has_lm_head()) {
    models::StepOptions o;
    o.all_logits = true;
    return m.step(*cache, segs, o);
  }
  return m.hidden_states(*cache, segs);
}

using internal::argmax;
using internal::cosine;

// Per-text token ids of the calibration samples and where they came from.
struct Calibration {
  Rows ids;
  std::string source;
};

Calibration random_ids(const models::DecoderModel& m, const std::string& why) {
  std::mt19937_64 rng(20261207);
  const int64_t longest = std::max<int64_t>(2, std::min<int64_t>(32, m.max_positions()));
  std::uniform_int_distribution<int64_t> len(std::min<int64_t>(4, longest), longest);
  std::uniform_int_distribution<int64_t> tok(0, m.vocab_size() - 1);
  Calibration cal;
  for (int64_t i = 0; i < kRandomSamples; ++i) {
    std::vector<int64_t> ids(static_cast<size_t>(len(rng)));
    for (int64_t& id : ids) id = tok(rng);
    cal.ids.push_back(std::move(ids));
  }
  cal.source = "seeded random token ids (" + why + ")";
  return cal;
}

Calibration calibrate(const models::DecoderModel& m, const fs::path& dir, const AccuracyOptions& options) {
  std::error_code ec;
  if (!fs::exists(dir / "tokenizer.json", ec) && !fs::exists(dir / "vocab.json", ec)) {
    return random_ids(m, "no tokenizer.json in " + dir.string());
  }
  std::optional<tokenizers::Tokenizer> tok;
  try {
    tok.emplace(tokenizers::Tokenizer::from_pretrained(dir));
  } catch (const Error& e) {  // a tokenizer this build cannot read must not stop the export
    return random_ids(m, "the tokenizer in " + dir.string() + " could not be loaded: " + e.what());
  }
  tok->no_padding();
  const bool builtin = options.texts.empty();
  const std::vector<std::string>& texts = builtin ? builtin_calibration_texts() : options.texts;
  const int64_t limit = std::min<int64_t>(kMaxTokens, m.max_positions());
  Calibration cal;
  for (const std::string& text : texts) {
    const tokenizers::Encoding e = tok->encode(text);
    std::vector<int64_t> ids(e.ids.begin(), e.ids.end());
    if (static_cast<int64_t>(ids.size()) > limit) ids.resize(static_cast<size_t>(limit));
    if (ids.empty()) continue;
    for (int64_t id : ids) {
      if (id < 0 || id >= m.vocab_size()) {
        throw InvalidArgument("calibration: the tokenizer in " + dir.string() + " produced token id " +
                              std::to_string(id) + " outside the model's vocab_size " +
                              std::to_string(m.vocab_size()));
      }
    }
    cal.ids.push_back(std::move(ids));
  }
  if (cal.ids.empty()) throw InvalidArgument("calibration: no text produced any token");
  cal.source = (builtin ? "built-in calibration texts" : "user calibration texts") +
               std::string(", tokenized with the tokenizer of ") + dir.string();
  return cal;
}

// Outputs of every calibration batch.
std::vector<Tensor> run_calibration(const models::DecoderModel& m, const Rows& ids) {
  std::vector<Tensor> out;
  for (size_t b = 0; b < ids.size(); b += kBatch) {
    const Rows batch(ids.begin() + static_cast<std::ptrdiff_t>(b),
                     ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), b + kBatch)));
    out.push_back(run_rows(m, batch, true));
  }
  return out;
}

// The metrics of `got` against `ref` (run_calibration's outputs). With
// `score` (a ForSequenceClassification head over final hidden states), the
// decisions are its label at each text's last token, as transformers pools.
AccuracyMetrics compare(const Rows& ids, const std::vector<Tensor>& ref, const std::vector<Tensor>& got,
                        bool decisions, const models::Linear* score = nullptr) {
  AccuracyMetrics m;
  double sum = 0;
  int64_t same = 0, total = 0;
  size_t text = 0;
  for (size_t b = 0; b < ref.size(); ++b) {
    const int64_t width = ref[b].size(1);
    const float* x = ref[b].data<float>();
    const float* y = got[b].data<float>();
    int64_t row = 0;
    for (size_t i = 0; i < static_cast<size_t>(kBatch) && text < ids.size(); ++i, ++text) {
      const auto n = static_cast<int64_t>(ids[text].size());
      double c = 0;
      if (score != nullptr) {
        const int64_t last = row + n - 1, labels = score->out;
        std::vector<float> lx(static_cast<size_t>(labels)), ly(static_cast<size_t>(labels));
        score->forward(x + last * width, 1, lx.data());
        score->forward(y + last * width, 1, ly.data());
        same += argmax(lx.data(), labels) == argmax(ly.data(), labels) ? 1 : 0;
        ++total;
      }
      for (int64_t j = 0; j < n; ++j, ++row) {
        c += cosine(x + row * width, y + row * width, width);
        if (decisions && score == nullptr) {
          same += argmax(x + row * width, width) == argmax(y + row * width, width) ? 1 : 0;
          ++total;
        }
      }
      c /= static_cast<double>(n);
      m.min_cosine = std::min(m.min_cosine, c);
      sum += c;
    }
  }
  m.mean_cosine = ids.empty() ? 1.0 : sum / static_cast<double>(ids.size());
  if (decisions) {
    m.decisions = total;
    m.agreement = total == 0 ? 1.0 : static_cast<double>(same) / static_cast<double>(total);
  }
  return m;
}

io::Json read_config(const fs::path& dir) {
  const fs::path p = dir / "config.json";
  io::Json cfg = io::read_json(p);
  if (!cfg.is_object()) throw FormatError(p.string() + ": expected a JSON object, got " + cfg.type_name());
  return cfg;
}

}  // namespace

bool is_decoder_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) return false;
  const io::Json cfg = io::read_json(dir / "config.json");
  return cfg.is_object() && cfg.contains("model_type") && cfg.at("model_type").is_string() &&
         models::is_decoder_model_type(cfg.at("model_type").get<std::string>());
}

models::PrecisionPlan choose_decoder_precision(const models::DecoderModel& fp32, const fs::path& tokenizer_dir,
                                               kernels::WeightType type, const AccuracyOptions& options,
                                               const models::LinearConverter& convert, AccuracyReport* report,
                                               const models::Linear* score) {
  if (type == kernels::WeightType::F32) {
    throw InvalidArgument("choose_decoder_precision: the accuracy guard is for bf16 / int8");
  }
  if (options.fallback == type ||
      (type == kernels::WeightType::BF16 && options.fallback != kernels::WeightType::F32)) {
    throw InvalidArgument("fallback dtype " + std::string(kernels::weight_type_name(options.fallback)) +
                          " is not a higher precision than " + std::string(kernels::weight_type_name(type)) +
                          " (use fp32" + (type == kernels::WeightType::S8 ? std::string(" or bf16") : "") + ")");
  }
  AccuracyOptions opts = options;
  opts.causal_lm = score == nullptr;
  // A decoder's forward over the calibration texts is costly: rank layers, not
  // Linears, past 32 (SmolLM2-135M: 31 measurements instead of 121).
  if (opts.max_ranked_units == 0) opts.max_ranked_units = 32;
  const models::DecoderWeights& w = fp32.weights();
  AccuracyReport rep;
  rep.dtype = internal::dtype_label(type);
  rep.thresholds = opts;
  rep.thresholds.texts.clear();
  const std::vector<std::string> names = models::decoder_linear_names(w);
  rep.layer_linears = static_cast<int64_t>(names.size());
  rep.cpu_isa = kernels::cpu_isa();
  if (type == kernels::WeightType::S8) rep.int8_activation_levels = kernels::int8_activation_levels();
  const Calibration cal = calibrate(fp32, tokenizer_dir, opts);
  rep.samples = static_cast<int64_t>(cal.ids.size());
  rep.calibration = cal.source;
  if (cal.source.starts_with("seeded")) progress_note("accuracy guard: calibrating on " + cal.source);
  if (score != nullptr && fp32.has_lm_head()) {
    throw InvalidArgument("choose_decoder_precision: a classification head over a model with an lm_head");
  }
  const bool decisions = score != nullptr || fp32.has_lm_head();
  const std::vector<Tensor> ref = run_calibration(fp32, cal.ids);
  auto measure = [&](const models::PrecisionPlan& p) {
    return compare(cal.ids, ref, run_calibration(*models::decoder_with_precision(fp32, p, convert), cal.ids),
                   decisions, score);
  };
  models::PrecisionPlan plan = guard_search(models::decoder_uniform_plan(w, type), names, type, opts, measure, rep);
  if (report != nullptr) *report = std::move(rep);
  return plan;
}

ExportResult export_decoder(const fs::path& model_dir, const fs::path& output_dir, const ExportOptions& options) {
  const fs::path config_dir = options.config_dir.empty() ? model_dir : options.config_dir;
  const std::string library = tasks::check_loadable(config_dir);
  const io::Json cfg = read_config(config_dir);
  const std::string model_type = cfg.at("model_type").get<std::string>();
  // Without an `architectures` entry (a config converted from GGUF, which
  // transformers loads as ForCausalLM) a decoder is a causal LM.
  const bool no_arch = !cfg.contains("architectures") || cfg.at("architectures").is_null() ||
                       (cfg.at("architectures").is_array() && cfg.at("architectures").empty());
  const std::string task = options.task != "auto" ? tasks::canonical_task(options.task)
                           : no_arch              ? std::string("text-generation")
                                                  : tasks::infer_task(config_dir);
  const tasks::ExportConfig& export_config = tasks::get_export_config("native", model_type, task);
  const std::string base_task = export_config.use_past ? task.substr(0, task.size() - 10) : task;
  if (base_task != "text-generation" && base_task != "feature-extraction" && base_task != "text-classification") {
    throw Unsupported("native export of " + model_type + " for task '" + task +
                      "' is not implemented (decoders export text-generation(-with-past), "
                      "feature-extraction(-with-past) and text-classification)");
  }
  const bool lm = base_task == "text-generation";
  const bool cls = base_task == "text-classification";
  const kernels::WeightType type = kernels::weight_type_from_name(options.dtype);
  const std::string dtype = internal::dtype_label(type);
  const double atol = options.atol.value_or(export_config.atol);

  models::DecoderLoadOptions load;
  load.keep_weights = true;
  const std::string config_source = (config_dir / "config.json").string();
  const io::WeightStore store = io::WeightStore::open_dir(model_dir);
  std::shared_ptr<const models::DecoderModel> source;
  {
    ProgressStep step("load", model_dir.string());
    source = models::DecoderModel::load(cfg, store, config_source, load);
  }
  // ForSequenceClassification: the base model + score (kept in fp32: [num_labels, hidden] is
  // too small to matter) on the last non-pad token.
  std::optional<models::SequenceClassificationHead> head;
  if (cls) head = models::load_sequence_classification_head(cfg, store, source->config().hidden_size, config_source);
  // Without a pad_token_id transformers (and the head) classify one row at a time.
  const std::vector<int64_t> batches =
      cls && !head->pad_token_id ? std::vector<int64_t>{1} : internal::validation_batches(options);
  const int64_t past_length = export_config.use_past ? 7 : 0;
  const int64_t max_positions = source->config().max_position_embeddings;
  const std::vector<int64_t> lengths =
      internal::validation_lengths(options, max_positions > 0 ? max_positions - past_length : 0, {5, 11});
  if (lm && !source->has_lm_head()) {
    throw InvalidArgument(model_dir.string() + " is a base " + model_type +
                          " model without an lm_head: it exports for feature-extraction only");
  }
  if (!lm && source->weights().lm_head.weight.defined()) {  // the base model: no lm_head
    models::DecoderWeights w = source->weights();
    w.lm_head = models::Linear();
    source = std::make_shared<const models::DecoderModel>(source->config(), std::move(w), load);
  }

  std::shared_ptr<const models::DecoderModel> target = source;
  models::PrecisionPlan plan;
  io::Json accuracy;
  if (type != kernels::WeightType::F32) {
    const models::LinearConverter convert = internal::caching_converter();
    const AccuracyOptions guard = internal::guard_options(options, export_config, type);
    AccuracyReport report;
    plan = choose_decoder_precision(*source, model_dir, type, guard, convert, &report, head ? &head->score : nullptr);
    target = models::decoder_with_precision(*source, plan, convert);
    accuracy = report.to_json();
  }

  fs::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  internal::TempDir tmp(out.parent_path() / (out.filename().string() + ".partial-" + std::to_string(::getpid())));

  // 1. Weights in the engine's layout, config.json, tokenizer / generation files.
  std::optional<ProgressStep> writing(std::in_place, "write", out.string());
  models::DecoderNativeLayout native = models::decoder_to_native(*target);
  if (head) {
    native.tensors.emplace_back("score.weight", head->score.weight);
    native.layout["score_labels"] = head->score.out;
  }
  const io::Json weights = models::save_native_weights(tmp.path(), native.tensors,
                                                       {{"format", models::kNativeFormat}, {"layout_kind", models::kDecoderLayoutKind}});
  io::Json config_json = cfg;
  for (const auto& [key, value] : export_config.values_override) config_json[key] = value;
  io::write_json(tmp.path() / "config.json", config_json);
  preprocessors::CopyReport copied = preprocessors::copy(model_dir, tmp.path());
  if (copied.copied.empty() && config_dir != model_dir) copied = preprocessors::copy(config_dir, tmp.path());
  io::Json precisions = io::Json::object();
  for (const std::string& name : models::decoder_linear_names(target->weights())) {
    auto it = plan.find(name);
    precisions[name] = internal::dtype_label(it == plan.end() ? kernels::WeightType::F32 : it->second);
  }
  const int64_t n_layers = source->config().n_layers;
  io::Json meta = internal::export_record(options, model_dir, library, model_type, task, dtype, native.layout,
                                          weights, copied.copied, accuracy);
  meta["linear_precisions"] = precisions;
  meta["inputs"] = internal::tensor_specs_json(export_config.expanded_inputs(n_layers));
  meta["outputs"] = internal::tensor_specs_json(export_config.expanded_outputs(n_layers));
  io::write_json(tmp.path() / "optimum_export.json", meta);

  writing.reset();

  // 2. Validation on shapes other than the export's (or the ones asked for):
  // the model in the exported precisions vs the folder reloaded.
  ProgressStep validating("validation", "", batches.size() * lengths.size());
  const auto exported = models::DecoderModel::load(tmp.path());
  ExportResult result;
  result.task = task;
  result.model_type = model_type;
  result.atol = atol;
  result.dtype = dtype;
  result.accuracy = accuracy;
  const models::DecoderConfig& dc = source->config();
  tasks::DecoderDummyConfig dd;
  dd.vocab_size = dc.vocab_size;
  dd.n_layers = dc.n_layers;
  dd.n_heads_kv = dc.n_heads_kv;
  dd.head_dim = dc.head_dim;
  if (cfg.contains("pad_token_id") && cfg.at("pad_token_id").is_number_integer()) {
    dd.pad_token_id = cfg.at("pad_token_id").get<int64_t>();
  }
  const std::string output_name = lm || cls ? "logits" : "last_hidden_state";
  // Classification: the head over the source in the exported precisions vs the folder reloaded
  // through DecoderForSequenceClassification::load; without a pad_token_id transformers (and
  // the head) classify one row at a time.
  std::shared_ptr<const models::DecoderForSequenceClassification> cls_want, cls_got;
  if (cls) {
    cls_want = std::make_shared<const models::DecoderForSequenceClassification>(target, head->score,
                                                                                 head->pad_token_id);
    cls_got = models::DecoderForSequenceClassification::load(tmp.path());
  }
  for (int64_t batch : batches) {
    for (int64_t seq : lengths) {
      validating.set_detail("batch " + std::to_string(batch) + " x sequence " + std::to_string(seq));
      tasks::DummyShapes shapes = export_config.default_shapes;
      shapes.batch_size = batch;
      shapes.sequence_length = seq;
      shapes.past_sequence_length = past_length;
      const uint64_t seed = static_cast<uint64_t>(batch * 100 + seq);
      const auto inputs = tasks::generate_decoder_dummy_inputs(export_config, dd, shapes, seed, true);
      const int64_t past = shapes.past_sequence_length, total = past + seq;
      const int64_t* ids = inputs.at("input_ids").data<int64_t>();
      const int64_t* mask = inputs.at("attention_mask").data<int64_t>();
      // The past is real tokens run first (the engine's cache is its own layout).
      std::mt19937_64 rng(seed);
      std::uniform_int_distribution<int64_t> tok(0, dc.vocab_size - 1);
      Rows rows(static_cast<size_t>(batch)), pasts(static_cast<size_t>(batch));
      for (int64_t r = 0; r < batch; ++r) {
        for (int64_t s = 0; s < total; ++s) {
          if (mask[r * total + s] == 0) continue;
          if (s < past) {
            pasts[static_cast<size_t>(r)].push_back(tok(rng));
          } else {
            rows[static_cast<size_t>(r)].push_back(ids[r * seq + s - past]);
          }
        }
      }
      Tensor want, got;
      if (cls) {
        const models::PaddedTokens padded{ids, mask, batch, seq};
        want = cls_want->forward(padded);
        got = cls_got->forward(padded);
      } else {
        want = run_rows(*target, rows, lm, &pasts);
        got = run_rows(*exported, rows, lm, &pasts);
      }
      if (want.shape() != got.shape()) {
        throw ValidationError("export validation failed: output '" + output_name + "' has shape " +
                              shape_str(got.shape()) + " in the exported model but " + shape_str(want.shape()) +
                              " in the source");
      }
      double worst = 0;
      const float* x = want.data<float>();
      const float* y = got.data<float>();
      for (int64_t i = 0; i < want.numel(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
          throw ValidationError("export validation failed: output '" + output_name + "' contains NaN or inf at " +
                                "index " + std::to_string(i) + " (batch " + std::to_string(batch) + " x sequence " +
                                std::to_string(seq) + ")");
        }
        worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
      }
      result.validation.push_back({batch, seq, output_name, worst});
      result.max_abs_diff = std::max(result.max_abs_diff, worst);
      if (worst > atol) {
        throw ValidationError("export validation failed: output '" + output_name + "' differs by " +
                              std::to_string(worst) + " > atol " + std::to_string(atol) + " at batch " +
                              std::to_string(batch) + " x sequence " + std::to_string(seq) +
                              (past > 0 ? " after " + std::to_string(past) + " past tokens" : std::string()));
      }
      validating.advance();
    }
  }
  io::Json cases = io::Json::array();
  for (const ValidationCase& v : result.validation) {
    cases.push_back({{"batch_size", v.batch_size},
                     {"sequence_length", v.sequence_length},
                     {"past_sequence_length", export_config.use_past ? 7 : 0},
                     {"padding", "left"},
                     {"output", v.output},
                     {"max_abs_diff", v.max_abs_diff}});
  }
  meta["validation"] = {{"passed", true},
                        {"reference", type == kernels::WeightType::F32 ? "source" : "source in " + dtype + " (in memory)"},
                        {"atol", atol},
                        {"max_abs_diff", result.max_abs_diff},
                        {"cases", cases}};
  io::write_json(tmp.path() / "optimum_export.json", meta);

  internal::write_model_card(tmp.path(), meta, model_dir);
  models::remove_legacy_native_weights(out);
  internal::move_into(tmp.path(), out);
  tmp.release();
  result.output_dir = out;
  result.preprocessors = copied.copied;
  return result;
}

}  // namespace optimum::exporters
