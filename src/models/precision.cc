#include "optimum/models/precision.h"

#include <algorithm>
#include <mutex>

#include "optimum/core/errors.h"

namespace optimum::models {

namespace {

const char* const kLayerLinears[] = {"qkv", "attn_out", "ffn_in", "ffn_out"};

Linear* layer_linear(EncoderLayer& l, const std::string& part) {
  if (part == "qkv") return &l.qkv;
  if (part == "attn_out") return &l.attn_out;
  if (part == "ffn_in") return &l.ffn_in;
  return &l.ffn_out;
}

}  // namespace

std::vector<std::string> layer_linear_names(const EncoderWeights& weights) {
  std::vector<std::string> names;
  for (size_t i = 0; i < weights.layers.size(); ++i) {
    for (const char* part : kLayerLinears) names.push_back("layers." + std::to_string(i) + "." + part);
  }
  return names;
}

PrecisionPlan uniform_plan(const EncoderWeights& weights, kernels::WeightType type) {
  PrecisionPlan plan;
  if (type == kernels::WeightType::F32) return plan;
  for (const std::string& name : layer_linear_names(weights)) plan[name] = type;
  return plan;
}

kernels::WeightType stored_type(const Linear& l) {
  if (l.weight.dtype() == DType::I8) return kernels::WeightType::S8;
  if (l.weight.dtype() == DType::BF16) return kernels::WeightType::BF16;
  return kernels::WeightType::F32;
}

Linear convert_linear(const Linear& l, kernels::WeightType type) {
  if (l.weight.dtype() != DType::F32) {
    throw InvalidArgument("convert_linear: the source Linear has a " +
                          std::string(dtype_name(l.weight.dtype())) + " weight; f32 expected");
  }
  Linear out;
  out.in = l.in;
  out.out = l.out;
  out.bias = l.bias;
  switch (type) {
    case kernels::WeightType::F32:
      out.weight = l.weight;
      break;
    case kernels::WeightType::BF16:
      out.weight = l.weight.to(DType::BF16);
      break;
    case kernels::WeightType::S8:
      out.weight = Tensor::zeros(DType::I8, {l.out, l.in});
      out.weight_scale = Tensor::zeros(DType::F32, {l.out});
      kernels::quantize_rows_s8(l.weight.data<float>(), l.out, l.in, out.weight.mutable_data<int8_t>(),
                                out.weight_scale.mutable_data<float>());
      break;
  }
  out.pack(type);
  return out;
}

void quantize_word_embeddings(EncoderWeights& w) {
  if (w.word_embeddings.dtype() == DType::I8) return;
  const Tensor& table = w.word_embeddings;
  // The guard builds many candidates from one fp32 model: quantize its table once.
  static std::mutex mutex;
  static Tensor source, q, scale;
  std::lock_guard<std::mutex> lock(mutex);
  if (!source.defined() || source.data<float>() != table.data<float>() || source.shape() != table.shape()) {
    const Tensor f = table.dtype() == DType::F32 ? table : table.to(DType::F32);
    const int64_t rows = f.size(0);
    const int64_t cols = f.size(1);
    q = Tensor::zeros(DType::I8, {rows, cols});
    scale = Tensor::zeros(DType::F32, {rows});
    kernels::quantize_rows_s8(f.data<float>(), rows, cols, q.mutable_data<int8_t>(), scale.mutable_data<float>());
    source = table;
  }
  w.word_embeddings = q;
  w.word_embedding_scale = scale;
}

std::shared_ptr<const EncoderModel> EncoderModel::with_layer_linears(
    const std::function<Linear(const std::string&, const Linear&)>& replace,
    const std::function<void(EncoderWeights&)>& edit) const {
  EncoderWeights w = encoder_->weights();
  if (edit) edit(w);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    for (const char* part : kLayerLinears) {
      Linear* l = layer_linear(w.layers[i], part);
      *l = replace("layers." + std::to_string(i) + "." + part, *l);
    }
  }
  std::shared_ptr<EncoderModel> m(new EncoderModel());
  m->uses_token_types_ = uses_token_types_;
  m->encoder_ = std::make_unique<Encoder>(encoder_->config(), std::move(w), encoder_->positions(),
                                          kernels::WeightType::F32);
  m->head_ = head_;
  return m;
}

std::shared_ptr<const EncoderModel> with_precision(const EncoderModel& model, const PrecisionPlan& plan,
                                                   const LinearConverter& convert) {
  const auto word = plan.find(kWordEmbeddings);
  const bool word_i8 = word != plan.end() && word->second == kernels::WeightType::S8;
  std::function<void(EncoderWeights&)> edit;
  if (word_i8) edit = quantize_word_embeddings;
  return model.with_layer_linears([&](const std::string& name, const Linear& l) {
    auto it = plan.find(name);
    const kernels::WeightType type = it == plan.end() ? kernels::WeightType::F32 : it->second;
    if (convert) return convert(name, l, type);
    if (type == kernels::WeightType::F32 && stored_type(l) == kernels::WeightType::F32 &&
        l.packed.defined() && l.packed.type() == kernels::WeightType::F32) {
      return l;
    }
    return convert_linear(l, type);
  }, edit);
}

}  // namespace optimum::models
