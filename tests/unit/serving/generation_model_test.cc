// GenerationModel (continuous batching of the OpenAI routes) over a table
// language model whose greedy continuation is known: stop strings cut as
// OpenAI cuts them (also across tokens and in streamed deltas), characters
// split over tokens held back until whole, one choice's stop leaving its
// siblings running, cancellation of queued and running requests, 429 past
// the queue, and the 400s that name the field.
#include <chrono>
#include <future>
#include <mutex>

#include "../../../src/serving/generation_model.h"
#include "optimum/core/errors.h"
#include "optimum/generation/table_lm.h"
#include "optimum/serving/status.h"
#include "test_util.h"

namespace optimum::serving::detail {
namespace {

using test_util::throws_with;

// Token pieces: 0 is eos (special, decoded to nothing); 6 and 7 are the two
// halves of "€" (E2 82 | AC) as a byte-level tokenizer splits it.
const std::vector<std::string> kPieces = {"", "a", "b", "c", " ", "xy", "\xE2\x82", "\xAC"};
constexpr int64_t kVocab = 8;
constexpr int64_t kPositions = 64;

// Bytes of the pieces; an unfinished UTF-8 character at the end becomes U+FFFD
// (what a byte-level decoder writes).
std::string decode(const std::vector<int64_t>& ids) {
  std::string s;
  for (const int64_t id : ids) s += kPieces.at(static_cast<size_t>(id));
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) {
    const auto lead = static_cast<unsigned char>(s[i - 1]);
    const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > 1 && s.size() - (i - 1) < need) s = s.substr(0, i - 1) + "\xEF\xBF\xBD";
  }
  return s;
}

// Greedy continuation `next[p]` after position p (whatever the token), or
// near-uniform logits over tokens 1..5 when `uniform` (for sampling).
std::shared_ptr<const models::CausalLM> table_model(const std::vector<int64_t>& next, bool uniform = false) {
  Tensor t = Tensor::zeros(DType::F32, {kPositions, kVocab, kVocab});
  float* d = t.mutable_data<float>();
  for (int64_t p = 0; p < kPositions; ++p)
    for (int64_t tok = 0; tok < kVocab; ++tok) {
      float* row = d + (p * kVocab + tok) * kVocab;
      for (int64_t v = 0; v < kVocab; ++v) row[v] = uniform ? (v >= 1 && v <= 5 ? 0.0f : -100.0f) : -10.0f;
      if (!uniform) row[next[static_cast<size_t>(p) % next.size()]] = 10.0f;
    }
  return std::make_shared<generation::TableLM>(std::move(t));
}

TextGenerationBackend backend(std::shared_ptr<const models::CausalLM> model) {
  TextGenerationBackend b;
  b.model = std::move(model);
  b.defaults.eos_token_id = {0};
  b.defaults.top_k = 0;
  b.encode = [](const std::string& text) {
    std::vector<int64_t> ids;
    for (const char c : text) ids.push_back(c == 'a' ? 1 : c == 'b' ? 2 : 3);
    return ids;
  };
  b.encode_rendered = b.encode;
  b.decode = decode;
  return b;
}

GenerateCall completion(const std::string& prompt, int64_t max_tokens) {
  GenerateCall call;
  call.model = "table";
  call.prompts = {prompt};
  call.prompt_ids = {{}};
  call.prompt_is_ids = {false};
  call.max_tokens = max_tokens;
  call.temperature = 0.0;
  return call;
}

// What one request gave: its streamed deltas per choice, finish reasons and the whole answer.
struct Answer {
  std::mutex mutex;
  std::vector<std::string> streamed = std::vector<std::string>(8);
  std::vector<std::string> finished = std::vector<std::string>(8);
  std::vector<GeneratedChoice> choices;
  Usage usage;
  std::exception_ptr error;
  std::promise<void> done;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  bool saw_replacement = false;

  GenerationSink sink() {
    GenerationSink s;
    s.on_delta = [this](size_t c, const std::string& delta, bool, const std::vector<TokenLogprob>&) {
      std::lock_guard lock(mutex);
      streamed.at(c) += delta;
      saw_replacement = saw_replacement || delta.find("\xEF\xBF\xBD") != std::string::npos;
    };
    s.on_finish = [this](size_t c, const std::string& reason) {
      std::lock_guard lock(mutex);
      finished.at(c) = reason;
    };
    s.on_done = [this](std::vector<GeneratedChoice> c, Usage u) {
      {
        std::lock_guard lock(mutex);
        choices = std::move(c);
        usage = u;
      }
      done.set_value();
    };
    s.on_error = [this](std::exception_ptr e) {
      error = e;
      done.set_value();
    };
    s.cancelled = cancelled;
    return s;
  }
  bool wait(std::chrono::seconds limit = std::chrono::seconds(20)) {
    return done.get_future().wait_for(limit) == std::future_status::ready;
  }
};

