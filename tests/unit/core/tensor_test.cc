// Tensor: construction, ownership (owned aligned storage vs borrowed views
// that keep their owner alive), reshape/clone sharing rules, typed access
// checks, and dtype conversions through `to`.
#include "optimum/core/tensor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum {
namespace {

using test_util::throws_with;

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16,
                                DType::I8,  DType::I32, DType::I64};

bool is_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kAlignment == 0; }

std::vector<uint16_t> u16_values(const Tensor& t) {
  const auto* p = static_cast<const uint16_t*>(t.raw());
  return std::vector<uint16_t>(p, p + t.numel());
}

std::vector<uint32_t> f32_bits(const Tensor& t) {
  const float* p = t.data<float>();
  std::vector<uint32_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(std::bit_cast<uint32_t>(p[i]));
  return out;
}

Tensor f32_tensor(const std::vector<float>& values) {
  return Tensor::from_data(DType::F32, {static_cast<int64_t>(values.size())}, values.data());
}

Tensor u16_tensor(DType dtype, const std::vector<uint16_t>& values) {
  return Tensor::from_data(dtype, {static_cast<int64_t>(values.size())}, values.data());
}

TEST(Shape, NumelAndString) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({5, 0, 7}), 0);
  EXPECT_EQ(shape_str({}), "[]");
  EXPECT_EQ(shape_str({2, 3, 4}), "[2, 3, 4]");
}

TEST(Shape, NegativeDimOrOverflowThrows) {
  EXPECT_TRUE(throws_with<InvalidArgument>([] { (void)shape_numel({2, -1}); }, {"[2, -1]"}));
  const int64_t big = int64_t{1} << 32;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)shape_numel({big, big}); },
                                           {"[4294967296, 4294967296]", "too many"}));
  // A zero dim makes any product valid, wherever it stands.
  EXPECT_EQ(shape_numel({big, big, 0}), 0);
  EXPECT_EQ(shape_numel({0, big, big}), 0);
  // ... but a negative dim is still an error next to a zero.
  EXPECT_TRUE(throws_with<InvalidArgument>([] { (void)shape_numel({0, -1}); }, {"[0, -1]"}));
}

TEST(Tensor, DefaultIsUndefined) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_FALSE(t.is_owned());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.raw(); }, {"undefined"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.raw_mutable(); }, {"undefined"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.data<float>(); }, {"undefined"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.clone(); }, {"undefined"}));
}

TEST(Tensor, ZerosHasShapeAndZeroBytes) {
  Tensor t = Tensor::zeros(DType::F32, {2, 3, 4});
  EXPECT_TRUE(t.defined());
  EXPECT_TRUE(t.is_owned());
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(2), 4);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.size(-3), 2);
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(std::bit_cast<uint32_t>(p[i]), 0u) << i;
}

TEST(Tensor, SizeOutOfRangeThrows) {
  Tensor t = Tensor::zeros(DType::I8, {2, 3, 4});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.size(3); }, {"3", "[2, 3, 4]"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.size(-4); }, {"[2, 3, 4]"}));
  Tensor scalar = Tensor::zeros(DType::I8, {});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)scalar.size(0); }, {"[]"}));
}

TEST(Tensor, ScalarAndEmptyShapes) {
  Tensor scalar = Tensor::zeros(DType::I64, {});
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.nbytes(), 8u);
  scalar.mutable_data<int64_t>()[0] = -7;
  EXPECT_EQ(scalar.data<int64_t>()[0], -7);

  Tensor empty = Tensor::zeros(DType::F32, {3, 0});
  EXPECT_TRUE(empty.defined());
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.nbytes(), 0u);
  EXPECT_NE(empty.raw(), nullptr);
  EXPECT_EQ(empty.clone().shape(), (Shape{3, 0}));
  EXPECT_EQ(Tensor::from_data(DType::F32, {0}, nullptr).numel(), 0);
}

TEST(Tensor, BadShapesThrowInvalidArgument) {
  EXPECT_TRUE(throws_with<InvalidArgument>([] { (void)Tensor::zeros(DType::F32, {2, -3}); },
                                           {"[2, -3]"}));
  const int64_t big = int64_t{1} << 32;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { (void)Tensor::zeros(DType::F32, {big, big, big}); }, {"too many"}));
}

