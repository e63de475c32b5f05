// int8 GEMM for AVX2 CPUs without VNNI: s8 weights and 8-bit activations,
// both widened to 16 bits, multiplied with vpmaddwd (two 16x16->32-bit
// products summed per lane, no saturation) and accumulated in s32.
//
// oneDNN's own AVX2 int8 GEMM multiplies u8·s8 pairs with vpmaddubsw, whose
// 16-bit pair sums saturate unless activations are cut to 7 bits; the
// widened operands keep the full 255 activation levels (the numbers of the
// VNNI path) at the same multiply throughput: 16 MACs per vpmaddwd, twice
// an f32 FMA's 8.
//
// Layout: weights [n, k] s8 are packed once into panels of 16 output
// channels, k in pairs: panel[k/2][16][2] int16 (n and k zero-padded).
// Activations are int16 rows (x quantized minus its zero point, so the
// product needs no zero-point correction), k padded to even with zeros.
#pragma once

#include <cstdint>
#include <vector>

namespace optimum::kernels {

// Whether the AVX2 kernel can run on this CPU (AVX2 and FMA).
bool s16_gemm_supported();

// Weights for gemm_s16: n x k s8 packed as described above.
struct PackedS16 {
  int64_t n = 0;
  int64_t k = 0;
  int64_t k2 = 0;            // k rounded up to even: the activation row stride
  std::vector<int16_t> data;  // (n rounded up to 16) / 16 panels of k2 * 16 values
};

// Packs q[n, k] (row-major, PyTorch Linear layout).
PackedS16 pack_s16(const int8_t* q, int64_t n, int64_t k);

// Per-row asymmetric quantization of x[k] to `levels`+1 levels over
// [min(x, 0), max(x, 0)], stored as q - zero_point in int16 (a[k2], the pad
// zeroed). Returns the scale: x ≈ scale · a.
float quantize_row_s16(const float* x, int64_t k, int64_t k2, int levels, int16_t* a);

// The epilogue applied to each accumulator: y[r, c] = acc · row_scale[r] · col_scale[c] + bias[c]
// (bias may be null).
struct S16Epilogue {
  const float* row_scale = nullptr;
  const float* col_scale = nullptr;
  const float* bias = nullptr;
};

// y[m, n] (row stride ldy) = epilogue(a[m, k2] · Wᵀ), single-threaded (callers split rows, or
// columns by 16-channel panel: only panels [panel_begin, panel_end) are computed, -1 = all).
// AVX2; requires s16_gemm_supported().
void gemm_s16(const int16_t* a, int64_t m, const PackedS16& w, const S16Epilogue& ep, float* y, int64_t ldy,
              int64_t panel_begin = 0, int64_t panel_end = -1);
// Panels of 16 output channels in w.
inline int64_t s16_panels(const PackedS16& w) { return (w.n + 15) / 16; }

// The same with plain loops: the reference the AVX2 kernel is tested against.
void gemm_s16_reference(const int16_t* a, int64_t m, const PackedS16& w, const S16Epilogue& ep, float* y,
                        int64_t ldy);

}  // namespace optimum::kernels
