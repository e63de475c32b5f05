// Models (BPE, WordPiece, WordLevel, Unigram) built from tokenizer.json model
// objects: tokens, ids and byte offsets against goldens from tokenizers
// 0.23.3 (Model.tokenize on the same JSON), errors naming the field at
// fault, and the shared BPE cache under concurrent use.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/tokenizers/components.h"
#include "test_util.h"

namespace optimum::tokenizers {
namespace {

using test_util::throws_with;

std::unique_ptr<Model> model_from(const std::string& json) { return make_model(io::parse_json(json, "test")); }

// "value:id[start,end]" per token, space-separated (the goldens' format).
std::string describe(const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) {
    if (!out.empty()) out += ' ';
    out += t.value + ":" + std::to_string(t.id) + "[" + std::to_string(t.offsets.first) + "," +
           std::to_string(t.offsets.second) + "]";
  }
  return out;
}

struct ModelCase {
  const char* name;
  const char* json;
  std::vector<std::pair<std::string, std::string>> inputs;  // text -> expected ("ERROR": throws)
};

// Generated with tokenizers 0.23.3: for each input, Model.tokenize(text).
const std::vector<ModelCase> kModelCases = {
    {"bpe_unrelated",
     R"json({"type":"BPE","vocab":{"u":0,"n":1,"r":2,"e":3,"l":4,"a":5,"t":6,"d":7,"re":8,"at":9,"ed":10,"un":11,"ated":12,"rel":13,"related":14,"unrelated":15},"merges":["r e","a t","e d","u n","at ed","re l","rel ated","un related"]})json",
     {
         {"unrelated", "unrelated:15[0,9]"},
         {"related", "related:14[0,7]"},
         {"unrelatedrelated", "unrelated:15[0,9] related:14[9,16]"},
         {"nurd", "n:1[0,1] u:0[1,2] r:2[2,3] d:7[3,4]"},
         {"ated", "ated:12[0,4]"},
     }},
    {"bpe_tuple_merges",
     R"json({"type":"BPE","vocab":{"u":0,"n":1,"r":2,"e":3,"l":4,"a":5,"t":6,"d":7,"re":8,"at":9,"ed":10,"un":11,"ated":12,"rel":13,"related":14,"unrelated":15},"merges":[["r","e"],["a","t"],["e","d"],["u","n"],["at","ed"],["re","l"],["rel","ated"],["un","related"]],"dropout":null})json",
     {
         {"unrelated", "unrelated:15[0,9]"},
         {"relate", "rel:13[0,3] at:9[3,5] e:3[5,6]"},
     }},
    {"bpe_unk_not_fused",
     R"json({"type":"BPE","vocab":{"<unk>":0,"a":1,"b":2},"merges":[],"unk_token":"<unk>"})json",
     {
         {"c", "<unk>:0[0,1]"},
         {"cc", "<unk>:0[0,1] <unk>:0[1,2]"},
         {"accb", "a:1[0,1] <unk>:0[1,2] <unk>:0[2,3] b:2[3,4]"},
         {"aéb", "a:1[0,1] <unk>:0[1,3] b:2[3,4]"},
     }},
    {"bpe_unk_fused",
     R"json({"type":"BPE","vocab":{"<unk>":0,"a":1,"b":2},"merges":[],"unk_token":"<unk>","fuse_unk":true})json",
     {
         {"c", "<unk>:0[0,1]"},
         {"cc", "<unk>:0[0,2]"},
         {"accb", "a:1[0,1] <unk>:0[1,3] b:2[3,4]"},
         {"aéé", "a:1[0,1] <unk>:0[1,5]"},
     }},
    {"bpe_no_unk_drops",
     R"json({"type":"BPE","vocab":{"a":1,"b":2,"ab":3},"merges":["a b"]})json",
     {
         {"acb", "ab:3[0,2]"},
         {"axb", "ab:3[0,2]"},
         {"zz", ""},
     }},
    {"bpe_byte_fallback",
     R"json({"type":"BPE","vocab":{"<unk>":0,"<0x61>":1,"<0xC3>":2,"<0xA9>":3,"b":4},"merges":[],"unk_token":"<unk>","byte_fallback":true})json",
     {
         {"c", "<unk>:0[0,1]"},
         {"a", "<0x61>:1[0,1]"},
         {"éb", "<0xC3>:2[0,1] <0xA9>:3[1,2] b:4[2,3]"},
         {"bcé", "b:4[0,1] <0xC3>:2[1,2] <0xA9>:3[2,3] <unk>:0[3,4]"},
         {"ccé", "<unk>:0[0,1] <0xC3>:2[1,2] <0xA9>:3[2,3] <unk>:0[3,4]"},
     }},
    {"bpe_byte_fallback_fused",
     R"json({"type":"BPE","vocab":{"<unk>":0,"<0x61>":1,"b":4},"merges":[],"unk_token":"<unk>","byte_fallback":true,"fuse_unk":true})json",
     {
         {"ccab", "<0x61>:1[0,1] <unk>:0[1,3] b:4[3,4]"},
         {"bcca", "b:4[0,1] <0x61>:1[1,2] <unk>:0[2,4]"},
     }},
    {"bpe_prefix",
     R"json({"type":"BPE","vocab":{"a":0,"##b":1,"##c":2,"ab":3,"abc":4,"[UNK]":5},"merges":["a ##b","ab ##c"],"unk_token":"[UNK]","continuing_subword_prefix":"##"})json",
     {
         {"ab", "ab:3[0,2]"},
         {"abc", "abc:4[0,3]"},
         {"abcb", "abc:4[0,3] ##b:1[3,4]"},
         {"ba", "[UNK]:5[0,1] [UNK]:5[1,2]"},
     }},
    {"bpe_suffix",
     R"json({"type":"BPE","vocab":{"l":0,"o":1,"w</w>":2,"lo":3,"low</w>":4,"e":5,"r</w>":6,"er</w>":7,"w":8},"merges":["l o","lo w</w>","e r</w>"],"end_of_word_suffix":"</w>"})json",
     {
         {"low", "low</w>:4[0,3]"},
         {"lower", "lo:3[0,2] w:8[2,3] er</w>:7[3,5]"},
         {"lowlow", "lo:3[0,2] w:8[2,3] low</w>:4[3,6]"},
         {"w", "w</w>:2[0,1]"},
     }},
    {"bpe_ignore_merges",
     R"json({"type":"BPE","vocab":{".:.:":0,"Ġbelirtilen":1,".":2,":":3,"bel":4,"irtilen":5,"Ġ":6,".:":7,"belirtilen":8,".:.":9,"be":10,"l":11,"ir":12,"ti":13,"en":14,"irtil":15,"irti":16,"i":17,"r":18,"t":19,"b":20,"e":21,"n":22},"merges":[". :","b e","be l","i r","t i","ir ti","e n","irti l"],"ignore_merges":true})json",
     {
         {".:.:", ".:.::0[0,4]"},
         {"Ġbelirtilen", "Ġbelirtilen:1[0,12]"},
         {"belirtilen", "belirtilen:8[0,10]"},
         {".:.:.:", ".::7[0,2] .::7[2,4] .::7[4,6]"},
     }},
    {"bpe_priority",
     R"json({"type":"BPE","vocab":{"a":0,"b":1,"aa":2,"aaaa":3,"ab":4,"aab":5,"ba":6},"merges":["a a","b a","aa aa","a b","aa b"]})json",
     {
         {"aaaa", "aaaa:3[0,4]"},
         {"aaaaa", "aaaa:3[0,4] a:0[4,5]"},
         {"aab", "aab:5[0,3]"},
         {"abab", "a:0[0,1] ba:6[1,3] b:1[3,4]"},
         {"aaab", "aa:2[0,2] ab:4[2,4]"},
         {"baaab", "b:1[0,1] aa:2[1,3] ab:4[3,5]"},
         {"aaaaaaaaab", "aaaa:3[0,4] aaaa:3[4,8] ab:4[8,10]"},
     }},
    {"bpe_dup_merge",
     R"json({"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4},"merges":["a b","b c","a b"]})json",
     {
         {"abc", "a:0[0,1] bc:4[1,3]"},
     }},
    {"wp_basic",
     R"json({"type":"WordPiece","vocab":{"##na":0,"ba":1,"[UNK]":2,"a":3,"##a":4,"n":5,"##n":6,"banana":7,"ban":8,"##é":9,"é":10},"unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":8})json",
     {
         {"banana", "banana:7[0,6]"},
         {"bananas", "[UNK]:2[0,7]"},
         {"nanana", "n:5[0,1] ##a:4[1,2] ##na:0[2,4] ##na:0[4,6]"},
         {"bana", "ban:8[0,3] ##a:4[3,4]"},
         {"baéé", "ba:1[0,2] ##é:9[2,4] ##é:9[4,6]"},
         {"éa", "é:10[0,2] ##a:4[2,3]"},
         {"banananana", "[UNK]:2[0,10]"},
         {"bananan", "banana:7[0,6] ##n:6[6,7]"},
         {"aaaaaaaa", "a:3[0,1] ##a:4[1,2] ##a:4[2,3] ##a:4[3,4] ##a:4[4,5] ##a:4[5,6] ##a:4[6,7] ##a:4[7,8]"},
         {"aaaaaaaaa", "[UNK]:2[0,9]"},
         {"a", "a:3[0,1]"},
     }},
    {"wp_prefix_empty",
     R"json({"type":"WordPiece","vocab":{"ab":0,"c":1,"abc":2,"b":3,"[UNK]":4},"unk_token":"[UNK]","continuing_subword_prefix":"","max_input_chars_per_word":100})json",
     {
         {"abcb", "abc:2[0,3] b:3[3,4]"},
         {"abab", "ab:0[0,2] ab:0[2,4]"},
         {"cab", "c:1[0,1] ab:0[1,3]"},
     }},
    {"wp_no_unk",
     R"json({"type":"WordPiece","vocab":{"a":0},"unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100})json",
     {
         {"a", "a:0[0,1]"},
         {"b", "ERROR"},
     }},
    {"wl_basic",
     R"json({"type":"WordLevel","vocab":{"hello":0,"<unk>":1,"wörld":2},"unk_token":"<unk>"})json",
     {
         {"hello", "hello:0[0,5]"},
         {"wörld", "wörld:2[0,6]"},
         {"other", "<unk>:1[0,5]"},
     }},
    {"wl_no_unk",
     R"json({"type":"WordLevel","vocab":{"hello":0},"unk_token":"<unk>"})json",
     {
         {"hello", "hello:0[0,5]"},
         {"x", "ERROR"},
     }},
    {"uni_basic",
     R"json({"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0],["a",0.0],["b",0.0],["c",0.0],["d",0.0],["cd",1.0],["ab",2.0],["abc",5.0],["abcd",10.0]]})json",
     {
         {"abcdacdxx", "abcd:8[0,4] a:1[4,5] cd:5[5,7] xx:0[7,9]"},
         {"xaxx", "x:0[0,1] a:1[1,2] xx:0[2,4]"},
         {"éé", "éé:0[0,4]"},
         {"ab", "ab:6[0,2]"},
     }},
    {"uni_scores",
     R"json({"type":"Unigram","unk_id":1,"vocab":[["▁",-2.0],["<unk>",0.0],["▁he",-3.5],["llo",-4.0],["▁hello",-8.0],["h",-6],["e",-6],["l",-5],["o",-6],["▁h",-5.0],["ello",-3.0]]})json",
     {
         {"▁hello", "▁he:2[0,5] llo:3[5,8]"},
         {"▁hellox", "▁he:2[0,5] llo:3[5,8] x:1[8,9]"},
         {"▁xhello", "▁:0[0,3] x:1[3,4] h:5[4,5] ello:10[5,9]"},
         {"hello", "h:5[0,1] ello:10[1,5]"},
     }},
    {"uni_byte_fallback",
     R"json({"type":"Unigram","unk_id":0,"byte_fallback":true,"vocab":[["<unk>",0.0],["<0xC3>",-1],["<0xA9>",-1],["a",-1],["<0x78>",-1]]})json",
     {
         {"aéa", "a:3[0,1] <0xC3>:1[1,3] <0xA9>:2[1,3] a:3[3,4]"},
         {"axya", "a:3[0,1] xy:0[1,3] a:3[3,4]"},
         {"éx", "<0xC3>:1[0,3] <0xA9>:2[0,3] <0x78>:4[0,3]"},
     }},
    {"uni_no_unk",
     R"json({"type":"Unigram","vocab":[["a",-1.0],["b",-1.0]]})json",
     {
         {"ab", "a:0[0,1] b:1[1,2]"},
         {"ac", "ERROR"},
     }},
    {"untagged_bpe",
     R"json({"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})json",
     {
         {"abab", "ab:2[0,2] ab:2[2,4]"},
     }},
    {"untagged_wordpiece",
     R"json({"vocab":{"a":0,"##b":1,"[UNK]":2},"unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100})json",
     {
         {"abb", "a:0[0,1] ##b:1[1,2] ##b:1[2,3]"},
         {"ba", "[UNK]:2[0,2]"},
     }},
    {"untagged_wordlevel",
     R"json({"vocab":{"a":0,"##b":1,"[UNK]":2},"unk_token":"[UNK]","continuing_subword_prefix":"##"})json",
     {
         {"abb", "[UNK]:2[0,3]"},
         {"a", "a:0[0,1]"},
     }},
    {"untagged_unigram",
     R"json({"vocab":[["<unk>",0.0],["a",-1.0],["ab",-1.5]],"unk_id":0})json",
     {
         {"abab", "ab:2[0,2] ab:2[2,4]"},
     }},
};

