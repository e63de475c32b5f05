// Model archives: model-config.yaml, the manifest, write_archive and
// open_archive in every format, and hostile archives refused before
// anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "archive_bytes.h"
#include "optimum/core/errors.h"
#include "optimum/serving/archive.h"
#include "optimum/serving/model_config.h"
#include "test_util.h"

namespace optimum::serving {
namespace {

namespace fs = std::filesystem;
using test_util::make_tgz;
using test_util::make_zip;
using test_util::read_bytes;
using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

// Every path below `folder` with its size (folders: -1).
std::map<std::string, int64_t> snapshot(const fs::path& folder) {
  std::map<std::string, int64_t> out;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    out[e.path().lexically_relative(folder).string()] =
        e.is_regular_file() ? static_cast<int64_t>(e.file_size()) : -1;
  }
  return out;
}

const std::string kManifest =
    R"({"createdOn": "01/01/2026 00:00:00", "runtime": "python", "model": {"modelName": "m", )"
    R"("serializedFile": "model", "handler": "text-classification", "modelVersion": "1.0"}, )"
    R"("archiverVersion": "0.12.0"})";

// ---- model-config.yaml ----

TEST(ModelConfig, ReadsTorchServeKeysAndTheHandlerSection) {
  const ModelConfig c = ModelConfig::from_yaml_text(
      "minWorkers: 2\nmaxWorkers: 4\nbatchSize: 8\nmaxBatchDelay: 5\nresponseTimeout: 30\n"
      "maxBatchTokens: 4096\nthreadsPerWorker: 2\njobQueueSize: 64\ndeviceType: cpu\n"
      "handler:\n  top_k: 3\n  aggregation_strategy: simple\n  function_to_apply: \"none\"\n"
      "  truncation: true\n  threshold: 0.5\n  labels: [a, b]\n  quoted: '7'\n  nothing: ~\n",
      "model-config.yaml");
  EXPECT_EQ(c.min_workers, 2);
  EXPECT_EQ(c.max_workers, 4);
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(c.max_batch_delay_ms, 5);
  EXPECT_EQ(c.response_timeout_s, 30);
  EXPECT_EQ(c.max_batch_tokens, 4096u);
  EXPECT_EQ(c.threads_per_worker, 2);
  EXPECT_EQ(c.job_queue_size, 64);
  const io::Json expected = {{"top_k", 3},           {"aggregation_strategy", "simple"},
                             {"function_to_apply", "none"}, {"truncation", true},
                             {"threshold", 0.5},     {"labels", {"a", "b"}},
                             {"quoted", "7"},        {"nothing", nullptr}};
  EXPECT_EQ(c.handler, expected);
}

TEST(ModelConfig, ReadsTheGenerationKeys) {
  const ModelConfig c =
      ModelConfig::from_yaml_text("maxNumSequence: 16\nmaxSequenceLength: 4096\n", "model-config.yaml");
  EXPECT_EQ(c.max_num_sequence, 16);
  EXPECT_EQ(c.max_sequence_length, 4096);
  EXPECT_EQ(ModelConfig{}.max_num_sequence, 0);  // 0: derived from batchSize (else 8) at load
  EXPECT_TRUE(throws_with<FormatError>([] { ModelConfig::from_yaml_text("maxNumSequence: 5000\n", "m.yaml"); },
                                       {"m.yaml", "maxNumSequence"}));
  EXPECT_TRUE(throws_with<FormatError>([] { ModelConfig::from_yaml_text("maxSequenceLength: -1\n", "m.yaml"); },
                                       {"m.yaml", "maxSequenceLength"}));
}

TEST(ModelConfig, EmptyFileGivesTheDefaults) {
  const ModelConfig c = ModelConfig::from_yaml_text("", "model-config.yaml");
  EXPECT_EQ(c.batch_size, ModelConfig{}.batch_size);
  EXPECT_EQ(c.handler, io::Json::object());
}

TEST(ModelConfig, WrongTypesAndRangesNameFileAndKey) {
  const auto refused = [](const std::string& text, const std::string& key) {
    return throws_with<FormatError>([&] { ModelConfig::from_yaml_text(text, "store/model-config.yaml"); },
                                    {"store/model-config.yaml", key});
  };
  EXPECT_TRUE(refused("batchSize: eight\n", "batchSize"));
  EXPECT_TRUE(refused("batchSize: \"8\"\n", "batchSize"));
  EXPECT_TRUE(refused("batchSize: 1.5\n", "batchSize"));
  EXPECT_TRUE(refused("batchSize: 0\n", "batchSize"));
  EXPECT_TRUE(refused("batchSize: [1]\n", "batchSize"));
  EXPECT_TRUE(refused("minWorkers: -1\n", "minWorkers"));
  EXPECT_TRUE(refused("minWorkers: 4\nmaxWorkers: 2\n", "minWorkers"));
  EXPECT_TRUE(refused("maxBatchDelay: 99999999999\n", "maxBatchDelay"));
  EXPECT_TRUE(refused("responseTimeout: 0\n", "responseTimeout"));
  EXPECT_TRUE(refused("handler: [top_k]\n", "handler"));
  EXPECT_TRUE(refused("batchSize: 2\nbatchSize: 3\n", "batchSize"));
  EXPECT_TRUE(refused("- a\n- b\n", "top level"));
  EXPECT_TRUE(throws_with<FormatError>([] { ModelConfig::from_yaml_text("a: [", "x.yaml"); }, {"x.yaml", "YAML"}));
  // The handler section becomes JSON, which must be valid UTF-8 (found by fuzz_archive).
  EXPECT_TRUE(refused("handler:\n  top_k: \"\xd5\"\n", "handler/top_k"));
  EXPECT_TRUE(refused("handler:\n  \xed\xa0\x80: 1\n", "handler"));
  EXPECT_EQ(ModelConfig::from_yaml_text("handler:\n  label: \"caf\xc3\xa9 \xf0\x9f\xa4\x97\"\n", "ok.yaml")
                .handler["label"],
            "caf\xc3\xa9 \xf0\x9f\xa4\x97");
}

TEST(ModelConfig, AliasExpansionAndDeepNestingAreBounded) {
  std::string bomb = "handler:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    bomb += "]\n";
  }
  EXPECT_TRUE(throws_with<FormatError>([&] { ModelConfig::from_yaml_text(bomb, "bomb.yaml"); },
                                       {"bomb.yaml", "handler", "values"}));
  const std::string deep = "handler:\n  k: " + std::string(100, '[') + std::string(100, ']') + "\n";
  EXPECT_TRUE(throws_with<FormatError>([&] { ModelConfig::from_yaml_text(deep, "deep.yaml"); }, {"deep.yaml"}));
}

