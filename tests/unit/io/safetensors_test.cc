// safetensors reader and writer: round trips of every dtype, the on-disk
// layout, sharded folders through model.safetensors.index.json, and bad files
// written by hand (8-byte little-endian length + JSON header + data), each of
// which must throw the documented type with a message naming the file and the
// field or tensor at fault.
#include "optimum/io/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "test_util.h"

namespace optimum::io {
namespace {

namespace fs = std::filesystem;
using test_util::read_bytes;
using test_util::TempDir;
using test_util::in_quotes;
using test_util::throws_with;
using test_util::write_bytes;

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

uint64_t read_le64(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return n;
}

// A safetensors file by hand: the header's length, the header, the data.
std::string safetensors_bytes(const std::string& header, const std::string& data = {}) {
  return le64(header.size()) + header + data;
}

// `n` bytes of data, all the same.
std::string filler(size_t n) { return std::string(n, '\x11'); }

template <typename T>
Tensor make(DType dtype, Shape shape, const std::vector<T>& values) {
  return Tensor::from_data(dtype, std::move(shape), values.data());
}

std::string bytes_of(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw()), t.nbytes());
}

// The tensors of the round trip: every dtype, edge values, a scalar, an
// empty tensor and odd byte counts.
std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("f32", make<float>(DType::F32, {2, 3}, {1.5f, -2.0f, 0.0f, 1e30f, -1e-30f, 7}));
  out.emplace_back("f16", make<uint16_t>(DType::F16, {5}, {0x3c00, 0x0001, 0x7c00, 0x7e00, 0x8000}));
  out.emplace_back("bf16", make<uint16_t>(DType::BF16, {3}, {0x3f80, 0x0001, 0xff80}));
  out.emplace_back("i8", make<int8_t>(DType::I8, {3}, {-128, 0, 127}));
  out.emplace_back("i32", make<int32_t>(DType::I32, {2, 2},
                                        {std::numeric_limits<int32_t>::min(), -1, 0,
                                         std::numeric_limits<int32_t>::max()}));
  out.emplace_back("i64", make<int64_t>(DType::I64, {3},
                                        {std::numeric_limits<int64_t>::min(), 42,
                                         std::numeric_limits<int64_t>::max()}));
  out.emplace_back("scalar", make<float>(DType::F32, {}, {3.25f}));
  out.emplace_back("empty", Tensor::zeros(DType::I32, {0, 4}));
  out.emplace_back("odd.i8", make<int8_t>(DType::I8, {1, 5}, {1, 2, 3, 4, 5}));
  out.emplace_back("model.layer.0.weight", make<uint16_t>(DType::F16, {1, 1, 1}, {0x1234}));
  return out;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes `bytes` as `name` in the test folder and returns its path.
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    write_bytes(p, bytes);
    return p;
  }

  // Expects `bytes` to be rejected with FormatError naming the file and the
  // needles, both by SafetensorsFile::open and through a folder.
  ::testing::AssertionResult rejects(const std::string& bytes, std::vector<std::string> needles) {
    const fs::path p = write("model.safetensors", bytes);
    needles.push_back(p.string());
    auto r = throws_with<FormatError>([&] { (void)SafetensorsFile::open(p); }, needles);
    if (!r) return r << " (SafetensorsFile::open)";
    r = throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); }, needles);
    if (!r) return r << " (WeightStore::open_dir)";
    return ::testing::AssertionSuccess();
  }

  // A header with one tensor entry `a` holding `entry`.
  static std::string one(const std::string& entry) { return R"({"a":)" + entry + "}"; }

  TempDir dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDType) {
  const auto tensors = sample_tensors();
  const fs::path p = dir_ / "all.safetensors";
  save_safetensors(p, tensors);

  std::map<std::string, Tensor> loaded;
  {
    const SafetensorsFile f = SafetensorsFile::open(p);
    EXPECT_EQ(f.path(), p);
    EXPECT_EQ(f.names().size(), tensors.size());
    EXPECT_TRUE(f.metadata().empty());
    for (const auto& [name, t] : tensors) {
      ASSERT_TRUE(f.contains(name)) << name;
      const TensorInfo& info = f.info(name);
      EXPECT_EQ(info.dtype, t.dtype()) << name;
      EXPECT_EQ(info.shape, t.shape()) << name;
      EXPECT_EQ(info.end - info.begin, t.nbytes()) << name;
      loaded[name] = f.get(name);
    }
  }
  // The views outlive the SafetensorsFile that made them.
  for (const auto& [name, t] : tensors) {
    const Tensor& got = loaded.at(name);
    EXPECT_EQ(got.dtype(), t.dtype()) << name;
    EXPECT_EQ(got.shape(), t.shape()) << name;
    EXPECT_EQ(bytes_of(got), bytes_of(t)) << name;
    EXPECT_FALSE(got.is_owned()) << name << ": aligned data must be a zero-copy view";
  }
  EXPECT_EQ(loaded.at("i64").data<int64_t>()[2], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(loaded.at("scalar").data<float>()[0], 3.25f);
  EXPECT_EQ(loaded.at("empty").numel(), 0);
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "quotes \" and \\ and unicode \xc3\xa9"}, {"empty", ""}};
  const fs::path p = dir_ / "meta.safetensors";
  save_safetensors(p, {{"x", make<float>(DType::F32, {1}, {1.0f})}}, metadata);
  const SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_EQ(f.metadata(), metadata);
  EXPECT_EQ(f.names(), std::vector<std::string>{"x"});
  EXPECT_FALSE(f.contains("__metadata__"));
}