TEST(Models, MatchTokenizersGoldens) {
  for (const ModelCase& c : kModelCases) {
    SCOPED_TRACE(c.name);
    auto model = model_from(c.json);
    for (const auto& [text, expected] : c.inputs) {
      SCOPED_TRACE(text);
      if (expected == "ERROR") {
        EXPECT_THROW(model->tokenize(text), InvalidArgument);
      } else {
        EXPECT_EQ(describe(model->tokenize(text)), expected);
        // A second call is served by the BPE cache and must agree.
        EXPECT_EQ(describe(model->tokenize(text)), expected);
      }
    }
  }
}

TEST(Models, VocabAccessors) {
  auto bpe = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]})");
  EXPECT_EQ(bpe->vocab_size(), 3u);
  EXPECT_EQ(bpe->token_to_id("ab"), 2u);
  EXPECT_EQ(bpe->token_to_id("ba"), std::nullopt);
  EXPECT_EQ(bpe->id_to_token(1), "b");
  EXPECT_EQ(bpe->id_to_token(7), std::nullopt);
  EXPECT_EQ(bpe->vocab().at("ab"), 2u);

  auto unigram = model_from(R"({"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1],["a",-2]]})");
  EXPECT_EQ(unigram->vocab_size(), 3u);  // pieces, duplicates included
  EXPECT_EQ(unigram->vocab().size(), 2u);
  EXPECT_EQ(unigram->token_to_id("a"), 2u);  // the last duplicate wins
  EXPECT_EQ(unigram->id_to_token(1), "a");
}

