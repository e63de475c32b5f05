// Decoders built from tokenizer.json decoder objects, against goldens from
// tokenizers 0.23.3 (Tokenizer.decoder.decode on the same JSON).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/io/json.h"
#include "optimum/tokenizers/components.h"
#include "test_util.h"

namespace optimum::tokenizers {
namespace {

using test_util::throws_with;

std::unique_ptr<Decoder> decoder_from(const std::string& json) { return make_decoder(io::parse_json(json, "test")); }

struct DecoderCase {
  const char* name;
  const char* json;
  std::vector<std::pair<std::vector<std::string>, std::string>> inputs;  // tokens -> decoded text
};

// Generated with tokenizers 0.23.3: decoder.decode(tokens).
const std::vector<DecoderCase> kDecoderCases = {
    {"metaspace_always",
     R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})json",
     {
         {{"▁▁Hey", "▁friend▁"}, "Hey friend "},
         {{"a▁b▁", "▁c"}, "ab c"},
         {{"▁", "▁"}, " "},
         {{"x"}, "x"},
         {{}, ""},
     }},
    {"metaspace_first",
     R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})json",
     {
         {{"▁Hey", "▁friend"}, "Hey friend"},
     }},
    {"metaspace_never",
     R"json({"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true})json",
     {
         {{"▁Hey", "▁friend"}, " Hey friend"},
     }},
    {"metaspace_legacy",
     R"json({"type":"Metaspace","replacement":"_","add_prefix_space":true})json",
     {
         {{"_Hey", "_friend_"}, "Hey friend "},
     }},
    {"bpe",
     R"json({"type":"BPEDecoder","suffix":"</w>"})json",
     {
         {{"he", "llo</w>", "wor", "ld</w>"}, "hello world"},
         {{"a</w>b</w>"}, "ab"},
         {{"</w>x</w>", "y</w>"}, " x y"},
         {{}, ""},
     }},
    {"bpe_untagged",
     R"json({"suffix":"@@"})json",
     {
         {{"he@@", "llo"}, "he llo"},
     }},
    {"bpe_empty_suffix",
     R"json({"type":"BPEDecoder","suffix":""})json",
     {
         {{"a", "b"}, " a b"},
     }},
    {"wordpiece_cleanup",
     R"json({"type":"WordPiece","prefix":"##","cleanup":true})json",
     {
         {{"##a", "b", "##c", "do", "not", ".", "'", "s", "n't"}, "##a bc do not. ' sn't"},
         {{"hello", " .", "x"}, "hello . x"},
         {{"i", " do not", "like", "it", " 's", "!"}, "i  don't like it 's!"},
         {{}, ""},
     }},
    {"wordpiece_raw",
     R"json({"type":"WordPiece","prefix":"##","cleanup":false})json",
     {
         {{"##a", "b", "##c##d", "."}, "##a bc##d ."},
         {{"Ara", "##új", "##o", "No", "##guera"}, "Araújo Noguera"},
     }},
    {"ctc",
     R"json({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true})json",
     {
         {{"<pad>", "h", "h", "e", "|", "|", "l", "<pad>", "l", "o", ".", "|"}, "he llo. "},
     }},
    {"ctc_raw",
     R"json({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":false})json",
     {
         {{"<pad>", "h", "h", "e", "|", "|", "l", "<pad>", "l", "o"}, "he|llo"},
     }},
    {"bytelevel",
     R"json({"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true})json",
     {
         {{"ĠHello", "Ġworld"}, " Hello world"},
         {{"å", "Ġ"}, "� "},
         {{"Ã¤", "Ã"}, "ä�"},
         {{"ðŁ", "ĺ", "Ģ"}, "😀"},
         {{"ab中", "Ġc"}, "ab中 c"},
         {{"ð", "x"}, "�x"},
         {{"íł", "Ģ"}, "���"},
         {{"Ċ", "ĉ"}, "\n\t"},
     }},
    {"bytefallback",
     R"json({"type":"ByteFallback"})json",
     {
         {{"<0x61>", "<0x62>", "c"}, "abc"},
         {{"<0xE5>", "<0x8f>"}, "��"},
         {{"<0xE5>", "<0x8F>", "<0xAB>", "x"}, "叫x"},
         {{"<0xZZ>", "<0x6>", "<0x061>"}, "<0xZZ><0x6><0x061>"},
         {{"<0XE5>"}, "<0XE5>"},
         {{"<0x+5>", "<0x-5>"}, "\u0005<0x-5>"},
         {{"<0xED>", "<0xA0>", "<0x80>"}, "���"},
     }},
    {"fuse",
     R"json({"type":"Fuse"})json",
     {
         {{"a", "b"}, "ab"},
         {{}, ""},
     }},
    {"strip",
     R"json({"type":"Strip","content":"▁","start":2,"stop":1})json",
     {
         {{"▁▁▁a▁▁", "b", "▁▁▁", "a▁"}, "▁a▁ba"},
     }},
    {"strip_a",
     R"json({"type":"Strip","content":"a","start":5,"stop":5})json",
     {
         {{"aXa", "Xaa", "b"}, "XXb"},
     }},
    {"replace_regex",
     R"json({"type":"Replace","pattern":{"Regex":"\\s+"},"content":"_"})json",
     {
         {{"a  b", " c ", "d"}, "a_b_c_d"},
     }},
    {"replace_regex_empty",
     R"json({"type":"Replace","pattern":{"Regex":"x*"},"content":"_"})json",
     {
         {{"abxxc", ""}, "_a_b_c_"},
     }},
    {"replace_string_empty",
     R"json({"type":"Replace","pattern":{"String":""},"content":"_"})json",
     {
         {{"abc", "é"}, "_a_b_c__é_"},
     }},
    {"replace_string",
     R"json({"type":"Replace","pattern":{"String":"aa"},"content":"b"})json",
     {
         {{"aaa", "aaaa"}, "babb"},
     }},
    {"sequence",
     R"json({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})json",
     {
         {{"▁Hey", "<0x21>", "▁x"}, "Hey! x"},
         {{"<0xE2>", "<0x96>", "<0x81>", "a"}, "▁a"},
     }},
};

