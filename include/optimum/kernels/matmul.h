// A PyTorch Linear (y = act(x·Wᵀ + b)) whose weight is reordered once, at
// load, into the blocked layout oneDNN's matmul wants on this CPU, in f32,
// bf16 or int8. The matmul primitive is created once per row count and kept
// (creation is ~0.1-1 ms; a model sees few distinct row counts).
//
//   f32:  x f32 · W f32 (bias and activation fused as oneDNN post-ops).
//   bf16: x rounded to bf16 per call, W bf16, f32 accumulation and output
//         (AMX or AVX512-BF16 where the CPU has them, emulated otherwise).
//   s8:   dynamic quantization: each row of x gets its own scale and zero
//         point (asymmetric u8 over [min(x_row, 0), max(x_row, 0)]), W is
//         symmetric s8 with one scale per output channel; u8·s8 -> s32, then
//         y = sx[row]·(acc - zp[row]·Σw[col])·sw[col] + b, then the activation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "optimum/kernels/ops.h"

namespace optimum::kernels {

enum class WeightType { F32, BF16, S8 };

std::string_view weight_type_name(WeightType t);
// The instruction set oneDNN uses here ("avx512_core_amx", "avx2", ...), after
// the OPTIMUM_CPU_ISA cap (sse41, avx2, avx2_vnni, avx512_core,
// avx512_core_vnni, avx512_core_bf16, avx512_core_amx / amx, all). On
// aarch64 "neon" or "sve" (the CPU's; OPTIMUM_CPU_ISA takes neon, sve or all
// there and caps nothing).
std::string cpu_isa();
// Whether oneDNN has a bf16 matmul on this CPU; where not, BF16 layers are
// packed in f32 instead (with one warning).
bool bf16_supported();
// Whether this CPU computes bf16 natively (AVX512-BF16 or AMX, after the
// OPTIMUM_CPU_ISA cap): bf16 layers are then faster than f32 ones.
bool bf16_native();
// Whether f32 layers run on their weights as stored (PyTorch [n, k], no
// reorder): where oneDNN's f32 matmul keeps weights in a plain layout (its
// gemm, on CPUs below AVX-512), rather than a CPU-specific blocked one. Then
// PackedLinear::view_f32 uses the caller's weights without a copy.
bool f32_weights_in_place();
// Levels of the per-token u8 activation quantization of int8 layers: 255,
// except 127 for OPTIMUM_INT8_KERNEL=onednn-a7 without VNNI (see int8_kernel_name).
int int8_activation_levels();
// The int8 GEMM in use (OPTIMUM_INT8_KERNEL): "onednn-vnni" (oneDNN u8·s8, VNNI / AMX;
// "onednn-u8s8" off x86, where oneDNN's u8·s8 products do not saturate);
// without VNNI "avx2-s16" (default: int8_gemm.h, 8-bit activations and weights widened to
// 16 bits), "onednn-w7" (oneDNN, weights requantized to 7 bits at pack, as ONNX Runtime's
// reduce_range) or "onednn-a7" (oneDNN, 7-bit activations).
std::string_view int8_kernel_name();
// Levels of the packed weights each side of zero: 127, or 63 for onednn-w7.
int int8_weight_levels();
// "f32"/"fp32"/"float32", "bf16"/"bfloat16", "int8"/"s8"; InvalidArgument names the value.
WeightType weight_type_from_name(std::string_view name);

// Symmetric per-row int8 quantization of w[n,k]: q = round(w / s), s = max|w_row| / 127
// (rows of zeros get s = 1). Writes q[n*k] and scales[n].
void quantize_rows_s8(const float* w, int64_t n, int64_t k, int8_t* q, float* scales);

class PackedLinear {
 public:
  PackedLinear() = default;
  // w [n, k] f32 row-major (PyTorch layout), bias [n] or null; W is converted to `type`
  // (S8: quantize_rows_s8). The caller's buffers may be freed afterwards.
  static PackedLinear from_f32(const float* w, int64_t n, int64_t k, const float* bias, WeightType type);
  // An F32 layer over w where it lies when f32_weights_in_place() (no copy;
  // `owner` keeps w alive and w must not change), else from_f32(.., F32).
  static PackedLinear view_f32(const float* w, int64_t n, int64_t k, const float* bias,
                               std::shared_ptr<const void> owner);
  // Already-quantized weights (as export writes them): q [n, k], scales [n].
  static PackedLinear from_s8(const int8_t* q, const float* scales, int64_t n, int64_t k, const float* bias);
  // bf16 weights (bit patterns) as stored: packed as they are (in f32 where
  // there is no bf16 matmul, see bf16_supported).
  static PackedLinear from_bf16(const uint16_t* w, int64_t n, int64_t k, const float* bias);

  // y[m, n] = act(x[m, k] · Wᵀ + b). Thread-safe; x and y must not overlap.
  void forward(const float* x, int64_t m, float* y, Activation act = Activation::Identity) const;
  // bf16 layers only: x already bf16 (bit patterns, e.g. from to_bf16 or a
  // producer that wrote both), y f32 or bf16 (the next bf16 layer's input).
  void forward_bf16(const uint16_t* x, int64_t m, float* y, Activation act = Activation::Identity) const;
  void forward_bf16(const uint16_t* x, int64_t m, uint16_t* y, Activation act = Activation::Identity) const;

  bool defined() const { return impl_ != nullptr; }
  // Whether this layer reads the caller's weights in place (view_f32).
  bool borrows() const;
  WeightType type() const;
  int64_t in() const;
  int64_t out() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace optimum::kernels
