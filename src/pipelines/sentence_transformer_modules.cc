// The sentence-transformers modules after the Transformer (Pooling, Dense)
// and the similarity functions, computed as sentence_transformers computes
// them (float32 outputs; sums accumulated in double).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "optimum/core/errors.h"
#include "optimum/io/safetensors.h"
#include "optimum/io/torch_checkpoint.h"
#include "optimum/kernels/gemm.h"
#include "optimum/pipelines/sentence_transformer.h"

namespace optimum::pipelines {

namespace fs = std::filesystem;

namespace {

struct ModeName {
  PoolingMode mode;
  const char* name;
  const char* legacy_flag;  // pooling_mode_* key of older configs
};

// In the order older configs concatenate the flagged modes.
constexpr ModeName kModes[] = {
    {PoolingMode::Cls, "cls", "pooling_mode_cls_token"},
    {PoolingMode::Max, "max", "pooling_mode_max_tokens"},
    {PoolingMode::Mean, "mean", "pooling_mode_mean_tokens"},
    {PoolingMode::MeanSqrtLen, "mean_sqrt_len_tokens", "pooling_mode_mean_sqrt_len_tokens"},
    {PoolingMode::WeightedMean, "weightedmean", "pooling_mode_weightedmean_tokens"},
    {PoolingMode::LastToken, "lasttoken", "pooling_mode_lasttoken"},
};

// Python's bool(value) for a JSON value: sentence-transformers reads the
// legacy flags as `if kwargs.get(flag, False)`, so 1 or "yes" set one too.
bool truthy(const io::Json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number_unsigned()) return v.get<uint64_t>() != 0;
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  if (v.is_array() || v.is_object()) return !v.empty();
  return false;  // null
}

std::string mode_list() {
  std::string s;
  for (const auto& m : kModes) s += std::string(s.empty() ? "" : ", ") + m.name;
  return s;
}

// A row-major F32 matrix view of a 1-D or 2-D tensor.
struct Rows {
  const float* data;
  int64_t n;
  int64_t d;
};

Rows as_rows(const Tensor& t, const char* name) {
  if (!t.defined() || t.dtype() != DType::F32 || (t.dim() != 1 && t.dim() != 2)) {
    throw InvalidArgument(std::string("similarity: '") + name +
                          "' must be a float32 tensor of 1 or 2 dimensions" +
                          (t.defined() ? ", got shape " + shape_str(t.shape()) : ""));
  }
  const int64_t n = t.dim() == 1 ? 1 : t.size(0);
  return {t.data<float>(), n, t.size(-1)};
}

template <typename F>
Tensor pairwise(const Tensor& a, const Tensor& b, F score) {
  const Rows ra = as_rows(a, "a");
  const Rows rb = as_rows(b, "b");
  if (ra.d != rb.d) {
    throw InvalidArgument("similarity: embedding sizes differ (" + std::to_string(ra.d) + " vs " +
                          std::to_string(rb.d) + ")");
  }
  Tensor out = Tensor::zeros(DType::F32, {ra.n, rb.n});
  float* o = out.mutable_data<float>();
  for (int64_t i = 0; i < ra.n; ++i) {
    for (int64_t j = 0; j < rb.n; ++j) o[i * rb.n + j] = score(ra.data + i * ra.d, rb.data + j * rb.d, ra.d);
  }
  return out;
}

}  // namespace

PoolingMode pooling_mode_from_name(const std::string& name) {
  for (const auto& m : kModes) {
    if (name == m.name) return m.mode;
  }
  throw InvalidArgument("invalid pooling mode '" + name + "' (valid: " + mode_list() + ")");
}

std::string pooling_mode_name(PoolingMode mode) {
  for (const auto& m : kModes) {
    if (m.mode == mode) return m.name;
  }
  return "?";
}

Pooling Pooling::from_json(const io::Json& json, const std::string& source) {
  return io::with_json_context(source, [&] { return parse_pooling(json, source); });
}