TEST_F(SafetensorsTest, WrittenLayoutIsAlignedAndContiguous) {
  const auto tensors = sample_tensors();
  const fs::path p = dir_ / "layout.safetensors";
  save_safetensors(p, tensors, {{"format", "pt"}});
  const std::string bytes = read_bytes(p);
  ASSERT_GE(bytes.size(), 8u);
  const uint64_t n = read_le64(bytes);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ((8 + n) % 64, 0u) << "data section must start 64-byte aligned";
  const Json header = parse_json(bytes.substr(8, n), "header");
  ASSERT_TRUE(header.is_object());
  EXPECT_EQ(header["__metadata__"]["format"], "pt");

  struct Span {
    size_t begin, end, element;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const DType dtype = dtype_from_name(it.value()["dtype"].get<std::string>());
    spans.push_back({it.value()["data_offsets"][0].get<size_t>(),
                     it.value()["data_offsets"][1].get<size_t>(), dtype_size(dtype), it.key()});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  size_t at = 0;
  for (const Span& s : spans) {
    EXPECT_EQ(s.begin, at) << s.name << ": no holes between tensors";
    EXPECT_EQ(s.begin % s.element, 0u) << s.name << ": aligned to its element size";
    at = s.end;
  }
  EXPECT_EQ(at, bytes.size() - 8 - n) << "data section ends at the end of the file";

  // names() lists tensors with bytes in offset order.
  const SafetensorsFile f = SafetensorsFile::open(p);
  std::vector<std::string> with_bytes;
  for (const Span& s : spans) {
    if (s.end > s.begin) with_bytes.push_back(s.name);
  }
  std::vector<std::string> names = f.names();
  names.resize(with_bytes.size());
  EXPECT_EQ(names, with_bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.get(spans.front().name).raw()) % 64, 0u);
}

TEST_F(SafetensorsTest, OverwritesAnExistingFile) {
  const fs::path p = dir_ / "w.safetensors";
  save_safetensors(p, {{"old", make<int8_t>(DType::I8, {1}, {1})}});
  save_safetensors(p, {{"new", make<int8_t>(DType::I8, {1}, {2})}});
  const SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_FALSE(f.contains("old"));
  EXPECT_EQ(f.get("new").data<int8_t>()[0], 2);
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST_F(SafetensorsTest, SaveRejectsBadInput) {
  const Tensor t = make<float>(DType::F32, {1}, {1.0f});
  const fs::path p = dir_ / "bad.safetensors";
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { save_safetensors(p, {{"x", t}, {"x", t}}); },
                                           {"'x'", "duplicate"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { save_safetensors(p, {{"__metadata__", t}}); },
                                           {"__metadata__"}));
  // An undefined tensor has no shape/bytes to write; writing it would give an unreadable file.
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { save_safetensors(p, {{"u", Tensor()}}); },
                                           {"'u'"}));
  const fs::path missing = dir_ / "no" / "such" / "dir" / "x.safetensors";
  EXPECT_TRUE(throws_with<IoError>([&] { save_safetensors(missing, {{"x", t}}); },
                                   {missing.string()}));
}

