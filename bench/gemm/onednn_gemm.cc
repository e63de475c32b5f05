// Raw oneDNN GEMM throughput at given shapes: the reference rate the engine's GEMM-heavy
// cases are compared with (bench/models/bench_models.py builds and runs it).
//
//   onednn_gemm [--repeats R] [--min-ms T] M,N,K [M,N,K ...]
//
// For each shape C[M,N] = A[M,K] * B (row-major, B given as [K,N] "nn" and as [N,K] "nt",
// the layout of a Linear weight), it times dnnl_sgemm (fp32) and dnnl_gemm_u8s8s32 (int8:
// u8 activations, s8 weights, s32 accumulators, what VNNI kernels run). One measurement
// repeats the call until --min-ms have passed; the median of --repeats measurements is
// reported. Threads: oneDNN's OpenMP runtime (OMP_NUM_THREADS). Prints one JSON object.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median seconds per call of fn.
double time_call(const std::function<dnnl_status_t()>& fn, int repeats, double min_s) {
  for (int i = 0; i < 3; ++i) {
    if (fn() != dnnl_success) {
      std::fprintf(stderr, "oneDNN gemm call failed\n");
      std::exit(1);
    }
  }
  std::vector<double> per_call;
  for (int r = 0; r < repeats; ++r) {
    int calls = 0;
    const auto t0 = Clock::now();
    double dt = 0.0;
    do {
      fn();
      ++calls;
      dt = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (dt < min_s);
    per_call.push_back(dt / calls);
  }
  return median(per_call);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 10;
  double min_ms = 20.0;
  std::vector<std::array<long, 3>> shapes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a == "--min-ms" && i + 1 < argc) {
      min_ms = std::atof(argv[++i]);
    } else {
      long m = 0, n = 0, k = 0;
      if (std::sscanf(a.c_str(), "%ld,%ld,%ld", &m, &n, &k) != 3 || m <= 0 || n <= 0 || k <= 0) {
        std::fprintf(stderr, "bad shape '%s' (want M,N,K)\n", a.c_str());
        return 2;
      }
      shapes.push_back({m, n, k});
    }
  }
  if (shapes.empty() || repeats < 1) {
    std::fprintf(stderr, "usage: %s [--repeats R] [--min-ms T] M,N,K [M,N,K ...]\n", argv[0]);
    return 2;
  }
  const dnnl_version_t* v = dnnl_version();
  std::printf("{\"onednn\": \"%d.%d.%d\", \"repeats\": %d, \"min_ms\": %g, \"shapes\": [", v->major, v->minor, v->patch,
              repeats, min_ms);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uf(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ui(-100, 100);
  for (size_t s = 0; s < shapes.size(); ++s) {
    const long M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    std::vector<float> A(M * K), B(K * N), C(M * N);
    for (auto& x : A) x = uf(rng);
    for (auto& x : B) x = uf(rng);
    std::vector<uint8_t> A8(M * K);
    std::vector<int8_t> B8(K * N);
    std::vector<int32_t> C32(M * N);
    for (auto& x : A8) x = static_cast<uint8_t>(ui(rng) + 128);
    for (auto& x : B8) x = static_cast<int8_t>(ui(rng));
    const int32_t co = 0;
    const double flops = 2.0 * M * N * K;
    const double min_s = min_ms / 1000.0;
    const double f_nn = time_call([&] { return dnnl_sgemm('N', 'N', M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N); },
                                  repeats, min_s);
    const double f_nt = time_call([&] { return dnnl_sgemm('N', 'T', M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C.data(), N); },
                                  repeats, min_s);
    const double i_nn = time_call(
        [&] {
          return dnnl_gemm_u8s8s32('N', 'N', 'F', M, N, K, 1.f, A8.data(), K, 0, B8.data(), N, 0, 0.f, C32.data(), N, &co);
        },
        repeats, min_s);
    const double i_nt = time_call(
        [&] {
          return dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.f, A8.data(), K, 0, B8.data(), K, 0, 0.f, C32.data(), N, &co);
        },
        repeats, min_s);
    std::printf(
        "%s\n {\"m\": %ld, \"n\": %ld, \"k\": %ld, \"sgemm_nn_ms\": %.6f, \"sgemm_nt_ms\": %.6f, \"sgemm_gflops\": %.2f, "
        "\"u8s8s32_nn_ms\": %.6f, \"u8s8s32_nt_ms\": %.6f, \"u8s8s32_gops\": %.2f}",
        s ? "," : "", M, N, K, f_nn * 1e3, f_nt * 1e3, flops / std::min(f_nn, f_nt) / 1e9, i_nn * 1e3, i_nt * 1e3,
        flops / std::min(i_nn, i_nt) / 1e9);
    std::fflush(stdout);
  }
  std::printf("\n]}\n");
  return 0;
}
