#include "optimum/kernels/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "optimum/core/errors.h"

namespace optimum::kernels {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                      lda, b, ldb, beta, c, ldc);
  if (st != dnnl_success) {
    throw InvalidArgument("oneDNN sgemm failed (status " + std::to_string(static_cast<int>(st)) +
                          ") for m=" + std::to_string(m) + " n=" + std::to_string(n) +
                          " k=" + std::to_string(k));
  }
}

void linear(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
            float* y) {
  if (bias != nullptr) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      float* row = y + i * n;
      for (int64_t j = 0; j < n; ++j) row[j] = bias[j];
    }
  }
  sgemm(false, true, m, n, k, 1.0f, x, k, w, k, bias != nullptr ? 1.0f : 0.0f, y, n);
}

}  // namespace optimum::kernels
