#include "optimum/kernels/matmul.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "optimum/core/dtype.h"
#include "optimum/core/errors.h"
#include "optimum/kernels/gemv.h"
#include "optimum/kernels/int8_gemm.h"
#include "vectorize.h"

#if OPTIMUM_KERNELS_X86
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace optimum::kernels {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DT = memory::data_type;

using detail::round_even;
#if OPTIMUM_KERNELS_X86
using detail::tail_mask;
#endif

struct IsaName {
  const char* name;
  dnnl::cpu_isa isa;
};
#if OPTIMUM_KERNELS_X86
// Canonical names first (cpu_isa() reports the first match), then aliases.
constexpr IsaName kIsas[] = {
    {"sse41", dnnl::cpu_isa::sse41},
    {"avx2", dnnl::cpu_isa::avx2},
    {"avx2_vnni", dnnl::cpu_isa::avx2_vnni},
    {"avx512_core", dnnl::cpu_isa::avx512_core},
    {"avx512_core_vnni", dnnl::cpu_isa::avx512_core_vnni},
    {"avx512_core_bf16", dnnl::cpu_isa::avx512_core_bf16},
    {"avx512_core_amx", dnnl::cpu_isa::avx512_core_amx},
    {"all", dnnl::cpu_isa::all},
    {"avx512", dnnl::cpu_isa::avx512_core},
    {"amx", dnnl::cpu_isa::avx512_core_amx},
};
#else
// Off x86 oneDNN's ISA cap does not apply (set_max_cpu_isa is x86-only):
// OPTIMUM_CPU_ISA takes the names cpu_isa() reports and "all", each
// meaning "the CPU's own", so scripts that set it still run.
constexpr IsaName kIsas[] = {
    {"neon", dnnl::cpu_isa::all},
    {"sve", dnnl::cpu_isa::all},
    {"all", dnnl::cpu_isa::all},
};
#endif

// OPTIMUM_CPU_ISA caps the instruction set oneDNN may use (one binary runs on
// AVX2-only and AVX-512 machines; tests force the AVX2 path this way). Read
// once, before the first primitive.
void apply_isa_limit() {
  const char* env = std::getenv("OPTIMUM_CPU_ISA");
  if (env == nullptr || *env == '\0') return;
  for (const IsaName& i : kIsas) {
    if (std::string_view(env) == i.name) {
      if (OPTIMUM_KERNELS_X86) dnnl::set_max_cpu_isa(i.isa);
      return;
    }
  }
  std::string names;
  for (const IsaName& i : kIsas) names += std::string(names.empty() ? "" : ", ") + i.name;
  throw InvalidArgument("OPTIMUM_CPU_ISA='" + std::string(env) + "' is not one of " + names);
}

dnnl::engine& cpu_engine();  // below: the engine, with the cap applied

// ISA values nest as bit sets: `isa` includes `feature` when it has all its bits.
bool isa_includes(dnnl::cpu_isa isa, dnnl::cpu_isa feature) {
  const auto f = static_cast<unsigned>(feature);
  return (static_cast<unsigned>(isa) & f) == f;
}

// Whether the ISA oneDNN uses here (after the OPTIMUM_CPU_ISA cap) includes
// `feature`; false for an invalid cap, which the engine reports where it is used.
bool effective_isa_includes(dnnl::cpu_isa feature) {
  if (!OPTIMUM_KERNELS_X86) return false;  // the cpu_isa values name x86 features only
  try {
    cpu_engine();
  } catch (const std::exception&) {
    return false;
  }
  return isa_includes(dnnl::get_effective_cpu_isa(), feature);
}

}  // namespace

