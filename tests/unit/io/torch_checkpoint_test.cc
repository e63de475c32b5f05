// PyTorch checkpoints without torch: the zip reader (stored entries, zip64,
// damaged directories), the restricted unpickler (the opcodes torch.save
// emits, foreign globals refused by name, unknown opcodes) and the tensor
// views (dtypes, strides, shared storages, out-of-range offsets). Every file
// is built here byte by byte, so each malformation is exactly the one tested;
// tests/python/test_torch_bin.py covers files written by torch itself.
#include "optimum/io/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/safetensors.h"
#include "optimum/io/zip_reader.h"
#include "test_util.h"

namespace optimum::io {
namespace {

namespace fs = std::filesystem;
using test_util::in_quotes;
using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

// ---------------------------------------------------------------- zip bytes

std::string le(uint64_t v, int n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

struct Member {
  std::string name{};
  std::string data{};
  uint16_t method = 0;  // 8 marks it deflated (the data are not really compressed)
  uint16_t flags = 0;
  size_t shift = 0;  // bytes of padding added after the 64-byte alignment
};

// Where build_zip put things, for tests that damage them.
struct Layout {
  std::vector<size_t> local;  // local header offsets
  size_t directory = 0;       // central directory offset
  size_t end = 0;             // end-of-central-directory record offset
};

// A zip archive as torch writes it: stored members, data padded to 64 bytes
// through the local extra field. With zip64 the directory stores every size
// and offset in zip64 extra fields and the archive ends in zip64 records.
std::string build_zip(const std::vector<Member>& members, bool zip64 = false, Layout* layout = nullptr) {
  std::string out;
  std::string dir;
  Layout lay;
  for (const Member& m : members) {
    const size_t local = out.size();
    lay.local.push_back(local);
    size_t pad = (64 - (local + 30 + m.name.size()) % 64) % 64 + m.shift;
    if (pad > 0 && pad < 4) pad += 64;
    std::string extra;
    if (pad) extra = le(0x4246, 2) + le(pad - 4, 2) + std::string(pad - 4, 'Z');
    const uint32_t crc = crc32(m.data);
    out += le(0x04034b50, 4) + le(zip64 ? 45 : 20, 2) + le(m.flags, 2) + le(m.method, 2) + le(0, 4) +
           le(crc, 4) + le(m.data.size(), 4) + le(m.data.size(), 4) + le(m.name.size(), 2) +
           le(extra.size(), 2) + m.name + extra + m.data;
    const std::string z64 =
        zip64 ? le(1, 2) + le(24, 2) + le(m.data.size(), 8) + le(m.data.size(), 8) + le(local, 8) : "";
    const uint64_t size32 = zip64 ? 0xffffffffu : m.data.size();
    dir += le(0x02014b50, 4) + le(45, 2) + le(zip64 ? 45 : 20, 2) + le(m.flags, 2) + le(m.method, 2) +
           le(0, 4) + le(crc, 4) + le(size32, 4) + le(size32, 4) + le(m.name.size(), 2) + le(z64.size(), 2) +
           le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(zip64 ? 0xffffffffu : local, 4) + m.name + z64;
  }
  lay.directory = out.size();
  out += dir;
  const size_t n = members.size();
  if (zip64) {
    const size_t record = out.size();
    out += le(0x06064b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) + le(n, 8) + le(n, 8) +
           le(dir.size(), 8) + le(lay.directory, 8);
    out += le(0x07064b50, 4) + le(0, 4) + le(record, 8) + le(1, 4);
    lay.end = out.size();
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(0xffff, 2) + le(0xffff, 2) + le(0xffffffffu, 4) +
           le(0xffffffffu, 4) + le(0, 2);
  } else {
    lay.end = out.size();
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(n, 2) + le(n, 2) + le(dir.size(), 4) +
           le(lay.directory, 4) + le(0, 2);
  }
  if (layout) *layout = lay;
  return out;
}

// ------------------------------------------------------------- pickle bytes

// Emits pickle opcodes, protocol 2 as torch.save writes them.
class Pickle {
 public:
  Pickle& op(char c) { return raw(std::string(1, c)); }
  Pickle& raw(const std::string& bytes) {
    s_ += bytes;
    return *this;
  }
  // (Built by appending: GCC 12 at -O3 gives a false -Wrestrict on "X" + std::string.)
  Pickle& proto(int v = 2) { return op('\x80').op(static_cast<char>(v)); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module).op('\n').raw(name).op('\n');
  }
  Pickle& str(const std::string& v) { return op('X').raw(le(v.size(), 4)).raw(v); }
  Pickle& short_str(const std::string& v) { return op('\x8c').raw(le(v.size(), 1)).raw(v); }
  Pickle& integer(int64_t v) {
    const auto u = static_cast<uint64_t>(v);
    if (v >= 0 && v < 256) return op('K').raw(le(u, 1));
    if (v >= 0 && v < 65536) return op('M').raw(le(u, 2));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').raw(le(u, 4));
    return op('\x8a').op('\x08').raw(le(u, 8));
  }
  Pickle& ints(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) integer(x);
    return op('t');
  }
  Pickle& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  const std::string& bytes() const { return s_; }

