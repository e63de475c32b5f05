// Native export of every head of every family (fp32, with the exporter's
// own validation), the export loaded back through from_pretrained and run:
// outputs match transformers. The base model is also exported in int8 and
// bf16 (accuracy guard, per-Linear precisions) and through
// from_pretrained(export_model) into an export cache.
#include "fixtures.h"
#include "optimum/exporters/export.h"
#include "optimum/modeling/modeling.h"
#include "optimum/tasks/task.h"

namespace optimum::forward_test {
namespace {

using test_util::TempDir;

// The output `name` of a forward; fails the test when it is missing.
const Tensor& output(const models::NamedTensors& outputs, const std::string& name) {
  const auto it = std::find_if(outputs.begin(), outputs.end(), [&](const auto& o) { return o.first == name; });
  if (it == outputs.end()) throw std::runtime_error("no output " + name);
  return it->second;
}

class Export : public ::testing::TestWithParam<std::string> {};

TEST_P(Export, Fp32ExportOfEveryHeadLoadsAndMatchesTransformers) {
  TempDir tmp;
  for (const std::string& head : kHeads) {
    SCOPED_TRACE(GetParam() + " " + head);
    const Json& c = family_entry(GetParam()).at("forward").at(head);
    exporters::ExportOptions eo;
    eo.task = head;
    eo.batch_size = 2;
    eo.sequence_length = 8;
    const auto out = tmp / head;
    const auto result = exporters::export_native(model_dir(c), out, eo);
    EXPECT_EQ(result.dtype, "fp32");
    EXPECT_EQ(result.task, head);
    EXPECT_LE(result.max_abs_diff, result.atol);
    modeling::LoadOptions options;
    options.task = tasks::task_from_name(head);
    const auto model = modeling::OptimizedModel::from_pretrained(out.string(), options);
    const auto outputs = model->forward(forward_inputs(c));
    for (const auto& [name, expected] : c.at("outputs").items()) {
      EXPECT_TRUE(all_close(output(outputs, name), expected, kAtol)) << name;
    }
  }
}

TEST_P(Export, LowPrecisionExportsLoadAndStayCloseToTransformers) {
  TempDir tmp;
  const Json& c = family_entry(GetParam()).at("forward").at("feature-extraction");
  for (const char* dtype : {"int8", "bf16"}) {
    SCOPED_TRACE(GetParam() + " " + dtype);
    exporters::ExportOptions eo;
    eo.task = "feature-extraction";
    eo.dtype = dtype;
    eo.sequence_length = 8;
    eo.calibration_texts = {"My name is John and I live in London.", "Paris is the capital of France.",
                            "The weather today is good, the movie was bad."};
    const auto out = tmp / dtype;
    const auto result = exporters::export_native(model_dir(c), out, eo);
    EXPECT_EQ(result.dtype, dtype);
    EXPECT_TRUE(result.accuracy.is_object()) << result.accuracy.dump();
    for (const char* load_dtype : {"auto", dtype}) {
      modeling::LoadOptions options;
      options.dtype = load_dtype;
      const auto model = modeling::OptimizedModel::from_pretrained(out.string(), options);
      const auto outputs = model->forward(forward_inputs(c));
      EXPECT_GT(cosine(output(outputs, "last_hidden_state"), c.at("outputs").at("last_hidden_state")), 0.99)
          << "load dtype " << load_dtype;
    }
    // An export in bf16 / int8 loads only in its own precision.
    modeling::LoadOptions fp32;
    fp32.dtype = "fp32";
    EXPECT_THROW(modeling::OptimizedModel::from_pretrained(out.string(), fp32), Error);
  }
}

TEST_P(Export, FromPretrainedExportsIntoTheCacheOnceAndSavesIt) {
  TempDir tmp;
  const Json& c = family_entry(GetParam()).at("forward").at("question-answering");
  modeling::LoadOptions options;
  options.task = tasks::Task::QuestionAnswering;
  options.export_model = true;
  options.export_cache = (tmp / "cache").string();
  const auto first = modeling::OptimizedModel::from_pretrained(model_dir(c).string(), options);
  EXPECT_TRUE(first->exported_now());
  const auto again = modeling::OptimizedModel::from_pretrained(model_dir(c).string(), options);
  EXPECT_FALSE(again->exported_now());
  EXPECT_EQ(first->path(), again->path());
  // save_pretrained of the exported model, loaded back: the same outputs.
  again->save_pretrained(tmp / "saved");
  const auto saved = modeling::OptimizedModel::from_pretrained((tmp / "saved").string(), options);
  for (const auto* m : {first.get(), saved.get()}) {
    const auto outputs = m->forward(forward_inputs(c));
    for (const auto& [name, expected] : c.at("outputs").items()) {
      EXPECT_TRUE(all_close(output(outputs, name), expected, kAtol)) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Export, ::testing::ValuesIn(kFamilies), param_name);

}  // namespace
}  // namespace optimum::forward_test