bool eventually(const std::function<bool()>& predicate) {
  for (int i = 0; i < 2000 && !predicate(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return predicate();
}

// Greedy output after a one-token prompt: a, b, c, ' ', xy, a, b, € (two tokens), c, ' ', a, b, c, xy, ' '.
const std::vector<int64_t> kChain = {1, 2, 3, 4, 5, 1, 2, 6, 7, 3, 4, 1, 2, 3, 5, 4};

TEST(GenerationModel, StopStringsAreCutAcrossTokensAndInTheStream) {
  GenerationModel m("table", "1", backend(table_model(kChain)), {});
  // Greedy text: "abc xyab€c a" (the prompt "a" is position 0).
  Answer whole;
  m.submit(completion("a", 12), whole.sink());
  ASSERT_TRUE(whole.wait());
  ASSERT_FALSE(whole.error);
  const std::string text = whole.choices.at(0).text;
  EXPECT_EQ(text, "abc xyab\xE2\x82\xAC" "c a");
  EXPECT_EQ(whole.choices[0].finish_reason, "length");
  EXPECT_EQ(whole.usage.prompt_tokens, 1);
  EXPECT_EQ(whole.usage.completion_tokens, 12);
  // "c x" spans the tokens "c", " ", "xy": the text ends before it, also in the stream.
  for (const bool stream : {false, true}) {
    Answer a;
    GenerateCall call = completion("a", 12);
    call.stop = {"c x", "zzz"};
    call.stream = stream;
    m.submit(call, a.sink());
    ASSERT_TRUE(a.wait());
    EXPECT_EQ(a.choices.at(0).text, "ab");
    EXPECT_EQ(a.choices[0].finish_reason, "stop");
    EXPECT_EQ(a.usage.completion_tokens, 5);  // a, b, c, ' ', and "xy" completed the stop string
    if (stream) {
      EXPECT_EQ(a.streamed[0], "ab");
      EXPECT_EQ(a.finished[0], "stop");
    }
  }
}

TEST(GenerationModel, StreamedDeltasHoldBackSplitCharactersAndStopPrefixes) {
  GenerationModel m("table", "1", backend(table_model(kChain)), {});
  Answer a;
  GenerateCall call = completion("a", 14);
  call.stream = true;
  call.stop = {"€ca"};  // a prefix of it ("€", "€c") is held back, then released when "a" does not follow
  m.submit(call, a.sink());
  ASSERT_TRUE(a.wait());
  const std::string expected = "abc xyab\xE2\x82\xAC" "c abc";
  EXPECT_EQ(a.choices.at(0).text, expected);
  EXPECT_EQ(a.streamed[0], expected);
  EXPECT_FALSE(a.saw_replacement) << "a delta carried half a character as U+FFFD";
  EXPECT_EQ(a.finished[0], "length");
}

TEST(GenerationModel, OneChoiceStoppingLeavesItsSiblingsRunning) {
  GenerationModel m("table", "1", backend(table_model({1}, /*uniform=*/true)), {});
  auto sampled = [&](std::vector<std::string> stop) {
    Answer a;
    GenerateCall call = completion("a", 24);
    call.temperature = 1.0;
    call.seed = 7;
    call.n = 3;
    call.stop = std::move(stop);
    m.submit(call, a.sink());
    EXPECT_TRUE(a.wait());
    std::vector<GeneratedChoice> out = a.choices;
    return out;
  };
  const auto free_run = sampled({});
  ASSERT_EQ(free_run.size(), 3u);
  ASSERT_NE(free_run[0].text, free_run[1].text);
  // A stop string in choice 0's text and in no other choice's.
  std::string stop;
  for (size_t i = 4; i + 3 <= free_run[0].text.size() && stop.empty(); ++i) {
    const std::string s = free_run[0].text.substr(i, 3);
    if (free_run[1].text.find(s) == std::string::npos && free_run[2].text.find(s) == std::string::npos) stop = s;
  }
  ASSERT_FALSE(stop.empty());
  const auto cut = sampled({stop});
  EXPECT_EQ(cut[0].text, free_run[0].text.substr(0, free_run[0].text.find(stop)));
  EXPECT_EQ(cut[0].finish_reason, "stop");
  for (size_t c = 1; c < 3; ++c) {
    EXPECT_EQ(cut[c].text, free_run[c].text) << "choice " << c;
    EXPECT_EQ(cut[c].finish_reason, "length");
  }
}

TEST(GenerationModel, CancelledRequestsFreeTheirSlotAndQueuedOnesNeverRun) {
  GenerationModel::Options o;
  o.slots = 1;
  GenerationModel m("table", "1", backend(table_model(kChain)), o);
  // A running request whose client leaves after its first delta.
  Answer running;
  GenerateCall call = completion("a", 60);
  call.stream = true;
  std::promise<void> started;
  auto sink = running.sink();
  auto first = std::make_shared<std::once_flag>();
  sink.on_delta = [&, first](size_t, const std::string&, bool, const std::vector<TokenLogprob>&) {
    std::call_once(*first, [&] {
      running.cancelled->store(true);
      started.set_value();
    });
  };
  m.submit(call, sink);
  // One queued behind it, cancelled before it gets the slot.
  Answer queued;
  queued.cancelled->store(true);
  m.submit(completion("a", 4), queued.sink());
  started.get_future().wait();
  EXPECT_TRUE(eventually([&] { return m.running() == 0 && m.stats().requests == 2; }));
  EXPECT_LT(m.stats().generated_tokens, 60u);
  EXPECT_FALSE(running.wait(std::chrono::seconds(0)));  // a cancelled request gets no answer
  EXPECT_FALSE(queued.wait(std::chrono::seconds(0)));
  // The slot serves the next one.
  Answer next;
  m.submit(completion("a", 3), next.sink());
  ASSERT_TRUE(next.wait());
  EXPECT_EQ(next.usage.completion_tokens, 3);
}

TEST(GenerationModel, FullQueueIs429AndBadRequestsName400Fields) {
  GenerationModel::Options o;
  o.slots = 2;
  o.capacity = 32;
  o.max_queue = 1;
  GenerationModel m("table", "1", backend(table_model(kChain)), o);
  // Hold the generation thread inside a callback so the queue cannot drain.
  std::promise<void> release, inside;
  auto release_future = release.get_future().share();
  Answer holder;
  auto sink = holder.sink();
  auto once = std::make_shared<std::once_flag>();
  sink.on_delta = [&, once, release_future](size_t, const std::string&, bool, const std::vector<TokenLogprob>&) {
    std::call_once(*once, [&] {
      inside.set_value();
      release_future.wait();
    });
  };
  GenerateCall hold = completion("a", 4);
  hold.stream = true;
  m.submit(hold, sink);
  inside.get_future().wait();
  Answer waiting;
  m.submit(completion("a", 2), waiting.sink());
  Answer refused;
  try {
    m.submit(completion("a", 2), refused.sink());
    ADD_FAILURE() << "no 429";
  } catch (const ServingError& e) {
    EXPECT_EQ(classify(std::current_exception()).http, 429);
    EXPECT_NE(std::string(e.what()).find("waiting"), std::string::npos);
  }
  release.set_value();
  ASSERT_TRUE(holder.wait());
  ASSERT_TRUE(waiting.wait());
  EXPECT_EQ(waiting.usage.completion_tokens, 2);

  EXPECT_TRUE(throws_with<InvalidArgument>([&] { m.submit(completion("a", 40), Answer().sink()); }, {"max_tokens"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { m.submit(completion(std::string(40, 'a'), 1), Answer().sink()); }, {"40 tokens"}));
  GenerateCall many = completion("a", 2);
  many.temperature = 1.0;
  many.n = 3;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { m.submit(many, Answer().sink()); }, {"\"n\"", "2 sequences"}));
  GenerateCall greedy_n = completion("a", 2);
  greedy_n.n = 2;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { m.submit(greedy_n, Answer().sink()); }, {"temperature"}));
  GenerateCall chat = completion("a", 2);
  chat.chat = true;
  EXPECT_TRUE(throws_with<ServingError>([&] { m.submit(chat, Answer().sink()); }, {"chat template"}));
  GenerateCall ids = completion("a", 2);
  ids.prompt_is_ids = {true};
  ids.prompt_ids = {{99}};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { m.submit(ids, Answer().sink()); }, {"99", "vocabulary"}));
}

