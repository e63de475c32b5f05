// Tensor: a dtype, a shape and a view into shared storage. Storage is either
// owned (64-byte aligned heap memory) or borrowed from an owner such as a
// memory-mapped safetensors file, which it keeps alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "optimum/core/dtype.h"
#include "optimum/core/errors.h"

namespace optimum {

using Shape = std::vector<int64_t>;

// Number of elements of a shape; throws InvalidArgument on a negative dim or overflow.
int64_t shape_numel(const Shape& shape);

// "[2, 3, 4]".
std::string shape_str(const Shape& shape);

// Byte alignment of every owned buffer.
inline constexpr size_t kAlignment = 64;

// Memory behind a tensor. Owned buffers free themselves; borrowed ones hold
// a reference to whatever owns the bytes (e.g. a mapped file).
class Storage {
 public:
  // Allocates `nbytes` of 64-byte aligned memory, zero-filled.
  static std::shared_ptr<Storage> allocate(size_t nbytes);
  // Wraps memory owned by `owner`; `data` must stay valid while owner lives.
  static std::shared_ptr<Storage> borrow(std::shared_ptr<const void> owner, const void* data,
                                         size_t nbytes);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool owned() const { return owner_ == nullptr; }

 private:
  Storage(void* data, size_t nbytes, std::shared_ptr<const void> owner)
      : data_(data), nbytes_(nbytes), owner_(std::move(owner)) {}
  void* data_;
  size_t nbytes_;
  std::shared_ptr<const void> owner_;  // null when this storage owns data_
};

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled tensor in owned aligned storage.
  static Tensor zeros(DType dtype, Shape shape);
  // A view of `data` (kept alive by `owner`); no copy. Borrowed memory is
  // treated as read-only by the engine.
  static Tensor borrow(DType dtype, Shape shape, std::shared_ptr<const void> owner,
                       const void* data);
  // A new owned tensor holding a copy of `data`.
  static Tensor from_data(DType dtype, Shape shape, const void* data);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Size of dimension i; negative i counts from the end.
  int64_t size(int64_t i) const;
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool is_owned() const { return storage_ && storage_->owned(); }

  const void* raw() const;
  void* raw_mutable();

  // Typed pointer; throws InvalidArgument if T does not match the dtype.
  template <typename T>
  const T* data() const {
    check_type(DTypeOf<T>::value);
    return static_cast<const T*>(raw());
  }
  template <typename T>
  T* mutable_data() {
    check_type(DTypeOf<T>::value);
    return static_cast<T*>(raw_mutable());
  }

  // Same storage, new shape with the same number of elements.
  Tensor reshape(Shape shape) const;
  // Converts to another floating dtype (F32/F16/BF16) into new owned storage;
  // returns *this when the dtype already matches.
  Tensor to(DType dtype) const;
  // A deep copy in owned storage.
  Tensor clone() const;

 private:
  void check_type(DType expected) const;

  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Storage> storage_;
};

}  // namespace optimum