// Data whose offset is not a multiple of the element size is copied into
// aligned memory rather than viewed at a misaligned address.
TEST_F(SafetensorsTest, MisalignedTensorIsCopied) {
  std::string header =
      R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]},)"
      R"("c":{"dtype":"I64","shape":[1],"data_offsets":[10,18]}})";
  while ((8 + header.size()) % 64 != 0) header.push_back(' ');
  std::string data = "\x05\x06";
  const float b[2] = {1.25f, -8.0f};
  const int64_t c = -3;
  data.append(reinterpret_cast<const char*>(b), 8);
  data.append(reinterpret_cast<const char*>(&c), 8);
  const fs::path p = write("m.safetensors", safetensors_bytes(header, data));
  const SafetensorsFile f = SafetensorsFile::open(p);
  const Tensor ta = f.get("a");
  EXPECT_FALSE(ta.is_owned());
  EXPECT_EQ(ta.data<int8_t>()[1], 6);
  const Tensor tb = f.get("b");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tb.raw()) % alignof(float), 0u);
  EXPECT_EQ(tb.data<float>()[0], 1.25f);
  EXPECT_EQ(tb.data<float>()[1], -8.0f);
  const Tensor tc = f.get("c");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tc.raw()) % alignof(int64_t), 0u);
  EXPECT_EQ(tc.data<int64_t>()[0], -3);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(SafetensorsTest, HeaderWithoutTensorsIsValid) {
  const fs::path p = write("e.safetensors", safetensors_bytes("{}"));
  EXPECT_TRUE(SafetensorsFile::open(p).names().empty());
  const fs::path q = write("m.safetensors", safetensors_bytes(R"({"__metadata__":{"k":"v"}})"));
  EXPECT_EQ(SafetensorsFile::open(q).metadata().at("k"), "v");
}

TEST_F(SafetensorsTest, MissingFileThrowsNotFound) {
  const fs::path p = dir_ / "absent.safetensors";
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)SafetensorsFile::open(p); }, {p.string()}));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)WeightStore::open(p); }, {p.string()}));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)SafetensorsFile::open(dir_.path()); },
                                    {dir_.path().string()}));
}

TEST_F(SafetensorsTest, MissingTensorThrowsNotFoundNamingTensorAndFile) {
  const fs::path p = dir_ / "model.safetensors";
  save_safetensors(p, {{"x", make<float>(DType::F32, {1}, {1.0f})}});
  const SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_FALSE(f.contains("y"));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)f.get("y"); }, {"'y'", p.string()}));
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)f.info("y"); }, {"'y'", p.string()}));
  const WeightStore ws = WeightStore::open_dir(dir_.path());
  EXPECT_TRUE(ws.contains("x"));
  EXPECT_EQ(ws.names(), std::vector<std::string>{"x"});
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)ws.get("y"); }, {"'y'", p.string()}));
}

// ---- malformed files ------------------------------------------------------

TEST_F(SafetensorsTest, FileShorterThanTheLengthField) {
  EXPECT_TRUE(rejects("", {"0 bytes"}));
  EXPECT_TRUE(rejects("abc", {"3 bytes"}));
  EXPECT_TRUE(rejects(std::string(7, '\0'), {"7 bytes"}));
}

TEST_F(SafetensorsTest, HeaderCutShort) {
  const std::string header = one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})");
  const std::string full = safetensors_bytes(header, filler(4));
  EXPECT_TRUE(rejects(full.substr(0, 8 + header.size() / 2), {"header length", "past the end"}));
  EXPECT_TRUE(rejects(le64(100), {"header length 100", "past the end"}));
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFile) {
  EXPECT_TRUE(rejects(le64(1000) + "{}", {"header length 1000", "past the end", "10 bytes"}));
  // Exactly at the limit is not rejected for size, only for running past the end.
  EXPECT_TRUE(rejects(le64(100'000'000) + "{}", {"past the end"}));
}

TEST_F(SafetensorsTest, HeaderLengthOverLimit) {
  EXPECT_TRUE(rejects(le64(100'000'001) + "{}", {"100000001", "100 MB"}));
  EXPECT_TRUE(rejects(le64(std::numeric_limits<uint64_t>::max()) + "{}", {"100 MB"}));
  EXPECT_TRUE(rejects(le64(uint64_t{1} << 63) + "{}", {"100 MB"}));
}

