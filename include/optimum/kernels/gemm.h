// Matrix multiplication through oneDNN (never the system BLAS: see
// MEASURED.md). Row-major everywhere.
#pragma once

#include <cstdint>

namespace optimum::kernels {

// C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C, row-major with leading
// dimensions lda, ldb, ldc; op transposes when the flag is set.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// y[m,n] = x[m,k] · w[n,k]^T + bias[n] (bias may be null): a PyTorch Linear.
void linear(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
            float* y);

}  // namespace optimum::kernels