 private:
  std::string s_;
};

struct Spec {
  std::string name{};
  std::string storage_type = "FloatStorage";
  std::string key = "0";
  int64_t numel = 0;
  int64_t offset = 0;
  Shape shape{};
  std::vector<int64_t> stride{};  // empty: row-major
};

std::vector<int64_t> row_major(const Shape& shape) {
  std::vector<int64_t> stride(shape.size(), 1);
  for (size_t k = shape.size(); k-- > 1;) stride[k - 1] = stride[k] * shape[k];
  return stride;
}

// A _rebuild_tensor_v2 call for `t`, as torch pickles a tensor.
void tensor_call(Pickle& p, const Spec& t) {
  p.global("torch._utils", "_rebuild_tensor_v2").op('(');
  p.op('(')
      .str("storage")
      .global("torch", t.storage_type)
      .str(t.key)
      .str("cpu")
      .integer(t.numel)
      .op('t')
      .op('Q');
  p.integer(t.offset).ints(t.shape).ints(t.stride.empty() ? row_major(t.shape) : t.stride);
  p.raw("\x89").ordered_dict().op('t').op('R');
}

// data.pkl of an OrderedDict of `tensors`.
std::string state_dict(const std::vector<Spec>& tensors) {
  Pickle p;
  p.proto().ordered_dict().op('(');
  for (const Spec& t : tensors) {
    p.str(t.name);
    tensor_call(p, t);
  }
  return p.op('u').op('.').bytes();
}

// A torch.save archive: data.pkl, byteorder, version and the storage records.
std::string checkpoint(const std::string& pickle, const std::map<std::string, std::string>& storages,
                       bool zip64 = false, const std::string& archive = "archive") {
  std::vector<Member> m = {{archive + "/data.pkl", pickle}, {archive + "/byteorder", "little"}};
  for (const auto& [key, bytes] : storages) m.push_back({archive + "/data/" + key, bytes});
  m.push_back({archive + "/version", "3\n"});
  return build_zip(m, zip64);
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) + 0.5f;
  return v;
}

class TorchCheckpointTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& bytes, const std::string& name = "pytorch_model.bin") {
    const fs::path p = dir_ / name;
    write_bytes(p, bytes);
    return p;
  }
  // A checkpoint of one F32 tensor "w" of shape [2, 3].
  fs::path simple(bool zip64 = false) {
    return write(checkpoint(state_dict({{.name = "w", .numel = 6, .shape = {2, 3}}}),
                            {{"0", bytes_of(iota(6))}}, zip64));
  }
  // Expects opening `bytes` to throw E naming the file and every needle.
  template <typename E>
  ::testing::AssertionResult rejects(const std::string& bytes, std::vector<std::string> needles) {
    const fs::path p = write(bytes);
    needles.push_back(p.string());
    return throws_with<E>([&] { (void)TorchCheckpoint::open(p); }, needles);
  }
  TempDir dir_;
};

// ------------------------------------------------------------------ zip

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xcbf43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("6789", crc32("12345")), 0xcbf43926u);
}

TEST_F(TorchCheckpointTest, ZipReaderListsStoredEntries) {
  for (bool zip64 : {false, true}) {
    const fs::path p =
        write(build_zip({{"a/x", "hello"}, {"a/empty", ""}, {"b", std::string(1000, 'q')}}, zip64));
    const ZipReader zip = ZipReader::open(p);
    ASSERT_EQ(zip.entries().size(), 3u) << zip64;
    EXPECT_EQ(zip.entries()[0].name, "a/x");
    EXPECT_EQ(zip.checked_data(*zip.find("a/x")), "hello");
    EXPECT_EQ(zip.checked_data(*zip.find("a/empty")), "");
    EXPECT_EQ(zip.data(*zip.find("b")), std::string(1000, 'q'));
    EXPECT_EQ(zip.find("a/x")->data_offset % 64, 0u) << "padding kept the data aligned";
    EXPECT_EQ(zip.find("missing"), nullptr);
  }
}

TEST_F(TorchCheckpointTest, ZipReaderSkipsAComment) {
  std::string bytes = build_zip({{"a/x", "hi"}});
  bytes.replace(bytes.size() - 2, 2, le(5, 2));
  bytes += "PK\x05\x06!";  // a comment that looks like the start of an end record
  const ZipReader zip = ZipReader::open(write(bytes));
  EXPECT_EQ(zip.checked_data(*zip.find("a/x")), "hi");
}

TEST_F(TorchCheckpointTest, EveryTruncationIsAFormatError) {
  const std::string good =
      checkpoint(state_dict({{.name = "w", .numel = 6, .shape = {2, 3}}}), {{"0", bytes_of(iota(6))}});
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_TRUE(rejects<FormatError>(good.substr(0, n), {})) << "cut at " << n;
  }
  EXPECT_TRUE(rejects<FormatError>(good.substr(0, good.size() - 1), {"no end-of-central-directory record"}));
}

