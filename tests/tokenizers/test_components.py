"""Component-level goldens: every normalizer and pre-tokenizer type on its own
(through optimum_cpp._C._normalize / _pre_tokenize), every decoder type
through a full tokenizer's decode.

Components are built with the `tokenizers` Python classes and serialized by
`tokenizers` itself, so the JSON the C++ side parses is exactly what
tokenizer.json files contain.

Normalizer goldens: the normalized string, and for each normalized character
the byte range of the original text it comes from (what `tokenizers` gives as
original-referential offsets of single-character splits).
"""

from __future__ import annotations

import json
import random

import pytest
from tokenizers import NormalizedString, PreTokenizedString, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

import corpus as corpus_mod
import tok_zoo
from tok_compare import Report, outcome, short

ANY_CHAR = Regex(r"(?m).")


def component_json(kind: str, obj) -> str:
    t = Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))
    setattr(t, kind, obj)
    return json.dumps(json.loads(t.to_str())[kind], ensure_ascii=False)


def _precompiled_t5():
    j = json.loads(tok_zoo.fixture("t5-small", "tokenizer.json").read_text(encoding="utf-8"))
    n = j["normalizer"]
    if n["type"] == "Sequence":
        n = next(x for x in n["normalizers"] if x["type"] == "Precompiled")
    return Tokenizer.from_str(
        json.dumps({"version": "1.0", "normalizer": n, "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}})
    ).normalizer


NORMALIZERS = {
    "BertNormalizer()": lambda: normalizers.BertNormalizer(),
    "BertNormalizer(cased)": lambda: normalizers.BertNormalizer(lowercase=False),
    "BertNormalizer(clean_text=False)": lambda: normalizers.BertNormalizer(clean_text=False),
    "BertNormalizer(handle_chinese_chars=False)": lambda: normalizers.BertNormalizer(handle_chinese_chars=False),
    "BertNormalizer(strip_accents=True,lowercase=False)": lambda: normalizers.BertNormalizer(strip_accents=True, lowercase=False),
    "BertNormalizer(strip_accents=False,lowercase=True)": lambda: normalizers.BertNormalizer(strip_accents=False, lowercase=True),
    "NFC": lambda: normalizers.NFC(),
    "NFD": lambda: normalizers.NFD(),
    "NFKC": lambda: normalizers.NFKC(),
    "NFKD": lambda: normalizers.NFKD(),
    "Lowercase": lambda: normalizers.Lowercase(),
    "StripAccents": lambda: normalizers.StripAccents(),
    "Sequence(NFD,StripAccents)": lambda: normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
    "Sequence(NFKD,Lowercase,StripAccents)": lambda: normalizers.Sequence(
        [normalizers.NFKD(), normalizers.Lowercase(), normalizers.StripAccents()]
    ),
    "Strip()": lambda: normalizers.Strip(),
    "Strip(left)": lambda: normalizers.Strip(left=True, right=False),
    "Strip(right)": lambda: normalizers.Strip(left=False, right=True),
    "Replace(' ','▁')": lambda: normalizers.Replace(" ", "▁"),
    "Replace('ab','')": lambda: normalizers.Replace("ab", ""),
    "Replace('e','éé')": lambda: normalizers.Replace("e", "éé"),
    "Replace(regex ' {2,}',' ')": lambda: normalizers.Replace(Regex(" {2,}"), " "),
    "Replace(regex \\s+,' ')": lambda: normalizers.Replace(Regex(r"\s+"), " "),
    "Replace(regex [0-9],'#')": lambda: normalizers.Replace(Regex(r"[0-9]"), "#"),
    "Replace(regex \\p{M},'')": lambda: normalizers.Replace(Regex(r"\p{M}"), ""),
    "Prepend('▁')": lambda: normalizers.Prepend("▁"),
    "Sequence(Prepend,Replace) (Llama-1)": lambda: normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
    "Precompiled(t5-small)": _precompiled_t5,
    "Sequence(Precompiled,Replace ' {2,}') (XLM-R)": lambda: normalizers.Sequence(
        [_precompiled_t5(), normalizers.Replace(Regex(" {2,}"), " ")]
    ),
    "Sequence(NFKC,Lowercase)": lambda: normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]),
    "Sequence(NFC,Replace \\s+,Lowercase,Strip) (CLIP-like)": lambda: normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase(), normalizers.Strip()]
    ),
    "Sequence()": lambda: normalizers.Sequence([]),
}