// ---- manifest ----

TEST(Manifest, RoundTripsAndChecksFields) {
  const Manifest m = Manifest::from_json(io::Json::parse(kManifest), "MANIFEST.json");
  EXPECT_EQ(m.model_name, "m");
  EXPECT_EQ(m.serialized_file, "model");
  EXPECT_EQ(m.handler, "text-classification");
  EXPECT_EQ(Manifest::from_json(m.to_json(), "again").to_json(), m.to_json());
  EXPECT_EQ(io::Json::parse(m.to_text()), m.to_json());
  const auto refused = [](const std::string& from, const std::string& to, const std::string& needle) {
    std::string text = kManifest;
    text.replace(text.find(from), from.size(), to);
    return throws_with<FormatError>([&] { Manifest::from_json(io::Json::parse(text), "MANIFEST.json"); },
                                    {"MANIFEST.json", needle});
  };
  EXPECT_TRUE(refused("\"serializedFile\": \"model\"", "\"serializedFile\": \"../model\"", "serializedFile"));
  EXPECT_TRUE(refused("\"serializedFile\": \"model\"", "\"serializedFile\": \"/abs\"", "serializedFile"));
  EXPECT_TRUE(refused("\"modelName\": \"m\"", "\"modelName\": \"a/b\"", "modelName"));
  EXPECT_TRUE(refused("\"modelName\": \"m\", ", "", "modelName"));
  EXPECT_TRUE(refused("\"handler\": \"text-classification\"", "\"handler\": 3", "handler"));
  EXPECT_TRUE(refused("\"modelVersion\": \"1.0\"", "\"modelVersion\": \"1 0\"", "modelVersion"));
}

// ---- writing and reading back ----

