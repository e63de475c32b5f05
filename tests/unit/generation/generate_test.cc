// The generation layer's own invariants on the table model: the step-wise
// Generator (continuous batching: requests joining and leaving between
// steps, cancellation, slot accounting) and configuration parsing. Parity
// with transformers is in tests/generation/ (Python, transformers as oracle).
#include <gtest/gtest.h>

#include <random>

#include "optimum/generation/generate.h"
#include "optimum/generation/logits_process.h"
#include "optimum/generation/table_lm.h"
#include "test_util.h"

namespace optimum::generation {
namespace {

using test_util::throws_with;

constexpr int64_t kVocab = 32;
constexpr int64_t kPositions = 96;

std::shared_ptr<const models::CausalLM> table_model(uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  Tensor table = Tensor::zeros(DType::F32, {kPositions, kVocab, kVocab});
  float* d = table.mutable_data<float>();
  for (int64_t i = 0; i < table.numel(); ++i) d[i] = normal(rng);
  return std::make_shared<TableLM>(table, 0.5f);
}

GenerationConfig config_of(const io::Json& options) {
  GenerationConfig c;
  c.update(options);
  return c;
}

std::vector<int64_t> prompt_of(int64_t n, int64_t salt) {
  std::vector<int64_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back((i * 7 + salt * 13) % kVocab);
  return p;
}

std::vector<std::vector<int64_t>> tokens_of(const GenerationOutput& out) {
  std::vector<std::vector<int64_t>> t;
  for (const auto& s : out) t.push_back(s.tokens);
  return t;
}

const std::vector<io::Json>& strategies() {
  static const std::vector<io::Json> all = {
      {{"max_new_tokens", 30}, {"eos_token_id", {3, 5}}},
      {{"max_new_tokens", 30}, {"do_sample", true}, {"seed", 11}, {"num_return_sequences", 3}, {"top_p", 0.9}},
      {{"max_new_tokens", 30}, {"num_beams", 3}, {"num_return_sequences", 2}, {"eos_token_id", 3}},
      {{"max_new_tokens", 25}, {"num_beams", 4}, {"early_stopping", "never"}, {"length_penalty", 0.0}},
  };
  return all;
}

TEST(Generator, RequestsJoiningMidwayEqualRunningAlone) {
  auto model = table_model();
  Generator gen(model, 16, kPositions);
  std::vector<int64_t> ids;
  std::vector<std::vector<int64_t>> prompts;
  // One request per strategy, each joining a few steps after the previous.
  for (size_t i = 0; i < strategies().size(); ++i) {
    prompts.push_back(prompt_of(static_cast<int64_t>(3 + 2 * i), static_cast<int64_t>(i)));
    ids.push_back(gen.add(prompts.back(), config_of(strategies()[i])));
    for (int s = 0; s < 4; ++s) gen.step();
  }
  while (!gen.idle()) gen.step();
  EXPECT_EQ(gen.free_slots(), 16);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto alone = generate(model, {prompts[i]}, config_of(strategies()[i]));
    const auto joined = gen.take(ids[i]);
    EXPECT_EQ(tokens_of(joined), tokens_of(alone[0])) << strategies()[i].dump();
    ASSERT_EQ(joined.size(), alone[0].size());
    for (size_t j = 0; j < joined.size(); ++j) {
      EXPECT_EQ(joined[j].scores, alone[0][j].scores);
      EXPECT_EQ(joined[j].sequence_score, alone[0][j].sequence_score);
    }
  }
}

TEST(Generator, FinishedRequestsFreeTheirSlotsForNewOnes) {
  auto model = table_model();
  Generator gen(model, 3, kPositions);
  const auto beam = config_of({{"max_new_tokens", 5}, {"num_beams", 3}});
  const int64_t a = gen.add(prompt_of(4, 1), beam);
  EXPECT_EQ(gen.free_slots(), 0);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { gen.add(prompt_of(2, 2), beam); }, {"3 cache slots", "0 are free"}));
  while (!gen.finished(a)) gen.step();
  EXPECT_EQ(gen.free_slots(), 3);
  const int64_t b = gen.add(prompt_of(4, 1), beam);
  while (!gen.idle()) gen.step();
  EXPECT_EQ(tokens_of(gen.take(a)), tokens_of(gen.take(b)));
  EXPECT_TRUE(throws_with<NotFound>([&] { gen.take(a); }, {"no request"}));
}

