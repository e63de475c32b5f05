// ggml block formats dequantized to f32 exactly as gguf-py's quants.py does:
// each value is the same float32 product (and sum) numpy computes, in the same
// order, so the results are bit-identical. This file is compiled with
// -ffp-contract=off (src/io/CMakeLists.txt): a fused multiply-add would round
// once where numpy rounds twice.
#include <cstring>

#include "optimum/core/errors.h"
#include "optimum/core/threading.h"
#include "optimum/io/gguf.h"

namespace optimum::io {

namespace {

constexpr int64_t kQK = 256;  // QK_K

const GgmlTypeTraits kTraits[] = {
    {"F32", 1, 4},        {"F16", 1, 2},         {"Q4_0", 32, 18},      {"Q4_1", 32, 20},
    {nullptr, 0, 0},      {nullptr, 0, 0},       {"Q5_0", 32, 22},      {"Q5_1", 32, 24},
    {"Q8_0", 32, 34},     {"Q8_1", 32, 40},      {"Q2_K", 256, 84},     {"Q3_K", 256, 110},
    {"Q4_K", 256, 144},   {"Q5_K", 256, 176},    {"Q6_K", 256, 210},    {"Q8_K", 256, 292},
    {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74},   {"IQ3_XXS", 256, 98},  {"IQ1_S", 256, 50},
    {"IQ4_NL", 32, 18},   {"IQ3_S", 256, 110},   {"IQ2_S", 256, 82},    {"IQ4_XS", 256, 136},
    {"I8", 1, 1},         {"I16", 1, 2},         {"I32", 1, 4},         {"I64", 1, 8},
    {"F64", 1, 8},        {"IQ1_M", 256, 56},    {"BF16", 1, 2},        {nullptr, 0, 0},
    {nullptr, 0, 0},      {nullptr, 0, 0},       {"TQ1_0", 256, 54},    {"TQ2_0", 256, 66},
    {nullptr, 0, 0},      {nullptr, 0, 0},       {nullptr, 0, 0},       {"MXFP4", 32, 17},
    {"NVFP4", 64, 36},    {"Q1_0", 128, 18},
};

float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// One block of each format: `b` points at the block, `y` receives block_size floats.
void block_bf16(const uint8_t* b, float* y) {
  uint32_t u = static_cast<uint32_t>(b[0] | (b[1] << 8)) << 16;
  std::memcpy(y, &u, 4);
}

void block_q4_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(static_cast<int8_t>((qs[j] & 0x0F) - 8));
    y[j + 16] = d * static_cast<float>(static_cast<int8_t>((qs[j] >> 4) - 8));
  }
}

void block_q4_1(const uint8_t* b, float* y) {
  const float d = f16(b);
  const float m = f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

void block_q5_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 32; ++j) {
    const int ql = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
    const int q = ql | (((qh >> j) & 1) << 4);
    y[j] = d * static_cast<float>(q - 16);
  }
}

void block_q5_1(const uint8_t* b, float* y) {
  const float d = f16(b);
  const float m = f16(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 32; ++j) {
    const int ql = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
    const int q = ql | (((qh >> j) & 1) << 4);
    y[j] = d * static_cast<float>(q) + m;
  }
}

void block_q8_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// Q4_K/Q5_K's 12 bytes of 6-bit scales and mins (gguf-py's Q4_K.get_scale_min).
void scale_min_k4(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[j + 4] & 0x3F;
    sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 2) & 0x30);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
  }
}

void block_q4_k(const uint8_t* b, float* y) {
  const float d = f16(b);
  const float dmin = f16(b + 2);
  uint8_t sc[8], mn[8];
  scale_min_k4(b + 4, sc, mn);
  const uint8_t* qs = b + 16;
  for (int s = 0; s < 8; ++s) {
    const float ds = d * static_cast<float>(sc[s]);
    const float dm = dmin * static_cast<float>(mn[s]);
    const uint8_t* q = qs + (s / 2) * 32;
    const int shift = (s % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      y[s * 32 + l] = ds * static_cast<float>((q[l] >> shift) & 0x0F) - dm;
    }
  }
}

void block_q5_k(const uint8_t* b, float* y) {
  const float d = f16(b);
  const float dmin = f16(b + 2);
  uint8_t sc[8], mn[8];
  scale_min_k4(b + 4, sc, mn);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int s = 0; s < 8; ++s) {
    const float ds = d * static_cast<float>(sc[s]);
    const float dm = dmin * static_cast<float>(mn[s]);
    const uint8_t* q = qs + (s / 2) * 32;
    const int shift = (s % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> s) & 1) << 4);
      y[s * 32 + l] = ds * static_cast<float>(v) - dm;
    }
  }
}

void block_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int i = 0; i < kQK; ++i) {
    const int h = i / 128, r = i % 128;
    const int lo = (ql[h * 64 + r % 64] >> ((r / 64) * 4)) & 0x0F;
    const int hi = (qh[h * 32 + r % 32] >> ((r / 32) * 2)) & 0x03;
    const float ds = d * static_cast<float>(scales[i / 16]);
    y[i] = ds * static_cast<float>(static_cast<int8_t>((lo | (hi << 4)) - 32));
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::BF16: return block_bf16;
    case GgmlType::Q4_0: return block_q4_0;
    case GgmlType::Q4_1: return block_q4_1;
    case GgmlType::Q5_0: return block_q5_0;
    case GgmlType::Q5_1: return block_q5_1;
    case GgmlType::Q8_0: return block_q8_0;
    case GgmlType::Q4_K: return block_q4_k;
    case GgmlType::Q5_K: return block_q5_k;
    case GgmlType::Q6_K: return block_q6_k;
    default: return nullptr;
  }
}

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t type) {
  if (type >= std::size(kTraits) || kTraits[type].name == nullptr) return nullptr;
  return &kTraits[type];
}

std::string ggml_type_name(uint32_t type) {
  const GgmlTypeTraits* t = ggml_type_traits(type);
  return t ? std::string(t->name) : "type " + std::to_string(type);
}

bool ggml_can_dequantize(uint32_t type) {
  return type == static_cast<uint32_t>(GgmlType::F32) || type == static_cast<uint32_t>(GgmlType::F16) ||
         block_fn(type) != nullptr;
}

void dequantize_ggml(uint32_t type, const uint8_t* src, float* dst, int64_t n_elements) {
  const GgmlTypeTraits* traits = ggml_type_traits(type);
  if (!ggml_can_dequantize(type)) {
    throw Unsupported("cannot dequantize ggml type " + ggml_type_name(type));
  }
  if (n_elements < 0 || n_elements % traits->block_size != 0) {
    throw InvalidArgument("dequantize_ggml: " + std::to_string(n_elements) +
                          " elements are not whole " + traits->name + " blocks");
  }
  if (type == static_cast<uint32_t>(GgmlType::F32)) {
    std::memcpy(dst, src, static_cast<size_t>(n_elements) * 4);
    return;
  }
  const int64_t n_blocks = n_elements / traits->block_size;
  const int64_t bs = traits->block_size, ts = traits->type_size;
  const BlockFn fn = block_fn(type);
  const bool parallel = n_elements >= (int64_t{1} << 16);
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (parallel)
  for (int64_t i = 0; i < n_blocks; ++i) {
    if (fn) {
      fn(src + i * ts, dst + i * bs);
    } else {
      dst[i] = f16(src + i * 2);  // F16
    }
  }
}

}  // namespace optimum::io
