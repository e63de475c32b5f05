// DType names and sizes, and the f32 <-> f16 / bf16 conversions: known bit
// patterns, every tie between two neighbours, and an independent reference
// (nearest value by search, ties to even) over a sweep of float bit patterns.
#include "optimum/core/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum {
namespace {

using test_util::in_quotes;
using test_util::throws_with;

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16,
                                DType::I8,  DType::I32, DType::I64};

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t to_bits(float f) { return std::bit_cast<uint32_t>(f); }

bool half_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }
bool bf16_is_nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x007fu) != 0; }

// Value of a finite half from its fields: subnormal m * 2^-24, normal (1024 + m) * 2^(e - 25).
double half_value(uint16_t h) {
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000u) ? -v : v;
}

// Picks between neighbours lo < x < hi (as values va, vb): nearest, ties to the even code.
uint32_t nearest_even(double x, uint32_t lo, double v_lo, uint32_t hi, double v_hi) {
  const double d_lo = x - v_lo;
  const double d_hi = v_hi - x;
  if (d_lo < d_hi) return lo;
  if (d_hi < d_lo) return hi;
  return (lo & 1u) == 0 ? lo : hi;
}

// Reference float -> half for a non-NaN input: searches the ordered positive
// halves; infinity takes part in rounding as 2^16 (the next power of two).
uint16_t reference_float_to_half(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
  const double a = std::fabs(static_cast<double>(f));
  auto value = [](uint32_t h) { return h == 0x7c00u ? 65536.0 : half_value(static_cast<uint16_t>(h)); };
  if (a >= 65536.0) return static_cast<uint16_t>(sign | 0x7c00u);
  uint32_t lo = 0;
  uint32_t hi = 0x7c00u;  // invariant: value(lo) <= a < value(hi)
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    (value(mid) <= a ? lo : hi) = mid;
  }
  return static_cast<uint16_t>(sign | nearest_even(a, lo, value(lo), hi, value(hi)));
}

// Reference float -> bf16 for a non-NaN input: the two bf16 neighbours are the
// float truncated to 16 bits and the next code; infinity counts as 2^128.
uint16_t reference_float_to_bf16(float f) {
  const uint32_t bits = to_bits(f);
  const uint32_t sign = bits & 0x80000000u;
  const uint32_t mag = bits & 0x7fffffffu;
  if (mag == 0x7f800000u) return static_cast<uint16_t>((sign | mag) >> 16);
  const uint32_t lo = mag >> 16;
  const uint32_t hi = lo + 1;
  auto value = [](uint32_t b) {
    return b == 0x7f80u ? std::ldexp(1.0, 128) : static_cast<double>(from_bits(b << 16));
  };
  const double a = static_cast<double>(from_bits(mag));
  return static_cast<uint16_t>((sign >> 16) | nearest_even(a, lo, value(lo), hi, value(hi)));
}

TEST(DType, SizesAndNames) {
  const std::vector<std::pair<DType, std::pair<size_t, std::string>>> expected = {
      {DType::F32, {4, "F32"}}, {DType::F16, {2, "F16"}}, {DType::BF16, {2, "BF16"}},
      {DType::I8, {1, "I8"}},   {DType::I32, {4, "I32"}}, {DType::I64, {8, "I64"}}};
  for (const auto& [dtype, size_name] : expected) {
    EXPECT_EQ(dtype_size(dtype), size_name.first) << size_name.second;
    EXPECT_EQ(dtype_name(dtype), size_name.second);
  }
}

TEST(DType, NameRoundTrips) {
  for (DType d : kAllDTypes) EXPECT_EQ(dtype_from_name(dtype_name(d)), d) << dtype_name(d);
}

TEST(DType, DTypeOfMatchesElementTypes) {
  static_assert(DTypeOf<float>::value == DType::F32);
  static_assert(DTypeOf<int8_t>::value == DType::I8);
  static_assert(DTypeOf<int32_t>::value == DType::I32);
  static_assert(DTypeOf<int64_t>::value == DType::I64);
  EXPECT_EQ(dtype_size(DTypeOf<float>::value), sizeof(float));
  EXPECT_EQ(dtype_size(DTypeOf<int64_t>::value), sizeof(int64_t));
}

TEST(DType, UnknownNameThrowsUnsupportedNamingIt) {
  for (const char* name : {"F64", "Q4", "f32", "BOOL", "U8", "F32 ", ""}) {
    EXPECT_TRUE(throws_with<Unsupported>([&] { (void)dtype_from_name(name); },
                                         {in_quotes(name)}))
        << "name: '" << name << "'";
  }
}

