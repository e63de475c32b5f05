// Where the time of one encoder layer goes, op by op, against oneDNN's own GEMM
// rate at the same shapes (dnnl_sgemm, as bench/gemm/onednn_gemm times it).
//
//   build/bench/encoder_ops [--batch B] [--seq S] [--hidden H] [--heads N] [--inter I]
//                           [--repeats R] [--threads T] [--dtype fp32|bf16|int8] [--clock wall|cpu]
//                           [--only NAME]
//
// Defaults: all-MiniLM-L6-v2's layer (384 hidden, 12 heads, 1536 intermediate), 32 x 128
// tokens, 2 threads. Each round times every op once, in a fixed order, then the raw sgemm
// of each Linear shape; the median of --repeats rounds is reported (after 3 warm-up
// rounds), so a loaded machine slows every op alike. The ISA is the process's: run under
// OPTIMUM_CPU_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 for the AVX2 path. Prints a table and one
// JSON line (prefixed "JSON "). --clock cpu times each op by the CPU time of the process
// (all threads) instead of the wall clock: on a machine shared with other jobs that
// counts the work, not the waits; run it with OMP_WAIT_POLICY=passive so that idle
// threads do not spin (the ratios to sgemm are then taken on the same clock).
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "optimum/kernels/matmul.h"
#include "optimum/kernels/ops.h"

namespace k = optimum::kernels;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Op {
  std::string name;
  double flops;  // 0: not a GEMM
  std::function<void()> run;
  std::vector<double> ms;
};

