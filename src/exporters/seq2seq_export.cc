// Native export of encoder-decoders and their accuracy guard
// (exporters/seq2seq_export.h).
#include "optimum/exporters/seq2seq_export.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include "optimum/core/errors.h"
#include "optimum/core/progress.h"
#include "optimum/models/architecture.h"
#include "optimum/models/native_files.h"
#include "optimum/models/native_format.h"
#include "optimum/models/seq2seq_native.h"
#include "optimum/preprocessors/preprocessors.h"
#include "optimum/tasks/registry.h"
#include "optimum/tokenizers/tokenizer.h"

#include "export_internal.h"

namespace optimum::exporters {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxTokens = 64;        // calibration sequences are truncated to this
constexpr int64_t kMaxDecoderTokens = 32;  // teacher-forced decoder positions per text
constexpr int64_t kBatch = 16;            // sequences per calibration step
constexpr int64_t kRandomSamples = 32;

using Rows = std::vector<std::vector<int64_t>>;

using internal::argmax;
using internal::cosine;

// One forward of an encoder-decoder: `enc` rows encoded as a right-padded
// batch, each decoded teacher-forced on `dec` (same row count) in its own
// cache slot. Returns the encoder's last hidden state [rows, seq, hidden]
// (with the padded width) and the logits of every decoder token
// [sum of decoder lengths, vocab], rows in order.
struct Forward {
  Tensor encoder_hidden;
  std::vector<int64_t> mask;
  Tensor logits;
};

Forward run_rows(const models::Seq2SeqModel& m, const Rows& enc, const Rows& dec) {
  const auto batch = static_cast<int64_t>(enc.size());
  int64_t seq = 1, capacity = 1;
  for (const auto& r : enc) seq = std::max<int64_t>(seq, static_cast<int64_t>(r.size()));
  for (const auto& r : dec) capacity = std::max<int64_t>(capacity, static_cast<int64_t>(r.size()));
  const int64_t pad = m.config().pad_token_id >= 0 && m.config().pad_token_id < m.config().vocab_size
                          ? m.config().pad_token_id
                          : 0;
  std::vector<int64_t> ids(static_cast<size_t>(batch * seq), pad), mask(static_cast<size_t>(batch * seq), 0);
  for (int64_t r = 0; r < batch; ++r) {
    for (size_t j = 0; j < enc[static_cast<size_t>(r)].size(); ++j) {
      ids[static_cast<size_t>(r * seq) + j] = enc[static_cast<size_t>(r)][j];
      mask[static_cast<size_t>(r * seq) + j] = 1;
    }
  }
  Forward out;
  models::EncoderOutput encoded = m.encode(ids.data(), mask.data(), batch, seq);
  out.encoder_hidden = encoded.hidden;
  out.mask = encoded.mask;
  const auto decoder = m.bind(std::move(encoded), 1);
  auto cache = decoder->new_cache(batch, capacity);
  std::vector<models::StepSegment> segs;
  for (int64_t r = 0; r < batch; ++r) {
    const auto& d = dec[static_cast<size_t>(r)];
    segs.push_back({r, d.data(), static_cast<int64_t>(d.size())});
  }
  models::StepOptions o;
  o.all_logits = true;
  out.logits = decoder->step(*cache, segs, o);
  return out;
}

// The decoder's teacher-forced inputs of a text: decoder_start_token_id then
// its own tokens (at most kMaxDecoderTokens positions).
std::vector<int64_t> teacher_forced(const models::Seq2SeqConfig& c, const std::vector<int64_t>& ids) {
  std::vector<int64_t> d = {c.decoder_start_token_id};
  for (size_t i = 0; i + 1 < ids.size() && static_cast<int64_t>(d.size()) < kMaxDecoderTokens; ++i) d.push_back(ids[i]);
  return d;
}

struct Calibration {
  Rows ids;
  std::string source;
};

Calibration random_ids(const models::Seq2SeqModel& m, const std::string& why) {
  std::mt19937_64 rng(20261207);
  const int64_t max_pos = m.config().max_position_embeddings;
  const int64_t longest = std::max<int64_t>(2, max_pos > 0 ? std::min<int64_t>(32, max_pos) : 32);
  std::uniform_int_distribution<int64_t> len(std::min<int64_t>(4, longest), longest);
  std::uniform_int_distribution<int64_t> tok(0, m.config().vocab_size - 1);
  Calibration cal;
  for (int64_t i = 0; i < kRandomSamples; ++i) {
    std::vector<int64_t> ids(static_cast<size_t>(len(rng)));
    for (int64_t& id : ids) id = tok(rng);
    cal.ids.push_back(std::move(ids));
  }
  cal.source = "seeded random token ids (" + why + ")";
  return cal;
}

Calibration calibrate(const models::Seq2SeqModel& m, const fs::path& dir, const AccuracyOptions& options) {
  std::error_code ec;
  if (!fs::exists(dir / "tokenizer.json", ec)) return random_ids(m, "no tokenizer.json in " + dir.string());
  std::optional<tokenizers::Tokenizer> tok;
  try {
    tok.emplace(tokenizers::Tokenizer::from_pretrained(dir));
  } catch (const Error& e) {  // a tokenizer this build cannot read must not stop the guard
    return random_ids(m, "the tokenizer in " + dir.string() + " could not be loaded: " + e.what());
  }
  tok->no_padding();
  const bool builtin = options.texts.empty();
  const std::vector<std::string>& texts = builtin ? builtin_calibration_texts() : options.texts;
  const int64_t max_pos = m.config().max_position_embeddings;
  const int64_t limit = max_pos > 0 ? std::min(kMaxTokens, max_pos) : kMaxTokens;
  Calibration cal;
  for (const std::string& text : texts) {
    const tokenizers::Encoding e = tok->encode(text);
    std::vector<int64_t> ids(e.ids.begin(), e.ids.end());
    if (static_cast<int64_t>(ids.size()) > limit) ids.resize(static_cast<size_t>(limit));
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

// Decoder logits of every calibration batch.
std::vector<Tensor> run_calibration(const models::Seq2SeqModel& m, const Rows& ids) {
  std::vector<Tensor> out;
  for (size_t b = 0; b < ids.size(); b += kBatch) {
    const Rows enc(ids.begin() + static_cast<std::ptrdiff_t>(b),
                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), b + kBatch)));
    Rows dec;
    for (const auto& r : enc) dec.push_back(teacher_forced(m.config(), r));
    out.push_back(run_rows(m, enc, dec).logits);
  }
  return out;
}

