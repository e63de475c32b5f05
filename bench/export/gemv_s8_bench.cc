// m = 1 (decode) Linear: oneDNN PackedLinear f32 / bf16 / s8 (dynamic u8
// activations) against a weight-only int8 GEMV (int8 weights, per-channel
// scales, f32 activations, AVX2 and AVX-512), one thread, SmolLM2-135M's
// shapes. Build (from the repo root, after building optimum_kernels):
//   g++ -O3 -std=c++20 -fopenmp -Iinclude bench/export/gemv_s8_bench.cc build/src/kernels/liboptimum_kernels.a \
//       build/src/core/liboptimum_core.a -ldnnl -o /tmp/gemv_s8_bench && OMP_NUM_THREADS=1 /tmp/gemv_s8_bench
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "optimum/core/threading.h"
#include "optimum/kernels/matmul.h"

using namespace optimum;

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// y[n] = scale[n] * Σ_k q[n,k] x[k] + b[n]; k % 16 == 0.
__attribute__((target("avx2,fma"))) static void gemv_s8_avx2(const int8_t* q, const float* scale, const float* b,
                                                             const float* x, int64_t n, int64_t k, float* y) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t c = 0; c < k; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      for (int j = 0; j < 4; ++j) {
        const __m128i w8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + (r + j) * k + c));
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(w8)), xv, acc[j]);
      }
    }
    for (int j = 0; j < 4; ++j) y[r + j] = hsum256(acc[j]) * scale[r + j] + (b ? b[r + j] : 0.0f);
  }
  for (; r < n; ++r) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < k; c += 8) {
      const __m128i w8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + r * k + c));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(w8)), _mm256_loadu_ps(x + c), acc);
    }
    y[r] = hsum256(acc) * scale[r] + (b ? b[r] : 0.0f);
  }
}

__attribute__((target("avx512f,avx512bw"))) static void gemv_s8_avx512(const int8_t* q, const float* scale,
                                                                       const float* b, const float* x, int64_t n,
                                                                       int64_t k, float* y) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t c = 0; c < k; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
      for (int j = 0; j < 4; ++j) {
        const __m128i w8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + (r + j) * k + c));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(w8)), xv, acc[j]);
      }
    }
    for (int j = 0; j < 4; ++j) y[r + j] = _mm512_reduce_add_ps(acc[j]) * scale[r + j] + (b ? b[r + j] : 0.0f);
  }
  for (; r < n; ++r) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 16) {
      const __m128i w8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + r * k + c));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(w8)), _mm512_loadu_ps(x + c), acc);
    }
    y[r] = _mm512_reduce_add_ps(acc) * scale[r] + (b ? b[r] : 0.0f);
  }
}

template <class F>
static double best_us(F&& f, int reps) {
  double best = 1e30;
  for (int t = 0; t < 5; ++t) {
    const auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) f();
    const auto e = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::micro>(e - a).count() / reps);
  }
  return best;
}

int main() {
  set_num_threads(1);
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  // SmolLM2-135M: qkv (9 + 2*3 heads x 64), o, gate_up, down, lm_head.
  const Shape shapes[] = {{"qkv", 960, 576}, {"o", 576, 576}, {"gate_up", 3072, 576}, {"down", 576, 1536},
                          {"lm_head", 49152, 576}};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.05f);
  std::printf("%-8s %7s %7s | us per m=1 call: %9s %9s %9s %9s %9s | max rel err wo-int8 vs s8\n", "linear", "n", "k",
              "f32", "bf16", "s8(u8 x)", "wo-avx2", "wo-avx512");
  double tot[5] = {0, 0, 0, 0, 0};
  for (const Shape& s : shapes) {
    std::vector<float> w(static_cast<size_t>(s.n * s.k)), x(static_cast<size_t>(s.k)), y(static_cast<size_t>(s.n)),
        y2(static_cast<size_t>(s.n));
    for (float& v : w) v = nd(rng);
    for (float& v : x) v = nd(rng) * 20;
    std::vector<int8_t> q(w.size());
    std::vector<float> sc(static_cast<size_t>(s.n));
    kernels::quantize_rows_s8(w.data(), s.n, s.k, q.data(), sc.data());
    const auto f32 = kernels::PackedLinear::from_f32(w.data(), s.n, s.k, nullptr, kernels::WeightType::F32);
    const auto bf16 = kernels::PackedLinear::from_f32(w.data(), s.n, s.k, nullptr, kernels::WeightType::BF16);
    const auto s8 = kernels::PackedLinear::from_s8(q.data(), sc.data(), s.n, s.k, nullptr);
    const int reps = s.n > 10000 ? 20 : 200;
    const double t[5] = {best_us([&] { f32.forward(x.data(), 1, y.data()); }, reps),
                         best_us([&] { bf16.forward(x.data(), 1, y.data()); }, reps),
                         best_us([&] { s8.forward(x.data(), 1, y.data()); }, reps),
                         best_us([&] { gemv_s8_avx2(q.data(), sc.data(), nullptr, x.data(), s.n, s.k, y2.data()); }, reps),
                         best_us([&] { gemv_s8_avx512(q.data(), sc.data(), nullptr, x.data(), s.n, s.k, y2.data()); },
                                 reps)};
    // Exact f32 reference of the int8 weights: the weight-only path's error is f32 rounding only.
    double err_wo = 0, err_s8 = 0, norm = 0;
    s8.forward(x.data(), 1, y.data());
    for (int64_t r = 0; r < s.n; ++r) {
      double ref = 0;
      for (int64_t c = 0; c < s.k; ++c) ref += static_cast<double>(q[r * s.k + c]) * x[c];
      ref *= sc[r];
      err_wo = std::max(err_wo, std::fabs(ref - y2[r]));
      err_s8 = std::max(err_s8, std::fabs(ref - y[r]));
      norm = std::max(norm, std::fabs(ref));
    }
    std::printf("%-8s %7ld %7ld | %26.1f %9.1f %9.1f %9.1f %9.1f | wo %.2e, s8 %.2e\n", s.name, s.n, s.k, t[0], t[1],
                t[2], t[3], t[4], err_wo / norm, err_s8 / norm);
    const double per_model = s.n > 10000 ? 1 : 30;  // 30 layers, one lm_head
    for (int i = 0; i < 5; ++i) tot[i] += t[i] * per_model;
  }
  std::printf("per token (30 layers + lm_head), ms: f32 %.2f  bf16 %.2f  s8 %.2f  wo-avx2 %.2f  wo-avx512 %.2f\n",
              tot[0] / 1e3, tot[1] / 1e3, tot[2] / 1e3, tot[3] / 1e3, tot[4] / 1e3);
}