TEST_F(TorchCheckpointTest, DamagedCentralDirectoryIsAFormatError) {
  Layout lay;
  const std::string good =
      build_zip({{"archive/data.pkl", state_dict({})}, {"archive/version", "3\n"}}, false, &lay);
  auto patched = [&](size_t at, const std::string& bytes) {
    std::string b = good;
    b.replace(at, bytes.size(), bytes);
    return b;
  };
  EXPECT_TRUE(
      rejects<FormatError>(patched(lay.directory, "XXXX"), {"central directory entry 0", "bad signature"}));
  EXPECT_TRUE(
      rejects<FormatError>(patched(lay.end + 16, le(lay.end + 5, 4)), {"central directory", "runs past"}));
  EXPECT_TRUE(
      rejects<FormatError>(patched(lay.end + 8, le(200, 2) + le(200, 2)), {"cannot hold 200 entries"}));
  // The second entry's local header offset points into the first entry's data.
  EXPECT_TRUE(
      rejects<FormatError>(patched(good.find("PK\x01\x02", lay.directory + 4) + 42, le(lay.local[1] + 3, 4)),
                           {"'archive/version'", "no local header"}));
  EXPECT_TRUE(
      rejects<FormatError>(patched(lay.local[1] + 30, "ARCHIVE"), {"named differently in its local header"}));
  EXPECT_TRUE(rejects<Unsupported>(patched(lay.end + 4, le(1, 2)), {"multi-disk"}));
  EXPECT_TRUE(rejects<FormatError>(build_zip({{"a/data.pkl", "x"}, {"a/data.pkl", "y"}}), {"appears twice"}));
  EXPECT_TRUE(rejects<FormatError>(std::string(100, 'j'), {"no end-of-central-directory"}));
}

TEST_F(TorchCheckpointTest, DamagedZip64RecordsAreFormatErrors) {
  const std::string good = build_zip({{"archive/data.pkl", state_dict({})}}, true);
  const size_t locator = good.size() - 22 - 20;
  std::string b = good;
  b.replace(locator + 8, 8, le(good.size(), 8));
  EXPECT_TRUE(rejects<FormatError>(b, {"zip64 end-of-central-directory offset"}));
  b = good;
  b.replace(good.rfind("PK\x06\x06"), 4, "XXXX");
  EXPECT_TRUE(rejects<FormatError>(b, {"no zip64 end-of-central-directory record"}));
  b = good;  // the directory entry's zip64 extra field vanishes
  b.replace(good.find("PK\x01\x02") + 30, 2, le(0, 2));
  EXPECT_TRUE(rejects<FormatError>(b, {"no zip64 extra field"}));
}

TEST_F(TorchCheckpointTest, CompressedOrEncryptedRecordsAreUnsupported) {
  const std::string pkl = state_dict({{.name = "w", .numel = 2, .shape = {2}}});
  const std::string data = bytes_of(iota(2));
  auto zip = [&](uint16_t method, uint16_t flags) {
    return build_zip({{"archive/data.pkl", pkl}, {"archive/data/0", data, method, flags}});
  };
  EXPECT_TRUE(rejects<Unsupported>(zip(8, 0), {"'archive/data/0'", "compressed (deflate)", "only stored"}));
  EXPECT_TRUE(rejects<Unsupported>(zip(14, 0), {"compressed (lzma)"}));
  EXPECT_TRUE(rejects<Unsupported>(zip(0, 1), {"'archive/data/0'", "encrypted"}));
  EXPECT_TRUE(
      rejects<Unsupported>(build_zip({{"archive/data.pkl", pkl, 8}}), {"'archive/data.pkl'", "deflate"}));
}

TEST_F(TorchCheckpointTest, CorruptPickleFailsItsCrc) {
  std::string b = checkpoint(state_dict({}), {});
  b[b.find("collections")] = 'C';
  EXPECT_TRUE(rejects<FormatError>(b, {"'archive/data.pkl'", "CRC-32"}));
}

TEST_F(TorchCheckpointTest, NonTorchFilesAreNamed) {
  EXPECT_TRUE(rejects<FormatError>(build_zip({{"readme.txt", "x"}}), {"no <archive>/data.pkl"}));
  EXPECT_TRUE(rejects<FormatError>(
      build_zip({{"a/data.pkl", state_dict({})}, {"b/data.pkl", state_dict({})}}), {"two pickles"}));
  EXPECT_TRUE(rejects<Unsupported>(Pickle().proto().op('}').op('.').bytes(), {"legacy", "non-zip"}));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)TorchCheckpoint::open(dir_ / "nope.bin"); }, {"nope.bin"}));
}

TEST_F(TorchCheckpointTest, BigEndianFilesAreUnsupported) {
  std::string b = build_zip({{"archive/data.pkl", state_dict({})}, {"archive/byteorder", "big"}});
  EXPECT_TRUE(rejects<Unsupported>(b, {"big-endian"}));
}

// ------------------------------------------------------------ tensors

