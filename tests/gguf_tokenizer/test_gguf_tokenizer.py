"""The tokenizer embedded in the two real GGUF models, converted in C++
(optimum::tokenizers::tokenizer_from_gguf), against transformers'
`AutoTokenizer.from_pretrained(dir, gguf_file=NAME)`: the tokenizer.json
document, ids with and without special tokens on a varied corpus, decoding
both ways, special tokens, add_bos/add_eos and the chat template."""

from __future__ import annotations

import json

import pytest

from gguftok_common import SMOLLM2, metadata_of, metadata_via_gguf_package, models_dir

BASE_CORPUS = [
    "",
    " ",
    "Hello world!",
    "Hello, world! How are you doing today? I'm fine; thanks... (really) [yes] {no}",
    "The year 2024 had 366 days; pi is 3.14159265358979 and 1,000,000 > 999999.",
    "a  b   c    d\t\te\u3000f",
    "   leading and trailing spaces   ",
    "line one\nline two\n\nline four\r\nwindows\rmac",
    "\n\n\n\t\t  \n",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }  // dot\n#include <vector>",
    "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "Accents: café naïve résumé Ångström São Paulo Crème brûlée ñandú Œuvre",
    "Ünïcödé ßtraße ﬁnancial Ⅻ ½ ² ℌ",
    "Ελληνικά кириллица עברית العربية हिन्दी ไทย",
    "don't won't it's we're they've I'd you'll O'Neil",
    "URL: https://example.com/path?q=1&r=two#frag  email: someone@example.org",
    "$100.00 + €50,25 = ¥20000 (approx) 50% off!!! ???",
    "A" * 300,
    "zero\u200bwidth\u00a0nbsp\u2028sep",
]

LONG_TEXT = " ".join(BASE_CORPUS[1:12]) * 20


def corpus_for(model) -> list[str]:
    """The base corpus plus texts that write the model's special and added tokens."""
    specials = list(model.hf.all_special_tokens)
    added = [t["content"] for t in json.loads(model.hf.backend_tokenizer.to_str())["added_tokens"]]
    added = added[:12] + added[-4:]
    texts = list(BASE_CORPUS) + [LONG_TEXT]
    texts.append("".join(specials))
    texts.append(" ".join(specials) + " plain text " + " ".join(reversed(specials)))
    texts.append("user\n" + specials[0] + "hello" + specials[-1] + "\n")
    for token in added:
        texts.append(f"before {token} after{token}{token} end")
    return texts


@pytest.fixture(scope="module")
def hf_backend_json(model):
    return json.loads(model.hf.backend_tokenizer.to_str())


def test_tokenizer_json_equals_transformers(model, hf_backend_json):
    mine, ref = model.cpp_json, hf_backend_json
    assert set(mine) == set(ref)
    for key in ("version", "truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert mine[key] == ref[key], key
    assert mine["added_tokens"] == ref["added_tokens"]
    model_ref, model_mine = ref["model"], mine["model"]
    assert {k: v for k, v in model_mine.items() if k not in ("vocab", "merges")} == {
        k: v for k, v in model_ref.items() if k not in ("vocab", "merges")
    }
    assert model_mine["vocab"] == model_ref["vocab"]
    assert len(model_mine["merges"]) == len(model_ref["merges"])
    assert model_mine["merges"] == model_ref["merges"]


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_ids_equal_transformers(model, add_special_tokens):
    for text in corpus_for(model):
        want = model.hf(text, add_special_tokens=add_special_tokens)["input_ids"]
        for cpp in (model.cpp, model.cpp_file):
            got = cpp.encode(text, add_special_tokens=add_special_tokens).ids
            assert got == want, repr(text[:80])


@pytest.mark.parametrize("skip_special_tokens", [True, False])
def test_decode_equals_transformers(model, skip_special_tokens):
    id_lists = [model.hf(text)["input_ids"] for text in corpus_for(model)]
    # Every 97th id of the vocabulary (bytes, pieces, control and added tokens).
    id_lists.append(list(range(0, len(model.hf), 97)))
    id_lists.append(list(range(0, 300)))
    for ids in id_lists:
        want = model.hf.decode(ids, skip_special_tokens=skip_special_tokens)
        assert model.cpp.decode(ids, skip_special_tokens) == want, ids[:20]
        assert model.cpp_file.decode(ids, skip_special_tokens) == want, ids[:20]


def test_batch_equals_transformers(model):
    texts = corpus_for(model)[:16]
    want = model.hf(texts)["input_ids"]
    got = [e.ids for e in model.cpp.encode_batch(texts)]
    assert got == want


def test_special_tokens_and_flags(model):
    cfg, hf = model.cpp_config, model.hf
    names = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")
    want = {name: getattr(hf, name) for name in names if getattr(hf, name) is not None}
    assert cfg["special_tokens"] == want
    assert model.cpp.special_tokens == want
    assert model.cpp_file.special_tokens == want
    assert model.cpp_file.padding_side == hf.padding_side
    for name, token in want.items():
        assert model.cpp.token_to_id(token) == hf.convert_tokens_to_ids(token), name
    assert bool(cfg["add_bos_token"]) == bool(hf.add_bos_token)
    assert bool(cfg["add_eos_token"]) == bool(hf.add_eos_token)
    # add_bos_token shows in what encode adds.
    ids = model.cpp.encode("hello").ids
    assert (ids[0] == hf.bos_token_id) == bool(hf.add_bos_token)
    assert cfg["padding_side"] == hf.padding_side == model.cpp.padding_side
    # transformers leaves model_max_length unbounded (VERY_LARGE_INTEGER) for a GGUF.
    assert hf.model_max_length > 1e20 and cfg["model_max_length"] is None
    assert model.cpp.get_vocab_size() == len(hf)
    assert model.cpp.get_vocab() == hf.get_vocab()


def test_chat_template(model):
    assert model.cpp_config["chat_template"] == model.hf.chat_template
    raw = json.loads(model.cpp_config["raw"])
    assert raw.get("chat_template") == model.hf.chat_template
    assert raw.get("add_bos_token") == model.hf.init_kwargs.get("add_bos_token")


def test_cpp_reader_metadata_equals_transformers_reader(oc, model):
    """The C++ GGUF reader gives the metadata transformers' reader gives."""
    assert json.loads(oc.gguf_metadata(str(model.path))) == model.metadata


def test_metadata_readers_agree():
    """transformers' GGUF reader (used by the fixtures) and the gguf package's
    GGUFReader give the same metadata (checked on the smaller file: GGUFReader
    takes a minute over gemma-3's vocabulary)."""
    path = models_dir() / SMOLLM2
    assert metadata_via_gguf_package(path) == metadata_of(path)