namespace {

// Whether oneDNN's u8·s8 products are exact at 8 bits: VNNI / AMX on x86; off
// x86 always (no vpmaddubsw pair saturation there).
bool int8_has_vnni() {
  if (!OPTIMUM_KERNELS_X86) return true;
  return effective_isa_includes(dnnl::cpu_isa::avx512_core_vnni) || effective_isa_includes(dnnl::cpu_isa::avx2_vnni);
}

enum class Int8Scheme {
  Vnni,        // oneDNN u8·s8, 8-bit activations and weights (VNNI / AMX)
  OnednnW7,    // oneDNN u8·s8 without VNNI: 8-bit activations, 7-bit weights (|q| <= 63)
  OnednnA7,    // oneDNN u8·s8 without VNNI: 7-bit activations, 8-bit weights
  S16,         // int8_gemm.h: both widened to 16 bits, vpmaddwd (AVX2)
};

// OPTIMUM_INT8_KERNEL picks the int8 GEMM: auto (default: oneDNN with VNNI where the CPU has
// it, else s16), s16, onednn-w7, onednn-a7. Without VNNI oneDNN multiplies u8·s8 pairs with
// vpmaddubsw, whose 16-bit pair sums saturate past 2·255·63, so one operand loses a bit:
// onednn-w7 the weights (as ONNX Runtime's reduce_range), onednn-a7 the activations. s16
// (int8_gemm.h) keeps both at 8 bits: the numbers of the VNNI path, so an export guarded on
// one CPU runs the same on the other. Measured on the AVX2 stand-in (MiniLM, held-out
// docstring sentences, every layer int8): min cosine s16 0.998 (= VNNI), w7 0.993, a7 0.989;
// the guard then keeps 3 Linears in fp32 with s16, 9 with w7 or a7, which evens out w7's
// faster GEMM (both guarded exports ~1.25x fp32 at 32x128) and makes s16 exports smaller.
Int8Scheme int8_scheme() {
  static const Int8Scheme scheme = [] {
    const char* env = std::getenv("OPTIMUM_INT8_KERNEL");
    const std::string_view v = env == nullptr ? "" : env;
    const bool vnni = int8_has_vnni();
    if (v.empty() || v == "auto") {
      if (vnni) return Int8Scheme::Vnni;
      return s16_gemm_supported() ? Int8Scheme::S16 : Int8Scheme::OnednnW7;
    }
    if (v == "onednn-w7") return vnni ? Int8Scheme::Vnni : Int8Scheme::OnednnW7;
    if (v == "onednn-a7") return vnni ? Int8Scheme::Vnni : Int8Scheme::OnednnA7;
    if (v == "s16") return s16_gemm_supported() ? Int8Scheme::S16 : (vnni ? Int8Scheme::Vnni : Int8Scheme::OnednnW7);
    throw InvalidArgument("OPTIMUM_INT8_KERNEL='" + std::string(v) + "' is not one of auto, onednn-w7, onednn-a7, s16");
  }();
  return scheme;
}

bool int8_uses_s16() { return int8_scheme() == Int8Scheme::S16; }

// 7-bit weights for oneDNN without VNNI: q7 = round(q · 63/127) per row, scale · 127/63.
void requantize_w7(const int8_t* q, const float* scales, int64_t n, int64_t k, int8_t* q7, float* scales7) {
  constexpr float kRatio = 63.0f / 127.0f;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      q7[r * k + c] = static_cast<int8_t>(static_cast<int32_t>(round_even(static_cast<float>(q[r * k + c]) * kRatio)));
    }
    scales7[r] = scales[r] / kRatio;
  }
}

}  // namespace

int int8_activation_levels() {
  static const int levels = int8_scheme() == Int8Scheme::OnednnA7 ? 127 : 255;
  return levels;
}

int int8_weight_levels() {
  static const int levels = int8_scheme() == Int8Scheme::OnednnW7 ? 63 : 127;
  return levels;
}

std::string_view int8_kernel_name() {
  switch (int8_scheme()) {
    case Int8Scheme::Vnni:
      return OPTIMUM_KERNELS_X86 ? "onednn-vnni" : "onednn-u8s8";
    case Int8Scheme::OnednnW7:
      return "onednn-w7";
    case Int8Scheme::OnednnA7:
      return "onednn-a7";
    case Int8Scheme::S16:
      return "avx2-s16";
  }
  return "?";
}

#if OPTIMUM_KERNELS_X86
bool detail::avx512_allowed() {
  static const bool ok = [] {
    if (!has_avx512()) return false;
    const char* env = std::getenv("OPTIMUM_CPU_ISA");
    if (env == nullptr || *env == '\0') return true;
    for (const IsaName& i : kIsas) {
      if (std::string_view(env) == i.name) {
        return i.isa == dnnl::cpu_isa::all || isa_includes(i.isa, dnnl::cpu_isa::avx512_core);
      }
    }
    return true;  // an unknown name is reported by the engine
  }();
  return ok;
}

detail::VectorIsa detail::vector_isa() {
  static const VectorIsa isa = [] {
    if (avx512_allowed()) return VectorIsa::Avx512;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return VectorIsa::Baseline;
    const char* env = std::getenv("OPTIMUM_CPU_ISA");
    if (env != nullptr && std::string_view(env) == "sse41") return VectorIsa::Baseline;
    return VectorIsa::Avx2;
  }();
  return isa;
}
#else
bool detail::avx512_allowed() { return false; }
detail::VectorIsa detail::vector_isa() { return VectorIsa::Baseline; }
#endif

#if OPTIMUM_KERNELS_X86
namespace {

// Whether CPUID leaf 7 lists AMX-BF16 (EDX bit 22) and AMX-TILE (bit 24); read
// directly because clang 14's __builtin_cpu_supports does not know them.
bool cpu_has_amx_bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (edx & (1u << 22)) != 0 && (edx & (1u << 24)) != 0;
}

}  // namespace