TEST(Half, KnownBitPatterns) {
  const std::vector<std::pair<float, uint16_t>> cases = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3c00},
      {-2.0f, 0xc000},
      {0.5f, 0x3800},
      {0.1f, 0x2e66},
      {65504.0f, 0x7bff},                                  // largest finite
      {std::ldexp(1.0f, -14), 0x0400},                     // smallest normal
      {std::ldexp(1.0f, -24), 0x0001},                     // smallest subnormal
      {std::ldexp(1023.0f, -24), 0x03ff},                  // largest subnormal
      {std::numeric_limits<float>::infinity(), 0x7c00},
      {-std::numeric_limits<float>::infinity(), 0xfc00},
      {1e6f, 0x7c00},                                      // overflow
      {-1e6f, 0xfc00},
      {1e-10f, 0x0000},                                    // underflow keeps the sign
      {-1e-10f, 0x8000},
      {std::numeric_limits<float>::denorm_min(), 0x0000},  // float subnormal
      {-std::numeric_limits<float>::denorm_min(), 0x8000},
  };
  for (const auto& [f, h] : cases) {
    EXPECT_EQ(float_to_half(f), h) << "float " << f;
    // Exactly representable inputs decode back to the same float bits.
    if (static_cast<double>(f) == half_value(h)) {
      EXPECT_EQ(to_bits(half_to_float(h)), to_bits(f)) << "half 0x" << std::hex << h;
    }
  }
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
}

TEST(Half, RoundsToNearestEven) {
  const std::vector<std::pair<float, uint16_t>> cases = {
      {1.0f + std::ldexp(1.0f, -11), 0x3c00},                        // tie, down to even
      {1.0f + 3 * std::ldexp(1.0f, -11), 0x3c02},                    // tie, up to even
      {1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3c01},  // just above the tie
      {1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -20), 0x3c00},  // just below the tie
      {65519.0f, 0x7bff},                                            // below the overflow tie
      {65520.0f, 0x7c00},                                            // tie with 2^16: to inf
      {std::ldexp(1.0f, -25), 0x0000},                               // tie 0 / 2^-24: to 0
      {std::ldexp(1.5f, -25), 0x0001},                               // above that tie
      {std::ldexp(3.0f, -25), 0x0002},                               // tie 1 / 2: to 2
      {std::ldexp(5.0f, -25), 0x0002},                               // tie 2 / 3: to 2
      {std::ldexp(2047.0f, -25), 0x0400},  // tie largest subnormal / smallest normal
      {-std::ldexp(3.0f, -25), 0x8002},
  };
  for (const auto& [f, h] : cases) EXPECT_EQ(float_to_half(f), h) << "float " << f;
}

TEST(Half, NanStaysNanWithItsSign) {
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0x7fbfffffu, 0xffc00000u, 0xff800001u}) {
    const uint16_t h = float_to_half(from_bits(bits));
    EXPECT_TRUE(half_is_nan(h)) << std::hex << bits << " -> " << h;
    EXPECT_EQ(h >> 15, bits >> 31) << std::hex << bits;
  }
  for (uint16_t h : {0x7c01, 0x7e00, 0x7fff, 0xfe00}) EXPECT_TRUE(std::isnan(half_to_float(h)));
}

// Every one of the 65536 halves: its value matches the field formula, and
// converting back gives the same bits (NaN stays NaN).
TEST(Half, EveryHalfDecodesExactlyAndRoundTrips) {
  for (uint32_t i = 0; i <= 0xffffu; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = half_to_float(h);
    if (half_is_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(half_is_nan(float_to_half(f))) << std::hex << i;
      continue;
    }
    if ((h & 0x7fffu) == 0x7c00u) {
      ASSERT_TRUE(std::isinf(f)) << std::hex << i;
    } else {
      ASSERT_EQ(static_cast<double>(f), half_value(h)) << std::hex << i;
    }
    ASSERT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << i;
    ASSERT_EQ(float_to_half(f), h) << std::hex << i;
  }
}

