// Decoder kernels (decoder_ops.h). The fast paths are plain loops written so
// GCC vectorizes them (omp simd reductions over contiguous rows), split over
// the OpenMP pool; the `_reference` twins accumulate in double, one thread.
#include "optimum/kernels/decoder_ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/kernels/gemm.h"

namespace optimum::kernels {

namespace {

float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y += a * x
void axpy(float a, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void check_attention(const CachedAttentionArgs& a) {
  if (a.heads <= 0 || a.heads_kv <= 0 || a.heads % a.heads_kv != 0 || a.head_dim <= 0) {
    throw InvalidArgument("cached_attention: heads " + std::to_string(a.heads) + " is not a multiple of kv heads " +
                          std::to_string(a.heads_kv));
  }
  for (int64_t s = 0; s < a.n_segments; ++s) {
    const CachedAttentionSegment& g = a.segments[s];
    if (g.count < 0 || g.past < 0 || g.past + g.count > a.capacity) {
      throw InvalidArgument("cached_attention: segment " + std::to_string(s) + " (past " + std::to_string(g.past) +
                            ", count " + std::to_string(g.count) + ") exceeds capacity " +
                            std::to_string(a.capacity));
    }
  }
}

// First key position a query at position `p` sees.
int64_t first_key(int64_t p, int64_t window) { return window > 0 ? std::max<int64_t>(0, p - window + 1) : 0; }

}  // namespace

void rms_norm(const float* x, int64_t ld_x, const float* weight, float offset, double eps, int64_t rows,
              int64_t cols, float* out, int64_t ld_out) {
  const auto e = static_cast<float>(eps);
#pragma omp parallel for if (rows * cols > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld_x;
    float* o = out + r * ld_out;
    const float ss = dot(xr, xr, cols);
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(cols) + e);
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) o[c] = (weight[c] + offset) * (xr[c] * inv);
  }
}

void rms_norm_reference(const float* x, int64_t ld_x, const float* weight, float offset, double eps, int64_t rows,
                        int64_t cols, float* out, int64_t ld_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld_x;
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) {
      out[r * ld_out + c] = static_cast<float>((static_cast<double>(weight[c]) + offset) * (xr[c] * inv));
    }
  }
}

void rope_apply(float* x, int64_t ld, int64_t rows, int64_t heads, int64_t head_dim, int64_t rotary_dims,
                const float* cos, const float* sin) {
  const int64_t half = rotary_dims / 2;
#pragma omp parallel for if (rows * heads * head_dim > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = cos + r * half;
    const float* s = sin + r * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* a = x + r * ld + h * head_dim;
      float* b = a + half;
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = a[i];
        const float x2 = b[i];
        a[i] = x1 * c[i] - x2 * s[i];
        b[i] = x2 * c[i] + x1 * s[i];
      }
    }
  }
}

void rope_apply_reference(float* x, int64_t ld, int64_t rows, int64_t heads, int64_t head_dim,
                          int64_t rotary_dims, const float* cos, const float* sin) {
  const int64_t half = rotary_dims / 2;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      float* a = x + r * ld + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double x1 = a[i];
        const double x2 = a[i + half];
        const double c = cos[r * half + i];
        const double s = sin[r * half + i];
        a[i] = static_cast<float>(x1 * c - x2 * s);
        a[i + half] = static_cast<float>(x2 * c + x1 * s);
      }
    }
  }
}

void gated_activation(const float* gu, int64_t rows, int64_t n, Activation act, float* out) {
#pragma omp parallel for if (rows * n > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out + r * n;
    const float* g = gu + r * 2 * n;
    const float* u = g + n;
    std::copy_n(g, n, o);
    activation_span(o, n, act);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] *= u[j];
  }
}