bool detail::amx_bf16_allowed() {
  static const bool ok = [] {
    if (!effective_isa_includes(dnnl::cpu_isa::avx512_core_amx)) return false;
    // Linux hands out the AMX tile state per process on request
    // (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); oneDNN asks too.
    constexpr int kReqXcompPerm = 0x1023;
    constexpr int kXtileData = 18;
    if (::syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) != 0) return false;
    return avx512_allowed() && __builtin_cpu_supports("avx512bf16") && cpu_has_amx_bf16();
  }();
  return ok;
}
#else
bool detail::amx_bf16_allowed() { return false; }
#endif

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    apply_isa_limit();
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

DT weight_dt(WeightType t) {
  switch (t) {
    case WeightType::F32:
      return DT::f32;
    case WeightType::BF16:
      return DT::bf16;
    case WeightType::S8:
      return DT::s8;
  }
  return DT::f32;
}

// One row of x to s8 with a symmetric scale; returns the scale.
OPTIMUM_BODY float quantize_row_body(const float* x, int64_t k, int8_t* q) {
  const float amax = row_absmax(x, k);
  const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
  const float inv = 1.0f / scale;
#pragma omp simd
  for (int64_t i = 0; i < k; ++i) {
    const float c = std::min(127.0f, std::max(-127.0f, x[i] * inv));
    q[i] = static_cast<int8_t>(static_cast<int32_t>(round_even(c)));
  }
  return scale;
}
OPTIMUM_MULTIVERSION(float, quantize_row, (const float* x, int64_t k, int8_t* q), (x, k, q))

// One activation row to u8 with its own scale and zero point (asymmetric:
// x ≈ sx·(q - zp)), so a row's whole range [min, max] gets the 256 levels
// (post-GELU rows are nearly one-signed: twice the resolution of symmetric s8).
struct RowQuant {
  float scale;
  int32_t zero_point;
};

#if OPTIMUM_KERNELS_X86
// GCC 12 warns inside its own AVX-512 intrinsics (_mm512_undefined_* operands).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
// clamp(round_even(v·inv + zp), 0, top) per lane (default rounding: nearest even).
OPTIMUM_AVX512 inline __m512i u8_levels(__m512 v, __m512 inv, __m512 zp, __m512 top) {
  return _mm512_cvtps_epi32(_mm512_min_ps(top, _mm512_max_ps(_mm512_setzero_ps(), _mm512_fmadd_ps(v, inv, zp))));
}

OPTIMUM_AVX512 void quantize_u8_avx512(const float* x, int64_t k, float inv, float zpf, float top, uint8_t* q) {
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512 vzp = _mm512_set1_ps(zpf);
  const __m512 vtop = _mm512_set1_ps(top);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i),
                     _mm512_cvtusepi32_epi8(u8_levels(_mm512_loadu_ps(x + i), vinv, vzp, vtop)));
  }
  if (i < k) {
    const __mmask16 mask = tail_mask(k - i);
    _mm512_mask_cvtusepi32_storeu_epi8(q + i, mask, u8_levels(_mm512_maskz_loadu_ps(mask, x + i), vinv, vzp, vtop));
  }
}
#pragma GCC diagnostic pop
#endif  // OPTIMUM_KERNELS_X86

OPTIMUM_BODY void quantize_u8_plain_body(const float* x, int64_t k, float inv, float zpf, float top, uint8_t* q) {
#pragma omp simd
  for (int64_t i = 0; i < k; ++i) {
    const float c = std::min(top, std::max(0.0f, x[i] * inv + zpf));
    q[i] = static_cast<uint8_t>(static_cast<int32_t>(round_even(c)));
  }
}
OPTIMUM_MULTIVERSION(void, quantize_u8_plain, (const float* x, int64_t k, float inv, float zpf, float top, uint8_t* q),
                     (x, k, inv, zpf, top, q))

RowQuant quantize_row_u8(const float* x, int64_t k, uint8_t* q) {
  float lo;
  float hi;
  row_minmax(x, k, &lo, &hi);
  lo = std::min(lo, 0.0f);  // zero stays exactly representable
  hi = std::max(hi, 0.0f);
  const auto top = static_cast<float>(int8_activation_levels());
  const float scale = hi > lo ? (hi - lo) / top : 1.0f;
  const float inv = 1.0f / scale;
  const float zpf = std::min(top, std::max(0.0f, round_even(-lo * inv)));
  const auto zp = static_cast<int32_t>(zpf);
#if OPTIMUM_KERNELS_X86
  if (detail::avx512_allowed()) {
    quantize_u8_avx512(x, k, inv, zpf, top, q);
    return {scale, zp};
  }
#endif
  quantize_u8_plain(x, k, inv, zpf, top, q);
  return {scale, zp};
}