Pooling Pooling::parse_pooling(const io::Json& json, const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": expected a JSON object");
  Pooling p;
  const char* dim_key =
      json.contains("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension";
  if (!json.contains(dim_key) || !json[dim_key].is_number_integer() || json[dim_key].get<int64_t>() <= 0) {
    throw FormatError(source + ": missing or invalid 'embedding_dimension' (or 'word_embedding_dimension')");
  }
  p.embedding_dimension = json[dim_key].get<int64_t>();
  auto mode_of = [&](const io::Json& v) {
    if (!v.is_string())
      throw FormatError(source + ": 'pooling_mode' entries must be strings, got " + v.dump());
    try {
      return pooling_mode_from_name(v.get<std::string>());
    } catch (const InvalidArgument& e) {
      throw FormatError(source + ": " + e.what());
    }
  };
  if (json.contains("pooling_mode") && !json["pooling_mode"].is_null()) {
    const auto& v = json["pooling_mode"];
    if (v.is_array()) {
      for (const auto& item : v) p.modes.push_back(mode_of(item));
    } else {
      p.modes.push_back(mode_of(v));
    }
    if (p.modes.empty()) throw FormatError(source + ": 'pooling_mode' is an empty list");
  } else {
    for (const auto& m : kModes) {
      if (json.contains(m.legacy_flag) && truthy(json[m.legacy_flag])) {
        p.modes.push_back(m.mode);
      }
    }
    if (p.modes.empty()) p.modes.push_back(PoolingMode::Mean);  // what sentence-transformers defaults to
  }
  if (json.contains("include_prompt") && json["include_prompt"].is_boolean()) {
    p.include_prompt = json["include_prompt"].get<bool>();
  }
  return p;
}

Tensor Pooling::forward(const Tensor& token_embeddings, const Tensor& attention_mask,
                        std::optional<size_t> prompt_length) const {
  if (token_embeddings.dim() != 3 || token_embeddings.size(2) != embedding_dimension) {
    throw InvalidArgument("Pooling: token embeddings of shape " + shape_str(token_embeddings.shape()) +
                          " do not match embedding_dimension " + std::to_string(embedding_dimension));
  }
  const int64_t b = token_embeddings.size(0);
  const int64_t len = token_embeddings.size(1);
  const int64_t h = embedding_dimension;
  const float* x = token_embeddings.data<float>();
  const int64_t* m_in = attention_mask.data<int64_t>();
  std::vector<int64_t> mask(m_in, m_in + b * len);
  if (prompt_length && !include_prompt) {
    // Zero the padding before the first real token and the prompt after it.
    for (int64_t r = 0; r < b; ++r) {
      int64_t first = 0;
      while (first < len && mask[r * len + first] == 0) ++first;
      if (first == len) first = 0;  // argmax of an all-zero row
      const int64_t stop = std::min<int64_t>(len, first + static_cast<int64_t>(*prompt_length));
      for (int64_t i = 0; i < stop; ++i) mask[r * len + i] = 0;
    }
  }
  const int64_t out_dim = output_dimension();
  Tensor out = Tensor::zeros(DType::F32, {b, out_dim});
  float* o = out.mutable_data<float>();
  std::vector<double> acc(static_cast<size_t>(h));
  for (int64_t r = 0; r < b; ++r) {
    const float* xr = x + r * len * h;
    const int64_t* mr = mask.data() + r * len;
    for (size_t k = 0; k < modes.size(); ++k) {
      float* dst = o + r * out_dim + static_cast<int64_t>(k) * h;
      switch (modes[k]) {
        case PoolingMode::Cls: {
          int64_t first = 0;
          while (first < len && mr[first] == 0) ++first;
          if (first == len) first = 0;
          std::copy(xr + first * h, xr + (first + 1) * h, dst);
          break;
        }
        case PoolingMode::LastToken: {
          int64_t last = len - 1;
          while (last >= 0 && mr[last] == 0) --last;
          if (last < 0) {
            std::fill(dst, dst + h, 0.f);  // embedding * mask of the last position
          } else {
            std::copy(xr + last * h, xr + (last + 1) * h, dst);
          }
          break;
        }
        case PoolingMode::Max: {
          std::fill(dst, dst + h, -std::numeric_limits<float>::infinity());
          for (int64_t i = 0; i < len; ++i) {
            if (mr[i] == 0) continue;
            for (int64_t j = 0; j < h; ++j) dst[j] = std::max(dst[j], xr[i * h + j]);
          }
          break;
        }
        case PoolingMode::Mean:
        case PoolingMode::MeanSqrtLen:
        case PoolingMode::WeightedMean: {
          const bool weighted = modes[k] == PoolingMode::WeightedMean;
          std::fill(acc.begin(), acc.end(), 0.0);
          double total = 0.0;
          for (int64_t i = 0; i < len; ++i) {
            if (mr[i] == 0) continue;
            const double w = weighted ? static_cast<double>(i + 1) : 1.0;
            total += w;
            for (int64_t j = 0; j < h; ++j) acc[static_cast<size_t>(j)] += w * xr[i * h + j];
          }
          double denom = std::max(total, 1e-9);
          if (modes[k] == PoolingMode::MeanSqrtLen) denom = std::sqrt(denom);
          for (int64_t j = 0; j < h; ++j) dst[j] = static_cast<float>(acc[static_cast<size_t>(j)] / denom);
          break;
        }
      }
    }
  }
  return out;
}