TEST(Models, ErrorsNameTheField) {
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"type":"BPE","vocab":{}})"); },
                                       {"model 'BPE'", "missing field 'merges'"}));
  EXPECT_TRUE(throws_with<Unsupported>(
      [] { model_from(R"({"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1})"); }, {"model 'BPE'", "dropout"}));
  EXPECT_NO_THROW(model_from(R"({"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.0})"));
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"type":"BPE","vocab":{"a":0},"merges":["a b"]})"); },
                                       {"model 'BPE'", "'b'"}));
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"type":"BPE","vocab":{"a":0},"merges":["a a a"]})"); },
                                       {"model 'BPE'", "merges"}));
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"type":"Unigram","vocab":[["a",0]],"unk_id":3})"); },
                                       {"model 'Unigram'", "unk_id"}));
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"type":"WordPiece","vocab":[1]})"); },
                                       {"model 'WordPiece'", "vocab"}));
  EXPECT_TRUE(throws_with<Unsupported>([] { model_from(R"({"type":"Foo","vocab":{}})"); }, {"model type 'Foo'"}));
  EXPECT_TRUE(throws_with<FormatError>([] { model_from(R"({"vocab":{"a":0}})"); }, {"no 'type'"}));
}

TEST(Models, LegacyMergesSkipVersionHeader) {
  auto bpe = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["#version: 0.2","a b"]})");
  EXPECT_EQ(describe(bpe->tokenize("ab")), "ab:2[0,2]");
}

// The BPE cache is shared: many threads encoding overlapping words at once
// must all get the single-threaded answer.
TEST(Models, BpeConcurrentTokenize) {
  auto bpe = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"abc":4,"ca":5,"<unk>":6},
                            "merges":["a b","ab c","c a"],"unk_token":"<unk>"})");
  std::vector<std::string> words;
  for (int i = 0; i < 3000; ++i) {
    std::string w;
    for (int k = i; k > 0; k /= 4) w += "abcx"[k % 4];
    words.push_back(w + "ab");
  }
  std::vector<std::string> expected;
  {
    auto fresh = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"abc":4,"ca":5,"<unk>":6},
                                "merges":["a b","ab c","c a"],"unk_token":"<unk>"})");
    for (const auto& w : words) expected.push_back(describe(fresh->tokenize(w)));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < words.size(); ++i) {
          const size_t k = (i * 7 + t * 131) % words.size();
          if (describe(bpe->tokenize(words[k])) != expected[k]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace optimum::tokenizers