// y = sx·(acc - zp·Σw)·sw + b for one row.
OPTIMUM_BODY void dequantize_row_body(const int32_t* acc, int64_t n, RowQuant rq, const int32_t* wsum,
                                      const float* sw, const float* bias, float* y) {
  const float sx = rq.scale;
  const int32_t zp = rq.zero_point;
  if (bias != nullptr) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = static_cast<float>(acc[j] - zp * wsum[j]) * sx * sw[j] + bias[j];
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = static_cast<float>(acc[j] - zp * wsum[j]) * sx * sw[j];
  }
}
OPTIMUM_MULTIVERSION(void, dequantize_row,
                     (const int32_t* acc, int64_t n, RowQuant rq, const int32_t* wsum, const float* sw,
                      const float* bias, float* y),
                     (acc, n, rq, wsum, sw, bias, y))

// oneDNN eltwise post-op for an activation; false when there is none.
bool eltwise_for(Activation act, dnnl::algorithm* alg, float* alpha) {
  *alpha = 0.0f;
  switch (act) {
    case Activation::Identity:
      return false;
    case Activation::Gelu:
      *alg = dnnl::algorithm::eltwise_gelu_erf;
      return true;
    case Activation::GeluTanh:
    case Activation::GeluFast:
      *alg = dnnl::algorithm::eltwise_gelu_tanh;
      return true;
    case Activation::QuickGelu:
      *alg = dnnl::algorithm::eltwise_swish;
      *alpha = 1.702f;
      return true;
    case Activation::Relu:
      *alg = dnnl::algorithm::eltwise_relu;
      return true;
    case Activation::Silu:
      *alg = dnnl::algorithm::eltwise_swish;
      *alpha = 1.0f;
      return true;
    case Activation::Tanh:
      *alg = dnnl::algorithm::eltwise_tanh;
      return true;
  }
  return false;
}

