#include "optimum/models/heads.h"

namespace optimum::models {

HeadStep HeadStep::dense(Linear l) {
  HeadStep s;
  s.kind = Kind::Linear;
  s.linear = std::move(l);
  return s;
}

HeadStep HeadStep::act(kernels::Activation a) {
  HeadStep s;
  s.kind = Kind::Activation;
  s.activation = a;
  return s;
}

HeadStep HeadStep::layer_norm(Norm n) {
  HeadStep s;
  s.kind = Kind::Norm;
  s.norm = std::move(n);
  return s;
}

int64_t Head::out_features(int64_t in) const {
  int64_t width = in;
  for (const HeadStep& s : steps) {
    if (s.kind == HeadStep::Kind::Linear) width = s.linear.out;
  }
  return width;
}

void Head::pack() {
  for (HeadStep& s : steps) {
    if (s.kind == HeadStep::Kind::Linear) s.linear.pack(kernels::WeightType::F32);
  }
}

Tensor Head::run(const Tensor& x) const {
  const int64_t rows = x.size(0);
  Tensor cur = x;
  for (const HeadStep& s : steps) {
    switch (s.kind) {
      case HeadStep::Kind::Linear: {
        Tensor next = Tensor::zeros(DType::F32, {rows, s.linear.out});
        s.linear.forward(cur.data<float>(), rows, next.mutable_data<float>());
        cur = std::move(next);
        break;
      }
      case HeadStep::Kind::Activation:
        if (!cur.is_owned() || cur.raw() == x.raw()) cur = cur.clone();
        kernels::apply_activation(cur.mutable_data<float>(), cur.numel(), s.activation);
        break;
      case HeadStep::Kind::Norm: {
        Tensor next = Tensor::zeros(DType::F32, {rows, s.norm.dim});
        s.norm.forward(cur.data<float>(), nullptr, rows, next.mutable_data<float>());
        cur = std::move(next);
        break;
      }
    }
  }
  return cur;
}

}  // namespace optimum::models