// Every midpoint between two neighbouring halves (subnormal, normal, and the
// last finite one with infinity), and the floats one ulp either side of it.
TEST(Half, EveryTieAndItsNeighbours) {
  for (uint32_t h = 0; h < 0x7c00u; ++h) {
    const double lo = half_value(static_cast<uint16_t>(h));
    const double hi = h + 1 == 0x7c00u ? 65536.0 : half_value(static_cast<uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: 12 significant bits
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    const uint32_t even = (h & 1u) == 0 ? h : h + 1;
    for (uint32_t sign : {0u, 0x8000u}) {
      const float s = sign ? -1.0f : 1.0f;
      ASSERT_EQ(float_to_half(s * mid), sign | even) << "tie above 0x" << std::hex << h;
      ASSERT_EQ(float_to_half(s * std::nextafter(mid, 0.0f)), sign | h) << std::hex << h;
      ASSERT_EQ(float_to_half(s * std::nextafter(mid, 1e30f)), sign | (h + 1)) << std::hex << h;
    }
  }
}

TEST(Half, MatchesReferenceOverFloatSweep) {
  // 4099 is odd and coprime with the powers of two, so every mantissa bit pattern shows up.
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 4099) {
    const float f = from_bits(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), reference_float_to_half(f)) << "bits 0x" << std::hex << bits;
  }
}

TEST(BFloat16, KnownBitPatterns) {
  const std::vector<std::pair<float, uint16_t>> cases = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3f80},
      {-2.0f, 0xc000},
      {3.140625f, 0x4049},
      {std::numeric_limits<float>::infinity(), 0x7f80},
      {-std::numeric_limits<float>::infinity(), 0xff80},
      {std::numeric_limits<float>::max(), 0x7f80},      // rounds up to infinity
      {from_bits(0x7f7f7fffu), 0x7f7f},                 // largest finite below the tie
      {std::numeric_limits<float>::min(), 0x0080},      // smallest normal float
      {from_bits(0x00010000u), 0x0001},                 // float subnormal kept
      {from_bits(0x00008000u), 0x0000},                 // subnormal tie to even (0)
      {from_bits(0x00018000u), 0x0002},                 // subnormal tie to even (2)
      {from_bits(0x00000001u), 0x0000},
      {1.0f + std::ldexp(1.0f, -8), 0x3f80},            // tie, down to even
      {1.0f + 3 * std::ldexp(1.0f, -8), 0x3f82},        // tie, up to even
      {1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20), 0x3f81},
  };
  for (const auto& [f, b] : cases) EXPECT_EQ(float_to_bf16(f), b) << "float " << f;
}

TEST(BFloat16, NanStaysNanWithItsSign) {
  // 0x7f800001 would truncate to infinity; it must stay NaN.
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0x7f80ffffu, 0xffc00000u, 0xff800001u}) {
    const uint16_t b = float_to_bf16(from_bits(bits));
    EXPECT_TRUE(bf16_is_nan(b)) << std::hex << bits << " -> " << b;
    EXPECT_EQ(b >> 15, bits >> 31) << std::hex << bits;
  }
}

TEST(BFloat16, EveryBFloat16DecodesExactlyAndRoundTrips) {
  for (uint32_t i = 0; i <= 0xffffu; ++i) {
    const auto b = static_cast<uint16_t>(i);
    const float f = bf16_to_float(b);
    ASSERT_EQ(to_bits(f), i << 16) << std::hex << i;
    if (bf16_is_nan(b)) {
      ASSERT_TRUE(bf16_is_nan(float_to_bf16(f))) << std::hex << i;
    } else {
      ASSERT_EQ(float_to_bf16(f), b) << std::hex << i;
    }
  }
}

TEST(BFloat16, EveryTieAndItsNeighbours) {
  for (uint32_t b = 0; b < 0x7f80u; ++b) {
    const uint32_t mid = (b << 16) | 0x8000u;
    const uint32_t even = (b & 1u) == 0 ? b : b + 1;
    for (uint32_t sign : {0u, 0x80000000u}) {
      const uint32_t s16 = sign >> 16;
      ASSERT_EQ(float_to_bf16(from_bits(sign | mid)), s16 | even) << std::hex << b;
      ASSERT_EQ(float_to_bf16(from_bits(sign | (mid - 1))), s16 | b) << std::hex << b;
      ASSERT_EQ(float_to_bf16(from_bits(sign | (mid + 1))), s16 | (b + 1)) << std::hex << b;
    }
  }
}

TEST(BFloat16, MatchesReferenceOverFloatSweep) {
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 4099) {
    const float f = from_bits(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_bf16(f), reference_float_to_bf16(f)) << "bits 0x" << std::hex << bits;
  }
}

}  // namespace
}  // namespace optimum