// Scratch buffers reused by calls on the same thread.
struct Scratch {
  std::vector<uint8_t> src;
  std::vector<uint8_t> acc;
  std::vector<uint8_t> pad;
  std::vector<RowQuant> quant;
  template <typename T>
  static T* grow(std::vector<uint8_t>& v, size_t count) {
    const size_t bytes = count * sizeof(T) + 64;
    if (v.size() < bytes) v.resize(bytes);
    auto p = reinterpret_cast<uintptr_t>(v.data());
    return reinterpret_cast<T*>((p + 63) & ~uintptr_t{63});
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

struct PackedLinear::Impl {
  WeightType type = WeightType::F32;
  int64_t n = 0;
  int64_t k = 0;
  memory weights;              // blocked layout, [k, n] logically
  std::vector<float> bias;     // empty = none
  std::vector<float> w_scales; // S8: per output channel
  std::vector<int32_t> w_sums;  // S8: Σ_k q[n, k], for the activations' zero points
  bool s16 = false;            // S8 on the AVX2 s16 kernel (int8_gemm.h) instead of oneDNN
  PackedS16 s16_weights;
  // f32 weights used where they lie (f32_weights_in_place): kept alive by
  // `owner` (the caller's mapping or tensor) or held in `own_f32`.
  std::shared_ptr<const void> owner;
  std::vector<float> own_f32;
  // F32 weights in PyTorch's [n, k] layout (wrap_f32): forward runs gemv_f32
  // on them for up to kGemvMaxRows rows, oneDNN above. Null when blocked.
  const float* plain_f32 = nullptr;

  struct Key {
    int64_t m;
    int act;
    bool bf16_out;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<int64_t>()((key.m * 16 + key.act) * 2 + (key.bf16_out ? 1 : 0));
    }
  };
  struct Prim {
    dnnl::matmul matmul;
    size_t scratch_bytes = 0;
  };
  mutable std::mutex mutex;
  mutable std::unordered_map<Key, Prim, KeyHash> prims;

  memory::desc weights_any() const { return memory::desc({k, n}, weight_dt(type), Tag::any); }
  DT src_dt() const { return type == WeightType::S8 ? DT::u8 : weight_dt(type); }
  DT dst_dt(bool bf16_out) const {
    if (type == WeightType::S8) return DT::s32;
    return bf16_out ? DT::bf16 : DT::f32;
  }

  dnnl::matmul::primitive_desc describe(int64_t m, Activation act, const memory::desc& w,
                                        bool bf16_out = false) const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (type != WeightType::S8) {
      dnnl::algorithm alg;
      float alpha;
      if (eltwise_for(act, &alg, &alpha)) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, alg, alpha, 0.0f);
        attr.set_post_ops(ops);
      }
    }
    const memory::desc src({m, k}, src_dt(), Tag::ab);
    const memory::desc dst({m, n}, dst_dt(bf16_out), Tag::ab);
    if (type != WeightType::S8 && !bias.empty()) {
      const memory::desc b({1, n}, DT::f32, Tag::ab);
      return {dnnl::matmul::desc(src, w, b, dst), attr, cpu_engine()};
    }
    return {dnnl::matmul::desc(src, w, dst), attr, cpu_engine()};
  }

  const Prim& primitive(int64_t m, Activation act, bool bf16_out) const {
    const Key key{m, static_cast<int>(act), bf16_out};
    std::lock_guard<std::mutex> lock(mutex);
    auto it = prims.find(key);
    if (it != prims.end()) return it->second;
    if (prims.size() >= 512) prims.clear();  // bounded: mixed-length traffic has many row counts
    auto pd = describe(m, act, weights.get_desc(), bf16_out);
    Prim p{dnnl::matmul(pd), pd.scratchpad_desc().get_size()};
    return prims.emplace(key, std::move(p)).first->second;
  }

  void pack(const void* data, DT dt) {
    auto& eng = cpu_engine();
    // Logical [k, n] view of a row-major [n, k] PyTorch weight: format ba.
    const memory::desc plain({k, n}, dt, Tag::ba);
    // f32 where oneDNN keeps weights plain: the PyTorch layout as it is (a copy, see f32_weights_in_place).
    const memory::desc blocked = dt == DT::f32 && f32_weights_in_place()
                                     ? plain
                                     : describe(128, Activation::Identity, weights_any()).weights_desc();
    weights = memory(blocked, eng);
    memory src(plain, eng, const_cast<void*>(data));
    dnnl::stream s(eng);
    dnnl::reorder(src, weights).execute(s, src, weights);
    s.wait();
    // A plain copy ([k, n] `ba` is PyTorch's [n, k]): few rows run the GEMV on it.
    if (blocked == plain) plain_f32 = static_cast<const float*>(weights.get_data_handle());
  }

  // Uses w ([n, k] f32, PyTorch layout) where it lies, as the weights (no copy).
  void wrap_f32(const float* w) {
    plain_f32 = w;
    weights = memory(memory::desc({k, n}, DT::f32, Tag::ba), cpu_engine(), const_cast<float*>(w));
  }

  // bf16 / int8: converts x (rows m) and runs; parallel inside unless called
  // from a parallel region.
  void convert_and_run(const float* x, int64_t m, float* y, Activation act) const;
  // int8 on the AVX2 s16 kernel: quantizes x to 16-bit rows, then row blocks x panel groups
  // over the threads (parallel unless called from a parallel region).
  void run_s16(const float* x, int64_t m, float* y, Activation act) const;

  void run(const void* x, int64_t m, void* y, Activation act, bool bf16_out = false) const {
    const Prim& p = primitive(m, act, bf16_out);
    auto& eng = cpu_engine();
    Scratch& sc = scratch();
    memory src(memory::desc({m, k}, src_dt(), Tag::ab), eng, const_cast<void*>(x));
    memory dst(memory::desc({m, n}, dst_dt(bf16_out), Tag::ab), eng, y);
    memory pad(memory::desc({static_cast<int64_t>(p.scratch_bytes)}, DT::u8, Tag::a), eng,
               Scratch::grow<uint8_t>(sc.pad, p.scratch_bytes));
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, pad}};
    if (type != WeightType::S8 && !bias.empty()) {
      args.emplace(DNNL_ARG_BIAS, memory(memory::desc({1, n}, DT::f32, Tag::ab), eng,
                                         const_cast<float*>(bias.data())));
    }
    dnnl::stream s(eng);
    p.matmul.execute(s, args);
    s.wait();
  }
};

#if !OPTIMUM_KERNELS_X86
namespace {
// The vector extension of this CPU off x86: "sve" where the kernel reports it
// (oneDNN's aarch64 JIT kernels are SVE ones), else "neon" (the ARMv8-A
// baseline; "generic" on other architectures).
std::string host_vector_isa() {
#if defined(__aarch64__)
#if defined(HWCAP_SVE)
  if ((::getauxval(AT_HWCAP) & HWCAP_SVE) != 0) return "sve";
#endif
  return "neon";
#else
  return "generic";
#endif
}
}  // namespace
#endif

std::string cpu_isa() {
  cpu_engine();
#if OPTIMUM_KERNELS_X86
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  for (const IsaName& i : kIsas) {
    if (i.isa == isa) return i.name;
  }
  return "other";
#else
  static const std::string isa = host_vector_isa();
  return isa;
#endif
}