// A small stand-in model folder (the archive does not load it).
fs::path model_folder(const TempDir& dir) {
  const fs::path m = dir / "exported";
  fs::create_directories(m / "1_Pooling");
  write_bytes(m / "config.json", R"({"architectures": ["BertForSequenceClassification"]})");
  write_bytes(m / "model.safetensors", std::string(300000, '\7'));
  write_bytes(m / "1_Pooling" / "config.json", "{}");
  return m;
}

TEST(Archive, EveryFormatRoundTrips) {
  for (const std::string format : {"default", "tgz", "no-archive", "zip-store"}) {
    SCOPED_TRACE(format);
    TempDir dir;
    const fs::path model = model_folder(dir);
    write_bytes(dir / "model-config.yaml", "batchSize: 4\nhandler:\n  top_k: 2\n");
    write_bytes(dir / "notes.txt", "notes");
    ArchiveOptions o;
    o.model_name = "cls";
    o.version = "2.0";
    o.model_dir = model;
    o.config_file = dir / "model-config.yaml";
    o.extra_files = {dir / "notes.txt"};
    o.format = format;
    o.export_path = dir / "store";
    const fs::path written = write_archive(o);
    EXPECT_TRUE(fs::exists(written));
    const ExtractedArchive x = open_archive(written, dir / "out");
    EXPECT_EQ(x.manifest.model_name, "cls");
    EXPECT_EQ(x.manifest.model_version, "2.0");
    EXPECT_EQ(x.manifest.handler, "text-classification");  // from config.json's architectures
    EXPECT_EQ(x.manifest.config_file, "model-config.yaml");
    ASSERT_TRUE(x.config.has_value());
    EXPECT_EQ(x.config->batch_size, 4);
    EXPECT_EQ(x.config->handler, (io::Json{{"top_k", 2}}));
    EXPECT_EQ(snapshot(x.model_dir), snapshot(model));
    EXPECT_EQ(read_bytes(x.model_dir / "model.safetensors"), read_bytes(model / "model.safetensors"));
    EXPECT_EQ(read_bytes(x.root / "notes.txt"), "notes");
    EXPECT_EQ(x.root, format == "no-archive" ? written : dir / "out");
    // Not twice without force; replaced with it.
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { write_archive(o); }, {written.string(), "--force"}));
    o.force = true;
    o.version = "3.0";
    EXPECT_EQ(write_archive(o), written);
    EXPECT_EQ(open_archive(written, dir / "again").manifest.model_version, "3.0");
    EXPECT_EQ(snapshot(dir / "store").size(), format == "no-archive" ? snapshot(written).size() + 1 : 1u);
  }
}

TEST(Archive, DefaultHandler) {
  TempDir dir;
  const fs::path model = model_folder(dir);
  EXPECT_EQ(default_handler(model), "text-classification");
  write_bytes(model / "optimum_export.json", R"({"task": "token-classification"})");
  EXPECT_EQ(default_handler(model), "token-classification");
  write_bytes(model / "modules.json", "[]");
  EXPECT_EQ(default_handler(model), "text-embedding");
  EXPECT_EQ(check_handler("sequence-classification"), "text-classification");
  EXPECT_EQ(check_handler("sentiment-analysis"), "sentiment-analysis");
  EXPECT_EQ(check_handler("text2text-generation"), "text2text-generation");  // a pipeline task since seq2seq
  EXPECT_TRUE(throws_with<InvalidArgument>([] { check_handler("text-to-audio"); },
                                           {"text-to-audio", "text-embedding"}));
}

// ---- hostile archives ----

struct Hostile {
  std::string file;   // archive file name
  std::string bytes;
  std::string needle;  // in the message, besides the archive's path
};