TEST_F(SafetensorsTest, MalformedJsonHeader) {
  EXPECT_TRUE(rejects(safetensors_bytes(R"({"a": {"dtype": )"), {"malformed JSON"}));
  EXPECT_TRUE(rejects(safetensors_bytes(""), {"malformed JSON"}));
  EXPECT_TRUE(rejects(safetensors_bytes("{} trailing"), {"malformed JSON"}));
  EXPECT_TRUE(rejects(safetensors_bytes("{\"\xff\":1}"), {"malformed JSON"}));
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  for (const char* header : {"[1, 2, 3]", "\"text\"", "42", "null"}) {
    EXPECT_TRUE(rejects(safetensors_bytes(header), {"not a JSON object"})) << header;
  }
}

TEST_F(SafetensorsTest, EntryNotAnObject) {
  EXPECT_TRUE(rejects(safetensors_bytes(one("5")), {"tensor 'a'", "not an object"}));
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_TRUE(rejects(safetensors_bytes(header, filler(12)), {"'b'", "overlap", "'a'"}));
  // Same span twice.
  const std::string same =
      R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_TRUE(rejects(safetensors_bytes(same, filler(4)), {"overlap"}));
  // One inside another.
  const std::string inside =
      R"({"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I8","shape":[2],"data_offsets":[3,5]}})";
  EXPECT_TRUE(rejects(safetensors_bytes(inside, filler(8)), {"'b'", "overlap", "'a'"}));
}

TEST_F(SafetensorsTest, OffsetsPastDataSection) {
  const std::string header = one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})");
  EXPECT_TRUE(rejects(safetensors_bytes(header, filler(8)),
                      {"tensor 'a'", "data_offsets", "past the end of the data section", "8 bytes"}));
  const std::string far = one(R"({"dtype":"I8","shape":[1],"data_offsets":[1000,1001]})");
  EXPECT_TRUE(rejects(safetensors_bytes(far, filler(8)), {"tensor 'a'", "data_offsets"}));
  const std::string huge = one(
      R"({"dtype":"I8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]})");
  EXPECT_TRUE(rejects(safetensors_bytes(huge, filler(8)), {"tensor 'a'", "data_offsets"}));
}

// The reference (safetensors 0.8) refuses each of these; the Python side
// checks that it does (tests/python/test_safetensors_reference.py).
TEST_F(SafetensorsTest, NulPaddingAfterTheHeader) {
  const std::string header = one(R"({"dtype":"I8","shape":[2],"data_offsets":[0,2]})");
  EXPECT_TRUE(rejects(safetensors_bytes(header + std::string(6, '\0'), filler(2)), {"NUL byte"}));
  // Space padding (what the writers use) stays fine.
  const fs::path ok = write("ok.safetensors", safetensors_bytes(header + std::string(6, ' '), filler(2)));
  EXPECT_EQ(SafetensorsFile::open(ok).names(), std::vector<std::string>{"a"});
}

TEST_F(SafetensorsTest, HolesBetweenTensors) {
  const std::string hole =
      R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},)"
      R"("b":{"dtype":"I8","shape":[2],"data_offsets":[4,6]}})";
  EXPECT_TRUE(rejects(safetensors_bytes(hole, filler(6)), {"tensor 'b'", "hole", "'a'"}));
  const std::string leading = one(R"({"dtype":"I8","shape":[2],"data_offsets":[2,4]})");
  EXPECT_TRUE(rejects(safetensors_bytes(leading, filler(4)), {"tensor 'a'", "hole", "start of the data section"}));
  const std::string exact = one(R"({"dtype":"I8","shape":[2],"data_offsets":[0,2]})");
  EXPECT_TRUE(rejects(safetensors_bytes(exact, filler(5)), {"end at byte 2", "5 bytes", "trailing"}));
  // An empty tensor sits where the previous one ends; anywhere else it is a hole too.
  const std::string empty_ok =
      R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},)"
      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}})";
  EXPECT_EQ(SafetensorsFile::open(write("e.safetensors", safetensors_bytes(empty_ok, filler(2)))).names().size(), 2u);
  const std::string empty_inside =
      R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},)"
      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[1,1]}})";
  EXPECT_TRUE(rejects(safetensors_bytes(empty_inside, filler(2)), {"tensor 'a'"}));
}

