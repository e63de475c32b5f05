// GGUF reader: files written by hand (magic, version, counts, key-value
// pairs, tensor infos, aligned data) read back, and every header-level error
// path throwing FormatError with a message naming the file and the key,
// tensor or field. Dequantization parity is tested against the gguf package
// in tests/gguf/.
#include "optimum/io/gguf.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum::io {
namespace {

using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

template <typename T>
std::string le(T v) {
  std::string out(sizeof(T), '\0');
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

std::string str(const std::string& s) { return le<uint64_t>(s.size()) + s; }

struct Kv {
  std::string key;
  uint32_t type;
  std::string value;
};

struct Info {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t offset;
};

// A whole file: header, pairs, infos, padding to `alignment`, then `data`.
std::string gguf_bytes(const std::vector<Kv>& kvs, const std::vector<Info>& infos, const std::string& data = "",
                       uint32_t version = 3, uint64_t alignment = 32) {
  std::string out = "GGUF" + le<uint32_t>(version) + le<uint64_t>(infos.size()) + le<uint64_t>(kvs.size());
  for (const auto& kv : kvs) out += str(kv.key) + le<uint32_t>(kv.type) + kv.value;
  for (const auto& t : infos) {
    out += str(t.name) + le<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) out += le<uint64_t>(d);
    out += le<uint32_t>(t.type) + le<uint64_t>(t.offset);
  }
  out.append((alignment - out.size() % alignment) % alignment, '\0');
  return out + data;
}

class GgufTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& bytes) {
    const auto path = dir_.path() / "model.gguf";
    write_bytes(path, bytes);
    return path;
  }
  // FormatError naming the file and every needle.
  ::testing::AssertionResult refused(const std::string& bytes, std::vector<std::string> needles) {
    const auto path = write(bytes);
    needles.push_back(path.string());
    return throws_with<FormatError>([&] { GgufFile::open(path); }, needles);
  }
  TempDir dir_;
};

TEST_F(GgufTest, ReadsMetadataAndTensors) {
  std::string data(256, '\0');
  std::vector<float> values(6);
  for (int i = 0; i < 6; ++i) values[i] = 0.5f * static_cast<float>(i) - 1.0f;
  std::memcpy(data.data(), values.data(), 24);
  const uint16_t half_one = float_to_half(1.5f);
  std::memcpy(data.data() + 32, &half_one, 2);
  const auto path = write(gguf_bytes(
      {{"general.architecture", 8, str("llama")},
       {"u64", 10, le<uint64_t>(UINT64_MAX)},
       {"i8", 1, le<int8_t>(-5)},
       {"f32", 6, le<float>(0.1f)},
       {"flag", 7, le<uint8_t>(1)},
       {"list", 9, le<uint32_t>(8) + le<uint64_t>(2) + str("a") + str("b")}},
      {{"w", {3, 2}, 0, 0}, {"h", {1}, 1, 32}}, data, 2));
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.metadata().at("general.architecture"), "llama");
  EXPECT_EQ(f.metadata().at("u64").get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(f.metadata().at("i8").get<int64_t>(), -5);
  EXPECT_EQ(f.metadata().at("f32").get<double>(), static_cast<double>(0.1f));
  EXPECT_EQ(f.metadata().at("flag"), true);
  EXPECT_EQ(f.metadata().at("list"), Json::array({"a", "b"}));
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].shape, (std::vector<int64_t>{2, 3}));  // ggml dims reversed
  EXPECT_EQ(f.tensors()[0].nbytes, 24u);
  const Tensor w = f.dequantize("w");
  ASSERT_EQ(w.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(w.data<float>()[i], values[i]);
  EXPECT_EQ(f.dequantize("h").data<float>()[0], 1.5f);
  EXPECT_TRUE(throws_with<NotFound>([&] { f.dequantize("nope"); }, {"'nope'", path.string()}));
}

