// The architecture registry and the session behind OptimizedModel: the
// supported lists, config specs and export configs derive from the entries,
// and OptimizedModel::from_pretrained loads a decoder folder (a tiny llama
// written here) through DecoderSession, giving what the decoder engine
// gives directly (its parity with transformers is tests/decoders').
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "optimum/core/errors.h"
#include "optimum/io/safetensors.h"
#include "optimum/modeling/modeling.h"
#include "optimum/models/architecture.h"
#include "optimum/models/seq2seq.h"
#include "optimum/models/decoder_heads.h"
#include "test_util.h"

namespace optimum::models {
namespace {

// Every test sees the registry filled, whichever one runs first or alone
// (ctest runs each test in its own process).
class RegistryEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { register_architectures(); }
};
const auto* const kRegistry = ::testing::AddGlobalTestEnvironment(new RegistryEnvironment);

using test_util::TempDir;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Architectures, SupportedListsDeriveFromTheEntries) {
  std::vector<std::string> all, encoders, decoders, seq2seq;
  for (const Architecture& a : architectures()) {
    all.push_back(a.model_type);
    (a.is_decoder() ? decoders : a.is_seq2seq() ? seq2seq : encoders).push_back(a.model_type);
    EXPECT_EQ(static_cast<int>(a.encoder.has_value()) + static_cast<int>(a.decoder.has_value()) +
                  static_cast<int>(a.seq2seq.has_value()),
              1)
        << a.model_type;
  }
  // whisper (speech) loads as an encoder-decoder but has no export rows yet, so it is no entry.
  std::vector<std::string> loadable = seq2seq;
  loadable.push_back("whisper");
  EXPECT_EQ(seq2seq_model_types(), sorted(loadable));
  EXPECT_EQ(tasks::seq2seq_model_types(), sorted(seq2seq));
  EXPECT_EQ(sorted(seq2seq), (std::vector<std::string>{"bart", "marian", "mbart", "t5"}));
  EXPECT_EQ(supported_model_types(), sorted(all));
  EXPECT_EQ(config::supported_model_types(), sorted(encoders));
  EXPECT_EQ(decoder_model_types(), sorted(decoders));
  EXPECT_EQ(tasks::decoder_model_types(), sorted(decoders));
  // Every registered architecture is in the export registry with its entry's tasks, and nothing else is.
  std::set<std::string> exported;
  for (const auto& [model_type, task, exporter] : tasks::registry_table()) exported.insert(model_type);
  EXPECT_EQ(std::vector<std::string>(exported.begin(), exported.end()), sorted(all));
  for (const std::string& t : tasks::seq2seq_model_types()) {
    EXPECT_TRUE(tasks::get_export_config("onnx", t, "text2text-generation-with-past").is_encoder_decoder) << t;
  }
  for (const Architecture& a : architectures()) {
    const std::vector<std::string> supported = tasks::supported_tasks("native", a.model_type);
    for (const std::string& t : architecture_tasks(a)) {
      EXPECT_NE(std::find(supported.begin(), supported.end(), t), supported.end()) << a.model_type << " " << t;
      EXPECT_EQ(tasks::get_export_config("native", a.model_type, t).is_decoder, a.is_decoder());
    }
    for (const std::string& t : supported) {
      const std::string base = t.ends_with("-with-past") ? t.substr(0, t.size() - 10) : t;
      const auto own = architecture_tasks(a);
      EXPECT_NE(std::find(own.begin(), own.end(), base), own.end()) << a.model_type << " " << t;
    }
  }
  // The encoders' loaders take their positions and token types from the entry's blocks.
  for (const Architecture& a : architectures()) {
    if (!a.encoder) continue;
    EXPECT_EQ(find_family(a.model_type).uses_token_types, a.blocks.embeddings.token_types) << a.model_type;
    EXPECT_EQ(find_family(a.model_type).positions == PositionStyle::FromPaddingIndex,
              a.blocks.embeddings.positions_from_padding_index)
        << a.model_type;
  }
  EXPECT_THROW(architecture("nonesuch"), Unsupported);
  EXPECT_THROW(find_family("llama"), Unsupported);
  EXPECT_THROW(decoder_family("bert"), Unsupported);
}

