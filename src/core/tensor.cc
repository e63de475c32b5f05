#include "optimum/core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace optimum {

int64_t shape_numel(const Shape& shape) {
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument("negative dimension in shape " + shape_str(shape));
  }
  // A zero dim empties the shape whatever the others are (checked first so
  // the result does not depend on the order of the dims).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (n > std::numeric_limits<int64_t>::max() / d) {
      throw InvalidArgument("shape " + shape_str(shape) + " has too many elements");
    }
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  if (nbytes > std::numeric_limits<size_t>::max() - kAlignment) throw std::bad_alloc();
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded == 0 ? kAlignment : rounded);
  return std::shared_ptr<Storage>(new Storage(p, nbytes, nullptr));
}

std::shared_ptr<Storage> Storage::borrow(std::shared_ptr<const void> owner, const void* data,
                                         size_t nbytes) {
  if (!owner) throw InvalidArgument("Storage::borrow needs an owner");
  return std::shared_ptr<Storage>(new Storage(const_cast<void*>(data), nbytes, std::move(owner)));
}

Storage::~Storage() {
  if (owner_ == nullptr) std::free(data_);
}

namespace {
// shape_numel, also refusing shapes whose byte size overflows (nbytes() would wrap).
int64_t checked_numel(DType dtype, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  if (n > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dtype_size(dtype))) {
    throw InvalidArgument("shape " + shape_str(shape) + " of " + std::string(dtype_name(dtype)) +
                          " is too large");
  }
  return n;
}
}  // namespace

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = checked_numel(dtype, shape);
  t.shape_ = std::move(shape);
  t.storage_ = Storage::allocate(t.nbytes());
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, std::shared_ptr<const void> owner,
                      const void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = checked_numel(dtype, shape);
  t.shape_ = std::move(shape);
  t.storage_ = Storage::borrow(std::move(owner), data, t.nbytes());
  return t;
}

Tensor Tensor::from_data(DType dtype, Shape shape, const void* data) {
  Tensor t = zeros(dtype, std::move(shape));
  if (t.nbytes()) std::memcpy(t.raw_mutable(), data, t.nbytes());
  return t;
}

int64_t Tensor::size(int64_t i) const {
  const int64_t n = dim();
  if (i < 0) i += n;
  if (i < 0 || i >= n) {
    throw InvalidArgument("dimension " + std::to_string(i) + " out of range for shape " +
                          shape_str(shape_));
  }
  return shape_[static_cast<size_t>(i)];
}

const void* Tensor::raw() const {
  if (!storage_) throw InvalidArgument("access to an undefined tensor");
  return storage_->data();
}

void* Tensor::raw_mutable() {
  if (!storage_) throw InvalidArgument("access to an undefined tensor");
  return storage_->data();
}

void Tensor::check_type(DType expected) const {
  if (dtype_ != expected) {
    throw InvalidArgument("tensor has dtype " + std::string(dtype_name(dtype_)) + ", accessed as " +
                          std::string(dtype_name(expected)));
  }
}

Tensor Tensor::reshape(Shape shape) const {
  if (shape_numel(shape) != numel_) {
    throw InvalidArgument("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const { return from_data(dtype_, shape_, raw()); }

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  auto is_float = [](DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; };
  if (!is_float(dtype) || !is_float(dtype_)) {
    throw Unsupported("conversion from " + std::string(dtype_name(dtype_)) + " to " +
                      std::string(dtype_name(dtype)) + " is not supported");
  }
  Tensor out = zeros(dtype, shape_);
  const int64_t n = numel_;
  // Go through f32 for the cross conversions.
  std::vector<float> tmp;
  const float* src32 = nullptr;
  if (dtype_ == DType::F32) {
    src32 = static_cast<const float*>(raw());
  } else {
    tmp.resize(static_cast<size_t>(n));
    const auto* src = static_cast<const uint16_t*>(raw());
    for (int64_t i = 0; i < n; ++i) {
      tmp[i] = dtype_ == DType::F16 ? half_to_float(src[i]) : bf16_to_float(src[i]);
    }
    src32 = tmp.data();
  }
  if (dtype == DType::F32) {
    // memcpy's pointers must not be null even for 0 bytes (an empty tensor's are).
    if (n > 0) std::memcpy(out.raw_mutable(), src32, static_cast<size_t>(n) * sizeof(float));
  } else {
    auto* dst = static_cast<uint16_t*>(out.raw_mutable());
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = dtype == DType::F16 ? float_to_half(src32[i]) : float_to_bf16(src32[i]);
    }
  }
  return out;
}

}  // namespace optimum