bool bf16_supported() {
  static const bool ok = [] {
    try {
      cpu_engine();
      const memory::desc src({16, 32}, DT::bf16, Tag::ab);
      const memory::desc w({32, 32}, DT::bf16, Tag::any);
      const memory::desc dst({16, 32}, DT::f32, Tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, w, dst), cpu_engine());
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
}

bool bf16_native() {
  return effective_isa_includes(dnnl::cpu_isa::avx512_core_bf16) && bf16_supported();
}

bool f32_weights_in_place() {
  static const bool ok = [] {
    // The layout oneDNN picks for a MiniLM-sized f32 weight: plain `ab` (its
    // gemm, CPUs below AVX-512) or a blocked one (brgemm). Where plain, its
    // gemm takes the transposed plain layout (`ba`, PyTorch's) as well.
    PackedLinear::Impl probe;
    probe.n = 384;
    probe.k = 384;
    try {
      const memory::desc chosen = probe.describe(128, Activation::Identity, probe.weights_any()).weights_desc();
      return chosen == memory::desc({probe.k, probe.n}, DT::f32, Tag::ab);
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
}

std::string_view weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::F32:
      return "fp32";
    case WeightType::BF16:
      return "bf16";
    case WeightType::S8:
      return "int8";
  }
  return "?";
}

WeightType weight_type_from_name(std::string_view name) {
  if (name == "fp32" || name == "f32" || name == "float32") return WeightType::F32;
  if (name == "bf16" || name == "bfloat16") return WeightType::BF16;
  if (name == "int8" || name == "s8" || name == "qint8") return WeightType::S8;
  throw InvalidArgument("dtype '" + std::string(name) + "' is not one of fp32, bf16, int8");
}

void quantize_rows_s8(const float* w, int64_t n, int64_t k, int8_t* q, float* scales) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) scales[r] = quantize_row(w + r * k, k, q + r * k);
}

namespace {

// An f32 layer over weights the layer now owns (already rounded as wanted):
// used in place where f32_weights_in_place(), else packed.
PackedLinear::Impl* adopt_f32(std::vector<float> w, PackedLinear::Impl* impl) {
  impl->type = WeightType::F32;
  if (f32_weights_in_place()) {
    impl->own_f32 = std::move(w);
    impl->wrap_f32(impl->own_f32.data());
  } else {
    impl->pack(w.data(), DT::f32);
  }
  return impl;
}

void warn_no_bf16() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::fprintf(stderr, "optimum-cpp: this CPU (or OPTIMUM_CPU_ISA) has no bf16 matmul; bf16 layers run in fp32\n");
  });
}

}  // namespace

namespace {
thread_local int few_rows_scopes = 0;
}  // namespace

FewRowsLayout::FewRowsLayout() { ++few_rows_scopes; }
FewRowsLayout::~FewRowsLayout() { --few_rows_scopes; }
bool FewRowsLayout::active() { return few_rows_scopes > 0; }

PackedLinear PackedLinear::view_f32(const float* w, int64_t n, int64_t k, const float* bias,
                                    std::shared_ptr<const void> owner) {
  // Plain where oneDNN reads it, or for few-row layers (FewRowsLayout): the
  // GEMV then runs small row counts, oneDNN on the same plain weights above.
  if (!f32_weights_in_place() && !FewRowsLayout::active()) return from_f32(w, n, k, bias, WeightType::F32);
  if (owner == nullptr) throw InvalidArgument("PackedLinear::view_f32: no owner for the borrowed weights");
  auto impl = std::make_shared<Impl>();
  impl->type = WeightType::F32;
  impl->n = n;
  impl->k = k;
  if (bias != nullptr) impl->bias.assign(bias, bias + n);
  impl->owner = std::move(owner);
  impl->wrap_f32(w);
  PackedLinear out;
  out.impl_ = std::move(impl);
  return out;
}

bool PackedLinear::borrows() const { return impl_ != nullptr && impl_->owner != nullptr; }