TEST(Architectures, ConfigSpecsComeFromTheEntries) {
  // DistilBERT's entry spells the BERT fields its own way; the config layer parses with it.
  const io::Json j = {{"model_type", "distilbert"}, {"vocab_size", 100}, {"dim", 32},
                      {"n_layers", 2},              {"n_heads", 4},      {"hidden_dim", 64}};
  const config::EncoderConfig c = config::parse_config(j, "config.json");
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.max_position_embeddings,
            architecture("distilbert").config.defaults.at("max_position_embeddings").get<int64_t>());
}

// A decoder entry's blocks agree with what its config parser makes of a default config.
TEST(Architectures, DecoderBlocksDescribeTheParsedConfig) {
  for (const Architecture& a : architectures()) {
    if (!a.decoder) continue;
    io::Json j = {{"model_type", a.model_type}, {"vocab_size", 64}, {"hidden_size", 32},
                  {"num_hidden_layers", 2},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                  {"intermediate_size", 64},   {"head_dim", 8},     {"n_embd", 32},
                  {"n_layer", 2},              {"n_head", 4}};
    const DecoderConfig c = a.decoder->parse_config(j, a.model_type + "/config.json");
    EXPECT_EQ(c.norm, a.blocks.norm.kind) << a.model_type;
    EXPECT_EQ(c.positions, a.blocks.embeddings.positions) << a.model_type;
    EXPECT_EQ(c.gated_mlp, a.blocks.mlp.gated) << a.model_type;
    EXPECT_EQ(c.qk_norm, a.blocks.attention.qk_norm) << a.model_type;
    EXPECT_EQ(c.sandwich_norms, a.blocks.norm.sandwich) << a.model_type;
    EXPECT_EQ(c.scale_embeddings, a.blocks.embeddings.scaled) << a.model_type;
    EXPECT_TRUE(a.blocks.attention.causal && a.blocks.norm.pre_norm) << a.model_type;
    EXPECT_FALSE(describe(a.blocks).empty());
  }
}

// A tiny llama checkpoint (random weights, tied embeddings) in `dir`.
void write_tiny_llama(const std::filesystem::path& dir, bool with_score) {
  const int64_t V = 50, H = 16, L = 2, heads = 4, kv = 2, hd = 4, I = 32;
  io::Json cfg = {{"model_type", "llama"},        {"architectures", {"LlamaForCausalLM"}},
                  {"vocab_size", V},              {"hidden_size", H},
                  {"num_hidden_layers", L},       {"num_attention_heads", heads},
                  {"num_key_value_heads", kv},    {"intermediate_size", I},
                  {"max_position_embeddings", 64}, {"tie_word_embeddings", true},
                  {"pad_token_id", 0}};
  std::ofstream(dir / "config.json") << cfg.dump();
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  std::vector<std::pair<std::string, Tensor>> tensors;
  auto add = [&](const std::string& name, Shape shape, bool ones = false) {
    Tensor t = Tensor::zeros(DType::F32, shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = ones ? 1.0f : normal(rng);
    tensors.emplace_back(name, t);
  };
  add("model.embed_tokens.weight", {V, H});
  add("model.norm.weight", {H}, true);
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {H}, true);
    add(p + "post_attention_layernorm.weight", {H}, true);
    add(p + "self_attn.q_proj.weight", {heads * hd, H});
    add(p + "self_attn.k_proj.weight", {kv * hd, H});
    add(p + "self_attn.v_proj.weight", {kv * hd, H});
    add(p + "self_attn.o_proj.weight", {H, heads * hd});
    add(p + "mlp.gate_proj.weight", {I, H});
    add(p + "mlp.up_proj.weight", {I, H});
    add(p + "mlp.down_proj.weight", {H, I});
  }
  if (with_score) add("score.weight", {3, H});
  io::save_safetensors(dir / "model.safetensors", tensors);
}

Tensor ids_tensor(const std::vector<int64_t>& v, Shape shape) { return Tensor::from_data(DType::I64, shape, v.data()); }

void expect_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << i;
}