TEST_F(TorchCheckpointTest, ReadsAContiguousTensorAsAView) {
  for (bool zip64 : {false, true}) {
    const TorchCheckpoint ckpt = TorchCheckpoint::open(simple(zip64));
    EXPECT_EQ(ckpt.names(), std::vector<std::string>{"w"});
    const TorchTensorInfo& info = ckpt.info("w");
    EXPECT_EQ(info.storage_type, "FloatStorage");
    EXPECT_EQ(info.record, "archive/data/0");
    EXPECT_TRUE(info.contiguous);
    const Tensor w = ckpt.get("w");
    EXPECT_EQ(w.dtype(), DType::F32);
    EXPECT_EQ(w.shape(), (Shape{2, 3}));
    EXPECT_FALSE(w.is_owned()) << "aligned contiguous data must be a zero-copy view";
    EXPECT_EQ(std::memcmp(w.raw(), iota(6).data(), 24), 0);
    EXPECT_TRUE(throws_with<NotFound>([&] { (void)ckpt.get("v"); }, {"'v'", "pytorch_model.bin"}));
  }
}

TEST_F(TorchCheckpointTest, ViewsOutliveTheirCheckpoint) {
  Tensor w;
  {
    const TorchCheckpoint ckpt = TorchCheckpoint::open(simple());
    w = ckpt.get("w");
  }
  EXPECT_FALSE(w.is_owned());
  EXPECT_EQ(w.data<float>()[5], iota(6)[5]);
}

TEST_F(TorchCheckpointTest, MapsEveryStorageType) {
  const std::vector<uint16_t> half = {0x3c00, 0xc000, 0x7c00};
  const std::vector<int64_t> longs = {INT64_MIN, -1, INT64_MAX};
  const std::vector<int32_t> ints = {INT32_MIN, 7, INT32_MAX};
  const std::vector<int8_t> chars = {-128, 0, 127};
  const std::vector<double> doubles = {1.5, -2.25, 1e300};
  std::vector<Spec> specs;
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{{"h", "HalfStorage"},
                                                                                   {"b", "BFloat16Storage"},
                                                                                   {"l", "LongStorage"},
                                                                                   {"i", "IntStorage"},
                                                                                   {"c", "CharStorage"},
                                                                                   {"d", "DoubleStorage"},
                                                                                   {"u", "ByteStorage"},
                                                                                   {"z", "BoolStorage"}}) {
    specs.push_back({.name = name, .storage_type = type, .key = name, .numel = 3, .shape = {3}});
  }
  const std::string pkl = state_dict(specs);
  const fs::path p = write(checkpoint(pkl, {{"h", bytes_of(half)},
                                            {"b", bytes_of(half)},
                                            {"l", bytes_of(longs)},
                                            {"i", bytes_of(ints)},
                                            {"c", bytes_of(chars)},
                                            {"d", bytes_of(doubles)},
                                            {"u", "abc"},
                                            {"z", std::string("\1\0\1", 3)}}));
  const TorchCheckpoint ckpt = TorchCheckpoint::open(p);
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"h", "b", "l", "i", "c", "d", "u", "z"}));
  EXPECT_EQ(ckpt.get("h").dtype(), DType::F16);
  EXPECT_EQ(ckpt.get("b").dtype(), DType::BF16);
  EXPECT_EQ(std::memcmp(ckpt.get("b").raw(), half.data(), 6), 0);
  EXPECT_EQ(ckpt.get("l").data<int64_t>()[0], INT64_MIN);
  EXPECT_EQ(ckpt.get("i").data<int32_t>()[2], INT32_MAX);
  EXPECT_EQ(ckpt.get("c").data<int8_t>()[0], -128);
  const Tensor d = ckpt.get("d");  // float64 becomes F32, as load_state_dict would cast it
  EXPECT_EQ(d.dtype(), DType::F32);
  EXPECT_EQ(d.data<float>()[1], -2.25f);
  EXPECT_TRUE(std::isinf(d.data<float>()[2]));
  EXPECT_FALSE(ckpt.info("u").dtype.has_value());
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)ckpt.get("u"); }, {"'u'", "torch.uint8", "ByteStorage"}));
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)ckpt.get("z"); }, {"'z'", "torch.bool"}));
  const TorchCheckpoint strict = TorchCheckpoint::open(p, {.double_to_float = false});
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)strict.get("d"); }, {"'d'", "torch.float64"}));
}