PackedLinear PackedLinear::from_f32(const float* w, int64_t n, int64_t k, const float* bias, WeightType type) {
  if (type == WeightType::S8) {
    std::vector<int8_t> q(static_cast<size_t>(n * k));
    std::vector<float> scales(static_cast<size_t>(n));
    quantize_rows_s8(w, n, k, q.data(), scales.data());
    return from_s8(q.data(), scales.data(), n, k, bias);
  }
  auto impl = std::make_shared<Impl>();
  impl->type = type;
  impl->n = n;
  impl->k = k;
  if (bias != nullptr) impl->bias.assign(bias, bias + n);
  if (type == WeightType::BF16 && !bf16_supported()) {
    warn_no_bf16();
    // The weights still are the bf16 ones (as a bf16 export stores and from_bf16 loads
    // them), so that the accuracy guard measures on AVX2 what the export will run.
    std::vector<uint16_t> h(static_cast<size_t>(n * k));
    to_bf16(w, n * k, h.data());
    std::vector<float> rounded(static_cast<size_t>(n * k));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n * k; ++i) {
      rounded[static_cast<size_t>(i)] = bf16_to_float(h[static_cast<size_t>(i)]);
    }
    adopt_f32(std::move(rounded), impl.get());
  } else if (type == WeightType::BF16) {
    std::vector<uint16_t> h(static_cast<size_t>(n * k));
    to_bf16(w, n * k, h.data());
    impl->pack(h.data(), DT::bf16);
  } else {
    impl->pack(w, DT::f32);
  }
  PackedLinear out;
  out.impl_ = std::move(impl);
  return out;
}

PackedLinear PackedLinear::from_s8(const int8_t* q, const float* scales, int64_t n, int64_t k,
                                   const float* bias) {
  auto impl = std::make_shared<Impl>();
  impl->type = WeightType::S8;
  impl->n = n;
  impl->k = k;
  if (bias != nullptr) impl->bias.assign(bias, bias + n);
  impl->w_scales.assign(scales, scales + n);
  if (int8_uses_s16()) {
    impl->s16 = true;
    impl->s16_weights = pack_s16(q, n, k);
    PackedLinear out;
    out.impl_ = std::move(impl);
    return out;
  }
  std::vector<int8_t> q7;
  if (int8_scheme() == Int8Scheme::OnednnW7) {
    q7.resize(static_cast<size_t>(n * k));
    requantize_w7(q, scales, n, k, q7.data(), impl->w_scales.data());
    q = q7.data();
  }
  impl->w_sums.assign(static_cast<size_t>(n), 0);
  for (int64_t r = 0; r < n; ++r) {
    int32_t sum = 0;
    for (int64_t c = 0; c < k; ++c) sum += q[r * k + c];
    impl->w_sums[static_cast<size_t>(r)] = sum;
  }
  impl->pack(q, DT::s8);
  PackedLinear out;
  out.impl_ = std::move(impl);
  return out;
}

PackedLinear PackedLinear::from_bf16(const uint16_t* w, int64_t n, int64_t k, const float* bias) {
  auto impl = std::make_shared<Impl>();
  if (!bf16_supported()) {
    // Widened once to f32 (exact), which is what runs here.
    warn_no_bf16();
    std::vector<float> f(static_cast<size_t>(n * k));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n * k; ++i) f[static_cast<size_t>(i)] = bf16_to_float(w[i]);
    impl->n = n;
    impl->k = k;
    if (bias != nullptr) impl->bias.assign(bias, bias + n);
    adopt_f32(std::move(f), impl.get());
    PackedLinear out;
    out.impl_ = std::move(impl);
    return out;
  }
  impl->type = WeightType::BF16;
  impl->n = n;
  impl->k = k;
  if (bias != nullptr) impl->bias.assign(bias, bias + n);
  impl->pack(w, DT::bf16);
  PackedLinear out;
  out.impl_ = std::move(impl);
  return out;
}

WeightType PackedLinear::type() const { return impl_->type; }
int64_t PackedLinear::in() const { return impl_->k; }
int64_t PackedLinear::out() const { return impl_->n; }

void PackedLinear::Impl::run_s16(const float* x, int64_t m, float* y, Activation act) const {
  Scratch& sc = scratch();
  const int64_t k2 = s16_weights.k2;
  auto* a = Scratch::grow<int16_t>(sc.src, static_cast<size_t>(m * k2));
  auto* row_scale = Scratch::grow<float>(sc.acc, static_cast<size_t>(m));
  const float* b = bias.empty() ? nullptr : bias.data();
  const int levels = int8_activation_levels();
  const int64_t panels = s16_panels(s16_weights);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  constexpr int64_t kRows = 48;
  const int64_t row_tasks = (m + kRows - 1) / kRows;
  int64_t groups = 1;  // enough tasks for every thread: split columns when rows are few
  while (row_tasks * groups < 2 * threads && groups * 2 <= panels) groups *= 2;
  const int64_t per_group = (panels + groups - 1) / groups;
#pragma omp parallel if (threads > 1)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < m; ++r) row_scale[r] = quantize_row_s16(x + r * k, k, k2, levels, a + r * k2);
#pragma omp for collapse(2) schedule(static)
    for (int64_t t = 0; t < row_tasks; ++t) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t r0 = t * kRows;
        const int64_t rows = std::min(kRows, m - r0);
        const int64_t p0 = g * per_group;
        const int64_t p1 = std::min(panels, p0 + per_group);
        if (p0 >= p1) continue;
        const S16Epilogue ep{row_scale + r0, w_scales.data(), b};
        gemm_s16(a + r0 * k2, rows, s16_weights, ep, y + r0 * n, n, p0, p1);
        if (act != Activation::Identity) {
          const int64_t c0 = p0 * 16;
          const int64_t c1 = std::min(n, p1 * 16);
          for (int64_t r = r0; r < r0 + rows; ++r) activation_span(y + r * n + c0, c1 - c0, act);
        }
      }
    }
  }
}

