#include "optimum/generation/table_lm.h"

#include <algorithm>
#include <set>

#include "optimum/core/errors.h"

namespace optimum::generation {

namespace {

// The "cache" of a table model: each slot's tokens.
class TableCache final : public models::KvCache {
 public:
  TableCache(int64_t slots, int64_t capacity) : capacity_(capacity), tokens_(static_cast<size_t>(slots)) {}
  int64_t slots() const override { return static_cast<int64_t>(tokens_.size()); }
  int64_t capacity() const override { return capacity_; }
  int64_t length(int64_t slot) const override { return static_cast<int64_t>(at(slot).size()); }
  void truncate(int64_t slot, int64_t length) override {
    auto& t = at(slot);
    if (length < 0) throw InvalidArgument("KvCache::truncate: negative length " + std::to_string(length));
    if (length < static_cast<int64_t>(t.size())) t.resize(static_cast<size_t>(length));
  }
  void copy_slot(int64_t src, int64_t dst) override {
    if (src != dst) at(dst) = at(src);
  }
  size_t nbytes() const override { return tokens_.size() * static_cast<size_t>(capacity_) * sizeof(int64_t); }
  std::vector<int64_t>& at(int64_t slot) {
    if (slot < 0 || slot >= slots()) throw InvalidArgument("slot " + std::to_string(slot) + " is outside the cache");
    return tokens_[static_cast<size_t>(slot)];
  }
  const std::vector<int64_t>& at(int64_t slot) const { return const_cast<TableCache*>(this)->at(slot); }

 private:
  int64_t capacity_;
  std::vector<std::vector<int64_t>> tokens_;
};

}  // namespace

TableLM::TableLM(Tensor table, float history) : table_(std::move(table)), history_(history) {
  if (table_.dim() != 3 || table_.size(1) != table_.size(2) || table_.dtype() != DType::F32)
    throw InvalidArgument("TableLM: the table must be f32 [positions, vocab, vocab], got " + shape_str(table_.shape()));
  positions_ = table_.size(0);
  vocab_ = table_.size(1);
}

std::unique_ptr<models::KvCache> TableLM::new_cache(int64_t slots, int64_t capacity) const {
  if (slots < 1 || capacity < 1) throw InvalidArgument("TableLM: a cache needs slots >= 1 and capacity >= 1");
  return std::make_unique<TableCache>(slots, capacity);
}

Tensor TableLM::step(models::KvCache& cache_base, const std::vector<models::StepSegment>& segments,
                     const models::StepOptions& options) const {
  auto* cache = dynamic_cast<TableCache*>(&cache_base);
  if (cache == nullptr) throw InvalidArgument("TableLM::step: the cache was not made by this model");
  std::set<int64_t> seen;
  int64_t rows = 0;
  for (const auto& s : segments) {
    if (!seen.insert(s.slot).second) throw InvalidArgument("TableLM::step: slot " + std::to_string(s.slot) + " twice");
    if (s.count < 1) throw InvalidArgument("TableLM::step: a segment needs count >= 1");
    const int64_t len = cache->length(s.slot);
    if (len + s.count > cache->capacity())
      throw InvalidArgument("TableLM::step: slot " + std::to_string(s.slot) + " would pass its capacity " +
                            std::to_string(cache->capacity()));
    if (len + s.count > positions_)
      throw InvalidArgument("TableLM::step: position " + std::to_string(len + s.count - 1) + " is beyond the table's " +
                            std::to_string(positions_));
    for (int64_t i = 0; i < s.count; ++i)
      if (s.tokens[i] < 0 || s.tokens[i] >= vocab_)
        throw InvalidArgument("TableLM::step: token id " + std::to_string(s.tokens[i]) + " is outside the vocabulary");
    rows += options.all_logits ? s.count : 1;
  }
  Tensor out = Tensor::zeros(DType::F32, {rows, vocab_});
  float* dst = out.mutable_data<float>();
  const float* table = table_.data<float>();
  for (const auto& s : segments) {
    auto& toks = cache->at(s.slot);
    int64_t sum = 0;
    for (const int64_t t : toks) sum += t;
    for (int64_t i = 0; i < s.count; ++i) {
      const auto pos = static_cast<int64_t>(toks.size());
      toks.push_back(s.tokens[i]);
      sum += s.tokens[i];
      if (options.all_logits || i == s.count - 1) {
        const float* a = table + (pos * vocab_ + s.tokens[i]) * vocab_;
        const float* b = table + (pos * vocab_ + sum % vocab_) * vocab_;
        for (int64_t v = 0; v < vocab_; ++v) dst[v] = a[v] + history_ * b[v];
        dst += vocab_;
      }
    }
  }
  return out;
}

}  // namespace optimum::generation