TEST(GenerationModel, StopFailsWhatIsQueuedWith503) {
  GenerationModel::Options o;
  o.slots = 1;
  auto m = std::make_unique<GenerationModel>("table", "1", backend(table_model(kChain)), o);
  std::promise<void> release, inside;
  auto release_future = release.get_future().share();
  Answer holder;
  auto sink = holder.sink();
  auto once = std::make_shared<std::once_flag>();
  sink.on_delta = [&, once, release_future](size_t, const std::string&, bool, const std::vector<TokenLogprob>&) {
    std::call_once(*once, [&] {
      inside.set_value();
      release_future.wait();
    });
  };
  GenerateCall hold = completion("a", 40);
  hold.stream = true;
  m->submit(hold, sink);
  inside.get_future().wait();
  Answer queued;
  m->submit(completion("a", 2), queued.sink());
  std::thread stopper([&] { m->stop(); });
  // Release the generation thread once stop() has begun (new requests are
  // refused then); probes that got in before are cancelled and never run.
  std::vector<std::unique_ptr<Answer>> probes;
  for (bool refused = false; !refused;) {
    probes.push_back(std::make_unique<Answer>());
    probes.back()->cancelled->store(true);
    try {
      m->submit(completion("a", 2), probes.back()->sink());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } catch (const ServingError&) {
      refused = true;
    }
  }
  release.set_value();
  stopper.join();
  ASSERT_TRUE(queued.wait());
  ASSERT_TRUE(queued.error);
  EXPECT_EQ(classify(queued.error).http, 503);
  EXPECT_TRUE(throws_with<ServingError>([&] { m->submit(completion("a", 2), Answer().sink()); }, {"stopping"}));
}

}  // namespace
}  // namespace optimum::serving::detail