AccuracyMetrics compare(const models::Seq2SeqConfig& c, const Rows& ids, const std::vector<Tensor>& ref,
                        const std::vector<Tensor>& got) {
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
      const auto n = static_cast<int64_t>(teacher_forced(c, ids[text]).size());
      double cs = 0;
      for (int64_t j = 0; j < n; ++j, ++row) {
        cs += cosine(x + row * width, y + row * width, width);
        same += argmax(x + row * width, width) == argmax(y + row * width, width) ? 1 : 0;
        ++total;
      }
      cs /= static_cast<double>(n);
      m.min_cosine = std::min(m.min_cosine, cs);
      sum += cs;
    }
  }
  m.mean_cosine = ids.empty() ? 1.0 : sum / static_cast<double>(ids.size());
  m.decisions = total;
  m.agreement = total == 0 ? 1.0 : static_cast<double>(same) / static_cast<double>(total);
  return m;
}

io::Json read_config(const fs::path& dir) {
  const fs::path p = dir / "config.json";
  io::Json cfg = io::read_json(p);
  if (!cfg.is_object()) throw FormatError(p.string() + ": expected a JSON object, got " + cfg.type_name());
  return cfg;
}

// transformers' GenerationConfig.from_model_config: the generation keys of
// config.json (written when the checkpoint has no generation_config.json).
io::Json generation_config_from(const io::Json& cfg) {
  io::Json g = io::Json::object();
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id",
                          "forced_bos_token_id", "forced_eos_token_id", "max_length", "min_length", "num_beams",
                          "no_repeat_ngram_size", "length_penalty", "early_stopping", "bad_words_ids",
                          "num_return_sequences", "repetition_penalty", "do_sample", "temperature", "top_k", "top_p"}) {
    if (cfg.contains(key) && !cfg.at(key).is_null()) g[key] = cfg.at(key);
  }
  g["_from_model_config"] = true;
  return g;
}