TEST(Archive, HostileArchivesAreRefusedWithNothingWritten) {
  const test_util::ZipEntry manifest{"MAR-INF/MANIFEST.json", kManifest};
  const test_util::ZipEntry config{"model/config.json", "{}"};
  const test_util::TarEntry tmanifest{"m/MAR-INF/MANIFEST.json", kManifest};
  const test_util::TarEntry tconfig{"m/model/config.json", "{}"};
  const std::vector<Hostile> cases = {
      {"slip.mar", make_zip({manifest, config, {"../evil", "x"}}), "'../evil'"},
      {"slip2.mar", make_zip({manifest, config, {"model/../../evil", "x"}}), "'model/../../evil'"},
      {"abs.mar", make_zip({manifest, config, {"/tmp/evil", "x"}}), "'/tmp/evil'"},
      {"ctrl.mar", make_zip({manifest, config, {"model/a\nb", "x"}}), "model/a"},
      {"link.mar", make_zip({manifest, config, {"model/l", "/etc/passwd", 0120777}}), "'model/l': symbolic link"},
      {"dev.mar", make_zip({manifest, config, {"model/d", "", 0020644}}), "'model/d': special file"},
      {"conflict.mar", make_zip({manifest, config, {"model/config.json/x", "x"}}), "both a file and a folder"},
      {"lying.mar", make_zip({manifest, config, {"model/w", std::string(5000, 'w'), 0100644, 10}}),
       "'model/w': more data than its declared 10 bytes"},
      {"short.mar", make_zip({manifest, config, {"model/w", std::string(50, 'w'), 0100644, 80}}), "'model/w'"},
      {"nomanifest.mar", make_zip({config}), "no MAR-INF/MANIFEST.json"},
      {"nomodel.mar", make_zip({manifest, {"other/config.json", "{}"}}), "'model': named by"},
      {"truncated.mar", make_zip({manifest, config}).substr(0, 150), "not a valid zip"},
      {"empty.mar", "", "not a model archive"},
      {"slip.tar.gz", make_tgz({tmanifest, tconfig, {"m/../evil", "x"}}), "'m/../evil'"},
      {"abs.tar.gz", make_tgz({tmanifest, tconfig, {"/tmp/evil", "x"}}), "'/tmp/evil'"},
      {"link.tar.gz", make_tgz({tmanifest, tconfig, {"m/model/l", "", '2', "/etc/passwd"}}), "symbolic link"},
      {"hard.tar.gz", make_tgz({tmanifest, tconfig, {"m/model/h", "", '1', "m/model/config.json"}}), "hard link"},
      {"dev.tar.gz", make_tgz({tmanifest, tconfig, {"m/model/d", "", '3'}}), "special file"},
      {"dup.tar.gz", make_tgz({tmanifest, tconfig, tconfig}), "duplicate name"},
      {"nomanifest.tar.gz", make_tgz({tconfig}), "no MAR-INF/MANIFEST.json"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    TempDir dir;
    fs::create_directories(dir / "in");
    fs::create_directories(dir / "store");
    write_bytes(dir / "in" / c.file, c.bytes);
    write_bytes(dir / "store" / "keep", "keep");
    const auto before = snapshot(dir.path());
    EXPECT_TRUE(throws_with<Error>([&] { open_archive(dir / "in" / c.file, dir / "store" / "dest"); },
                                   {(dir / "in" / c.file).string(), c.needle}));
    EXPECT_EQ(snapshot(dir.path()), before);
    EXPECT_FALSE(fs::exists("/tmp/evil"));
  }
}

TEST(Archive, LimitsNameTheEntry) {
  const test_util::ZipEntry manifest{"MAR-INF/MANIFEST.json", kManifest};
  const std::string zip = make_zip({manifest, {"model/a", std::string(1000, 'a')}, {"model/b", "b"}});
  TempDir dir;
  write_bytes(dir / "a.mar", zip);
  ArchiveLimits l;
  l.max_entry_bytes = 999;
  EXPECT_TRUE(throws_with<FormatError>([&] { open_archive(dir / "a.mar", dir / "x", l); }, {"'model/a'", "999"}));
  l = {};
  l.max_total_bytes = 1000;
  EXPECT_TRUE(throws_with<FormatError>([&] { open_archive(dir / "a.mar", dir / "x", l); },
                                       {"total uncompressed size"}));
  l = {};
  l.max_entries = 2;
  EXPECT_TRUE(throws_with<FormatError>([&] { open_archive(dir / "a.mar", dir / "x", l); }, {"3 entries"}));
  EXPECT_FALSE(fs::exists(dir / "x"));
  EXPECT_EQ(open_archive(dir / "a.mar", dir / "x").model_dir, dir / "x" / "model");
  // An existing destination is never written into.
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { open_archive(dir / "a.mar", dir / "x"); }, {"already exists"}));
}

}  // namespace
}  // namespace optimum::serving
