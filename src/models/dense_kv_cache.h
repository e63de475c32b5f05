// DenseKvCache: the preallocated f32 KV cache of the decoder engines (causal
// decoders and the self-attention of encoder-decoders): per (slot, layer)
// [heads_kv, capacity, head_dim] keys and values and a length per slot.
// Internal to src/models.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/core/tensor.h"
#include "optimum/models/causal_lm.h"

namespace optimum::models {

class DenseKvCache final : public KvCache {
 public:
  // The cache new_cache hands out, after the checks every engine makes: positive
  // sizes, capacity within max_positions (negative: unbounded), and no size whose
  // product overflows or that no machine holds (> 2^40 bytes).
  static std::unique_ptr<DenseKvCache> make(int64_t slots, int64_t capacity, int64_t max_positions,
                                            int64_t bytes_per_position, int64_t layers, int64_t heads_kv,
                                            int64_t head_dim) {
    if (slots <= 0) throw InvalidArgument("new_cache: slots must be positive, got " + std::to_string(slots));
    if (capacity <= 0) {
      throw InvalidArgument("new_cache: capacity must be positive, got " + std::to_string(capacity));
    }
    if (max_positions >= 0 && capacity > max_positions) {
      throw InvalidArgument("new_cache: capacity " + std::to_string(capacity) + " exceeds max_position_embeddings " +
                            std::to_string(max_positions));
    }
    const double bytes =
        static_cast<double>(slots) * static_cast<double>(capacity) * static_cast<double>(bytes_per_position);
    if (bytes > static_cast<double>(int64_t{1} << 40)) {
      throw InvalidArgument("new_cache: " + std::to_string(slots) + " slots x " + std::to_string(capacity) +
                            " positions need " + std::to_string(bytes) + " bytes");
    }
    return std::make_unique<DenseKvCache>(slots, capacity, layers, heads_kv, head_dim);
  }

  DenseKvCache(int64_t slots, int64_t capacity, int64_t layers, int64_t heads_kv, int64_t head_dim)
      : slots_(slots), capacity_(capacity), layers_(layers), heads_kv_(heads_kv), head_dim_(head_dim),
        lengths_(static_cast<size_t>(slots), 0) {
    const int64_t n = slots * layers * heads_kv * capacity * head_dim;
    k_ = Tensor::zeros(DType::F32, {n});
    v_ = Tensor::zeros(DType::F32, {n});
  }
  int64_t slots() const override { return slots_; }
  int64_t capacity() const override { return capacity_; }
  int64_t length(int64_t slot) const override { return lengths_.at(check_slot(slot, "length")); }
  void truncate(int64_t slot, int64_t length) override {
    const size_t s = check_slot(slot, "truncate");
    if (length < 0 || length > lengths_[s]) {
      throw InvalidArgument("KvCache::truncate: length " + std::to_string(length) + " outside [0, " +
                            std::to_string(lengths_[s]) + "] of slot " + std::to_string(slot));
    }
    lengths_[s] = length;
  }
  void copy_slot(int64_t src, int64_t dst) override {
    const size_t s = check_slot(src, "copy_slot");
    const size_t d = check_slot(dst, "copy_slot");
    if (s == d) return;
    const int64_t n = lengths_[s] * head_dim_;
    for (int64_t l = 0; l < layers_; ++l) {
      for (int64_t h = 0; h < heads_kv_; ++h) {
        std::memcpy(k(dst, l) + h * capacity_ * head_dim_, k(src, l) + h * capacity_ * head_dim_, n * sizeof(float));
        std::memcpy(v(dst, l) + h * capacity_ * head_dim_, v(src, l) + h * capacity_ * head_dim_, n * sizeof(float));
      }
    }
    lengths_[d] = lengths_[s];
  }
  size_t nbytes() const override { return k_.nbytes() + v_.nbytes(); }

  // [heads_kv, capacity, head_dim] of (slot, layer).
  float* k(int64_t slot, int64_t layer) { return k_.mutable_data<float>() + offset(slot, layer); }
  float* v(int64_t slot, int64_t layer) { return v_.mutable_data<float>() + offset(slot, layer); }
  void set_length(int64_t slot, int64_t length) { lengths_[static_cast<size_t>(slot)] = length; }
  bool fits(int64_t layers, int64_t heads_kv, int64_t head_dim) const {
    return layers == layers_ && heads_kv == heads_kv_ && head_dim == head_dim_;
  }

 private:
  size_t check_slot(int64_t slot, const char* what) const {
    if (slot < 0 || slot >= slots_) {
      throw InvalidArgument(std::string("KvCache::") + what + ": slot " + std::to_string(slot) + " outside [0, " +
                            std::to_string(slots_) + ")");
    }
    return static_cast<size_t>(slot);
  }
  int64_t offset(int64_t slot, int64_t layer) const {
    return ((slot * layers_ + layer) * heads_kv_) * capacity_ * head_dim_;
  }

  int64_t slots_, capacity_, layers_, heads_kv_, head_dim_;
  std::vector<int64_t> lengths_;
  Tensor k_, v_;
};

}  // namespace optimum::models