Activation activation_from_name(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string cls = dot == std::string::npos ? name : name.substr(dot + 1);
  if (name.rfind("torch.", 0) == 0) {
    if (cls == "Identity") return Activation::Identity;
    if (cls == "Tanh") return Activation::Tanh;
    if (cls == "ReLU") return Activation::ReLU;
    if (cls == "Sigmoid") return Activation::Sigmoid;
    if (cls == "GELU") return Activation::GELU;
  }
  throw Unsupported("activation_function '" + name +
                    "' is not supported (supported: torch.nn.Identity, Tanh, ReLU, Sigmoid, GELU)");
}

DenseLayer DenseLayer::load(const fs::path& folder) {
  const fs::path config_path = folder / "config.json";
  std::error_code ec;
  if (!fs::exists(config_path, ec)) throw NotFound("Dense module: " + config_path.string() + " not found");
  const io::Json j = io::read_json(config_path);
  const std::string src = config_path.string();
  return io::with_json_context(src, [&] { return load_dense(folder, j, src); });
}

DenseLayer DenseLayer::load_dense(const fs::path& folder, const io::Json& j, const std::string& src) {
  std::error_code ec;
  DenseLayer d;
  for (const char* key : {"in_features", "out_features"}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() <= 0) {
      throw FormatError(src + ": missing or invalid '" + key + "'");
    }
  }
  d.in_features = j["in_features"].get<int64_t>();
  d.out_features = j["out_features"].get<int64_t>();
  const bool has_bias = j.value("bias", true);
  if (j.contains("activation_function") && j["activation_function"].is_string()) {
    try {
      d.activation = activation_from_name(j["activation_function"].get<std::string>());
    } catch (const Unsupported& e) {
      throw Unsupported(src + ": " + e.what());
    }
  }
  for (const char* key : {"module_input_name", "module_output_name"}) {
    if (j.contains(key) && j[key].is_string() && j[key].get<std::string>() != "sentence_embedding") {
      throw Unsupported(src + ": " + key + " '" + j[key].get<std::string>() +
                        "' is not supported (only 'sentence_embedding')");
    }
  }
  d.use_residual = j.value("use_residual", false);

  // Weights: model.safetensors, else pytorch_model.bin, as sentence-transformers looks them up.
  std::function<Tensor(const std::string&)> get;
  std::function<bool(const std::string&)> has;
  std::string weights_src;
  if (fs::exists(folder / "model.safetensors", ec)) {
    auto store = std::make_shared<io::WeightStore>(io::WeightStore::open(folder / "model.safetensors"));
    get = [store](const std::string& n) { return store->get(n); };
    has = [store](const std::string& n) { return store->contains(n); };
    weights_src = (folder / "model.safetensors").string();
  } else if (fs::exists(folder / "pytorch_model.bin", ec)) {
    auto store = std::make_shared<io::TorchWeights>(io::TorchWeights::open(folder / "pytorch_model.bin"));
    get = [store](const std::string& n) { return store->get(n); };
    has = [store](const std::string& n) { return store->contains(n); };
    weights_src = (folder / "pytorch_model.bin").string();
  } else {
    throw NotFound("Dense module: neither model.safetensors nor pytorch_model.bin in " + folder.string());
  }
  auto load = [&](const std::string& name, const Shape& shape) {
    if (!has(name)) throw FormatError(weights_src + ": missing tensor '" + name + "'");
    Tensor t = get(name);
    if (t.shape() != shape) {
      throw FormatError(weights_src + ": tensor '" + name + "' has shape " + shape_str(t.shape()) +
                        ", expected " + shape_str(shape));
    }
    return t.to(DType::F32).clone();
  };
  d.weight = load("linear.weight", {d.out_features, d.in_features});
  if (has_bias) d.bias = load("linear.bias", {d.out_features});
  if (d.use_residual && d.in_features != d.out_features) {
    d.residual_weight = load("residual.weight", {d.out_features, d.in_features});
  }
  return d;
}