TEST_F(TorchCheckpointTest, CopiesStridedViewsAndSharesStorages) {
  // One storage of 12 floats: "a" is all of it as [3, 4], "t" its transpose,
  // "row" the second row, "col" every fourth element from 1, "s" a scalar.
  const std::string pkl = state_dict({{.name = "a", .numel = 12, .shape = {3, 4}},
                                      {.name = "t", .numel = 12, .shape = {4, 3}, .stride = {1, 4}},
                                      {.name = "row", .numel = 12, .offset = 4, .shape = {4}},
                                      {.name = "col", .numel = 12, .offset = 1, .shape = {3}, .stride = {4}},
                                      {.name = "s", .numel = 12, .offset = 11, .shape = {}},
                                      {.name = "e", .numel = 12, .offset = 12, .shape = {0, 5}}});
  const std::vector<float> v = iota(12);
  const TorchCheckpoint ckpt = TorchCheckpoint::open(write(checkpoint(pkl, {{"0", bytes_of(v)}})));
  const Tensor a = ckpt.get("a");
  const Tensor t = ckpt.get("t");
  EXPECT_FALSE(ckpt.info("t").contiguous);
  EXPECT_TRUE(t.is_owned());
  EXPECT_EQ(t.shape(), (Shape{4, 3}));
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(t.data<float>()[i * 3 + j], v[static_cast<size_t>(j * 4 + i)]);
  }
  const Tensor row = ckpt.get("row");
  EXPECT_FALSE(row.is_owned());
  EXPECT_EQ(row.data<float>(), a.data<float>() + 4) << "views of one storage share its bytes";
  const Tensor col = ckpt.get("col");
  EXPECT_EQ(std::vector<float>(col.data<float>(), col.data<float>() + 3),
            (std::vector<float>{v[1], v[5], v[9]}));
  EXPECT_EQ(ckpt.get("s").dim(), 0);
  EXPECT_EQ(ckpt.get("s").data<float>()[0], v[11]);
  EXPECT_EQ(ckpt.get("e").numel(), 0);
}

TEST_F(TorchCheckpointTest, UnalignedDataIsCopied) {
  const std::string pkl = state_dict({{.name = "w", .storage_type = "IntStorage", .numel = 2, .shape = {2}}});
  const std::string data = bytes_of(std::vector<int32_t>{5, -6});
  const fs::path p =
      write(build_zip({{"archive/data.pkl", pkl}, {.name = "archive/data/0", .data = data, .shift = 6}}));
  const TorchCheckpoint ckpt = TorchCheckpoint::open(p);
  const Tensor w = ckpt.get("w");
  EXPECT_TRUE(w.is_owned()) << "data 2 bytes past alignment cannot be viewed as int32";
  EXPECT_EQ(w.data<int32_t>()[1], -6);
}

TEST_F(TorchCheckpointTest, ViewsOutsideTheStorageAreFormatErrors) {
  auto bad = [&](const Spec& s, size_t bytes, std::vector<std::string> needles) {
    return rejects<FormatError>(checkpoint(state_dict({s}), {{"0", std::string(bytes, '\0')}}),
                                std::move(needles));
  };
  EXPECT_TRUE(bad({.name = "w", .numel = 6, .offset = 1, .shape = {2, 3}}, 24,
                  {"tensor 'w'", "storage offset 1", "reaches past the 6 elements", "'archive/data/0'"}));
  EXPECT_TRUE(bad({.name = "w", .numel = 6, .offset = 1000000000000, .shape = {1}}, 24, {"reaches past"}));
  EXPECT_TRUE(bad({.name = "w", .numel = 6, .shape = {2, 3}, .stride = {3, 2}}, 24, {"stride [3, 2]"}));
  EXPECT_TRUE(
      bad({.name = "w", .numel = 6, .shape = {2, 3}, .stride = {INT64_MAX / 2, 1}}, 24, {"reaches past"}));
  EXPECT_TRUE(bad({.name = "w", .numel = 6, .shape = {2, 3}}, 23,
                  {"should hold 6 elements of torch.float32", "23 bytes"}));
  EXPECT_TRUE(bad({.name = "w", .numel = INT64_MAX, .shape = {2}}, 24, {"should hold"}));
  EXPECT_TRUE(bad({.name = "w", .numel = 6, .shape = {INT64_MAX, 4}}, 24, {"too large"}));
  EXPECT_TRUE(
      rejects<FormatError>(checkpoint(state_dict({{.name = "w", .key = "7", .numel = 1, .shape = {1}}}), {}),
                           {"tensor 'w'", "'archive/data/7'", "missing"}));
}

// ------------------------------------------------------------- pickle

TEST_F(TorchCheckpointTest, ForeignGlobalsAreRefusedByName) {
  const std::vector<std::pair<std::string, std::string>> foreign = {{"os", "system"},
                                                                    {"builtins", "eval"},
                                                                    {"__builtin__", "getattr"},
                                                                    {"subprocess", "Popen"},
                                                                    {"torch._utils", "_rebuild_tensor_v3"},
                                                                    {"torch", "QInt8Storage"},
                                                                    {"collections", "OrderedDictX"}};
  for (const auto& [module, name] : foreign) {
    // The classic payload: os.system('echo pwned') through REDUCE.
    Pickle p;
    p.proto().global(module, name).str("echo pwned").op('\x85').op('R').op('.');
    EXPECT_TRUE(rejects<Unsupported>(
        checkpoint(p.bytes(), {}), {in_quotes(module + "." + name), "(archive/data.pkl)", "never run code"}));
    // The same through STACK_GLOBAL (protocol 4).
    Pickle q;
    q.proto(4).short_str(module).short_str(name).op('\x93').op('.');
    EXPECT_TRUE(rejects<Unsupported>(checkpoint(q.bytes(), {}), {in_quotes(module + "." + name)}));
  }
  // A name with control bytes is escaped in the message.
  Pickle p;
  p.proto().global("os", "sys\x1btem").op('.');
  EXPECT_TRUE(rejects<Unsupported>(checkpoint(p.bytes(), {}), {"'os.sys\\x1btem'"}));
}