PRE_TOKENIZERS = {
    "BertPreTokenizer": lambda: pre_tokenizers.BertPreTokenizer(),
    "Whitespace": lambda: pre_tokenizers.Whitespace(),
    "WhitespaceSplit": lambda: pre_tokenizers.WhitespaceSplit(),
    **{
        f"ByteLevel(add_prefix_space={a},trim_offsets={t},use_regex={u})": (
            lambda a=a, t=t, u=u: pre_tokenizers.ByteLevel(add_prefix_space=a, trim_offsets=t, use_regex=u)
        )
        for a in (False, True)
        for t in (True, False)
        for u in (True, False)
    },
    **{
        f"Metaspace(prepend_scheme={p},split={s})": (
            lambda p=p, s=s: pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=p, split=s)
        )
        for p in ("always", "first", "never")
        for s in (True, False)
    },
    "Metaspace(replacement='_')": lambda: pre_tokenizers.Metaspace(replacement="_"),
    **{
        f"Split(' ',{b},invert={i})": (lambda b=b, i=i: pre_tokenizers.Split(" ", behavior=b, invert=i))
        for b in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous")
        for i in (False, True)
    },
    **{
        f"Split(regex \\d+|\\s,{b},invert={i})": (lambda b=b, i=i: pre_tokenizers.Split(Regex(r"\d+|\s"), behavior=b, invert=i))
        for b in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous")
        for i in (False, True)
    },
    "Split('ab',removed)": lambda: pre_tokenizers.Split("ab", behavior="removed"),
    "Split(regex \\p{L}+,isolated)": lambda: pre_tokenizers.Split(Regex(r"\p{L}+"), behavior="isolated"),
    "Split(gpt2 regex,isolated)": lambda: pre_tokenizers.Split(Regex(tok_zoo.GPT2_PATTERN), behavior="isolated"),
    "Split(llama3 regex,isolated)": lambda: pre_tokenizers.Split(Regex(tok_zoo.LLAMA3_PATTERN), behavior="isolated"),
    "Split(qwen2 regex,isolated)": lambda: pre_tokenizers.Split(Regex(tok_zoo.QWEN2_PATTERN), behavior="isolated"),
    **{
        f"Punctuation({b})": (lambda b=b: pre_tokenizers.Punctuation(behavior=b))
        for b in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous")
    },
    "Digits(individual_digits=False)": lambda: pre_tokenizers.Digits(individual_digits=False),
    "Digits(individual_digits=True)": lambda: pre_tokenizers.Digits(individual_digits=True),
    "UnicodeScripts": lambda: pre_tokenizers.UnicodeScripts(),
    "CharDelimiterSplit('-')": lambda: pre_tokenizers.CharDelimiterSplit("-"),
    "CharDelimiterSplit(' ')": lambda: pre_tokenizers.CharDelimiterSplit(" "),
    "CharDelimiterSplit('é')": lambda: pre_tokenizers.CharDelimiterSplit("é"),
    "Sequence(WhitespaceSplit,Metaspace) (T5)": lambda: pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)]
    ),
    "Sequence(Split llama3,ByteLevel no regex) (Llama-3)": lambda: pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(tok_zoo.LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    ),
    "Sequence(Whitespace,Digits(True),Punctuation)": lambda: pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation()]
    ),
    "Sequence()": lambda: pre_tokenizers.Sequence([]),
}

# Not in the list the issue names, but `tokenizers` has them and real files use them.
EXTRA_NORMALIZERS = {
    "ByteLevel (normalizer)": lambda: normalizers.ByteLevel(),
    "Nmt": lambda: normalizers.Nmt(),
}
EXTRA_PRE_TOKENIZERS = {
    "FixedLength(5)": lambda: pre_tokenizers.FixedLength(length=5),
}


@pytest.fixture(scope="module")
def texts(corpus):
    # every fragment as is, plus a sample of the corpus
    return list(dict.fromkeys(corpus_mod.ALL_FRAGMENTS + corpus_mod.sample(corpus, 1500, seed=5)))


def hf_normalize(norm, text: str):
    """(normalized text, [(orig_byte_start, orig_byte_end) per normalized char])."""
    p = PreTokenizedString(text)
    p.normalize(lambda ns: norm.normalize(ns))
    p.split(lambda i, ns: ns.split(ANY_CHAR, "isolated"))
    splits = p.get_splits("original", "byte")
    return "".join(s for s, _, _ in splits), [tuple(o) for _, o, _ in splits]


