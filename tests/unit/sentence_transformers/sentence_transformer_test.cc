// The sentence-transformers pieces that need no model: pooling configs (both
// spellings), pooling against a direct per-row computation (padding on either
// side, prompt exclusion), the similarity functions against their
// definitions, activations, and modules.json refusals.
#include <cmath>
#include <random>

#include "optimum/core/errors.h"
#include "optimum/pipelines/sentence_transformer.h"
#include "test_util.h"

namespace optimum::pipelines {
namespace {

using test_util::TempDir;
using test_util::throws_with;
using test_util::write_bytes;

Tensor random_tensor(Shape shape, unsigned seed) {
  Tensor t = Tensor::zeros(DType::F32, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = dist(rng);
  return t;
}

TEST(PoolingConfig, CurrentSpellingKeepsTheListedOrder) {
  const Pooling p = Pooling::from_json(
      io::Json{{"embedding_dimension", 8}, {"pooling_mode", {"max", "cls"}}, {"include_prompt", false}},
      "cfg");
  EXPECT_EQ(p.embedding_dimension, 8);
  ASSERT_EQ(p.modes.size(), 2u);
  EXPECT_EQ(p.modes[0], PoolingMode::Max);
  EXPECT_EQ(p.modes[1], PoolingMode::Cls);
  EXPECT_FALSE(p.include_prompt);
  EXPECT_EQ(p.output_dimension(), 16);
}

TEST(PoolingConfig, LegacyFlagsConcatenateInTheFixedOrder) {
  const Pooling p = Pooling::from_json(io::Json{{"word_embedding_dimension", 4},
                                                {"pooling_mode_mean_tokens", true},
                                                {"pooling_mode_lasttoken", true},
                                                {"pooling_mode_cls_token", true},
                                                {"pooling_mode_max_tokens", false}},
                                       "cfg");
  ASSERT_EQ(p.modes.size(), 3u);
  EXPECT_EQ(p.modes[0], PoolingMode::Cls);
  EXPECT_EQ(p.modes[1], PoolingMode::Mean);
  EXPECT_EQ(p.modes[2], PoolingMode::LastToken);
  // No flag set: mean, as sentence-transformers defaults.
  const Pooling none = Pooling::from_json(io::Json{{"word_embedding_dimension", 4}}, "cfg");
  ASSERT_EQ(none.modes.size(), 1u);
  EXPECT_EQ(none.modes[0], PoolingMode::Mean);
}

TEST(PoolingConfig, BadConfigsNameTheFileAndValue) {
  EXPECT_TRUE(throws_with<FormatError>(
      [] {
        Pooling::from_json(io::Json{{"embedding_dimension", 4}, {"pooling_mode", "median"}},
                           "1_Pooling/config.json");
      },
      {"1_Pooling/config.json", "'median'"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] {
        Pooling::from_json(io::Json{{"pooling_mode", "mean"}}, "p.json");
      },
      {"p.json", "embedding_dimension"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { pooling_mode_from_name("sum"); }, {"'sum'", "weightedmean"}));
}

// Pooling of one row computed directly from the definitions.
std::vector<float> pool_row(PoolingMode mode, const float* x, const std::vector<int64_t>& mask, int64_t h) {
  const auto len = static_cast<int64_t>(mask.size());
  std::vector<float> out(static_cast<size_t>(h), 0.f);
  std::vector<int64_t> real;
  for (int64_t i = 0; i < len; ++i) {
    if (mask[static_cast<size_t>(i)]) real.push_back(i);
  }
  for (int64_t j = 0; j < h; ++j) {
    double v = 0.0;
    switch (mode) {
      case PoolingMode::Cls:
        v = x[real.front() * h + j];
        break;
      case PoolingMode::LastToken:
        v = x[real.back() * h + j];
        break;
      case PoolingMode::Max:
        v = -INFINITY;
        for (int64_t i : real) v = std::max<double>(v, x[i * h + j]);
        break;
      case PoolingMode::Mean:
      case PoolingMode::MeanSqrtLen: {
        for (int64_t i : real) v += x[i * h + j];
        const double n = static_cast<double>(real.size());
        v /= mode == PoolingMode::Mean ? n : std::sqrt(n);
        break;
      }
      case PoolingMode::WeightedMean: {
        double w = 0.0;
        for (int64_t i : real) {
          v += static_cast<double>(i + 1) * x[i * h + j];
          w += static_cast<double>(i + 1);
        }
        v /= w;
        break;
      }
    }
    out[static_cast<size_t>(j)] = static_cast<float>(v);
  }
  return out;
}

TEST(Pooling, EveryModeMatchesItsDefinitionWithPaddingOnEitherSide) {
  const int64_t b = 3, len = 6, h = 5;
  const Tensor x = random_tensor({b, len, h}, 7);
  // Right padding, no padding, left padding.
  const std::vector<std::vector<int64_t>> masks = {
      {1, 1, 1, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
  Tensor mask = Tensor::zeros(DType::I64, {b, len});
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t i = 0; i < len; ++i) mask.mutable_data<int64_t>()[r * len + i] = masks[size_t(r)][size_t(i)];
  }
  for (const char* name : {"cls", "lasttoken", "max", "mean", "mean_sqrt_len_tokens", "weightedmean"}) {
    for (bool exclude_prompt : {false, true}) {
      Pooling p;
      p.embedding_dimension = h;
      p.modes = {pooling_mode_from_name(name), PoolingMode::Mean};
      p.include_prompt = !exclude_prompt;
      const Tensor out = p.forward(x, mask, size_t{2});
      ASSERT_EQ(out.shape(), (Shape{b, 2 * h}));
      for (int64_t r = 0; r < b; ++r) {
        std::vector<int64_t> m = masks[size_t(r)];
        if (exclude_prompt) {
          // The first two real tokens are the prompt.
          int64_t first = 0;
          while (m[size_t(first)] == 0) ++first;
          for (int64_t i = 0; i < first + 2; ++i) m[size_t(i)] = 0;
        }
        const float* row = x.data<float>() + r * len * h;
        const auto want = pool_row(p.modes[0], row, m, h);
        const auto want_mean = pool_row(PoolingMode::Mean, row, m, h);
        for (int64_t j = 0; j < h; ++j) {
          EXPECT_NEAR(out.data<float>()[r * 2 * h + j], want[size_t(j)], 1e-6) << name << " row " << r;
          EXPECT_NEAR(out.data<float>()[r * 2 * h + h + j], want_mean[size_t(j)], 1e-6)
              << name << " row " << r;
        }
      }
    }
  }
}

TEST(Similarity, MatchesTheDefinitions) {
  const Tensor a = random_tensor({3, 7}, 1);
  const Tensor b = random_tensor({4, 7}, 2);
  const Tensor cos = cos_sim(a, b), dot = dot_score(a, b), euc = euclidean_sim(a, b),
               man = manhattan_sim(a, b);
  for (const Tensor* t : {&cos, &dot, &euc, &man}) ASSERT_EQ(t->shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      const float* u = a.data<float>() + i * 7;
      const float* v = b.data<float>() + j * 7;
      double d = 0, nu = 0, nv = 0, e = 0, m = 0;
      for (int k = 0; k < 7; ++k) {
        d += double(u[k]) * v[k];
        nu += double(u[k]) * u[k];
        nv += double(v[k]) * v[k];
        e += (double(u[k]) - v[k]) * (double(u[k]) - v[k]);
        m += std::abs(double(u[k]) - v[k]);
      }
      EXPECT_NEAR(dot.data<float>()[i * 4 + j], d, 1e-5);
      EXPECT_NEAR(cos.data<float>()[i * 4 + j], d / std::sqrt(nu * nv), 1e-6);
      EXPECT_NEAR(euc.data<float>()[i * 4 + j], -std::sqrt(e), 1e-5);
      EXPECT_NEAR(man.data<float>()[i * 4 + j], -m, 1e-5);
    }
  }
  // A 1-D input is one row; the function table picks the same functions.
  const Tensor one = similarity(SimilarityFunction::Manhattan, a.reshape({21}).reshape({3, 7}), b);
  EXPECT_EQ(one.data<float>()[5], man.data<float>()[5]);
  EXPECT_EQ(cos_sim(Tensor::from_data(DType::F32, {7}, a.data<float>()), b).shape(), (Shape{1, 4}));
}

TEST(Similarity, ZeroRowsAndBadShapes) {
  const Tensor zero = Tensor::zeros(DType::F32, {1, 4});
  const Tensor n = normalize_rows(zero);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(n.data<float>()[k], 0.f);
  EXPECT_EQ(cos_sim(zero, zero).data<float>()[0], 0.f);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] {
        cos_sim(Tensor::zeros(DType::F32, {2, 3}), Tensor::zeros(DType::F32, {2, 4}));
      },
      {"embedding sizes differ", "3", "4"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] {
        dot_score(Tensor::zeros(DType::F32, {1, 2, 3}), Tensor::zeros(DType::F32, {2, 3}));
      },
      {"'a'", "[1, 2, 3]"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { similarity_function_from_name("jaccard"); }, {"'jaccard'"}));
  EXPECT_EQ(similarity_function_from_name("dot"), SimilarityFunction::Dot);
  EXPECT_EQ(similarity_function_name(SimilarityFunction::Euclidean), "euclidean");
}

TEST(Activation, TorchClassPaths) {
  EXPECT_EQ(activation_from_name("torch.nn.Tanh"), Activation::Tanh);
  EXPECT_EQ(activation_from_name("torch.nn.modules.activation.Tanh"), Activation::Tanh);
  EXPECT_EQ(activation_from_name("torch.nn.modules.linear.Identity"), Activation::Identity);
  EXPECT_EQ(activation_from_name("torch.nn.GELU"), Activation::GELU);
  EXPECT_TRUE(
      throws_with<Unsupported>([] { activation_from_name("torch.nn.Softsign"); }, {"'torch.nn.Softsign'"}));
  EXPECT_TRUE(throws_with<Unsupported>([] { activation_from_name("mypkg.Tanh"); }, {"'mypkg.Tanh'"}));
}

TEST(DenseLayer, ConfigErrorsNameTheFile) {
  TempDir dir;
  EXPECT_TRUE(throws_with<NotFound>([&] { DenseLayer::load(dir.path()); }, {"config.json", "not found"}));
  write_bytes(dir / "config.json", R"({"in_features": 4})");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { DenseLayer::load(dir.path()); }, {"config.json", "'out_features'"}));
  write_bytes(dir / "config.json", R"({"in_features": 4, "out_features": 2})");
  EXPECT_TRUE(
      throws_with<NotFound>([&] { DenseLayer::load(dir.path()); },
                            {"neither model.safetensors nor pytorch_model.bin", dir.path().string()}));
}

