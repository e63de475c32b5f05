// The task pipelines on every family's tiny models (feature-extraction,
// fill-mask, text-classification with a pair, token-classification with
// aggregation, question-answering, zero-shot-classification) and the
// sentence-transformers chain: results equal transformers' pipelines and
// sentence-transformers' encode, computed by make_tiny_models.py.
#include "fixtures.h"
#include "optimum/pipelines/pipeline.h"
#include "optimum/pipelines/sentence_transformer.h"

namespace optimum::forward_test {
namespace {

class Pipelines : public ::testing::TestWithParam<std::string> {};

TEST_P(Pipelines, EveryTaskMatchesTransformers) {
  const Json& cases = family_entry(GetParam()).at("pipelines");
  ASSERT_EQ(cases.size(), 6u);
  for (const Json& c : cases) {
    const std::string task = c.at("task").get<std::string>();
    SCOPED_TRACE(GetParam() + " " + task);
    const pipelines::PipelineOptions options;  // named: GCC 12 -O3 warns on the default argument's temporary
    const auto pipe = pipelines::pipeline(task, model_dir(c).string(), options);
    EXPECT_EQ(pipe->task(), task);
    const Json got = (*pipe)(c.at("inputs"), c.at("options"));
    EXPECT_TRUE(same_json(c.at("expected"), got, kAtol));
  }
}

TEST_P(Pipelines, SentenceEmbeddingsMatchSentenceTransformers) {
  const Json& c = family_entry(GetParam()).at("sentence_transformer");
  const pipelines::SentenceTransformerOptions load;
  const auto st = pipelines::SentenceTransformer::from_pretrained(model_dir(c).string(), load);
  EXPECT_EQ(st->module_names(), (std::vector<std::string>{"Transformer", "Pooling", "Normalize"}));
  pipelines::EncodeOptions options;
  options.batch_size = 1;  // one sentence per forward, then both in one padded batch
  for (size_t batch : {size_t{1}, size_t{2}}) {
    options.batch_size = batch;
    const Tensor emb = st->encode(c.at("sentences").get<std::vector<std::string>>(), options);
    EXPECT_TRUE(all_close(emb, c.at("expected"), kAtol)) << "batch size " << batch;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Pipelines, ::testing::ValuesIn(kFamilies), param_name);

}  // namespace
}  // namespace optimum::forward_test
