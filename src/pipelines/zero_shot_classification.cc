// zero-shot-classification (transformers' ZeroShotClassificationPipeline):
// an NLI model scores (sequence, hypothesis_template.format(label)) for each
// candidate label; the entailment logit is soft-maxed across labels, or
// against contradiction per label with multi_label.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "pipeline_internal.h"

namespace optimum::pipelines::detail {

namespace {

std::string strip(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
}

// str.format with one positional argument: "{}" and "{0}" take `value`,
// "{{" / "}}" are braces; other fields are an error, as in Python.
std::string format_template(const std::string& tmpl, const std::string& value) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '{') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      const size_t close = tmpl.find('}', i);
      if (close == std::string::npos)
        throw InvalidArgument("hypothesis_template '" + tmpl + "': Single '{' encountered");
      const std::string field = tmpl.substr(i + 1, close - i - 1);
      if (field != "" && field != "0") {
        throw InvalidArgument("hypothesis_template '" + tmpl + "': unsupported replacement field '{" + field +
                              "}'");
      }
      out += value;
      i = close;
    } else if (c == '}') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw InvalidArgument("hypothesis_template '" + tmpl + "': Single '}' encountered");
    } else {
      out += c;
    }
  }
  return out;
}

class ZeroShotClassification : public TaskPipeline {
 public:
  explicit ZeroShotClassification(Context ctx) : TaskPipeline(std::move(ctx)) {
    // transformers: the first label2id entry whose label starts with "entail"; -1 (the last logit) if none.
    const auto& cfg = ctx_.model->config();
    // label2id in file order (the parsed config keeps keys sorted).
    const std::filesystem::path file = ctx_.model->path() / "config.json";
    std::error_code ec;
    const bool on_disk = std::filesystem::exists(file, ec);
    const io::OrderedJson raw =
        on_disk ? io::read_ordered_json(file) : io::OrderedJson::parse(cfg.raw.dump());
    const std::string src = on_disk ? file.string() : "config.json";
    if (raw.is_object() && raw.contains("label2id") && !raw["label2id"].is_object()) {
      throw FormatError(src + ": /label2id: expected an object, got " + raw["label2id"].type_name());
    }
    if (raw.is_object() && raw.contains("label2id") && !raw["label2id"].empty()) {
      io::with_json_context(src, [&] {
        for (const auto& [key, value] : raw["label2id"].items()) {
          std::string lower = key;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
          if (lower.rfind("entail", 0) == 0) {
            entailment_id_ = value.get<int64_t>();
            break;
          }
        }
      });
    } else {
      for (const auto& [id, label] : cfg.id2label) {
        std::string lower = label;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        if (lower.rfind("entail", 0) == 0) {
          entailment_id_ = id;
          break;
        }
      }
    }
  }

  std::unique_ptr<PreparedInput> preprocess(const Json& input, const Json& call) const override {
    return prepare(input, parse(call));
  }

  Json postprocess(PreparedInput& input) const override {
    auto& in = prepared_as<Prepared>(input, task_);
    const auto& labels = in.params->labels;
    std::vector<float> entail_logits, contra_logits;
    for (size_t i = 0; i < labels.size(); ++i) {
      const float* logits = output(in.outputs.at(i), "logits").data<float>();
      entail_logits.push_back(logits[in.params->entail]);
      contra_logits.push_back(logits[in.params->contra]);
    }
    return scores_of(in.sequence, labels, in.params->multi_label, entail_logits, contra_logits);
  }

  Json operator()(const Json& inputs, const Json& call) const override {
    const auto params = parse(call);
    return run_inputs(inputs, call, [&](const Json& item) { return prepare(item, params); }, false);
  }

 private:
  struct Params {
    std::vector<std::string> labels;
    std::string tmpl;
    bool multi_label = false;
    size_t entail = 0, contra = 0;  // logit columns
  };
  struct Prepared : PreparedInput {
    std::shared_ptr<const Params> params;
    std::string sequence;
  };