TEST_F(GgufTest, UnsupportedTypeNamesTensorAndType) {
  const auto path = write(gguf_bytes({}, {{"blk.0.w", {256}, 10, 0}}, std::string(96, '\0')));
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(ggml_type_name(f.tensors()[0].type), "Q2_K");
  EXPECT_TRUE(throws_with<Unsupported>([&] { f.dequantize("blk.0.w"); }, {"'blk.0.w'", "Q2_K", path.string()}));
}

TEST_F(GgufTest, HeaderErrors) {
  EXPECT_TRUE(refused("", {"magic"}));
  EXPECT_TRUE(refused("GGML" + std::string(20, '\0'), {"bad magic"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {}, "", 1), {"version 1"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {}, "", 0x03000000), {"big-endian"}));
  std::string huge = gguf_bytes({}, {});
  std::memcpy(huge.data() + 16, le<uint64_t>(uint64_t{1} << 60).data(), 8);
  EXPECT_TRUE(refused(huge, {"key-value count"}));
  std::memcpy(huge.data() + 8, le<uint64_t>(uint64_t{1} << 60).data(), 8);
  EXPECT_TRUE(refused(huge, {"count"}));
}

TEST_F(GgufTest, MetadataErrors) {
  EXPECT_TRUE(refused(gguf_bytes({{"k", 8, le<uint64_t>(1000)}}, {}), {"k", "string length 1000"}));
  EXPECT_TRUE(refused(gguf_bytes({{"k", 9, le<uint32_t>(4) + le<uint64_t>(1ull << 40)}}, {}),
                      {"'k'", "array length"}));
  EXPECT_TRUE(refused(gguf_bytes({{"k", 13, ""}}, {}), {"'k'", "unknown value type 13"}));
  EXPECT_TRUE(refused(gguf_bytes({{"k", 4, le<uint32_t>(1)}, {"k", 4, le<uint32_t>(1)}}, {}), {"duplicate key 'k'"}));
  EXPECT_TRUE(refused(gguf_bytes({{"general.alignment", 4, le<uint32_t>(48)}}, {}), {"general.alignment"}));
  std::string nested;
  for (int i = 0; i < kGgufMaxArrayDepth; ++i) nested += le<uint32_t>(9) + le<uint64_t>(1);
  nested += le<uint32_t>(4) + le<uint64_t>(0);
  EXPECT_TRUE(refused(gguf_bytes({{"deep", 9, nested}}, {}), {"'deep'", "nested"}));
  // A key with bytes that are not text is escaped in the message.
  EXPECT_TRUE(refused(gguf_bytes({{"a\xff", 4, le<uint32_t>(1)}, {"a\xff", 4, le<uint32_t>(1)}}, {}), {"a\\xff"}));
}

TEST_F(GgufTest, TensorInfoErrors) {
  const std::string data(256, '\0');
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {1, 1, 1, 1, 1}, 0, 0}}, data), {"'w'", "5 dimensions"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {1ull << 40, 1ull << 40}, 0, 0}}, data), {"'w'", "overflows"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {32}, 99, 0}}, data), {"'w'", "unknown ggml type 99"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {31}, 8, 0}}, data), {"'w'", "Q8_0 block size 32"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {8}, 0, 8}}, data), {"'w'", "alignment"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {128}, 0, 0}}, data), {"'w'", "past the end"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {8}, 0, ~uint64_t{0} - 31}}, data), {"'w'", "past the end"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"w", {8}, 0, 0}, {"w", {8}, 0, 32}}, data), {"duplicate tensor 'w'"}));
  EXPECT_TRUE(refused(gguf_bytes({}, {{"a", {16}, 0, 0}, {"b", {16}, 0, 32}}, data), {"'b'", "overlap", "'a'"}));
  // Every truncation of a valid header is refused.
  const std::string good = gguf_bytes({{"general.architecture", 8, str("llama")}}, {{"w", {8}, 0, 0}}, data);
  for (size_t cut = 0; cut + 256 + 1 < good.size(); ++cut) {
    EXPECT_TRUE(refused(good.substr(0, cut), {})) << cut;
  }
}

}  // namespace
}  // namespace optimum::io