// The preprocessors persisted in `dir` must load as the pipelines will load
// them: tokenizer.json through the tokenizer, generation_config.json as a
// JSON object whose token ids are integers (or lists of integers).
void check_persisted(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "tokenizer.json", ec)) {
    try {
      tokenizers::Tokenizer::from_pretrained(dir);
    } catch (const Error& e) {
      throw FormatError("export: the tokenizer to persist does not load (" + std::string(e.what()) + ")");
    }
  }
  const fs::path gen = dir / "generation_config.json";
  if (fs::exists(gen, ec)) {
    io::Json g;
    try {
      g = io::read_json(gen);
    } catch (const Error& e) {
      throw FormatError("export: generation_config.json does not load (" + std::string(e.what()) + ")");
    }
    if (!g.is_object()) throw FormatError(std::string("export: generation_config.json: expected a JSON object, got ") + g.type_name());
    for (const char* key : {"decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id"}) {
      if (!g.contains(key) || g.at(key).is_null() || g.at(key).is_number_integer()) continue;
      bool ok = g.at(key).is_array();
      if (ok) {
        for (const io::Json& v : g.at(key)) ok = ok && v.is_number_integer();
      }
      if (!ok) {
        throw FormatError("export: generation_config.json: '" + std::string(key) +
                          "' must be an integer or a list of integers, got " + g.at(key).dump());
      }
    }
  }
}

// Refuses an output folder that would lose files: the source itself, or an
// existing folder with files that is not an optimum-cpp export.
void check_output(const fs::path& model_dir, const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  if (fs::equivalent(model_dir, out, ec)) {
    throw InvalidArgument("output folder '" + out.string() + "' is the source checkpoint folder: export elsewhere");
  }
  if (!fs::is_directory(out, ec)) throw InvalidArgument("output '" + out.string() + "' exists and is not a folder");
  if (fs::is_empty(out, ec) || fs::is_regular_file(out / "optimum_export.json", ec)) return;
  throw InvalidArgument("output folder '" + out.string() +
                        "' exists and is not empty (nor an optimum-cpp export to replace): remove it or pick another");
}

}  // namespace

bool is_seq2seq_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) return false;
  const io::Json cfg = io::read_json(dir / "config.json");
  if (!cfg.is_object() || !cfg.contains("model_type") || !cfg.at("model_type").is_string()) return false;
  const models::Architecture* a = models::find_architecture(cfg.at("model_type").get<std::string>());
  return a != nullptr && a->is_seq2seq();
}

models::PrecisionPlan choose_seq2seq_precision(const models::Seq2SeqModel& fp32, const fs::path& tokenizer_dir,
                                               kernels::WeightType type, const AccuracyOptions& options,
                                               const models::LinearConverter& convert, AccuracyReport* report) {
  if (type == kernels::WeightType::F32) {
    throw InvalidArgument("choose_seq2seq_precision: the accuracy guard is for bf16 / int8");
  }
  if (options.fallback == type ||
      (type == kernels::WeightType::BF16 && options.fallback != kernels::WeightType::F32)) {
    throw InvalidArgument("fallback dtype " + std::string(kernels::weight_type_name(options.fallback)) +
                          " is not a higher precision than " + std::string(kernels::weight_type_name(type)) +
                          " (use fp32" + (type == kernels::WeightType::S8 ? std::string(" or bf16") : "") + ")");
  }
  AccuracyOptions opts = options;
  opts.causal_lm = true;  // judged on logits per position
  if (opts.max_ranked_units == 0) opts.max_ranked_units = 32;
  AccuracyReport rep;
  rep.dtype = internal::dtype_label(type);
  rep.thresholds = opts;
  rep.thresholds.texts.clear();
  const std::vector<std::string> names = models::seq2seq_linear_names(fp32.weights());
  rep.layer_linears = static_cast<int64_t>(names.size());
  rep.cpu_isa = kernels::cpu_isa();
  if (type == kernels::WeightType::S8) rep.int8_activation_levels = kernels::int8_activation_levels();
  const Calibration cal = calibrate(fp32, tokenizer_dir, opts);
  rep.samples = static_cast<int64_t>(cal.ids.size());
  rep.calibration = cal.source;
  if (cal.source.starts_with("seeded")) progress_note("accuracy guard: calibrating on " + cal.source);
  const std::vector<Tensor> ref = run_calibration(fp32, cal.ids);
  auto measure = [&](const models::PrecisionPlan& p) {
    return compare(fp32.config(), cal.ids, ref,
                   run_calibration(*models::seq2seq_with_precision(fp32, p, convert), cal.ids));
  };
  models::PrecisionPlan uniform;
  for (const std::string& n : names) uniform[n] = type;
  models::PrecisionPlan plan = guard_search(uniform, names, type, opts, measure, rep);
  if (report != nullptr) *report = std::move(rep);
  return plan;
}