TEST_F(TorchCheckpointTest, OpcodesAreCheckedOneByOne) {
  auto run = [&](const std::string& body) { return checkpoint(Pickle().proto().raw(body).bytes(), {}); };
  EXPECT_TRUE(rejects<FormatError>(run("}\xff."), {"unknown opcode 0xff", "at byte 3"}));
  EXPECT_TRUE(rejects<Unsupported>(run("(ios\nsystem\n."), {"opcode INST", "at byte 3"}));
  EXPECT_TRUE(rejects<Unsupported>(run("I1\n."), {"opcode INT"}));
  EXPECT_TRUE(rejects<Unsupported>(run("\x82\x01."), {"opcode EXT1"}));
  EXPECT_TRUE(
      rejects<Unsupported>(checkpoint(Pickle().proto(6).op('}').op('.').bytes(), {}), {"protocol 6"}));
  EXPECT_TRUE(rejects<FormatError>(run("}"), {"truncated"}));
  EXPECT_TRUE(rejects<FormatError>(run(std::string("X\xff\xff\x00\x00"
                                                   "ab",
                                                   7)),
                                   {"runs past the end"}));
  EXPECT_TRUE(rejects<FormatError>(run("h\x05."), {"memo key 5"}));
  EXPECT_TRUE(rejects<FormatError>(run(std::string("}X\x02\x00\x00\x00\xc3(Ns.", 11)),
                                   {"not valid UTF-8", "at byte 3"}));
  EXPECT_TRUE(rejects<FormatError>(run("}\x8c\x03\xed\xa0\x80Ns."), {"not valid UTF-8"})) << "a surrogate";
  EXPECT_TRUE(rejects<FormatError>(run("0."), {"stack underflow"}));
  EXPECT_TRUE(rejects<FormatError>(run("}(0t."), {"no MARK"})) << "POP on an empty mark pops the mark";
  EXPECT_TRUE(rejects<FormatError>(run("t."), {"no MARK"}));
  EXPECT_TRUE(rejects<FormatError>(run("."), {"STOP with an empty stack"}));
  EXPECT_TRUE(rejects<FormatError>(run("]."), {"holds a list, not a state dict"}));
  EXPECT_TRUE(rejects<FormatError>(run("}K\x01K\x02s."), {"key that is an int"}));
  EXPECT_TRUE(rejects<FormatError>(run("]K\x01K\x02s."), {"SETITEM target is a list"}));
  EXPECT_TRUE(rejects<FormatError>(run("cos\nsystem"), {"no newline"}));
  EXPECT_TRUE(rejects<FormatError>(run("ccollections\nOrderedDict"), {"no newline"}));
  EXPECT_TRUE(rejects<FormatError>(run("ccollections\nOrderedDict\nK\x01\x85R."), {"called with arguments"}));
  EXPECT_TRUE(
      rejects<FormatError>(run("ctorch\nFloatStorage\n)R."), {"'torch.FloatStorage' cannot be called"}));
  EXPECT_TRUE(rejects<FormatError>(run("K\x01)R."), {"REDUCE calls an int"}));
  EXPECT_TRUE(rejects<Unsupported>(run("\x8a\x09"), {"integer of 9 bytes"}));
}

TEST_F(TorchCheckpointTest, BadTensorArgumentsAreFormatErrors) {
  auto with = [&](const std::function<void(Pickle&)>& body) {
    Pickle p;
    p.proto().op('}').str("w");
    body(p);
    return checkpoint(p.op('s').op('.').bytes(), {{"0", std::string(24, '\0')}});
  };
  auto storage = [](Pickle& p) {
    p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(6).op('t').op('Q');
  };
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) {
                                     p.global("torch._utils", "_rebuild_tensor_v2").op('(');
                                     storage(p);
                                     p.integer(0).ints({6}).op('t').op('R');
                                   }),
                                   {"_rebuild_tensor_v2 called with 3 arguments"}));
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) {
                                     p.global("torch._utils", "_rebuild_tensor").op('(');
                                     storage(p);
                                     p.integer(0).ints({6}).ints({1, 1}).op('t').op('R');
                                   }),
                                   {"differ in length"}));
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) {
                                     p.global("torch._utils", "_rebuild_tensor")
                                         .op('(')
                                         .str("not a storage")
                                         .integer(0)
                                         .ints({6})
                                         .ints({1})
                                         .op('t')
                                         .op('R');
                                   }),
                                   {"storage is a str, expected a storage"}));
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) {
                                     p.global("torch._utils", "_rebuild_tensor").op('(');
                                     storage(p);
                                     p.integer(0).raw("(J\xff\xff\xff\xfft").ints({1}).op('t').op('R');
                                   }),
                                   {"size holds an int, not a non-negative int"}));
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) {
                                     p.op('(')
                                         .str("storage")
                                         .global("collections", "OrderedDict")
                                         .str("0")
                                         .str("cpu")
                                         .integer(6)
                                         .op('t')
                                         .op('Q');
                                   }),
                                   {"'collections.OrderedDict', not a torch storage class"}));
  EXPECT_TRUE(rejects<FormatError>(with([&](Pickle& p) { p.op('(').str("storage").op('t').op('Q'); }),
                                   {"persistent id is a tuple of 1 items"}));
  // A tensor whose metadata sets the neg bit would read wrong values.
  EXPECT_TRUE(rejects<Unsupported>(with([&](Pickle& p) {
                                     p.global("torch._utils", "_rebuild_tensor_v2").op('(');
                                     storage(p);
                                     p.integer(0)
                                         .ints({6})
                                         .ints({1})
                                         .raw("\x89")
                                         .ordered_dict()
                                         .op('}')
                                         .str("neg")
                                         .raw("\x88")
                                         .op('s')
                                         .op('t')
                                         .op('R');
                                   }),
                                   {"metadata 'neg'"}));
}