TEST(Decoders, MatchTokenizersGoldens) {
  for (const DecoderCase& c : kDecoderCases) {
    SCOPED_TRACE(c.name);
    auto decoder = decoder_from(c.json);
    for (const auto& [tokens, expected] : c.inputs) {
      EXPECT_EQ(decoder->decode(tokens), expected) << "first token: " << (tokens.empty() ? "" : tokens[0]);
    }
  }
}

// decode_chain keeps token granularity, which Sequence relies on.
TEST(Decoders, ChainKeepsTokens) {
  auto wordpiece = decoder_from(R"({"type":"WordPiece","prefix":"##","cleanup":true})");
  EXPECT_EQ(wordpiece->decode_chain({"un", "##aff", "##able", "."}), (std::vector<std::string>{"un", "aff", "able", "."}));
  auto byte_fallback = decoder_from(R"({"type":"ByteFallback"})");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(byte_fallback->decode_chain({"<0xE5>", "<0x8F>", "a", "<0xE5>"}),
            (std::vector<std::string>{fffd, fffd, "a", fffd}));
  auto ctc = decoder_from(R"({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true})");
  EXPECT_EQ(ctc->decode_chain({"<pad>", "h", "h", "|", "i"}), (std::vector<std::string>{"h", " ", "i"}));
  auto strip = decoder_from(R"({"type":"Strip","content":"a","start":1,"stop":1})");
  // tokenizers panics when both ends overlap; here the token becomes empty.
  EXPECT_EQ(strip->decode_chain({"a", "aa", "aba"}), (std::vector<std::string>{"", "", "b"}));
}

TEST(Decoders, ErrorsNameTheField) {
  EXPECT_TRUE(throws_with<Unsupported>([] { decoder_from(R"({"type":"Nope"})"); }, {"decoder type 'Nope'"}));
  EXPECT_TRUE(throws_with<FormatError>([] { decoder_from(R"({"type":"Strip","content":"ab","start":1,"stop":0})"); },
                                       {"decoder 'Strip'", "content"}));
  EXPECT_TRUE(throws_with<FormatError>([] { decoder_from(R"({"type":"Replace","pattern":{"Foo":"x"},"content":""})"); },
                                       {"decoder 'Replace'", "pattern"}));
  EXPECT_TRUE(throws_with<FormatError>([] { decoder_from(R"({"type":"Replace","pattern":{"Regex":"("},"content":""})"); },
                                       {"decoder 'Replace'", "pattern"}));
  EXPECT_TRUE(throws_with<FormatError>([] { decoder_from(R"({"type":"Sequence"})"); },
                                       {"decoder 'Sequence'", "missing field 'decoders'"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] { decoder_from(R"({"type":"Metaspace","replacement":"_","prepend_scheme":"sometimes"})"); },
      {"decoder 'Metaspace'", "prepend_scheme"}));
}

}  // namespace
}  // namespace optimum::tokenizers