ExportResult export_seq2seq(const fs::path& model_dir, const fs::path& output_dir, const ExportOptions& options) {
  const fs::path config_dir = options.config_dir.empty() ? model_dir : options.config_dir;
  models::register_architectures();
  const std::string library = tasks::check_loadable(config_dir);
  const io::Json cfg = read_config(config_dir);
  const std::string model_type = cfg.at("model_type").get<std::string>();
  const std::string task =
      options.task == "auto" ? tasks::infer_task(config_dir) : tasks::canonical_task(options.task);
  const tasks::ExportConfig& export_config = tasks::get_export_config("native", model_type, task);
  const kernels::WeightType type = kernels::weight_type_from_name(options.dtype);
  const std::string dtype = internal::dtype_label(type);
  const double atol = options.atol.value_or(export_config.atol);
  const std::vector<int64_t> batches = internal::validation_batches(options);

  fs::path out = output_dir;
  if (out.filename().empty()) out = out.parent_path();
  check_output(model_dir, out);

  const std::string config_source = (config_dir / "config.json").string();
  std::shared_ptr<const models::Seq2SeqModel> source;
  {
    ProgressStep step("load", model_dir.string());
    source = models::Seq2SeqModel::load(cfg, io::WeightStore::open_dir(model_dir), config_source);
  }
  const models::Seq2SeqConfig& sc = source->config();
  const std::vector<int64_t> lengths =
      internal::validation_lengths(options, sc.max_position_embeddings > 0 ? sc.max_position_embeddings : 0, {8, 33});

  std::shared_ptr<const models::Seq2SeqModel> target = source;
  models::PrecisionPlan plan;
  io::Json accuracy;
  if (type != kernels::WeightType::F32) {
    const models::LinearConverter convert = internal::caching_converter();
    const AccuracyOptions guard = internal::guard_options(options, export_config, type);
    AccuracyReport report;
    plan = choose_seq2seq_precision(*source, model_dir, type, guard, convert, &report);
    target = models::seq2seq_with_precision(*source, plan, convert);
    accuracy = report.to_json();
  }

  internal::TempDir tmp(out.parent_path() / (out.filename().string() + ".partial-" + std::to_string(::getpid())));

  // 1. Weights in the engine's layout, config.json, tokenizer / generation files.
  std::optional<ProgressStep> writing(std::in_place, "write", out.string());
  const models::Seq2SeqNativeLayout native = models::seq2seq_to_native(*target);
  const io::Json weights = models::save_native_weights(
      tmp.path(), native.tensors, {{"format", models::kNativeFormat}, {"layout_kind", models::kSeq2SeqLayoutKind}});
  io::Json config_json = cfg;
  for (const auto& [key, value] : export_config.values_override) config_json[key] = value;
  io::write_json(tmp.path() / "config.json", config_json);
  preprocessors::CopyReport copied = preprocessors::copy(model_dir, tmp.path());
  if (copied.copied.empty() && config_dir != model_dir) copied = preprocessors::copy(config_dir, tmp.path());
  std::error_code ec;
  if (!fs::exists(tmp.path() / "generation_config.json", ec)) {
    io::write_json(tmp.path() / "generation_config.json", generation_config_from(cfg));
    copied.copied.emplace_back("generation_config.json");
    std::sort(copied.copied.begin(), copied.copied.end());
  }
  check_persisted(tmp.path());
  io::Json precisions = io::Json::object();
  for (const std::string& name : models::seq2seq_linear_names(target->weights())) {
    auto it = plan.find(name);
    precisions[name] = internal::dtype_label(it == plan.end() ? kernels::WeightType::F32 : it->second);
  }
  const int64_t n_layers = sc.decoder_layers;
  io::Json meta = internal::export_record(options, model_dir, library, model_type, task, dtype, native.layout,
                                          weights, copied.copied, accuracy);
  meta["linear_precisions"] = precisions;
  meta["inputs"] = internal::tensor_specs_json(export_config.expanded_inputs(n_layers));
  meta["outputs"] = internal::tensor_specs_json(export_config.expanded_outputs(n_layers));
  io::write_json(tmp.path() / "optimum_export.json", meta);
  writing.reset();

  // 2. Validation on shapes other than the export's: the model in the
  // exported precisions vs the folder reloaded.
  ProgressStep validating("validation", "", batches.size() * lengths.size());
  const auto exported = models::Seq2SeqModel::load(tmp.path());
  ExportResult result;
  result.task = task;
  result.model_type = model_type;
  result.atol = atol;
  result.dtype = dtype;
  result.accuracy = accuracy;
  io::Json cases = io::Json::array();
  for (int64_t batch : batches) {
    for (int64_t seq : lengths) {
      const int64_t dec_len = std::max<int64_t>(1, std::min<int64_t>(seq / 2 + 1, sc.max_position_embeddings > 0 ? sc.max_position_embeddings : seq));
      validating.set_detail("batch " + std::to_string(batch) + " x encoder " + std::to_string(seq) + " x decoder " +
                            std::to_string(dec_len));
      const auto seed = static_cast<uint64_t>(batch * 100 + seq);
      std::mt19937_64 rng(seed);
      std::uniform_int_distribution<int64_t> tok(0, sc.vocab_size - 1);
      auto draw = [&] {
        int64_t v = tok(rng);
        while (v == sc.pad_token_id && sc.vocab_size > 1) v = tok(rng);
        return v;
      };
      // Right padding: row r keeps seq - r tokens (at least one); decoder rows likewise.
      Rows enc(static_cast<size_t>(batch)), dec(static_cast<size_t>(batch));
      for (int64_t r = 0; r < batch; ++r) {
        for (int64_t s = 0; s < std::max<int64_t>(1, seq - r); ++s) enc[static_cast<size_t>(r)].push_back(draw());
        dec[static_cast<size_t>(r)].push_back(sc.decoder_start_token_id);
        for (int64_t s = 1; s < std::max<int64_t>(1, dec_len - r); ++s) dec[static_cast<size_t>(r)].push_back(draw());
      }
      const Forward want = run_rows(*target, enc, dec);
      const Forward got = run_rows(*exported, enc, dec);
      auto check = [&](const std::string& name, const Tensor& x, const Tensor& y, const std::vector<int64_t>* mask) {
        if (x.shape() != y.shape()) {
          throw ValidationError("export validation failed: output '" + name + "' has shape " + shape_str(y.shape()) +
                                " in the exported model but " + shape_str(x.shape()) + " in the source");
        }
        const int64_t width = x.shape().back();
        const float* a = x.data<float>();
        const float* b = y.data<float>();
        double worst = 0;
        for (int64_t i = 0; i < x.numel(); ++i) {
          if (mask != nullptr && (*mask)[static_cast<size_t>(i / width)] == 0) continue;
          if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
            throw ValidationError("export validation failed: output '" + name + "' contains NaN or inf at index " +
                                  std::to_string(i) + " (batch " + std::to_string(batch) + " x encoder sequence " +
                                  std::to_string(seq) + ")");
          }
          worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
        }
        result.validation.push_back({batch, seq, name, worst});
        result.max_abs_diff = std::max(result.max_abs_diff, worst);
        cases.push_back({{"batch_size", batch},
                         {"encoder_sequence_length", seq},
                         {"decoder_sequence_length", dec_len},
                         {"padding", "right"},
                         {"output", name},
                         {"max_abs_diff", worst}});
        if (worst > atol) {
          throw ValidationError("export validation failed: output '" + name + "' differs by " +
                                std::to_string(worst) + " > atol " + std::to_string(atol) + " at batch " +
                                std::to_string(batch) + " x encoder sequence " + std::to_string(seq) +
                                " x decoder sequence " + std::to_string(dec_len));
        }
      };
      check("encoder_last_hidden_state", want.encoder_hidden, got.encoder_hidden, &want.mask);
      check("logits", want.logits, got.logits, nullptr);
      validating.advance();
    }
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