void PackedLinear::Impl::convert_and_run(const float* x, int64_t m, float* y, Activation act) const {
  if (s16) {
    run_s16(x, m, y, act);
    return;
  }
  Scratch& sc = scratch();
  if (type == WeightType::BF16) {
    auto* h = Scratch::grow<uint16_t>(sc.src, static_cast<size_t>(m * k));
    to_bf16(x, m * k, h);
    run(h, m, y, act);
    return;
  }
  auto* q = Scratch::grow<uint8_t>(sc.src, static_cast<size_t>(m * k));
  if (sc.quant.size() < static_cast<size_t>(m)) sc.quant.resize(static_cast<size_t>(m));
  RowQuant* rq = sc.quant.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) rq[r] = quantize_row_u8(x + r * k, k, q + r * k);
  auto* acc = Scratch::grow<int32_t>(sc.acc, static_cast<size_t>(m * n));
  run(q, m, acc, Activation::Identity);
  const float* b = bias.empty() ? nullptr : bias.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    dequantize_row(acc + r * n, n, rq[r], w_sums.data(), w_scales.data(), b, y + r * n);
    activation_span(y + r * n, n, act);
  }
}

void PackedLinear::forward_bf16(const uint16_t* x, int64_t m, float* y, Activation act) const {
  if (impl_ == nullptr || impl_->type != WeightType::BF16) {
    throw InvalidArgument("PackedLinear::forward_bf16 on a layer that is not bf16");
  }
  if (m > 0) impl_->run(x, m, y, act, false);
}

void PackedLinear::forward_bf16(const uint16_t* x, int64_t m, uint16_t* y, Activation act) const {
  if (impl_ == nullptr || impl_->type != WeightType::BF16) {
    throw InvalidArgument("PackedLinear::forward_bf16 on a layer that is not bf16");
  }
  if (m > 0) impl_->run(x, m, y, act, true);
}

void PackedLinear::forward(const float* x, int64_t m, float* y, Activation act) const {
  if (impl_ == nullptr) throw InvalidArgument("PackedLinear::forward on an empty layer");
  if (m <= 0) return;
  const Impl& p = *impl_;
  if (p.type == WeightType::F32) {
    if (p.plain_f32 != nullptr && m <= kGemvMaxRows) {
      // Few rows (decode): a bandwidth-bound GEMV over the plain weights.
      gemv_f32(x, m, p.k, p.plain_f32, p.n, p.bias.empty() ? nullptr : p.bias.data(), y, act);
      return;
    }
    if (act != Activation::Identity && detail::vector_isa() != detail::VectorIsa::Avx512) {
      // oneDNN 2.6's AVX2 gemm applies an eltwise post-op at a fraction of the
      // speed of activation_span (bench/kernels/encoder_ops, 128 x 384 -> 1536
      // with GELU: 2.37 ms fused, 1.70 + 0.14 ms apart): run it here instead.
      p.run(x, m, y, Activation::Identity);
      apply_activation(y, m * p.n, act);
      return;
    }
    p.run(x, m, y, act);
    return;
  }
  // bf16 / int8 convert their input and int8 goes through s32 accumulators:
  // with enough rows, each thread takes whole row blocks (convert, matmul,
  // epilogue) so those intermediates stay in its own L2 instead of making
  // three passes over main memory. Few rows: one matmul over all threads.
  constexpr int64_t kRowBlock = 128;
  const int64_t blocks = (m + kRowBlock - 1) / kRowBlock;
  if (omp_in_parallel() || blocks < 4 * static_cast<int64_t>(omp_get_max_threads())) {
    p.convert_and_run(x, m, y, act);
    return;
  }
#pragma omp parallel for schedule(dynamic)
  for (int64_t bi = 0; bi < blocks; ++bi) {
    const int64_t r0 = bi * kRowBlock;
    p.convert_and_run(x + r0 * p.k, std::min(kRowBlock, m - r0), y + r0 * p.n, act);
  }
}

}  // namespace optimum::kernels
