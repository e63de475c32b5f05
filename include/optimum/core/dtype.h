// Element types of tensors, with the names safetensors and numpy use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace optimum {

enum class DType : uint8_t { F32, F16, BF16, I8, I32, I64 };

// Size in bytes of one element.
size_t dtype_size(DType dtype);

// The safetensors spelling: "F32", "F16", "BF16", "I8", "I32", "I64".
std::string_view dtype_name(DType dtype);

// Parses a safetensors dtype string; throws Unsupported naming the value.
DType dtype_from_name(std::string_view name);

// Maps a C++ element type to its DType at compile time.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::I8;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::I32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::I64;
};

// IEEE half and bfloat16 conversions (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

}  // namespace optimum