// numel fits in int64 but numel * element size does not fit in size_t: must
// not wrap around into a tiny allocation.
TEST(Tensor, ByteSizeOverflowThrowsInsteadOfWrapping) {
  const int64_t n = int64_t{1} << 62;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)Tensor::zeros(DType::I64, {n}); },
                                           {"[4611686018427387904]", "I64", "too large"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)Tensor::zeros(DType::F32, {n}); },
                                           {"F32", "too large"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)Tensor::zeros(DType::F16, {n / 2, 2}); },
                                           {"F16", "too large"}));
  auto owner = std::make_shared<int64_t>(0);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { (void)Tensor::borrow(DType::I64, {n}, owner, owner.get()); }, {"I64"}));
}

TEST(Tensor, OwnedStorageIs64ByteAligned) {
  std::vector<Tensor> keep;  // keep them alive so the allocator cannot reuse one block
  for (DType dtype : kAllDTypes) {
    for (int64_t n : {0, 1, 3, 17, 63, 64, 65, 1000, 4097}) {
      Tensor z = Tensor::zeros(dtype, {n});
      EXPECT_TRUE(is_aligned(z.raw())) << dtype_name(dtype) << " " << n;
      std::vector<uint8_t> bytes(z.nbytes() + 1, 0xab);
      Tensor d = Tensor::from_data(dtype, {n}, bytes.data() + 1);  // misaligned source
      EXPECT_TRUE(is_aligned(d.raw())) << dtype_name(dtype) << " " << n;
      Tensor c = d.clone();
      EXPECT_TRUE(is_aligned(c.raw())) << dtype_name(dtype) << " " << n;
      keep.push_back(z);
      keep.push_back(d);
      keep.push_back(c);
    }
  }
  EXPECT_EQ(kAlignment, 64u);
  auto storage = Storage::allocate(5);
  EXPECT_TRUE(is_aligned(storage->data()));
  EXPECT_EQ(storage->nbytes(), 5u);
  EXPECT_TRUE(storage->owned());
}

TEST(Tensor, FromDataCopies) {
  std::vector<float> src = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_data(DType::F32, {2, 3}, src.data());
  EXPECT_TRUE(t.is_owned());
  EXPECT_NE(t.raw(), static_cast<const void*>(src.data()));
  src[0] = 99;
  EXPECT_EQ(t.data<float>()[0], 1.0f);
  EXPECT_EQ(t.data<float>()[5], 6.0f);
}

TEST(Tensor, FromDataKeepsEveryIntegerType) {
  const std::vector<int8_t> i8 = {-128, -1, 0, 127};
  const std::vector<int32_t> i32 = {std::numeric_limits<int32_t>::min(), -1, 0,
                                    std::numeric_limits<int32_t>::max()};
  const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min(), -1, 0,
                                    std::numeric_limits<int64_t>::max()};
  Tensor a = Tensor::from_data(DType::I8, {4}, i8.data());
  Tensor b = Tensor::from_data(DType::I32, {2, 2}, i32.data());
  Tensor c = Tensor::from_data(DType::I64, {4, 1}, i64.data());
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(a.data<int8_t>()[i], i8[i]);
    EXPECT_EQ(b.data<int32_t>()[i], i32[i]);
    EXPECT_EQ(c.data<int64_t>()[i], i64[i]);
  }
  EXPECT_EQ(b.nbytes(), 16u);
  EXPECT_EQ(c.nbytes(), 32u);
}

TEST(Tensor, CopiesShareStorage) {
  Tensor a = Tensor::zeros(DType::I32, {3});
  Tensor b = a;
  b.mutable_data<int32_t>()[1] = 42;
  EXPECT_EQ(a.data<int32_t>()[1], 42);
  EXPECT_EQ(a.raw(), b.raw());
}

