// OpenAI /v1/completions and /v1/chat/completions wire formats.
#include <gtest/gtest.h>

#include <limits>

#include "optimum/core/errors.h"
#include "optimum/serving/protocol_generate.h"
#include "test_util.h"

namespace optimum::serving {
namespace {

using io::Json;
using test_util::throws_with;

TEST(OpenAIGenerate, CompletionPromptShapes) {
  auto call = openai_generate_call(R"({"model": "m", "prompt": "Hello"})", false);
  EXPECT_EQ(call.model, "m");
  ASSERT_EQ(call.prompt_count(), 1u);
  EXPECT_EQ(call.prompts[0], "Hello");
  EXPECT_FALSE(call.prompt_is_ids[0]);
  EXPECT_EQ(call.n, 1);
  EXPECT_FALSE(call.stream);

  call = openai_generate_call(R"({"model": "m", "prompt": ["a", [1, 2, 3], "b"]})", false);
  ASSERT_EQ(call.prompt_count(), 3u);
  EXPECT_TRUE(call.prompt_is_ids[1]);
  EXPECT_EQ(call.prompt_ids[1], (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(call.prompts[2], "b");

  call = openai_generate_call(R"({"model": "m", "prompt": [5, 6]})", false);
  ASSERT_EQ(call.prompt_count(), 1u);
  EXPECT_EQ(call.prompt_ids[0], (std::vector<int64_t>{5, 6}));
}

TEST(OpenAIGenerate, SamplingOptions) {
  auto call = openai_generate_call(
      R"({"model": "m", "prompt": "x", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
          "min_p": 0.05, "repetition_penalty": 1.1, "seed": 42, "n": 3, "stop": ["\n", "END"], "logprobs": 2,
          "stream": true, "stream_options": {"include_usage": true}, "presence_penalty": 0})",
      false);
  EXPECT_EQ(call.max_tokens, 7);
  EXPECT_EQ(call.temperature, 0.5);
  EXPECT_EQ(call.top_p, 0.9);
  EXPECT_EQ(call.top_k, 40);
  EXPECT_EQ(call.min_p, 0.05);
  EXPECT_EQ(call.repetition_penalty, 1.1);
  EXPECT_EQ(call.seed, 42u);
  EXPECT_EQ(call.n, 3);
  EXPECT_EQ(call.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(call.logprobs, 2);
  EXPECT_TRUE(call.stream);
  EXPECT_TRUE(call.include_usage);
}

TEST(OpenAIGenerate, ChatMessages) {
  auto call = openai_generate_call(
      R"({"model": "m", "messages": [{"role": "system", "content": "Be brief."},
          {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}],
          "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 3,
          "chat_template_kwargs": {"enable_thinking": false}})",
      true);
  ASSERT_EQ(call.messages.size(), 2u);
  EXPECT_EQ(call.messages[1]["content"], "Hi there");
  EXPECT_EQ(call.max_tokens, 9);
  EXPECT_EQ(call.logprobs, 3);
  EXPECT_EQ(call.chat_template_kwargs["enable_thinking"], false);
  EXPECT_TRUE(call.add_generation_prompt);
  EXPECT_EQ(call.prompt_count(), 1u);
}

TEST(OpenAIGenerate, ErrorsNameTheField) {
  const auto invalid = [](const char* body, bool chat, std::vector<std::string> needles) {
    return throws_with<InvalidArgument>([&] { openai_generate_call(body, chat); }, needles);
  };
  EXPECT_TRUE(invalid("not json", false, {"completion request"}));
  EXPECT_TRUE(invalid(R"({"prompt": "x"})", false, {"\"model\"", "missing"}));
  EXPECT_TRUE(invalid(R"({"model": "m"})", false, {"\"prompt\"", "missing"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": []})", false, {"\"prompt\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": [[]]})", false, {"prompt[0]", "empty"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": [[1, -2]]})", false, {"prompt[0][1]"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "temperature": 3})", false, {"\"temperature\"", "between"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "top_p": -0.1})", false, {"\"top_p\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "max_tokens": 0})", false, {"\"max_tokens\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "max_tokens": 1.5})", false, {"\"max_tokens\"", "integer"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "n": 1000})", false, {"\"n\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "stop": ["a","b","c","d","e"]})", false, {"\"stop\"", "at most 4"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "stop": [""]})", false, {"stop[0]", "empty"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "logprobs": 6})", false, {"\"logprobs\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "frequency_penalty": 0.5})", false, {"frequency_penalty", "not supported"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "echo": true})", false, {"\"echo\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "stream_options": {}})", false, {"stream_options"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "prompt": "x", "logit_bias": {"5": 10}})", false, {"logit_bias"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "messages": []})", true, {"\"messages\""}));
  EXPECT_TRUE(invalid(R"({"model": "m", "messages": [{"content": "x"}]})", true, {"messages[0].role", "missing"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "messages": [{"role": "user"}]})", true, {"messages[0].content"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", true,
                      {"messages[0].content[0].type", "text"}));
  EXPECT_TRUE(invalid(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", true,
                      {"top_logprobs", "logprobs"}));
  EXPECT_TRUE(invalid("{\"model\": \"m\", \"prompt\": \"\xff\"}", false, {"UTF-8"}));
  std::string many = R"({"model": "m", "prompt": [)";
  for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + "\"p\"";
  many += "]}";
  EXPECT_TRUE(invalid(many.c_str(), false, {"65 prompts", "limit of 64"}));
}