void cached_attention(const CachedAttentionArgs& a) {
  check_attention(a);
  // Query rows per task: a prompt chunk runs as two small GEMMs (scores and
  // probabilities·values), a decode row as dot products over the cache.
  constexpr int64_t kChunk = 32;
  constexpr int64_t kGemmRows = 4;
  struct Task {
    int64_t seg, head, j0, j1;
  };
  std::vector<Task> tasks;
  for (int64_t s = 0; s < a.n_segments; ++s) {
    for (int64_t h = 0; h < a.heads; ++h) {
      for (int64_t j = 0; j < a.segments[s].count; j += kChunk) {
        tasks.push_back({s, h, j, std::min(a.segments[s].count, j + kChunk)});
      }
    }
  }
  const int64_t group = a.heads / a.heads_kv;
  const int64_t d = a.head_dim;
  const auto n_tasks = static_cast<int64_t>(tasks.size());
  // Multiply-adds, to keep short decode steps off the thread pool (waking it costs more).
  double work = 0;
  for (int64_t s = 0; s < a.n_segments; ++s) {
    work += static_cast<double>(a.segments[s].count) * static_cast<double>(a.segments[s].past + a.segments[s].count);
  }
  work *= static_cast<double>(2 * a.heads * d);
#pragma omp parallel if (n_tasks > 1 && work > 65536)
  {
    std::vector<float> p;
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < n_tasks; ++t) {
      const Task& task = tasks[t];
      const CachedAttentionSegment& g = a.segments[task.seg];
      const int64_t kvh = task.head / group;
      const float* kh = g.k + kvh * a.capacity * d;
      const float* vh = g.v + kvh * a.capacity * d;
      const int64_t nq = task.j1 - task.j0;
      const float* q0 = a.q + (g.row0 + task.j0) * a.ld_q + task.head * d;
      float* o0 = a.out + (g.row0 + task.j0) * a.ld_out + task.head * d;
      if (nq >= kGemmRows) {
        const int64_t lo = first_key(g.past + task.j0, a.sliding_window);
        const int64_t hi = g.past + task.j1 - 1;
        const int64_t nk = hi - lo + 1;
        p.resize(static_cast<size_t>(nq * nk));
        sgemm(false, true, nq, nk, d, a.scale, q0, a.ld_q, kh + lo * d, d, 0.0f, p.data(), nk);
        for (int64_t r = 0; r < nq; ++r) {
          const int64_t pos = g.past + task.j0 + r;
          const int64_t first = first_key(pos, a.sliding_window) - lo;
          const int64_t last = pos - lo;  // inclusive
          float* pr = p.data() + r * nk;
          std::fill(pr, pr + first, 0.0f);
          std::fill(pr + last + 1, pr + nk, 0.0f);
          if (a.softcap > 0.0f) {
            for (int64_t i = first; i <= last; ++i) pr[i] = a.softcap * std::tanh(pr[i] / a.softcap);
          }
          softmax_row(pr + first, last - first + 1);
        }
        sgemm(false, false, nq, d, nk, 1.0f, p.data(), nk, vh + lo * d, d, 0.0f, o0, a.ld_out);
        continue;
      }
      for (int64_t r = 0; r < nq; ++r) {
        const int64_t pos = g.past + task.j0 + r;
        const int64_t lo = first_key(pos, a.sliding_window);
        const int64_t n = pos - lo + 1;
        p.resize(static_cast<size_t>(n));
        const float* q = q0 + r * a.ld_q;
        for (int64_t i = 0; i < n; ++i) {
          float sc = dot(q, kh + (lo + i) * d, d) * a.scale;
          if (a.softcap > 0.0f) sc = a.softcap * std::tanh(sc / a.softcap);
          p[i] = sc;
        }
        softmax_row(p.data(), n);
        float* o = o0 + r * a.ld_out;
        std::fill_n(o, d, 0.0f);
        for (int64_t i = 0; i < n; ++i) axpy(p[i], vh + (lo + i) * d, o, d);
      }
    }
  }
}

void cached_attention_reference(const CachedAttentionArgs& a) {
  check_attention(a);
  const int64_t group = a.heads / a.heads_kv;
  const int64_t d = a.head_dim;
  for (int64_t s = 0; s < a.n_segments; ++s) {
    const CachedAttentionSegment& g = a.segments[s];
    for (int64_t h = 0; h < a.heads; ++h) {
      const float* kh = g.k + (h / group) * a.capacity * d;
      const float* vh = g.v + (h / group) * a.capacity * d;
      for (int64_t j = 0; j < g.count; ++j) {
        const int64_t pos = g.past + j;
        const int64_t lo = first_key(pos, a.sliding_window);
        std::vector<double> p;
        const float* q = a.q + (g.row0 + j) * a.ld_q + h * d;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = lo; k <= pos; ++k) {
          double sc = 0;
          for (int64_t c = 0; c < d; ++c) sc += static_cast<double>(q[c]) * kh[k * d + c];
          sc *= a.scale;
          if (a.softcap > 0.0f) sc = a.softcap * std::tanh(sc / a.softcap);
          p.push_back(sc);
          mx = std::max(mx, sc);
        }
        double sum = 0;
        for (double& v : p) sum += (v = std::exp(v - mx));
        float* o = a.out + (g.row0 + j) * a.ld_out + h * d;
        for (int64_t c = 0; c < d; ++c) {
          double acc = 0;
          for (int64_t k = lo; k <= pos; ++k) acc += p[static_cast<size_t>(k - lo)] * vh[k * d + c];
          o[c] = static_cast<float>(acc / sum);
        }
      }
    }
  }
}

}  // namespace optimum::kernels