TEST(Tensor, BorrowIsZeroCopyAndKeepsOwnerAlive) {
  bool released = false;
  std::shared_ptr<std::vector<float>> owner(new std::vector<float>{1, 2, 3, 4, 5, 6},
                                            [&released](std::vector<float>* v) {
                                              released = true;
                                              delete v;
                                            });
  const float* p = owner->data();
  Tensor t = Tensor::borrow(DType::F32, {2, 3}, owner, p);
  owner.reset();
  EXPECT_FALSE(released);
  EXPECT_FALSE(t.is_owned());
  EXPECT_EQ(t.data<float>(), p);
  EXPECT_EQ(t.data<float>()[5], 6.0f);
  Tensor view = t.reshape({6});
  t = Tensor();
  EXPECT_FALSE(released);
  EXPECT_EQ(view.data<float>()[4], 5.0f);
  view = Tensor();
  EXPECT_TRUE(released);
}

TEST(Tensor, BorrowNeedsAnOwner) {
  float x = 1;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { (void)Tensor::borrow(DType::F32, {1}, nullptr, &x); }, {"owner"}));
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::zeros(DType::F32, {2, 3, 4});
  Tensor r = t.reshape({4, 6});
  EXPECT_EQ(r.shape(), (Shape{4, 6}));
  EXPECT_EQ(r.numel(), 24);
  EXPECT_EQ(r.raw(), t.raw());
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));  // the source keeps its shape
  r.mutable_data<float>()[23] = 3.5f;
  EXPECT_EQ(t.data<float>()[23], 3.5f);
  EXPECT_EQ(t.reshape({24}).dim(), 1);
  EXPECT_EQ(Tensor::zeros(DType::F32, {1}).reshape({}).dim(), 0);
}

TEST(Tensor, ReshapeToOtherElementCountThrows) {
  Tensor t = Tensor::zeros(DType::F32, {2, 3, 4});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.reshape({5, 5}); },
                                           {"[2, 3, 4]", "[5, 5]"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.reshape({-24}); }, {"[-24]"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)t.reshape({}); }, {"[2, 3, 4]", "[]"}));
}

TEST(Tensor, CloneIsADeepOwnedCopy) {
  std::vector<int32_t> values = {1, 2, 3, 4};
  auto owner = std::make_shared<std::vector<int32_t>>(values);
  Tensor borrowed = Tensor::borrow(DType::I32, {2, 2}, owner, owner->data());
  Tensor c = borrowed.clone();
  EXPECT_TRUE(c.is_owned());
  EXPECT_TRUE(is_aligned(c.raw()));
  EXPECT_NE(c.raw(), borrowed.raw());
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_EQ(c.dtype(), DType::I32);
  EXPECT_EQ(std::memcmp(c.raw(), owner->data(), 16), 0);
  c.mutable_data<int32_t>()[0] = 100;
  EXPECT_EQ((*owner)[0], 1);
}

TEST(Tensor, TypedAccessWithWrongDTypeThrows) {
  Tensor f32 = Tensor::zeros(DType::F32, {2});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)f32.data<int32_t>(); }, {"F32", "I32"}));
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { (void)f32.mutable_data<int64_t>(); }, {"F32", "I64"}));
  Tensor i8 = Tensor::zeros(DType::I8, {2});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)i8.data<float>(); }, {"I8", "F32"}));
  // 16-bit floats have no C++ element type: reading them as float is an error.
  Tensor f16 = Tensor::zeros(DType::F16, {2});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)f16.data<float>(); }, {"F16", "F32"}));
  Tensor bf16 = Tensor::zeros(DType::BF16, {2});
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { (void)bf16.mutable_data<float>(); }, {"BF16", "F32"}));
  Tensor i64 = Tensor::zeros(DType::I64, {2});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { (void)i64.data<int32_t>(); }, {"I64", "I32"}));
}

// An empty F16/BF16 tensor has no storage: converting it must not hand a
// null pointer to memcpy (UBSan: "null pointer passed as argument 2").
TEST(TensorTo, EmptyTensorsConvertBetweenFloatTypes) {
  for (DType from : {DType::F16, DType::BF16, DType::F32}) {
    for (DType to : {DType::F32, DType::F16, DType::BF16}) {
      for (const Shape& shape : {Shape{0}, Shape{3, 0}, Shape{0, 0, 2}}) {
        const Tensor out = Tensor::zeros(from, shape).to(to);
        EXPECT_EQ(out.dtype(), to);
        EXPECT_EQ(out.shape(), shape);
        EXPECT_EQ(out.numel(), 0);
      }
    }
  }
}