TEST(SentenceTransformer, ModulesJsonRefusalsNameTheModule) {
  TempDir dir;
  write_bytes(dir / "modules.json",
              R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                  {"idx": 1, "name": "1", "path": "1_LSTM", "type": "sentence_transformers.models.LSTM"}])");
  EXPECT_TRUE(
      throws_with<Unsupported>([&] { SentenceTransformer::from_pretrained(dir.path().string()); },
                               {"modules.json", "module '1'", "'sentence_transformers.models.LSTM'"}));
  write_bytes(dir / "modules.json", R"([{"idx": 0, "name": "0", "path": "1_Pooling",
                                       "type": "sentence_transformers.models.Pooling"}])");
  EXPECT_TRUE(throws_with<Unsupported>([&] { SentenceTransformer::from_pretrained(dir.path().string()); },
                                       {"first module '0'", "Transformer first"}));
  write_bytes(dir / "modules.json", "[{");
  EXPECT_TRUE(throws_with<FormatError>([&] { SentenceTransformer::from_pretrained(dir.path().string()); },
                                       {"modules.json"}));
  write_bytes(dir / "modules.json", R"([{"idx": 0}])");
  EXPECT_TRUE(throws_with<FormatError>([&] { SentenceTransformer::from_pretrained(dir.path().string()); },
                                       {"modules.json", "'type'"}));
}

}  // namespace
}  // namespace optimum::pipelines