  std::shared_ptr<const Params> parse(const Json& call) const {
    Options opts = options(call, {"candidate_labels", "hypothesis_template", "multi_label"});
    auto p = std::make_shared<Params>();
    std::vector<std::string>& labels = p->labels;
    if (opts.has("candidate_labels")) {
      const Json& v = opts.get("candidate_labels");
      if (v.is_string()) {
        // "a, b" -> ["a", "b"]
        const std::string s = v.get<std::string>();
        size_t pos = 0;
        while (pos <= s.size()) {
          const size_t comma = std::min(s.find(',', pos), s.size());
          const std::string l = strip(s.substr(pos, comma - pos));
          if (!l.empty()) labels.push_back(l);
          pos = comma + 1;
        }
      } else if (v.is_array()) {
        for (const Json& l : v) {
          if (!l.is_string())
            throw InvalidArgument(task_ + ": candidate_labels must be strings, got " + l.dump());
          labels.push_back(l.get<std::string>());
        }
      } else if (!v.is_null()) {
        throw InvalidArgument(task_ + ": candidate_labels must be a string or a list of strings");
      }
    }
    p->tmpl = opts.get_string("hypothesis_template", "This example is {}.");
    p->multi_label = opts.get_bool("multi_label", false);
    const auto n_classes = ctx_.model->config().num_labels;
    auto column = [&](int64_t id) {
      const int64_t c = id < 0 ? n_classes + id : id;
      if (c < 0 || c >= n_classes)
        throw InvalidArgument(task_ + ": label id " + std::to_string(id) + " out of range");
      return static_cast<size_t>(c);
    };
    p->entail = column(entailment_id_);
    p->contra = column(entailment_id_ == 0 ? -1 : 0);
    return p;
  }

  std::unique_ptr<PreparedInput> prepare(const Json& item, std::shared_ptr<const Params> params) const {
    if (!item.is_string()) throw InvalidArgument(task_ + ": inputs must be strings, got " + item.dump());
    const std::string sequence = item.get<std::string>();
    const auto& labels = params->labels;
    const std::string& tmpl = params->tmpl;
    if (labels.empty() || sequence.empty()) {
      throw InvalidArgument("You must include at least one label and at least one sequence.");
    }
    if (format_template(tmpl, labels[0]) == tmpl) {
      throw InvalidArgument(
          "The provided hypothesis_template \"" + tmpl +
          "\" was not able to be formatted with the target labels. Make sure the passed template "
          "includes formatting syntax such as {} where the label should go.");
    }
    auto out = std::make_unique<Prepared>();
    out->sequence = sequence;
    for (const std::string& label : labels) {
      const std::string hypothesis = format_template(tmpl, label);
      std::vector<Encoding> enc;
      try {
        enc = ctx_.tok->encode(sequence, hypothesis,
                               Truncation{TruncationStrategy::OnlyFirst, std::nullopt, 0});
      } catch (const Error& e) {
        // transformers retries without truncation when the first sequence is too short to truncate.
        if (std::string(e.what()).find("too short") == std::string::npos &&
            std::string(e.what()).find("not long enough") == std::string::npos) {
          throw;
        }
        enc = ctx_.tok->encode(sequence, hypothesis, std::nullopt);
      }
      out->encodings.push_back(std::move(enc.front()));
    }
    out->params = std::move(params);
    return out;
  }

  Json scores_of(const std::string& sequence, const std::vector<std::string>& labels, bool multi_label,
                 const std::vector<float>& entail_logits, const std::vector<float>& contra_logits) const {
    std::vector<float> scores(labels.size());
    if (multi_label || labels.size() == 1) {
      for (size_t i = 0; i < labels.size(); ++i) {
        const float ec = std::exp(contra_logits[i]), ee = std::exp(entail_logits[i]);
        scores[i] = ee / (ec + ee);
      }
    } else {
      float sum = 0.f;
      for (size_t i = 0; i < labels.size(); ++i) sum += std::exp(entail_logits[i]);
      for (size_t i = 0; i < labels.size(); ++i) scores[i] = std::exp(entail_logits[i]) / sum;
    }
    // numpy argsort ascending (stable for these sizes), reversed.
    std::vector<size_t> order(labels.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    std::reverse(order.begin(), order.end());
    Json out_labels = Json::array(), out_scores = Json::array();
    for (size_t i : order) {
      out_labels.push_back(labels[i]);
      out_scores.push_back(scores[i]);
    }
    return Json{{"sequence", sequence}, {"labels", out_labels}, {"scores", out_scores}};
  }

  int64_t entailment_id_ = -1;
};

}  // namespace

std::unique_ptr<Pipeline> make_zero_shot_classification(Context ctx) {
  return std::make_unique<ZeroShotClassification>(std::move(ctx));
}

}  // namespace optimum::pipelines::detail