TEST(TensorTo, SameDTypeReturnsSameStorage) {
  Tensor t = f32_tensor({1, 2});
  EXPECT_EQ(t.to(DType::F32).raw(), t.raw());
}

TEST(TensorTo, F32ToF16KnownPatterns) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor src = f32_tensor({1.0f, -2.0f, 65504.0f, 65520.0f, -inf, std::ldexp(1.0f, -24),
                           std::ldexp(3.0f, -25), 1.0f + std::ldexp(1.0f, -11),
                           1.0f + 3 * std::ldexp(1.0f, -11), 1e-10f, -0.0f, 0.1f});
  Tensor h = src.reshape({3, 4}).to(DType::F16);
  EXPECT_EQ(h.dtype(), DType::F16);
  EXPECT_EQ(h.shape(), (Shape{3, 4}));
  EXPECT_TRUE(h.is_owned());
  EXPECT_TRUE(is_aligned(h.raw()));
  EXPECT_EQ(u16_values(h), (std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x0001,
                                                  0x0002, 0x3c00, 0x3c02, 0x0000, 0x8000,
                                                  0x2e66}));
  Tensor back = h.to(DType::F32);
  EXPECT_EQ(back.dtype(), DType::F32);
  const float* p = back.data<float>();
  EXPECT_EQ(p[0], 1.0f);
  EXPECT_EQ(p[2], 65504.0f);
  EXPECT_TRUE(std::isinf(p[3]) && p[3] > 0);
  EXPECT_TRUE(std::isinf(p[4]) && p[4] < 0);
  EXPECT_EQ(p[5], std::ldexp(1.0f, -24));  // subnormal survives
  EXPECT_EQ(p[6], std::ldexp(2.0f, -24));
  EXPECT_EQ(std::bit_cast<uint32_t>(p[10]), 0x80000000u);
  EXPECT_EQ(p[11], 0.0999755859375f);
}

TEST(TensorTo, F32ToBF16KnownPatterns) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor src = f32_tensor({1.0f, 3.140625f, 1.0f + std::ldexp(1.0f, -8),
                           1.0f + 3 * std::ldexp(1.0f, -8), std::numeric_limits<float>::max(),
                           std::bit_cast<float>(0x00010000u), nan, -0.0f});
  Tensor b = src.to(DType::BF16);
  const auto v = u16_values(b);
  EXPECT_EQ(v[0], 0x3f80);
  EXPECT_EQ(v[1], 0x4049);
  EXPECT_EQ(v[2], 0x3f80);
  EXPECT_EQ(v[3], 0x3f82);
  EXPECT_EQ(v[4], 0x7f80);
  EXPECT_EQ(v[5], 0x0001);
  EXPECT_TRUE((v[6] & 0x7f80) == 0x7f80 && (v[6] & 0x7f) != 0);
  EXPECT_EQ(v[7], 0x8000);
  Tensor back = b.to(DType::F32);
  EXPECT_EQ(back.data<float>()[1], 3.140625f);
  EXPECT_EQ(std::bit_cast<uint32_t>(back.data<float>()[5]), 0x00010000u);
  EXPECT_TRUE(std::isnan(back.data<float>()[6]));
}