def oc_normalize(oc, normalizer_json: str, text: str):
    data, alignments = oc._C._normalize(normalizer_json, text)
    try:
        s = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        return f"<normalized bytes are not UTF-8: {bytes(data)!r} ({e})>", []
    if len(alignments) != len(data):
        return s, [f"<{len(alignments)} alignments for {len(data)} normalized bytes>"]
    out, b = [], 0
    for ch in s:
        n = len(ch.encode("utf-8"))
        out.append((alignments[b][0], alignments[b + n - 1][1]))
        b += n
    return s, out


def _check_normalizer(oc, texts, name, factory):
    norm = factory()
    js = component_json("normalizer", norm)
    r = Report(f"normalizer {name} {short(js, 200)}")
    if len(js) > 100_000:
        # _normalize parses the JSON on every call: a Precompiled charsmap (300 KB) costs
        # ms per call. The full-corpus tokenizer tests (t5, xlmr) cover it at scale.
        texts = texts[:400]
    exp = [hf_normalize(norm, t) for t in texts]
    got = [outcome(oc_normalize, oc, js, t) for t in texts]
    if got and got[0].error is not None:
        r.note(f"_normalize raises {type(got[0].error).__name__}: {got[0].error}")
        r.check()
    r.compare_values("normalized string", texts, [e[0] for e in exp], [g.value[0] if g.error is None else g.describe() for g in got], "normalized")
    r.compare_values(
        "original byte range of each normalized char",
        texts,
        [e[1] for e in exp],
        [g.value[1] if g.error is None else g.describe() for g in got],
        "alignments",
    )
    r.check()


@pytest.mark.parametrize("name", list(NORMALIZERS))
def test_normalizer(oc, texts, name):
    _check_normalizer(oc, texts, name, NORMALIZERS[name])


@pytest.mark.parametrize("name", list(EXTRA_NORMALIZERS))
def test_normalizer_extra(oc, texts, name):
    _check_normalizer(oc, texts, name, EXTRA_NORMALIZERS[name])


def _check_pre_tokenizer(oc, texts, name, factory):
    pre = factory()
    js = component_json("pre_tokenizer", pre)
    r = Report(f"pre_tokenizer {name} {short(js, 300)}")
    exp = [[(s, tuple(o)) for s, o in pre.pre_tokenize_str(t)] for t in texts]
    got = [outcome(oc._C._pre_tokenize, js, t) for t in texts]
    if got and got[0].error is not None:
        r.note(f"_pre_tokenize raises {type(got[0].error).__name__}: {got[0].error}")
        r.check()
    got_v = [[(s, tuple(o)) for s, o in g.value] if g.error is None else g.describe() for g in got]
    r.compare_values("pre_tokenize_str", texts, exp, got_v, "(piece, (char_start, char_end)) list")
    r.check()


@pytest.mark.parametrize("name", list(PRE_TOKENIZERS))
def test_pre_tokenizer(oc, texts, name):
    _check_pre_tokenizer(oc, texts, name, PRE_TOKENIZERS[name])


@pytest.mark.parametrize("name", list(EXTRA_PRE_TOKENIZERS))
def test_pre_tokenizer_extra(oc, texts, name):
    _check_pre_tokenizer(oc, texts, name, EXTRA_PRE_TOKENIZERS[name])


# ---------------------------------------------------------------------------
# Decoders, through decode() of a WordLevel tokenizer whose vocabulary holds
# the token shapes each decoder rewrites.
# ---------------------------------------------------------------------------

DECODER_VOCAB = [
    "<unk>", "<pad>", "<s>", "</s>", "|", "a", "b", "hello", "world", "##ing", "##s", "##", "@@", "x@@",
    "Ġhello", "Ġ", "ĠĠ", "Ã©", "ä¸Ń", "âĤ¬", "ðŁĺ", "Ģ", "Ċ", "ĉ", "▁", "▁the", "▁▁", "the▁", "_a", "_",
    "</w>", "cat</w>", "s</w>", "</w></w>", "<0x41>", "<0xE2>", "<0x82>", "<0xAC>", "<0xF0>", "<0x9F>", "<0x98>",
    "<0x80>", "<0x0A>", "<0xFF>", "<0x>", "<0xZZ>", "<0x4>", " ", "  ", "x ", " y", ".", ",", "!", "?", "'",
    "n't", "'s", "'m", "'ve", "'re", "do", "not", " .", " ,", " 's", " n't", "-", "é", "😀", "\n", "\t",
    "aaa", "[PAD]",
]
DECODER_SPECIALS = ["<s>", "</s>", "<pad>"]