std::vector<float> random(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 32, seq = 128, hidden = 384, heads = 12, inter = 1536;
  int repeats = 15, threads = 2;
  std::string dtype = "fp32";
  bool cpu_clock = false;
  std::string only;  // --only NAME: time the ops whose name contains it (and nothing else)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--batch") batch = std::atol(v);
    else if (a == "--seq") seq = std::atol(v);
    else if (a == "--hidden") hidden = std::atol(v);
    else if (a == "--heads") heads = std::atol(v);
    else if (a == "--inter") inter = std::atol(v);
    else if (a == "--repeats") repeats = std::atoi(v);
    else if (a == "--threads") threads = std::atoi(v);
    else if (a == "--dtype") dtype = v;
    else if (a == "--clock") cpu_clock = std::string(v) == "cpu";
    else if (a == "--only") only = v;
    else {
      std::fprintf(stderr, "unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  omp_set_num_threads(threads);
  const k::WeightType wt = k::weight_type_from_name(dtype);
  const int64_t t = batch * seq;
  const auto wq = random(static_cast<size_t>(3 * hidden * hidden), 0.05f, 1);
  const auto wo = random(static_cast<size_t>(hidden * hidden), 0.05f, 2);
  const auto wi = random(static_cast<size_t>(inter * hidden), 0.05f, 3);
  const auto wf = random(static_cast<size_t>(hidden * inter), 0.05f, 4);
  const auto bias = random(static_cast<size_t>(std::max(3 * hidden, inter)), 0.1f, 5);
  const auto gamma = random(static_cast<size_t>(hidden), 1.0f, 6);
  const auto t0 = Clock::now();
  const k::PackedLinear qkv = k::PackedLinear::from_f32(wq.data(), 3 * hidden, hidden, bias.data(), wt);
  const k::PackedLinear out = k::PackedLinear::from_f32(wo.data(), hidden, hidden, bias.data(), wt);
  const k::PackedLinear ffn_in = k::PackedLinear::from_f32(wi.data(), inter, hidden, bias.data(), wt);
  const k::PackedLinear ffn_out = k::PackedLinear::from_f32(wf.data(), hidden, inter, bias.data(), wt);
  const double pack_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

  auto x = random(static_cast<size_t>(t * hidden), 1.0f, 7);
  std::vector<float> y3(static_cast<size_t>(t * 3 * hidden)), ctx(static_cast<size_t>(t * hidden)),
      attn(static_cast<size_t>(t * hidden)), mid(static_cast<size_t>(t * inter)), ffn(static_cast<size_t>(t * hidden)),
      h(static_cast<size_t>(t * hidden));
  std::vector<int64_t> mask(static_cast<size_t>(t), 1);
  k::AttentionArgs args{y3.data(), y3.data() + hidden, y3.data() + 2 * hidden, 3 * hidden, mask.data(), nullptr,
                        batch, seq, heads, hidden / heads, ctx.data()};
  const double lin = 2.0 * static_cast<double>(t) * static_cast<double>(hidden);
  std::vector<Op> ops = {
      {"qkv linear", lin * 3 * hidden, [&] { qkv.forward(x.data(), t, y3.data()); }, {}},
      {"attention", 4.0 * batch * heads * seq * seq * (hidden / heads), [&] { k::attention(args); }, {}},
      {"attn_out linear", lin * hidden, [&] { out.forward(ctx.data(), t, attn.data()); }, {}},
      {"layer_norm+residual", 0, [&] {
         k::layer_norm(attn.data(), x.data(), gamma.data(), bias.data(), 1e-12, t, hidden, attn.data());
       }, {}},
      {"ffn_in linear+gelu", lin * inter, [&] { ffn_in.forward(attn.data(), t, mid.data(), k::Activation::Gelu); }, {}},
      {"ffn_out linear", lin * inter, [&] { ffn_out.forward(mid.data(), t, ffn.data()); }, {}},
      {"layer_norm+residual ", 0, [&] {
         k::layer_norm(ffn.data(), attn.data(), gamma.data(), bias.data(), 1e-12, t, hidden, h.data());
       }, {}},
      {"ffn_in linear (no act)", lin * inter, [&] { ffn_in.forward(attn.data(), t, mid.data()); }, {}},
      {"gelu (activation_span)", 0, [&] { k::apply_activation(mid.data(), t * inter, k::Activation::Gelu); }, {}},
  };
  // oneDNN's own GEMM at each Linear shape: C[t, n] = A[t, kk] · W[n, kk]ᵀ.
  struct Shape {
    const char* name;
    int64_t n, kk;
  };
  const Shape shapes[] = {{"sgemm qkv", 3 * hidden, hidden},
                          {"sgemm attn_out", hidden, hidden},
                          {"sgemm ffn_in", inter, hidden},
                          {"sgemm ffn_out", hidden, inter}};
  const size_t n_model_ops = ops.size();
  std::vector<float> c_buf(static_cast<size_t>(t * std::max(3 * hidden, inter)));
  for (const Shape& s : shapes) {
    const float* a = s.kk == hidden ? x.data() : mid.data();
    const float* w = s.kk == hidden ? (s.n == hidden ? wo.data() : (s.n == inter ? wi.data() : wq.data())) : wf.data();
    const int64_t n = s.n, kk = s.kk;
    ops.push_back({s.name, 2.0 * t * n * kk, [&, a, w, n, kk] {
                     dnnl_sgemm('N', 'T', t, n, kk, 1.0f, a, kk, w, kk, 0.0f, c_buf.data(), n);
                   }, {}});
  }
  for (int r = -3; r < repeats; ++r) {
    for (Op& op : ops) {
      if (!only.empty() && op.name.find(only) == std::string::npos) {
        if (r >= 0) op.ms.push_back(0.0);
        continue;
      }
      const auto s = Clock::now();
      const double c0 = cpu_ms();
      op.run();
      const double ms = cpu_clock ? cpu_ms() - c0 : std::chrono::duration<double, std::milli>(Clock::now() - s).count();
      if (r >= 0) op.ms.push_back(ms);
    }
  }
  std::printf("vector ISA %s, oneDNN ISA %s, dtype %s, %lld x %lld tokens, %d threads, median of %d rounds, %s\n",
              k::vector_isa_name().c_str(), k::cpu_isa().c_str(), dtype.c_str(), static_cast<long long>(batch),
              static_cast<long long>(seq), threads, repeats, cpu_clock ? "process CPU ms" : "wall ms");
  std::printf("%-24s %10s %10s %10s\n", "op", "ms", cpu_clock ? "GF/cpu-s" : "GFLOP/s", "vs sgemm");
  double layer = 0;
  std::string json = "{\"vector_isa\": \"" + k::vector_isa_name() + "\", \"onednn_isa\": \"" + k::cpu_isa() +
                     "\", \"dtype\": \"" + dtype + "\", \"batch\": " + std::to_string(batch) +
                     ", \"seq\": " + std::to_string(seq) + ", \"threads\": " + std::to_string(threads) +
                     ", \"clock\": \"" + (cpu_clock ? "cpu" : "wall") + "\"" +
                     ", \"pack_ms\": " + std::to_string(pack_ms) + ", \"ops\": [";
  const int sgemm_of[] = {0, -1, 1, -1, 2, 3, -1, 2, -1};
  for (size_t i = 0; i < ops.size(); ++i) {
    const double ms = median(ops[i].ms);
    const bool model_op = i < n_model_ops;
    if (model_op && i < n_model_ops - 2) layer += ms;  // the last two are not part of a layer
    const double gf = ops[i].flops > 0 ? ops[i].flops / ms / 1e6 : 0.0;
    std::string vs = "";
    if (model_op && i < std::size(sgemm_of) && sgemm_of[i] >= 0) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2fx", median(ops[n_model_ops + static_cast<size_t>(sgemm_of[i])].ms) / ms);
      vs = b;
    }
    std::printf("%-24s %10.3f %10.1f %10s\n", ops[i].name.c_str(), ms, gf, vs.c_str());
    json += std::string(i ? ", " : "") + "{\"op\": \"" + ops[i].name + "\", \"ms\": " + std::to_string(ms) +
            ", \"gflops\": " + std::to_string(gf) + "}";
  }
  std::printf("%-24s %10.3f   (one layer; pack of its 4 Linears %.1f ms)\n", "layer total", layer, pack_ms);
  std::printf("JSON %s], \"layer_ms\": %f}\n", json.c_str(), layer);
  return 0;
}