TEST(OptimizedModelSession, LoadsADecoderFolderForEachHead) {
  TempDir dir;
  write_tiny_llama(dir.path(), /*with_score=*/true);
  const std::vector<int64_t> ids = {5, 9, 13, 2, 0, 7, 8, 4, 11, 0};
  const std::vector<int64_t> mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 0};
  const std::map<std::string, Tensor> inputs = {{"input_ids", ids_tensor(ids, {2, 5})},
                                                {"attention_mask", ids_tensor(mask, {2, 5})}};
  PaddedTokens tokens{ids.data(), mask.data(), 2, 5};
  const auto engine = DecoderModel::load(dir.path());

  modeling::LoadOptions options;
  options.task = tasks::Task::TextGeneration;
  const auto lm = modeling::OptimizedModel::from_pretrained(dir.path().string(), options);
  EXPECT_TRUE(lm->is_decoder());
  EXPECT_EQ(lm->model_type(), "llama");
  EXPECT_EQ(lm->task(), tasks::Task::TextGeneration);
  EXPECT_EQ(lm->output_names(), std::vector<std::string>{"logits"});
  EXPECT_EQ(lm->config_json().at("vocab_size").get<int64_t>(), 50);
  EXPECT_THROW(lm->config(), Unsupported);
  const NamedTensors logits = lm->forward(inputs);
  ASSERT_EQ(logits.size(), 1u);
  EXPECT_EQ(logits[0].first, "logits");
  expect_equal(logits[0].second, decoder_logits(*engine, tokens));
  // Each position's logits are the engine's next-token logits after that prefix.
  {
    auto cache = engine->new_cache(1, 8);
    const StepSegment seg{0, ids.data(), 4};
    const Tensor last = engine->step(*cache, {seg});
    for (int64_t v = 0; v < 50; ++v) EXPECT_EQ(logits[0].second.data<float>()[3 * 50 + v], last.data<float>()[v]);
  }

  options.task = tasks::Task::FeatureExtraction;
  const auto base = modeling::OptimizedModel::from_pretrained(dir.path().string(), options);
  const NamedTensors hidden = base->forward(inputs);
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden[0].first, "last_hidden_state");
  expect_equal(hidden[0].second, decoder_last_hidden_state(*engine, tokens));

  options.task = tasks::Task::TextClassification;
  const auto classifier = modeling::OptimizedModel::from_pretrained(dir.path().string(), options);
  const NamedTensors scores = classifier->forward(inputs);
  ASSERT_EQ(scores.size(), 1u);
  expect_equal(scores[0].second, DecoderForSequenceClassification::load(dir.path())->forward(tokens));

  options.task = tasks::Task::FillMask;
  EXPECT_THROW(modeling::OptimizedModel::from_pretrained(dir.path().string(), options), Unsupported);
  EXPECT_THROW(base->forward({{"input_ids", ids_tensor(ids, {2, 5})}, {"token_type_ids", ids_tensor(ids, {2, 5})}}),
               InvalidArgument);
}

TEST(OptimizedModelSession, EveryLoadPathIsADecoderSession) {
  TempDir dir;
  write_tiny_llama(dir.path(), /*with_score=*/false);
  modeling::LoadOptions options;
  options.task = tasks::Task::TextGeneration;
  const auto lm = modeling::OptimizedModel::from_pretrained(dir.path().string(), options);
  EXPECT_EQ(lm->describe(), "OptimizedModel(session=DecoderSession, task=text-generation, model_type=llama)");
  EXPECT_STREQ(lm->session().session_type(), "DecoderSession");
  // A decoder loaded elsewhere (a GGUF file's) behind the same session type.
  const auto* session = dynamic_cast<const DecoderSession*>(&lm->session());
  ASSERT_NE(session, nullptr);
  const auto wrapped = modeling::OptimizedModel::from_session(
      DecoderSession::from_model(session->model(), tasks::Task::TextGeneration), dir.path());
  EXPECT_EQ(wrapped->describe(), lm->describe());
  const std::vector<int64_t> ids = {5, 9, 13, 2};
  const std::map<std::string, Tensor> inputs = {{"input_ids", ids_tensor(ids, {1, 4})}};
  expect_equal(wrapped->forward(inputs)[0].second, lm->forward(inputs)[0].second);
  EXPECT_THROW(DecoderSession::from_model(session->model(), tasks::Task::TextClassification), Unsupported);
  EXPECT_THROW(DecoderSession::from_model(nullptr, tasks::Task::TextGeneration), InvalidArgument);
}

}  // namespace
}  // namespace optimum::models
