// Every head of every family loaded directly from its transformers
// checkpoint (from_pretrained, layout converted in memory) and run on a
// right-padded batch: all outputs match transformers at every position.
// Built into the ASan/UBSan run (make asan-test), where the point is also
// that the loaders and the forward touch no memory they do not own.
#include "fixtures.h"
#include "optimum/modeling/modeling.h"
#include "optimum/tasks/task.h"

namespace optimum::forward_test {
namespace {

class DirectLoad : public ::testing::TestWithParam<std::string> {};

TEST_P(DirectLoad, EveryHeadMatchesTransformers) {
  for (const std::string& head : kHeads) {
    SCOPED_TRACE(GetParam() + " " + head);
    const Json& c = family_entry(GetParam()).at("forward").at(head);
    modeling::LoadOptions options;
    options.task = tasks::task_from_name(head);
    const auto model = modeling::OptimizedModel::from_pretrained(model_dir(c).string(), options);
    EXPECT_FALSE(model->exported_now());
    const auto outputs = model->forward(forward_inputs(c));
    for (const auto& [name, expected] : c.at("outputs").items()) {
      const auto it = std::find_if(outputs.begin(), outputs.end(), [&](const auto& o) { return o.first == name; });
      ASSERT_NE(it, outputs.end()) << "no output " << name;
      EXPECT_TRUE(all_close(it->second, expected, kAtol)) << name;
    }
  }
}

TEST_P(DirectLoad, PaddingSkippedKeepsTheRealTokens) {
  // skip_padding computes attended tokens only: the rows' real positions
  // still match transformers (padded positions are then not its values).
  const Json& c = family_entry(GetParam()).at("forward").at("feature-extraction");
  const modeling::LoadOptions options;
  const auto model = modeling::OptimizedModel::from_pretrained(model_dir(c).string(), options);
  const auto inputs = forward_inputs(c);
  const auto outputs = model->forward(inputs, /*skip_padding=*/true);
  ASSERT_EQ(outputs.front().first, "last_hidden_state");
  const Tensor& got = outputs.front().second;
  const Json& want = c.at("outputs").at("last_hidden_state");
  const auto shape = want.at("shape").get<Shape>();
  ASSERT_EQ(got.shape(), shape);
  const auto data = want.at("data").get<std::vector<double>>();
  const int64_t* mask = inputs.at("attention_mask").data<int64_t>();
  const float* g = got.data<float>();
  const int64_t rows = shape[0] * shape[1], h = shape[2];
  for (int64_t r = 0; r < rows; ++r) {
    if (!mask[r]) continue;
    for (int64_t j = 0; j < h; ++j) {
      const auto i = static_cast<size_t>(r * h + j);
      ASSERT_NEAR(g[i], data[i], kAtol) << "token " << r << " dim " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, DirectLoad, ::testing::ValuesIn(kFamilies), param_name);

}  // namespace
}  // namespace optimum::forward_test