// A 100 MB header of nested arrays cost 3.7 GB and 2 minutes: the reference's
// JSON parser stops at 128 levels, so does ours (127 pass), before building anything.
TEST_F(SafetensorsTest, DeeplyNestedHeaderIsRefusedQuickly) {
  const size_t depth = 2'000'000;
  const std::string header = one(R"({"dtype":"I8","shape":[0],"data_offsets":[0,0],"x":)" + std::string(depth, '[') +
                                 std::string(depth, ']') + "}");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(rejects(safetensors_bytes(header), {"nested deeper than 127"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SafetensorsTest, OutOfRangeNumberInHeader) {
  EXPECT_TRUE(rejects(safetensors_bytes(one(R"({"dtype":"I8","shape":[1e400],"data_offsets":[0,1]})"), filler(1)),
                      {"/a/shape/0", "out of range"}));
}

TEST_F(SafetensorsTest, OffsetEndBeforeBegin) {
  const std::string header = one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})");
  EXPECT_TRUE(rejects(safetensors_bytes(header, filler(8)),
                      {"tensor 'a'", "data_offsets", "end before begin"}));
}

TEST_F(SafetensorsTest, UnknownDType) {
  for (const char* dtype : {"F64", "Q4", "f32", "", "BOOL"}) {
    const std::string header =
        one(std::string(R"({"dtype":")") + dtype + R"(","shape":[1],"data_offsets":[0,8]})");
    EXPECT_TRUE(rejects(safetensors_bytes(header, filler(8)),
                        {"tensor 'a'", in_quotes(dtype)}))
        << dtype;
  }
  const std::string not_string = one(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})");
  EXPECT_TRUE(rejects(safetensors_bytes(not_string, filler(4)), {"tensor 'a'", "'dtype'"}));
}

TEST_F(SafetensorsTest, ByteSizeNotMatchingShape) {
  const std::string header = one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})");
  EXPECT_TRUE(rejects(safetensors_bytes(header, filler(8)),
                      {"tensor 'a'", "8 bytes", "[3]", "F32", "12"}));
  const std::string too_few = one(R"({"dtype":"I64","shape":[2,2],"data_offsets":[0,16]})");
  EXPECT_TRUE(rejects(safetensors_bytes(too_few, filler(16)), {"tensor 'a'", "[2, 2]", "32"}));
  // numel * element size overflows 64 bits: still a mismatch, not a wrap-around match.
  const std::string wraps = one(R"({"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,0]})");
  EXPECT_TRUE(rejects(safetensors_bytes(wraps), {"tensor 'a'"}));
  const std::string overflow =
      one(R"({"dtype":"I8","shape":[4294967296,4294967296,4],"data_offsets":[0,0]})");
  EXPECT_TRUE(rejects(safetensors_bytes(overflow), {"tensor 'a'", "too large"}));
}

TEST_F(SafetensorsTest, MissingField) {
  const std::map<std::string, std::string> without = {
      {"dtype", R"({"shape":[1],"data_offsets":[0,4]})"},
      {"shape", R"({"dtype":"F32","data_offsets":[0,4]})"},
      {"data_offsets", R"({"dtype":"F32","shape":[1]})"},
  };
  for (const auto& [field, entry] : without) {
    EXPECT_TRUE(rejects(safetensors_bytes(one(entry), filler(4)), {"tensor 'a'", in_quotes(field)}))
        << field;
  }
}

TEST_F(SafetensorsTest, BadShape) {
  const std::string negative = one(R"({"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]})");
  EXPECT_TRUE(rejects(safetensors_bytes(negative, filler(8)), {"tensor 'a'", "'shape'", "-1"}));
  const std::string fraction = one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})");
  EXPECT_TRUE(rejects(safetensors_bytes(fraction, filler(4)), {"tensor 'a'", "'shape'", "1.5"}));
  const std::string text = one(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})");
  EXPECT_TRUE(rejects(safetensors_bytes(text, filler(8)), {"tensor 'a'", "'shape'"}));
  const std::string not_array = one(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})");
  EXPECT_TRUE(rejects(safetensors_bytes(not_array, filler(8)), {"tensor 'a'", "'shape'"}));
  const std::string too_big = one(
      R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})");
  EXPECT_TRUE(rejects(safetensors_bytes(too_big, filler(8)), {"tensor 'a'", "'shape'"}));
}

TEST_F(SafetensorsTest, BadDataOffsets) {
  for (const char* offsets : {"[-1,4]", "[0,4,8]", "[0]", "[\"0\",\"4\"]", "4", "[0.0,4.0]"}) {
    const std::string header =
        one(std::string(R"({"dtype":"F32","shape":[1],"data_offsets":)") + offsets + "}");
    EXPECT_TRUE(rejects(safetensors_bytes(header, filler(4)), {"tensor 'a'", "'data_offsets'"}))
        << offsets;
  }
}

