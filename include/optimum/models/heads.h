// Task heads as data: which rows feed the head (all tokens, the first token
// or the pooler output) and a list of steps (Linear, activation,
// LayerNorm). Every family builds its heads from these pieces.
#pragma once

#include <string>
#include <vector>

#include "optimum/kernels/ops.h"
#include "optimum/models/weights.h"
#include "optimum/tasks/task.h"

namespace optimum::models {

enum class HeadInput { Sequence, FirstToken, Pooled };

struct HeadStep {
  enum class Kind { Linear, Activation, Norm };
  Kind kind = Kind::Linear;
  Linear linear;
  kernels::Activation activation = kernels::Activation::Identity;
  Norm norm;

  static HeadStep dense(Linear l);
  static HeadStep act(kernels::Activation a);
  static HeadStep layer_norm(Norm n);
};

struct Head {
  tasks::Task task = tasks::Task::FeatureExtraction;
  HeadInput input = HeadInput::Sequence;
  std::vector<HeadStep> steps;

  // Width of the head's output rows (the last Linear's output size, or
  // `in` when there is no Linear).
  int64_t out_features(int64_t in) const;
  // Runs the steps on x[rows, in]; returns [rows, out_features].
  Tensor run(const Tensor& x) const;
  // Packs the Linear steps for oneDNN (f32: heads are small next to the encoder).
  void pack();
};

}  // namespace optimum::models