TEST(TensorTo, F16AndBF16ConvertDirectly) {
  // half 1+2^-10 -> bf16 1.0 (7 mantissa bits), 1.5 exact, 2^-24 (half subnormal,
  // normal in bf16), 65504 -> 65536 in bf16, NaN.
  Tensor h = u16_tensor(DType::F16, {0x3c01, 0x3e00, 0x0001, 0x7bff, 0x7e00, 0xfc00});
  const auto b = u16_values(h.to(DType::BF16));
  EXPECT_EQ(b[0], 0x3f80);
  EXPECT_EQ(b[1], 0x3fc0);
  EXPECT_EQ(b[2], 0x3380);
  EXPECT_EQ(b[3], 0x4780);
  EXPECT_TRUE((b[4] & 0x7f80) == 0x7f80 && (b[4] & 0x7f) != 0);
  EXPECT_EQ(b[5], 0xff80);

  // bf16 1+2^-7 exact in half; 65536 overflows; 1e-8 underflows; NaN; 2^-24.
  Tensor bf = u16_tensor(DType::BF16, {0x3f81, 0x4780, 0x322c, 0x7fc0, 0x3380, 0xb380});
  const auto hv = u16_values(bf.to(DType::F16));
  EXPECT_EQ(hv[0], 0x3c08);
  EXPECT_EQ(hv[1], 0x7c00);
  EXPECT_EQ(hv[2], 0x0000);
  EXPECT_TRUE((hv[3] & 0x7c00) == 0x7c00 && (hv[3] & 0x3ff) != 0);
  EXPECT_EQ(hv[4], 0x0001);
  EXPECT_EQ(hv[5], 0x8001);
}

// Every half survives F16 -> F32 -> F16, and every bf16 survives BF16 -> F32
// -> BF16, bit for bit (NaN stays NaN).
TEST(TensorTo, EverySixteenBitPatternRoundTripsThroughF32) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  const Tensor h = u16_tensor(DType::F16, all);
  const auto h_back = u16_values(h.to(DType::F32).to(DType::F16));
  const Tensor b = u16_tensor(DType::BF16, all);
  const auto b_back = u16_values(b.to(DType::F32).to(DType::BF16));
  for (uint32_t i = 0; i < all.size(); ++i) {
    const bool h_nan = (i & 0x7c00u) == 0x7c00u && (i & 0x3ffu) != 0;
    if (h_nan) {
      ASSERT_TRUE((h_back[i] & 0x7c00) == 0x7c00 && (h_back[i] & 0x3ff) != 0) << std::hex << i;
    } else {
      ASSERT_EQ(h_back[i], i) << std::hex << i;
    }
    const bool b_nan = (i & 0x7f80u) == 0x7f80u && (i & 0x7fu) != 0;
    if (b_nan) {
      ASSERT_TRUE((b_back[i] & 0x7f80) == 0x7f80 && (b_back[i] & 0x7f) != 0) << std::hex << i;
    } else {
      ASSERT_EQ(b_back[i], i) << std::hex << i;
    }
  }
}

TEST(TensorTo, F32RoundTripsWhenRepresentable) {
  // Exact in both formats.
  Tensor src = f32_tensor({0.0f, -0.0f, 1.0f, -0.75f, 1024.0f, std::ldexp(1.0f, -14),
                           std::ldexp(5.0f, -24), 65280.0f});
  EXPECT_EQ(f32_bits(src.to(DType::F16).to(DType::F32)), f32_bits(src));
  EXPECT_EQ(f32_bits(src.to(DType::BF16).to(DType::F32)), f32_bits(src));
  Tensor half_exact = f32_tensor({65504.0f, 1.0f + std::ldexp(1.0f, -10), std::ldexp(1023.0f, -24)});
  EXPECT_EQ(f32_bits(half_exact.to(DType::F16).to(DType::F32)), f32_bits(half_exact));
  Tensor bf_exact = f32_tensor({std::bit_cast<float>(0x7f7f0000u), std::bit_cast<float>(0x00010000u),
                                std::bit_cast<float>(0xc2f70000u)});
  EXPECT_EQ(f32_bits(bf_exact.to(DType::BF16).to(DType::F32)), f32_bits(bf_exact));
}

TEST(TensorTo, NonFloatConversionsThrowUnsupported) {
  Tensor i32 = Tensor::zeros(DType::I32, {2});
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)i32.to(DType::F32); }, {"I32", "F32"}));
  Tensor f32 = Tensor::zeros(DType::F32, {2});
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)f32.to(DType::I8); }, {"F32", "I8"}));
  Tensor f16 = Tensor::zeros(DType::F16, {2});
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)f16.to(DType::I64); }, {"F16", "I64"}));
  EXPECT_EQ(i32.to(DType::I32).raw(), i32.raw());
}

}  // namespace
}  // namespace optimum