TEST_F(TorchCheckpointTest, ReadsWhatTorchSaveWrites) {
  // A state_dict with _metadata (BUILD), a Parameter, a subclass wrapper,
  // memo reuse, non-tensor entries, and a repeated key (the last value wins).
  Pickle p;
  p.proto().ordered_dict().op('q').op('\0').op('(');
  p.str("p").global("torch._utils", "_rebuild_parameter");
  tensor_call(p.op('('), {.name = "p", .numel = 6, .shape = {6}});
  p.raw("\x88").ordered_dict().op('t').op('R');
  p.str("sub")
      .global("torch._tensor", "_rebuild_from_type_v2")
      .op('(')
      .global("torch._utils", "_rebuild_tensor_v2");
  p.global("torch._tensor", "Tensor").op('(');
  p.op('(')
      .str("storage")
      .global("torch", "FloatStorage")
      .raw("q\x01")
      .str("0")
      .str("cpu")
      .integer(6)
      .op('t')
      .op('Q');
  p.integer(2).ints({2}).ints({1}).raw("\x89").ordered_dict().op('t').op('}').op('t').op('R');
  p.str("epoch").integer(3).str("note").op('N');
  p.str("q").global("torch._utils", "_rebuild_parameter_with_state").op('(');
  tensor_call(p, {.name = "q", .numel = 6, .offset = 5, .shape = {1}});
  p.raw("\x89").ordered_dict().op('}').op('t').op('R');
  p.str("p");
  tensor_call(p, {.name = "p", .numel = 6, .offset = 3, .shape = {3}});
  p.op('u');
  p.op('}').str("_metadata").ordered_dict().op('s').op('b').op('.');
  const std::vector<float> v = iota(6);
  const TorchCheckpoint ckpt = TorchCheckpoint::open(write(checkpoint(p.bytes(), {{"0", bytes_of(v)}})));
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"p", "sub", "q"}));
  EXPECT_EQ(ckpt.skipped(), (std::vector<std::string>{"epoch", "note"}));
  EXPECT_EQ(ckpt.get("p").shape(), Shape{3});
  EXPECT_EQ(ckpt.get("p").data<float>()[0], v[3]);
  EXPECT_EQ(ckpt.get("sub").data<float>()[1], v[3]);
  EXPECT_EQ(ckpt.get("q").data<float>()[0], v[5]);
}

TEST_F(TorchCheckpointTest, Protocol4OpcodesAndNestingNeedNoRecursion) {
  // FRAME, SHORT_BINUNICODE, MEMOIZE, BINUNICODE8, LONG1, a self-containing
  // list, and a tuple nested 200000 levels deep (skipped: not a tensor).
  Pickle p;
  p.proto(4).op('\x95').raw(le(0, 8)).raw("}\x94");
  p.short_str("deep").op(')').raw(std::string(200000, '\x85')).op('s');
  p.short_str("loop").raw(
      "]\x94h\x01"
      "as");
  p.op('\x8d').raw(le(3, 8)).raw("big").raw(std::string("\x8a\x05\x00\x00\x00\x00\x80s", 8));
  const TorchCheckpoint ckpt = TorchCheckpoint::open(write(checkpoint(p.op('.').bytes(), {})));
  EXPECT_TRUE(ckpt.names().empty());
  EXPECT_EQ(ckpt.skipped(), (std::vector<std::string>{"deep", "loop", "big"}));
}

TEST_F(TorchCheckpointTest, EveryFlippedByteIsHandled) {
  // Corrupting any one byte either still opens (a byte of tensor data, padding)
  // or throws an optimum::Error; never a crash (run under ASan in make asan-test).
  const std::string good =
      checkpoint(state_dict({{.name = "w", .numel = 6, .shape = {2, 3}},
                             {.name = "t", .numel = 6, .shape = {3, 2}, .stride = {1, 3}}}),
                 {{"0", bytes_of(iota(6))}});
  for (size_t i = 0; i < good.size(); ++i) {
    if (good[i] == 'Z') continue;  // alignment padding: nothing reads it
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    const fs::path p = write(b);
    try {
      const TorchCheckpoint ckpt = TorchCheckpoint::open(p);
      for (const std::string& n : ckpt.names()) (void)ckpt.get(n).clone();
    } catch (const Error&) {
    }
  }
}