TEST(Generator, CancelStopsARequestAndKeepsTheOthers) {
  auto model = table_model();
  Generator gen(model, 4, kPositions);
  const auto cfg = config_of({{"max_new_tokens", 40}});
  const int64_t a = gen.add(prompt_of(5, 1), cfg);
  const int64_t b = gen.add(prompt_of(6, 2), cfg);
  for (int s = 0; s < 3; ++s) gen.step();
  gen.cancel(a);
  gen.step();
  EXPECT_TRUE(gen.finished(a));
  EXPECT_EQ(gen.free_slots(), 3);
  while (!gen.idle()) gen.step();
  const auto out_a = gen.take(a);
  EXPECT_EQ(out_a[0].finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(out_a[0].tokens.size(), 3u);
  EXPECT_EQ(tokens_of(gen.take(b)), tokens_of(generate(model, {prompt_of(6, 2)}, cfg)[0]));
}

TEST(Generator, StreamingCallbackSeesEveryTokenAndCanCancel) {
  auto model = table_model();
  const auto cfg = config_of({{"max_new_tokens", 20}, {"do_sample", true}, {"seed", 4}, {"num_return_sequences", 2}});
  std::vector<std::vector<int64_t>> seen(2);
  GenerateOptions opts;
  opts.on_token = [&](const TokenEvent& e) {
    seen[e.sequence].push_back(e.token);
    return true;
  };
  const auto out = generate(model, {prompt_of(3, 0)}, cfg, opts);
  EXPECT_EQ(seen[0], out[0][0].tokens);
  EXPECT_EQ(seen[1], out[0][1].tokens);
  int count = 0;
  opts.on_token = [&](const TokenEvent&) { return ++count < 7; };
  const auto cancelled = generate(model, {prompt_of(3, 0)}, cfg, opts);
  EXPECT_EQ(cancelled[0][0].finish_reason, FinishReason::kCancelled);
}

TEST(Generator, StopStringsUseTheDecoder) {
  auto model = table_model();
  // Token t decodes to one letter; stop at the first "c" or "q".
  DecodeFn decode = [](const std::vector<int64_t>& ids) {
    std::string s;
    for (const int64_t id : ids) s.push_back(static_cast<char>('a' + id % 26));
    return s;
  };
  const auto plain = generate(model, {prompt_of(2, 0)}, config_of({{"max_new_tokens", 60}}))[0][0].tokens;
  auto cfg = config_of({{"max_new_tokens", 60}, {"stop_strings", {"c", "q"}}});
  GenerateOptions opts;
  opts.decode = decode;
  const auto out = generate(model, {prompt_of(2, 0)}, cfg, opts)[0][0];
  size_t first = plain.size();
  for (size_t i = 0; i < plain.size(); ++i)
    if (plain[i] % 26 == 2 || plain[i] % 26 == 16) {
      first = i;
      break;
    }
  ASSERT_LT(first, plain.size()) << "the test needs a 'c' or 'q' in the continuation";
  EXPECT_EQ(out.tokens, std::vector<int64_t>(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(first) + 1));
  EXPECT_EQ(out.finish_reason, FinishReason::kStopString);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { generate(model, {prompt_of(2, 0)}, cfg); }, {"tokenizer"}));
}

TEST(Generator, BadRequestsAreClearErrors) {
  auto model = table_model();
  const GenerationConfig cfg = config_of({{"max_new_tokens", 4}});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { generate(model, {{1, 99}}, cfg); }, {"input_ids[1]", "99"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { generate(model, {{}}, cfg); }, {"empty"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { generate(model, {{1}}, config_of({{"max_new_tokens", 500}})); },
                                           {"max_length", "96"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { generate(model, {{1}}, config_of({{"num_beams", 2}, {"max_new_tokens", 3}}), {[](const TokenEvent&) { return true; }, {}}); },
      {"beam search"}));
}

TEST(GenerationConfig, ParsesFilesAndOptionsWithNamedErrors) {
  const auto c = GenerationConfig::from_json(
      {{"eos_token_id", {2, 7}}, {"early_stopping", "never"}, {"top_k", 5}, {"architectures", {"X"}}}, "config.json");
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(c.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(c.top_k, 5);
  EXPECT_EQ(c.effective_pad_token_id(), 2);
  EXPECT_TRUE(throws_with<FormatError>([] { GenerationConfig::from_json({{"top_k", "x"}}, "gen.json"); },
                                       {"gen.json", "top_k"}));
  GenerationConfig d;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { d.update({{"tpo_k", 3}}); }, {"tpo_k", "top_k"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { d.update({{"early_stopping", "soon"}}); }, {"early_stopping"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { config_of({{"max_new_tokens", 0}}).validate(); }, {"max_new_tokens"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { config_of({{"do_sample", true}, {"temperature", 0.0}}).validate(); }, {"temperature", "do_sample=False"}));
  // Lengths as transformers resolves them.
  EXPECT_EQ(GenerationConfig{}.resolved_max_length(7, 0), 27);
  EXPECT_EQ(GenerationConfig{}.resolved_max_length(7, 20), 20);
  EXPECT_EQ(config_of({{"max_length", 12}}).resolved_max_length(7, 10), 12);
  EXPECT_EQ(config_of({{"max_length", 12}, {"max_new_tokens", 3}}).resolved_max_length(7, 0), 10);
  EXPECT_EQ(config_of({{"min_new_tokens", 3}, {"min_length", 50}}).resolved_min_length(7), 10);
}

TEST(LogitsProcessors, TopKKeepsKAndTemperatureScales) {
  std::vector<float> row = {0.5f, 3.0f, -1.0f, 2.0f, 1.0f};
  make_logits_processor("TopKLogitsWarper", {{"top_k", 2}})->apply({}, row);
  EXPECT_EQ(std::count_if(row.begin(), row.end(), [](float x) { return std::isfinite(x); }), 2);
  EXPECT_EQ(row[1], 3.0f);
  EXPECT_EQ(row[3], 2.0f);
  std::vector<float> t = {2.0f, -4.0f};
  make_logits_processor("TemperatureLogitsWarper", {{"temperature", 2.0}})->apply({}, t);
  EXPECT_EQ(t, (std::vector<float>{1.0f, -2.0f}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { make_logits_processor("Nope", io::Json::object()); }, {"Nope"}));
}

}  // namespace
}  // namespace optimum::generation