TEST_F(SafetensorsTest, BadMetadata) {
  EXPECT_TRUE(rejects(safetensors_bytes(R"({"__metadata__":[1]})"), {"__metadata__"}));
  EXPECT_TRUE(rejects(safetensors_bytes(R"({"__metadata__":{"k":1}})"), {"__metadata__", "'k'"}));
}

// Deeply nested JSON in a header must not overflow the stack while parsing,
// validating or building the error message.
TEST_F(SafetensorsTest, DeeplyNestedHeaderDoesNotCrash) {
  const size_t depth = 200'000;
  const std::string nest = std::string(depth, '[') + std::string(depth, ']');
  // Refused by the depth limit (as the reference) before any value is built.
  EXPECT_TRUE(rejects(safetensors_bytes(nest), {"nested deeper than 127"}));
  const std::string in_shape =
      one(R"({"dtype":"F32","shape":[)" + nest + R"(],"data_offsets":[0,4]})");
  EXPECT_TRUE(rejects(safetensors_bytes(in_shape, filler(4)), {"nested deeper than 127"}));
  // Within the limit, the field is still named.
  const std::string shallow = std::string(100, '[') + std::string(100, ']');
  const std::string in_offsets =
      one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,)" + shallow + "]}");
  EXPECT_TRUE(rejects(safetensors_bytes(in_offsets, filler(4)), {"tensor 'a'", "'data_offsets'"}));
}

// Every truncation and a set of byte corruptions of a valid file: opening
// either succeeds (and every tensor can be read) or throws an optimum::Error;
// never another exception, never a crash.
TEST_F(SafetensorsTest, TruncatedAndCorruptedFilesNeverCrash) {
  const fs::path good = dir_ / "good.safetensors";
  save_safetensors(good, {{"w", make<float>(DType::F32, {2, 2}, {1, 2, 3, 4})},
                          {"b", make<uint16_t>(DType::F16, {3}, {1, 2, 3})},
                          {"i", make<int64_t>(DType::I64, {1}, {9})}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  const fs::path p = dir_ / "fuzz.safetensors";
  size_t opened = 0;
  size_t rejected = 0;
  auto attempt = [&](const std::string& content, const std::string& what) {
    write_bytes(p, content);
    try {
      const SafetensorsFile f = SafetensorsFile::open(p);
      for (const auto& name : f.names()) {
        const Tensor t = f.get(name);
        const auto* q = static_cast<const uint8_t*>(t.raw());
        unsigned sum = 0;
        for (size_t k = 0; k < t.nbytes(); ++k) sum += q[k];
        (void)sum;
      }
      ++opened;
    } catch (const FormatError& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": threw " << test_util::type_name(typeid(e)) << ": " << e.what();
    }
  };
  for (size_t len = 0; len < bytes.size(); ++len) {
    attempt(bytes.substr(0, len), "truncated to " + std::to_string(len));
  }
  const size_t header_end = 8 + read_le64(bytes);
  for (size_t pos = 0; pos < header_end; ++pos) {
    for (char c : {'0', '9', '-', '"', '}', '[', ',', '\0', '\xff'}) {
      std::string corrupt = bytes;
      if (corrupt[pos] == c) continue;
      corrupt[pos] = c;
      attempt(corrupt, "byte " + std::to_string(pos) + " set to " + std::to_string(int(c)));
    }
  }
  EXPECT_GT(rejected, bytes.size());
  EXPECT_GT(opened, 0u);  // e.g. a digit changed inside the metadata value
}

// ---- sharded folders --------------------------------------------------------

class ShardedTest : public SafetensorsTest {
 protected:
  static constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

  void SetUp() override {
    save_safetensors(dir_ / kShard1, {{"embed.weight", make<float>(DType::F32, {2, 2}, {1, 2, 3, 4})},
                                      {"embed.ids", make<int64_t>(DType::I64, {2}, {7, 8})}});
    save_safetensors(dir_ / kShard2,
                     {{"head.weight", make<uint16_t>(DType::BF16, {3}, {0x3f80, 0x4000, 0x4040})}});
  }

  // Writes model.safetensors.index.json with `weight_map` into `where`.
  fs::path write_index(const Json& weight_map, const fs::path& where = {}) {
    const fs::path p = (where.empty() ? dir_.path() : where) / "model.safetensors.index.json";
    write_json(p, Json{{"metadata", {{"total_size", 38}}}, {"weight_map", weight_map}});
    return p;
  }

  static Json good_map() {
    return Json{{"embed.weight", kShard1}, {"embed.ids", kShard1}, {"head.weight", kShard2}};
  }
};

TEST_F(ShardedTest, OpenDirReadsEveryShard) {
  const fs::path index = write_index(good_map());
  const WeightStore ws = WeightStore::open_dir(dir_.path());
  EXPECT_EQ(ws.source(), index.string());
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"embed.ids", "embed.weight", "head.weight"}));
  EXPECT_TRUE(ws.contains("head.weight"));
  EXPECT_FALSE(ws.contains("missing"));
  const Tensor w = ws.get("embed.weight");
  EXPECT_EQ(w.shape(), (Shape{2, 2}));
  EXPECT_EQ(w.data<float>()[3], 4.0f);
  EXPECT_EQ(ws.get("embed.ids").data<int64_t>()[1], 8);
  const Tensor h = ws.get("head.weight");
  EXPECT_EQ(h.dtype(), DType::BF16);
  EXPECT_EQ(static_cast<const uint16_t*>(h.raw())[2], 0x4040);
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)ws.get("missing"); }, {"'missing'", index.string()}));

  // The index file can also be opened directly.
  const WeightStore direct = WeightStore::open(index);
  EXPECT_EQ(direct.names(), ws.names());
}

