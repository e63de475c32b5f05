#include "models/bpe.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "json_fields.h"

namespace optimum::tokenizers::models {
namespace {

constexpr uint32_t kMaxCachedWordBytes = 256;  // tokenizers' cache MAX_LENGTH
constexpr size_t kCacheProbes = 16;

uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ull;
  k ^= k >> 33;
  return k;
}

// Byte length of the UTF-8 character starting with `lead` (1 for invalid bytes).
size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// A symbol of a word being merged (word.rs Symbol).
struct Symbol {
  uint32_t c;
  int32_t prev;
  int32_t next;
  uint32_t len;
};

// A queued merge (word.rs Merge): popped by lowest rank, then lowest position.
struct QueuedMerge {
  uint32_t pos;
  uint32_t rank;
  uint32_t new_id;
};

bool later(const QueuedMerge& a, const QueuedMerge& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

// One allocation: the header, the symbols, then the word's bytes.
struct BpeWordCache::Entry {
  uint32_t word_len;
  uint32_t n_symbols;
  const std::pair<uint32_t, uint32_t>* symbols() const {
    return reinterpret_cast<const std::pair<uint32_t, uint32_t>*>(this + 1);
  }
  std::string_view word() const {
    return {reinterpret_cast<const char*>(symbols() + n_symbols), word_len};
  }
};

namespace {
constexpr uint64_t kPointerMask = (uint64_t{1} << 48) - 1;
uint64_t hash_tag(uint64_t hash) { return hash & ~kPointerMask; }
}  // namespace

BpeWordCache::BpeWordCache(size_t capacity) : capacity_(capacity) {
  size_t slots = 64;
  while (slots < capacity * 2) slots *= 2;
  slots_ = std::make_unique<std::atomic<uint64_t>[]>(slots);
  for (size_t i = 0; i < slots; ++i) slots_[i].store(0, std::memory_order_relaxed);
  mask_ = slots - 1;
}

BpeWordCache::~BpeWordCache() {
  for (size_t i = 0; i <= mask_; ++i) {
    const uint64_t slot = slots_[i].load(std::memory_order_relaxed);
    if (slot != 0) ::operator delete(reinterpret_cast<Entry*>(slot & kPointerMask));
  }
}

std::optional<std::span<const std::pair<uint32_t, uint32_t>>> BpeWordCache::find(std::string_view word,
                                                                                 uint64_t hash) const {
  const uint64_t tag = hash_tag(hash);
  size_t i = hash & mask_;
  for (size_t probe = 0; probe < kCacheProbes; ++probe, i = (i + 1) & mask_) {
    const uint64_t slot = slots_[i].load(std::memory_order_acquire);
    if (slot == 0) return std::nullopt;
    if ((slot & ~kPointerMask) != tag) continue;
    const auto* e = reinterpret_cast<const Entry*>(slot & kPointerMask);
    if (e->word() == word) return std::span(e->symbols(), e->n_symbols);
  }
  return std::nullopt;
}

void BpeWordCache::insert(std::string_view word, uint64_t hash, const BpeSymbols& symbols) {
  if (size_.load(std::memory_order_relaxed) >= capacity_) return;
  const size_t bytes = sizeof(Entry) + symbols.size() * sizeof(symbols[0]) + word.size();
  auto* e = static_cast<Entry*>(::operator new(bytes));
  e->word_len = static_cast<uint32_t>(word.size());
  e->n_symbols = static_cast<uint32_t>(symbols.size());
  auto* dst = const_cast<std::pair<uint32_t, uint32_t>*>(e->symbols());
  std::uninitialized_copy(symbols.begin(), symbols.end(), dst);
  std::memcpy(const_cast<char*>(e->word().data()), word.data(), word.size());
  const auto address = reinterpret_cast<uint64_t>(e);
  if ((address & ~kPointerMask) != 0) {  // no room for the tag: do not cache
    ::operator delete(e);
    return;
  }
  const uint64_t tag = hash_tag(hash);
  const uint64_t packed = address | tag;
  size_t i = hash & mask_;
  for (size_t probe = 0; probe < kCacheProbes; ++probe, i = (i + 1) & mask_) {
    uint64_t current = slots_[i].load(std::memory_order_acquire);
    if (current == 0) {
      if (slots_[i].compare_exchange_strong(current, packed, std::memory_order_acq_rel)) {
        size_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      // Another thread filled the slot: `current` now holds its value.
    }
    if ((current & ~kPointerMask) == tag &&
        reinterpret_cast<const Entry*>(current & kPointerMask)->word() == word) {
      break;
    }
  }
  ::operator delete(e);
}

BPE::BPE(StringIdMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : vocab_(std::move(vocab)), vocab_r_(vocab_), options_(std::move(options)) {
  const size_t prefix_len = options_.continuing_subword_prefix ? options_.continuing_subword_prefix->size() : 0;
  size_t capacity = 16;
  while (capacity < merges.size() * 2 + 2) capacity *= 2;
  merges_.assign(capacity, MergeSlot{~0ull, Merge{0, 0}});
  merge_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto a_id = vocab_.find(a);
    if (!a_id) throw FormatError("tokenizer.json: model 'BPE': merge token '" + a + "' is not in the vocab");
    auto b_id = vocab_.find(b);
    if (!b_id) throw FormatError("tokenizer.json: model 'BPE': merge token '" + b + "' is not in the vocab");
    if (b.size() < prefix_len) {
      throw FormatError("tokenizer.json: model 'BPE': merge token '" + b + "' is shorter than continuing_subword_prefix");
    }
    const std::string merged = a + b.substr(prefix_len);
    auto new_id = vocab_.find(merged);
    if (!new_id) throw FormatError("tokenizer.json: model 'BPE': merge result '" + merged + "' is not in the vocab");
    const uint64_t key = pair_key(*a_id, *b_id);
    size_t i = mix64(key) & merge_mask_;
    while (merges_[i].key != ~0ull && merges_[i].key != key) i = (i + 1) & merge_mask_;
    // A repeated pair keeps its last rank, as a HashMap collect does.
    merges_[i] = MergeSlot{key, Merge{static_cast<uint32_t>(rank), *new_id}};
  }

  // Character ids for the four positions: bit 0 = not first (prefix), bit 1 = last (suffix).
  char_ids_.assign(4 * kCharTable, kNoId);
  std::string s;
  for (uint32_t cp = 0; cp < kCharTable; ++cp) {
    std::string ch;
    if (cp < 0x80) {
      ch.push_back(static_cast<char>(cp));
    } else {
      ch.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      ch.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    for (int variant = 0; variant < 4; ++variant) {
      s.clear();
      if ((variant & 1) && options_.continuing_subword_prefix) s += *options_.continuing_subword_prefix;
      s += ch;
      if ((variant & 2) && options_.end_of_word_suffix) s += *options_.end_of_word_suffix;
      if (auto id = vocab_.find(s)) char_ids_[variant * kCharTable + cp] = *id;
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto id = vocab_.find(name);
    byte_ids_[b] = id ? *id : kNoId;
  }

  if (options_.cache_capacity > 0) cache_ = std::make_unique<BpeWordCache>(options_.cache_capacity);
}

std::unique_ptr<BPE> BPE::from_json(const Json& json) {
  Fields f(json, "model");
  StringIdMap vocab;
  read_vocab_object(f.object("vocab"), vocab, f.where());

  // merges: ["a b", ...] (legacy) or [["a", "b"], ...].
  const Json& merges_json = f.array("merges");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(merges_json.size());
  const bool tuples = std::all_of(merges_json.begin(), merges_json.end(), [](const Json& m) {
    return m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string();
  });
  if (tuples) {
    for (const Json& m : merges_json) merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
  } else {
    for (const Json& m : merges_json) {
      if (!m.is_string()) f.fail("field 'merges' must hold \"a b\" strings or [\"a\", \"b\"] pairs, got " + m.dump());
      const std::string& line = m.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        f.fail("field 'merges': entry " + std::to_string(merges.size() + 1) + " '" + line + "' is not two tokens separated by one space");
      }
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
  }

  if (f.has("dropout")) {
    const double dropout = f.number("dropout");
    if (dropout != 0.0) {
      throw Unsupported(f.where() + ": field 'dropout' = " + f.get("dropout").dump() +
                        ": BPE dropout is random at encode time; only null or 0 is supported");
    }
  }
  BpeOptions options;
  options.unk_token = f.opt_str("unk_token");
  options.continuing_subword_prefix = f.opt_str("continuing_subword_prefix");
  options.end_of_word_suffix = f.opt_str("end_of_word_suffix");
  options.fuse_unk = f.boolean("fuse_unk", false);
  options.byte_fallback = f.boolean("byte_fallback", false);
  options.ignore_merges = f.boolean("ignore_merges", false);
  return std::make_unique<BPE>(std::move(vocab), merges, std::move(options));
}

const BPE::Merge* BPE::find_merge(uint32_t a, uint32_t b) const {
  const uint64_t key = pair_key(a, b);
  for (size_t i = mix64(key) & merge_mask_;; i = (i + 1) & merge_mask_) {
    const MergeSlot& slot = merges_[i];
    if (slot.key == key) return &slot.merge;
    if (slot.key == ~0ull) return nullptr;
  }
}

std::optional<uint32_t> BPE::char_id(std::string_view ch, bool first, bool last) const {
  const int variant = (first ? 0 : 1) | (last ? 2 : 0);
  const auto b0 = static_cast<unsigned char>(ch[0]);
  uint32_t cp = kCharTable;
  if (ch.size() == 1 && b0 < 0x80) {
    cp = b0;
  } else if (ch.size() == 2 && (b0 & 0xE0) == 0xC0) {
    cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(ch[1]) & 0x3Fu);
  }
  if (cp < kCharTable) {
    const uint32_t id = char_ids_[variant * kCharTable + cp];
    return id == kNoId ? std::nullopt : std::optional<uint32_t>(id);
  }
  thread_local std::string s;
  s.clear();
  if (!first && options_.continuing_subword_prefix) s += *options_.continuing_subword_prefix;
  s += ch;
  if (last && options_.end_of_word_suffix) s += *options_.end_of_word_suffix;
  return vocab_.find(s);
}

uint32_t BPE::unk_id() const {
  auto id = vocab_.find(*options_.unk_token);
  if (!id) throw InvalidArgument("BPE: unk token '" + *options_.unk_token + "' is not in the vocabulary");
  return *id;
}

// The initial symbols of a word (model.rs merge_word), then merge_all.
void BPE::merge_word(std::string_view word, Symbols& out) const {
  out.clear();
  std::optional<std::pair<uint32_t, uint32_t>> unk;
  size_t i = 0;
  while (i < word.size()) {
    const size_t len = std::min(utf8_len(static_cast<unsigned char>(word[i])), word.size() - i);
    const std::string_view ch = word.substr(i, len);
    const bool first = i == 0;
    const bool last = i + len == word.size();
    i += len;
    if (auto id = char_id(ch, first, last)) {
      if (unk) {
        out.push_back(*unk);
        unk.reset();
      }
      out.emplace_back(*id, static_cast<uint32_t>(len));
      continue;
    }
    if (options_.byte_fallback) {
      // The bytes of the looked-up string, prefix and suffix included.
      std::string s;
      if (!first && options_.continuing_subword_prefix) s += *options_.continuing_subword_prefix;
      s += ch;
      if (last && options_.end_of_word_suffix) s += *options_.end_of_word_suffix;
      const bool all_known = std::all_of(s.begin(), s.end(), [&](char c) {
        return byte_ids_[static_cast<unsigned char>(c)] != kNoId;
      });
      if (all_known) {
        for (char c : s) out.emplace_back(byte_ids_[static_cast<unsigned char>(c)], 1u);
        continue;
      }
    }
    if (options_.unk_token) {
      if (unk && options_.fuse_unk) {
        unk->second += static_cast<uint32_t>(len);
      } else {
        if (unk) out.push_back(*unk);
        unk = std::make_pair(unk_id(), static_cast<uint32_t>(len));
      }
    }
  }
  if (unk) out.push_back(*unk);
  merge_all(out);
}

// word.rs merge_all without dropout.
void BPE::merge_all(Symbols& word) const {
  const size_t n = word.size();
  if (n < 2) return;
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<QueuedMerge> queue;
  symbols.resize(n);
  for (size_t i = 0; i < n; ++i) {
    symbols[i] = Symbol{word[i].first, static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1,
                        word[i].second};
  }
  queue.clear();
  for (size_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = find_merge(symbols[i].c, symbols[i + 1].c)) {
      queue.push_back(QueuedMerge{static_cast<uint32_t>(i), m->rank, m->new_id});
    }
  }
  std::make_heap(queue.begin(), queue.end(), later);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const QueuedMerge top = queue.back();
    queue.pop_back();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const auto next_pos = static_cast<size_t>(cur.next);
    const Symbol right = symbols[next_pos];
    const Merge* target = find_merge(cur.c, right.c);
    if (target == nullptr || target->new_id != top.new_id) continue;  // stale entry
    cur.c = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next > -1 && static_cast<size_t>(right.next) < n) symbols[right.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0) {
      if (const Merge* m = find_merge(symbols[cur.prev].c, cur.c)) {
        queue.push_back(QueuedMerge{static_cast<uint32_t>(cur.prev), m->rank, m->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
    if (cur.next >= 0 && static_cast<size_t>(cur.next) < n) {
      if (const Merge* m = find_merge(cur.c, symbols[cur.next].c)) {
        queue.push_back(QueuedMerge{top.pos, m->rank, m->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
  }
  word.clear();
  for (size_t i = 0; i < n; ++i) {
    if (symbols[i].len != 0) word.emplace_back(symbols[i].c, symbols[i].len);
  }
}

void BPE::append_tokens(std::span<const std::pair<uint32_t, uint32_t>> symbols, std::vector<Token>& out) const {
  out.reserve(out.size() + symbols.size());
  size_t pos = 0;
  for (const auto& [id, len] : symbols) {
    const std::string* value = vocab_r_.find(id);
    out.push_back(Token{id, value ? *value : std::string(), {pos, pos + len}});
    pos += len;
  }
}

std::vector<Token> BPE::tokenize(std::string_view sequence) const {
  std::vector<Token> out;
  if (sequence.empty()) return out;
  if (options_.ignore_merges) {
    if (auto id = vocab_.find(sequence)) {
      out.push_back(Token{*id, std::string(sequence), {0, sequence.size()}});
      return out;
    }
  }
  const bool cacheable = cache_ && sequence.size() < kMaxCachedWordBytes;
  uint64_t hash = 0;
  if (cacheable) {
    hash = hash_bytes(sequence);
    if (auto hit = cache_->find(sequence, hash)) {
      append_tokens(*hit, out);
      return out;
    }
  }
  thread_local Symbols symbols;
  merge_word(sequence, symbols);
  append_tokens(symbols, out);
  if (cacheable) cache_->insert(sequence, hash, symbols);
  return out;
}

std::optional<std::string> BPE::id_to_token(uint32_t id) const {
  const std::string* s = vocab_r_.find(id);
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

}  // namespace optimum::tokenizers::models
