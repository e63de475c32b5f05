// PackedLinear f32 vs int8 at a model's Linear shapes, interleaved rounds, median ms per call
// (the engine's own GEMM path, activation quantization and epilogue included).
//
//   linear_bench [--repeats R] M,N,K[,gelu] [...]
//
// The int8 kernel follows OPTIMUM_INT8_KERNEL / OPTIMUM_CPU_ISA as in the engine; the one in use
// is printed. Threads: OMP_NUM_THREADS. Build (after the kernels library):
//   g++ -O2 -std=c++20 -Iinclude bench/gemm/linear_bench.cc build/src/kernels/liboptimum_kernels.a
//       build/src/core/liboptimum_core.a -ldnnl -fopenmp -o build/bench/linear_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "optimum/kernels/matmul.h"

using optimum::kernels::Activation;
using optimum::kernels::PackedLinear;
using optimum::kernels::WeightType;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 15;
  std::vector<std::string> shapes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else {
      shapes.push_back(a);
    }
  }
  std::printf("isa %s, int8 kernel %s, activation levels %d\n", optimum::kernels::cpu_isa().c_str(),
              std::string(optimum::kernels::int8_kernel_name()).c_str(), optimum::kernels::int8_activation_levels());
  std::printf("| M x N x K | f32 ms | int8 ms | f32 GFLOP/s | int8 GOP/s | int8 speedup | best f32 / int8 ms | best speedup |\n|---|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const std::string& s : shapes) {
    long m = 0, n = 0, k = 0;
    char act[16] = {};
    if (std::sscanf(s.c_str(), "%ld,%ld,%ld,%15s", &m, &n, &k, act) < 3) {
      std::fprintf(stderr, "shape '%s' is not M,N,K[,gelu]\n", s.c_str());
      return 2;
    }
    const Activation a = std::string(act) == "gelu" ? Activation::Gelu : Activation::Identity;
    std::vector<float> x(static_cast<size_t>(m * k)), w(static_cast<size_t>(n * k)), b(static_cast<size_t>(n)),
        y(static_cast<size_t>(m * n));
    for (float& v : x) v = d(rng);
    for (float& v : w) v = d(rng) * 0.05f;
    for (float& v : b) v = d(rng);
    const PackedLinear f = PackedLinear::from_f32(w.data(), n, k, b.data(), WeightType::F32);
    const PackedLinear q = PackedLinear::from_f32(w.data(), n, k, b.data(), WeightType::S8);
    auto time = [&](const PackedLinear& l) {
      const auto t0 = std::chrono::steady_clock::now();
      int calls = 0;
      double dt = 0;
      do {
        l.forward(x.data(), m, y.data(), a);
        ++calls;
        dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (dt < 0.02);
      return dt * 1e3 / calls;
    };
    time(f);
    time(q);
    std::vector<double> tf, tq;
    for (int r = 0; r < repeats; ++r) {
      tf.push_back(time(f));
      tq.push_back(time(q));
    }
    const double mf = median(tf), mq = median(tq);
    const double bf = *std::min_element(tf.begin(), tf.end()), bq = *std::min_element(tq.begin(), tq.end());
    const double ops = 2.0 * m * n * k;
    std::printf("| %ld x %ld x %ld%s | %.3f | %.3f | %.0f | %.0f | %.2fx | %.3f / %.3f | %.2fx |\n", m, n, k,
                a == Activation::Gelu ? " gelu" : "", mf, mq, ops / mf / 1e6, ops / mq / 1e6, mf / mq, bf, bq, bf / bq);
  }
  return 0;
}