TEST_F(ShardedTest, TensorsOutliveTheStore) {
  write_index(good_map());
  Tensor w;
  {
    const WeightStore ws = WeightStore::open_dir(dir_.path());
    w = ws.get("embed.weight");
  }
  EXPECT_EQ(w.data<float>()[0], 1.0f);
  EXPECT_FALSE(w.is_owned());
}

TEST_F(ShardedTest, OpenDirWithoutWeightsThrowsNotFound) {
  TempDir empty;
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)WeightStore::open_dir(empty.path()); },
                                    {empty.path().string(), "model.safetensors"}));
  const fs::path missing = empty / "nope";
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)WeightStore::open_dir(missing); },
                                    {missing.string()}));
}

TEST_F(ShardedTest, IndexNamingMissingShardThrowsNotFound) {
  Json map = good_map();
  map["head.weight"] = "model-00003-of-00003.safetensors";
  write_index(map);
  EXPECT_TRUE(throws_with<NotFound>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                    {"model-00003-of-00003.safetensors"}));
}

TEST_F(ShardedTest, IndexMappingTensorToShardThatLacksIt) {
  Json map = good_map();
  map["head.weight"] = kShard1;
  const fs::path index = write_index(map);
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {index.string(), "'head.weight'", kShard1}));
}

TEST_F(ShardedTest, ShardNameMustBeAPlainFileName) {
  // A copy of shard 2 one level up: a path escaping the folder must be refused
  // even when the file it names exists.
  const fs::path sub = dir_ / "sub";
  fs::create_directory(sub);
  fs::copy_file(dir_ / kShard1, sub / kShard1);
  for (const std::string& shard : {std::string("../") + kShard2, std::string("sub/") + kShard1,
                                  (dir_ / kShard2).string(), std::string("..")}) {
    Json map = {{"embed.weight", kShard1}, {"head.weight", shard}};
    const fs::path index = write_index(map, sub);
    EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(sub); },
                                         {index.string(), in_quotes(shard)}))
        << shard;
  }
}

TEST_F(ShardedTest, MalformedIndex) {
  const fs::path index = dir_ / "model.safetensors.index.json";
  write_bytes(index, "{\"weight_map\": {");
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {index.string()}));
  write_json(index, Json{{"metadata", Json::object()}});
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {index.string(), "weight_map"}));
  write_json(index, Json{{"weight_map", Json::array()}});
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {index.string(), "weight_map"}));
  write_json(index, Json{{"weight_map", {{"embed.weight", 1}}}});
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {index.string(), "'embed.weight'"}));
}

TEST_F(ShardedTest, CorruptShardIsNamed) {
  write_bytes(dir_ / kShard2, le64(3) + "{}");
  write_index(good_map());
  EXPECT_TRUE(throws_with<FormatError>([&] { (void)WeightStore::open_dir(dir_.path()); },
                                       {(dir_ / kShard2).string()}));
}

}  // namespace
}  // namespace optimum::io