DECODERS = {
    "none (tokens joined by spaces)": lambda: None,
    "WordPiece(##,cleanup=True)": lambda: decoders.WordPiece(prefix="##", cleanup=True),
    "WordPiece(##,cleanup=False)": lambda: decoders.WordPiece(prefix="##", cleanup=False),
    "WordPiece(@@,cleanup=True)": lambda: decoders.WordPiece(prefix="@@", cleanup=True),
    "ByteLevel": lambda: decoders.ByteLevel(),
    **{
        f"Metaspace(prepend_scheme={p},split={s})": (lambda p=p, s=s: decoders.Metaspace(replacement="▁", prepend_scheme=p, split=s))
        for p in ("always", "first", "never")
        for s in (True, False)
    },
    "Metaspace(replacement='_')": lambda: decoders.Metaspace(replacement="_"),
    "BPEDecoder(</w>)": lambda: decoders.BPEDecoder(suffix="</w>"),
    "BPEDecoder(s</w>)": lambda: decoders.BPEDecoder(suffix="s</w>"),
    "ByteFallback": lambda: decoders.ByteFallback(),
    "Fuse": lambda: decoders.Fuse(),
    "Strip(' ',1,0)": lambda: decoders.Strip(content=" ", left=1, right=0),
    "Strip('▁',2,1)": lambda: decoders.Strip(content="▁", left=2, right=1),
    "Strip('a',0,3)": lambda: decoders.Strip(content="a", left=0, right=3),
    "Replace('▁',' ')": lambda: decoders.Replace("▁", " "),
    "Replace(regex \\s+,'_')": lambda: decoders.Replace(Regex(r"\s+"), "_"),
    "CTC(<pad>,|,cleanup=True)": lambda: decoders.CTC(pad_token="<pad>", word_delimiter_token="|", cleanup=True),
    "CTC(<pad>,|,cleanup=False)": lambda: decoders.CTC(pad_token="<pad>", word_delimiter_token="|", cleanup=False),
    "CTC([PAD],_,cleanup=True)": lambda: decoders.CTC(pad_token="[PAD]", word_delimiter_token="_", cleanup=True),
    "Sequence(Replace,ByteFallback,Fuse,Strip) (Llama-2)": lambda: decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1, right=0)]
    ),
    "Sequence(ByteFallback,Metaspace)": lambda: decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()]),
    "Sequence(CTC,WordPiece)": lambda: decoders.Sequence([decoders.CTC(), decoders.WordPiece()]),
    "Sequence()": lambda: decoders.Sequence([]),
}


def _decoder_tokenizer(decoder):
    from tokenizers import AddedToken

    t = Tokenizer(models.WordLevel({tok: i for i, tok in enumerate(DECODER_VOCAB)}, unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t.add_special_tokens([AddedToken(s, special=True) for s in DECODER_SPECIALS])
    if decoder is not None:
        t.decoder = decoder
    return t


def _random_id_sequences(n_vocab: int, count: int, seed: int):
    rng = random.Random(seed)
    out = [[], [0], [1], [2, 3]]
    while len(out) < count:
        seq = []
        for _ in range(rng.randint(1, 15)):
            if seq and rng.random() < 0.3:
                seq.append(seq[-1])  # repeats (CTC de-duplication)
            else:
                seq.append(rng.randrange(n_vocab))
        out.append(seq)
    return out


@pytest.mark.parametrize("name", list(DECODERS))
def test_decoder(oc, name):
    hf = _decoder_tokenizer(DECODERS[name]())
    js = hf.to_str()
    r = Report(f"decoder {name} {short(json.loads(js)['decoder'], 200)}")
    got_tok = outcome(oc.Tokenizer.from_str, js)
    if got_tok.error is not None:
        r.note(f"Tokenizer.from_str raises {type(got_tok.error).__name__}: {got_tok.error}")
        r.check()
    octok = got_tok.value
    seqs = _random_id_sequences(len(DECODER_VOCAB), 2000, seed=3)
    for skip in (True, False):
        exp = [outcome(hf.decode, s, skip_special_tokens=skip) for s in seqs]
        got = [outcome(octok.decode, s, skip_special_tokens=skip) for s in seqs]
        labelled = [[DECODER_VOCAB[i] for i in s] for s in seqs]
        r.compare_outcomes(f"decode(skip_special_tokens={skip}) of the token lists shown", labelled, exp, got, "decoded text")
    ok = [s for s, e in zip(seqs, exp) if e.error is None]  # decode_batch fails as a whole otherwise
    r.compare_values(
        "decode_batch",
        ok,
        hf.decode_batch(ok, skip_special_tokens=False),
        octok.decode_batch(ok, skip_special_tokens=False),
        "decoded text",
    )
    r.check()