TEST(OpenAIGenerate, CompletionResponse) {
  auto call = openai_generate_call(R"({"model": "tiny", "prompt": "x", "logprobs": 1})", false);
  GeneratedChoice c{"Hello", "length", {{"Hel", -0.5, {{"Hel", -0.5}}, 0}, {"lo", -1.0, {{"lo", -1.0}}, 3}}};
  const Json j = Json::parse(openai_generate_response(call, "cmpl-1", 123, {c}, {4, 2}));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j["choices"][0]["text"], "Hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"], Json({"Hel", "lo"}));
  EXPECT_EQ(j["choices"][0]["logprobs"]["text_offset"], Json({0, 3}));
  EXPECT_EQ(j["usage"]["total_tokens"], 6);
}

TEST(OpenAIGenerate, TopLogprobs) {
  // Completions: a dict per token; of two alternatives with the same text the
  // more likely stays; -inf (a token a warper removed) is sent as -9999.0.
  auto call = openai_generate_call(R"({"model": "tiny", "prompt": "x", "logprobs": 3})", false);
  const double inf = std::numeric_limits<double>::infinity();
  GeneratedChoice c{"ab", "length", {{"a", -0.1, {{"a", -0.1}, {"", -2.0}, {"", -3.0}, {"b", -inf}}, 0}}};
  Json j = Json::parse(openai_generate_response(call, "cmpl-1", 1, {c}, {1, 1}));
  EXPECT_EQ(j["choices"][0]["logprobs"]["top_logprobs"], Json::parse(R"([{"a": -0.1, "": -2.0, "b": -9999.0}])"));
  // Chat: a list with the bytes of each alternative.
  call = openai_generate_call(
      R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 2})",
      true);
  c = {"\xc3\xa9", "stop", {{"\xc3\xa9", -0.5, {{"\xc3\xa9", -0.5}, {"e", -inf}}, 0}}};
  j = Json::parse(openai_generate_response(call, "c1", 1, {c}, {1, 1}));
  const Json content = j["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(content[0]["bytes"], Json({0xc3, 0xa9}));
  EXPECT_EQ(content[0]["top_logprobs"],
            Json::parse(R"([{"token": "\u00e9", "logprob": -0.5, "bytes": [195, 169]},
                            {"token": "e", "logprob": -9999.0, "bytes": [101]}])"));
  // Streamed chunks carry the same entries.
  ChunkPart part{0, "\xc3\xa9", true, std::nullopt, c.logprobs};
  j = Json::parse(openai_generate_chunk(call, "c1", 1, part));
  EXPECT_EQ(j["choices"][0]["logprobs"]["content"], content);
}

TEST(OpenAIGenerate, ChatResponseAndChunks) {
  auto call = openai_generate_call(
      R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}], "stream": true,
          "stream_options": {"include_usage": true}})",
      true);
  Json j = Json::parse(openai_generate_response(call, "c1", 5, {{"Hi", "stop", {}}}, {3, 1}));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hi");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());

  ChunkPart first{0, "Hi", true, std::nullopt, {}};
  j = Json::parse(openai_generate_chunk(call, "c1", 5, first));
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "Hi");
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(j.contains("usage") && j["usage"].is_null());
  ChunkPart last{0, "", false, std::string("stop"), {}};
  j = Json::parse(openai_generate_chunk(call, "c1", 5, last));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(j["choices"][0]["delta"].contains("content"));
  j = Json::parse(openai_usage_chunk(call, "c1", 5, {3, 1}));
  EXPECT_TRUE(j["choices"].empty());
  EXPECT_EQ(j["usage"]["completion_tokens"], 1);
  EXPECT_EQ(sse_event("[DONE]"), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace optimum::serving
