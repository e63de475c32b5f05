// fp32 GEMV / skinny GEMM for few rows (decode at batch 1..8):
// y[m, n] = act(x[m, k] · Wᵀ + b) with W in PyTorch's plain [n, k] layout.
//
// Bandwidth-bound: each weight byte is read once from memory per call. The
// output columns are split over the OpenMP threads (one thread when called
// from a parallel region); each thread walks its weight rows four at a time,
// k-contiguous dot products with independent accumulators, every x row of a
// chunk of four against the same four weight rows (the weight block stays in
// L1 for the next chunk when m > 4). Bias and activation are applied on the
// thread's own span. AVX-512, AVX2+FMA and a portable loop, picked by
// vector_isa() (OPTIMUM_CPU_ISA caps it).
#pragma once

#include <cstdint>

#include "optimum/kernels/ops.h"

namespace optimum::kernels {

// The row counts PackedLinear sends to gemv_f32 for plain f32 layers: those
// whose weights are in PyTorch's [n, k] layout (view_f32 where
// f32_weights_in_place(), i.e. below AVX-512, and every view_f32 made inside a
// FewRowsLayout scope). More rows run oneDNN on the same weights.
inline constexpr int64_t kGemvMaxRows = 8;

// While one is alive on this thread, PackedLinear::view_f32 keeps F32 weights
// where they lie, in the plain layout, whatever f32_weights_in_place() says
// (not a blocked copy): for layers that mostly run few rows (a decoder's
// decode steps), so the weights are held once and the GEMV reads them. On
// AVX-512 large row counts then run oneDNN on the plain layout.
class FewRowsLayout {
 public:
  FewRowsLayout();
  ~FewRowsLayout();
  FewRowsLayout(const FewRowsLayout&) = delete;
  FewRowsLayout& operator=(const FewRowsLayout&) = delete;
  static bool active();
};

// y[m, n] = act(x[m, k] · w[n, k]ᵀ + bias); bias [n] or null. x, w and y must not overlap.
void gemv_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias, float* y,
              Activation act = Activation::Identity);

// The reference twin: one scalar dot product per output in double, then bias
// and activation_span. For tests.
void gemv_f32_reference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
                        float* y, Activation act = Activation::Identity);

}  // namespace optimum::kernels