// --------------------------------------------------------------- folders

TEST_F(TorchCheckpointTest, OpensFoldersAndShardedIndexes) {
  const std::vector<float> v = iota(6);
  write(checkpoint(state_dict({{.name = "a", .numel = 6, .shape = {6}}}), {{"0", bytes_of(v)}}),
        "pytorch_model-00001-of-00002.bin");
  write(checkpoint(
            state_dict({{.name = "b", .numel = 6, .shape = {2, 3}}, {.name = "c", .numel = 6, .shape = {1}}}),
            {{"0", bytes_of(v)}}),
        "pytorch_model-00002-of-00002.bin");
  write(R"({"metadata": {"total_size": 48}, "weight_map": {"a": "pytorch_model-00001-of-00002.bin",
        "b": "pytorch_model-00002-of-00002.bin", "c": "pytorch_model-00002-of-00002.bin"}})",
        "pytorch_model.bin.index.json");
  const TorchWeights tw = TorchWeights::open_dir(dir_.path());
  EXPECT_EQ(tw.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(tw.get("b").shape(), (Shape{2, 3}));
  EXPECT_EQ(tw.get("c").data<float>()[0], v[0]);
  EXPECT_EQ(tw.info("a").record, "archive/data/0");
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)tw.get("d"); }, {"'d'", "pytorch_model.bin.index.json"}));

  // A single pytorch_model.bin wins over the index, like model.safetensors.
  write(checkpoint(state_dict({{.name = "solo", .numel = 6, .shape = {6}}}), {{"0", bytes_of(v)}}));
  EXPECT_EQ(TorchWeights::open_dir(dir_.path()).names(), std::vector<std::string>{"solo"});

  const fs::path idx =
      write(R"({"weight_map": {"x": "pytorch_model-00001-of-00002.bin"}})", "bad.index.json");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { (void)TorchWeights::open(idx); }, {"'x'", "does not contain it"}));
  write(R"({"weight_map": {"a": "../pytorch_model.bin"}})", "bad.index.json");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)TorchWeights::open(idx); }, {"plain file name"}));
  write(R"({"weights": {}})", "bad.index.json");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)TorchWeights::open(idx); }, {"weight_map"}));
  TempDir empty;
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)TorchWeights::open_dir(empty.path()); },
                                    {"pytorch_model.bin", empty.path().string()}));
}

TEST_F(TorchCheckpointTest, WeightStoreFallsBackToTorchCheckpoints) {
  const std::vector<float> v = iota(6);
  TempDir empty;
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)WeightStore::open_dir(empty.path()); },
                                    {empty.path().string(), "model.safetensors", "pytorch_model.bin.index.json"}));

  // Sharded pytorch_model.bin through its index.
  write(checkpoint(state_dict({{.name = "a", .numel = 6, .shape = {6}}}), {{"0", bytes_of(v)}}),
        "pytorch_model-00001-of-00002.bin");
  write(checkpoint(state_dict({{.name = "b", .numel = 6, .shape = {2, 3}}}), {{"0", bytes_of(v)}}),
        "pytorch_model-00002-of-00002.bin");
  write(R"({"weight_map": {"a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}})",
        "pytorch_model.bin.index.json");
  WeightStore ws = WeightStore::open_dir(dir_.path());
  EXPECT_STREQ(ws.format(), "pytorch");
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ws.contains("b"));
  EXPECT_FALSE(ws.contains("c"));
  EXPECT_EQ(ws.get("b").shape(), (Shape{2, 3}));
  EXPECT_EQ(ws.get("b").data<float>()[5], v[5]);
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)ws.get("c"); }, {"'c'", "pytorch_model.bin.index.json"}));

  // A single pytorch_model.bin wins over the index.
  write(checkpoint(state_dict({{.name = "solo", .numel = 6, .shape = {6}}}), {{"0", bytes_of(v)}}));
  EXPECT_EQ(WeightStore::open_dir(dir_.path()).names(), std::vector<std::string>{"solo"});

  // safetensors wins over both.
  save_safetensors(dir_.path() / "model.safetensors", {{"st", Tensor::from_data(DType::F32, {6}, v.data())}});
  ws = WeightStore::open_dir(dir_.path());
  EXPECT_STREQ(ws.format(), "safetensors");
  EXPECT_EQ(ws.names(), std::vector<std::string>{"st"});

  // A foreign global in the pickle is refused by name through the store too.
  TempDir evil;
  Pickle p;
  p.proto().global("posix", "system").str("touch pwned").op('\x85').op('R').op('.');
  write_bytes(evil.path() / "pytorch_model.bin", checkpoint(p.bytes(), {}));
  EXPECT_TRUE(throws_with<Unsupported>([&] { (void)WeightStore::open_dir(evil.path()); },
                                       {"'posix.system'", "pytorch_model.bin"}));
}

}  // namespace
}  // namespace optimum::io