Tensor DenseLayer::forward(const Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != in_features) {
    throw InvalidArgument("Dense: input of shape " + shape_str(x.shape()) + " does not have in_features " +
                          std::to_string(in_features));
  }
  const int64_t n = x.size(0);
  Tensor y = Tensor::zeros(DType::F32, {n, out_features});
  if (n == 0) return y;
  float* yp = y.mutable_data<float>();
  kernels::linear(x.data<float>(), n, in_features, weight.data<float>(), out_features,
                  bias.defined() ? bias.data<float>() : nullptr, yp);
  const int64_t total = n * out_features;
  for (int64_t i = 0; i < total; ++i) {
    float& v = yp[i];
    switch (activation) {
      case Activation::Identity:
        break;
      case Activation::Tanh:
        v = std::tanh(v);
        break;
      case Activation::ReLU:
        v = std::max(v, 0.f);
        break;
      case Activation::Sigmoid:
        v = 1.f / (1.f + std::exp(-v));
        break;
      case Activation::GELU:
        v = static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
        break;
    }
  }
  if (use_residual) {
    if (residual_weight.defined()) {
      Tensor r = Tensor::zeros(DType::F32, {n, out_features});
      kernels::linear(x.data<float>(), n, in_features, residual_weight.data<float>(), out_features, nullptr,
                      r.mutable_data<float>());
      for (int64_t i = 0; i < total; ++i) yp[i] += r.data<float>()[i];
    } else {
      for (int64_t i = 0; i < total; ++i) yp[i] += x.data<float>()[i];
    }
  }
  return y;
}

SimilarityFunction similarity_function_from_name(const std::string& name) {
  if (name == "cosine" || name == "cos_sim") return SimilarityFunction::Cosine;
  if (name == "dot" || name == "dot_score" || name == "dot_product") return SimilarityFunction::Dot;
  if (name == "euclidean") return SimilarityFunction::Euclidean;
  if (name == "manhattan") return SimilarityFunction::Manhattan;
  throw InvalidArgument("similarity_fn_name '" + name + "' is not one of cosine, dot, euclidean, manhattan");
}

std::string similarity_function_name(SimilarityFunction f) {
  switch (f) {
    case SimilarityFunction::Cosine:
      return "cosine";
    case SimilarityFunction::Dot:
      return "dot";
    case SimilarityFunction::Euclidean:
      return "euclidean";
    case SimilarityFunction::Manhattan:
      return "manhattan";
  }
  return "?";
}

Tensor normalize_rows(const Tensor& x) {
  const Rows r = as_rows(x, "x");
  Tensor out = Tensor::zeros(DType::F32, x.shape());
  float* o = out.mutable_data<float>();
  for (int64_t i = 0; i < r.n; ++i) {
    const float* v = r.data + i * r.d;
    double sq = 0.0;
    for (int64_t j = 0; j < r.d; ++j) sq += static_cast<double>(v[j]) * v[j];
    const double norm = std::max(std::sqrt(sq), 1e-12);
    for (int64_t j = 0; j < r.d; ++j) o[i * r.d + j] = static_cast<float>(v[j] / norm);
  }
  return out;
}

Tensor dot_score(const Tensor& a, const Tensor& b) {
  return pairwise(a, b, [](const float* u, const float* v, int64_t d) {
    double s = 0.0;
    for (int64_t k = 0; k < d; ++k) s += static_cast<double>(u[k]) * v[k];
    return static_cast<float>(s);
  });
}

Tensor cos_sim(const Tensor& a, const Tensor& b) {
  as_rows(a, "a");
  as_rows(b, "b");
  return dot_score(normalize_rows(a), normalize_rows(b));
}

Tensor euclidean_sim(const Tensor& a, const Tensor& b) {
  return pairwise(a, b, [](const float* u, const float* v, int64_t d) {
    double s = 0.0;
    for (int64_t k = 0; k < d; ++k) {
      const double diff = static_cast<double>(u[k]) - v[k];
      s += diff * diff;
    }
    return static_cast<float>(-std::sqrt(s));
  });
}

Tensor manhattan_sim(const Tensor& a, const Tensor& b) {
  return pairwise(a, b, [](const float* u, const float* v, int64_t d) {
    double s = 0.0;
    for (int64_t k = 0; k < d; ++k) s += std::abs(static_cast<double>(u[k]) - v[k]);
    return static_cast<float>(-s);
  });
}

Tensor similarity(SimilarityFunction f, const Tensor& a, const Tensor& b) {
  switch (f) {
    case SimilarityFunction::Cosine:
      return cos_sim(a, b);
    case SimilarityFunction::Dot:
      return dot_score(a, b);
    case SimilarityFunction::Euclidean:
      return euclidean_sim(a, b);
    case SimilarityFunction::Manhattan:
      return manhattan_sim(a, b);
  }
  return cos_sim(a, b);
}

}  // namespace optimum::pipelines
