// Fuzz target: an export's record (optimum_export.json), next to the fixed
// files of a tiny exported BERT classifier (tests/fuzz/fixtures/export_record:
// config.json, model.safetensors), loaded as OptimizedModel::from_pretrained
// loads an exported folder (models::EncoderModel::load, whose from_native
// checks the layout against the weights), then run once on 4 tokens.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "optimum/core/tensor.h"
#include "optimum/models/model.h"
#include "optimum/tasks/task.h"

namespace {

namespace fs = std::filesystem;

// A private folder holding copies of the fixture's weights and config; the
// record is written into it for each input. Removed at exit.
class ModelFolder {
 public:
  ModelFolder() {
    std::string tmpl = (fs::temp_directory_path() / "optimum-fuzz-export-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    dir_ = tmpl;
    const fs::path fixtures = OPTIMUM_FUZZ_FIXTURES;
    for (const char* name : {"config.json", "model.safetensors"}) {
      fs::copy_file(fixtures / name, dir_ / name);
    }
    record_ = dir_ / "optimum_export.json";
  }
  ~ModelFolder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Replaces the record with `data`.
  const fs::path& write_record(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(record_.c_str(), "wb");
    if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror("optimum_export.json");
      std::abort();
    }
    return dir_;
  }

 private:
  fs::path dir_;
  fs::path record_;
};

optimum::Tensor ids(std::vector<int64_t> v) {
  return optimum::Tensor::from_data(optimum::DType::I64, {1, static_cast<int64_t>(v.size())}, v.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ModelFolder folder;
  const fs::path& dir = folder.write_record(data, size);
  optimum::fuzz::accept_or_refuse([&] {
    const auto model = optimum::models::EncoderModel::load(dir, optimum::tasks::Task::TextClassification);
    const std::map<std::string, optimum::Tensor> inputs = {
        {"input_ids", ids({2, 7, 11, 3})},
        {"attention_mask", ids({1, 1, 1, 1})},
        {"token_type_ids", ids({0, 0, 1, 1})},
    };
    for (const auto& [name, t] : model->forward(inputs)) {
      optimum::fuzz::touch(t.data<float>(), t.nbytes());
    }
  });
  return 0;
}
