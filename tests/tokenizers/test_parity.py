"""optimum_cpp.Tokenizer vs tokenizers.Tokenizer on the whole corpus, for every tokenizer of the zoo.

Each test loads the same tokenizer.json into both libraries and compares
every field of every encoding (ids, type_ids, tokens, offsets, masks,
word_ids, sequence_ids, overflowing), then decode output. A failure lists,
per field, how many inputs differ and the first one with both values.
"""

from __future__ import annotations

import random

import pytest

import corpus as corpus_mod
import tok_zoo
from tok_compare import Report, compare_batch, outcome, short

NAMES = tok_zoo.ALL


@pytest.mark.parametrize("name", NAMES)
def test_encode_single(zoo, corpus, name):
    hf, oc = zoo.plain(name)
    r = Report(f"{name}: encode_batch of {len(corpus)} single sequences")
    compare_batch(r, "add_special_tokens=True", hf, oc, corpus, True)
    compare_batch(r, "add_special_tokens=False", hf, oc, corpus_mod.sample(corpus, 1000), False)
    r.check()


@pytest.mark.parametrize("name", NAMES)
def test_encode_pairs(zoo, pairs, name):
    hf, oc = zoo.plain(name)
    r = Report(f"{name}: encode_batch of {len(pairs)} pairs")
    compare_batch(r, "pairs, add_special_tokens=True", hf, oc, pairs, True)
    compare_batch(r, "pairs, add_special_tokens=False", hf, oc, pairs[:400], False)
    r.check()


@pytest.mark.parametrize("name", NAMES)
def test_encode_one_by_one(zoo, corpus, pairs, name):
    """encode() (not encode_batch) on a sample, singles and pairs."""
    hf, oc = zoo.plain(name)
    r = Report(f"{name}: encode() one input at a time")
    singles = corpus_mod.sample(corpus, 300)
    r.compare_encodings("encode(single)", singles, [hf.encode(s) for s in singles], [oc.encode(s) for s in singles])
    ps = pairs[:200]
    r.compare_encodings("encode(a, b)", ps, [hf.encode(a, b) for a, b in ps], [oc.encode(a, b) for a, b in ps])
    r.compare_encodings(
        "encode(single, add_special_tokens=False)",
        singles[:100],
        [hf.encode(s, add_special_tokens=False) for s in singles[:100]],
        [oc.encode(s, add_special_tokens=False) for s in singles[:100]],
    )
    r.check()


@pytest.mark.parametrize("name", NAMES)
def test_decode(zoo, corpus, pairs, name):
    """decode/decode_batch of the golden ids (so decoding is judged apart from encoding),
    of ids with special tokens in the middle, and of random id sequences."""
    hf, oc = zoo.plain(name)
    r = Report(f"{name}: decode")
    texts = corpus_mod.sample(corpus, 2000, seed=9)
    ids = [e.ids for e in hf.encode_batch(texts)]
    pair_ids = [e.ids for e in hf.encode_batch(pairs[:500])]
    for skip in (True, False):
        case = f"decode_batch(corpus ids, skip_special_tokens={skip})"
        r.compare_values(case, ids, hf.decode_batch(ids, skip_special_tokens=skip),
                         oc.decode_batch(ids, skip_special_tokens=skip), "decoded text")
        case = f"decode_batch(pair ids, skip_special_tokens={skip})"
        r.compare_values(case, pair_ids, hf.decode_batch(pair_ids, skip_special_tokens=skip),
                         oc.decode_batch(pair_ids, skip_special_tokens=skip), "decoded text")
    sample_ids = ids[:200]
    for skip in (True, False):
        r.compare_values(f"decode(ids, skip_special_tokens={skip})", sample_ids,
                         [hf.decode(x, skip_special_tokens=skip) for x in sample_ids],
                         [oc.decode(x, skip_special_tokens=skip) for x in sample_ids], "decoded text")
    # random ids: partial UTF-8 byte tokens, subword prefixes at the start, specials anywhere,
    # ids past the vocabulary (tokenizers skips them)
    rng = random.Random(7)
    n = hf.get_vocab_size(with_added_tokens=True)
    special = sorted(hf.get_added_tokens_decoder())  # ids of added tokens, special or not
    randoms = []
    for _ in range(600):
        seq = [rng.randrange(n) for _ in range(rng.randint(0, 12))]
        if special and rng.random() < 0.3:
            seq.insert(rng.randint(0, len(seq)), rng.choice(special))
        if rng.random() < 0.05:
            seq.append(n + rng.randrange(1000))
        randoms.append(seq)
    for skip in (True, False):
        exp = [outcome(hf.decode, x, skip_special_tokens=skip) for x in randoms]
        got = [outcome(oc.decode, x, skip_special_tokens=skip) for x in randoms]
        r.compare_outcomes(f"decode(random ids, skip_special_tokens={skip})", randoms, exp, got, "decoded text")
    r.check()


@pytest.mark.parametrize("name", NAMES)
def test_vocab(zoo, name):
    hf, oc = zoo.plain(name)
    r = Report(f"{name}: vocabulary")
    for w in (True, False):
        e, g = hf.get_vocab_size(with_added_tokens=w), oc.get_vocab_size(with_added_tokens=w)
        if e != g:
            r.note(f"get_vocab_size(with_added_tokens={w}): expected {e}, got {g}")
    vocab = hf.get_vocab(with_added_tokens=True)
    tokens = sorted(vocab) + ["", "not-a-token-xyz", "[unused-xyz]", "\u00e9\u00e9\u00e9\u00e9"]
    r.compare_values("token_to_id", tokens, [hf.token_to_id(t) for t in tokens], [oc.token_to_id(t) for t in tokens], "id")
    n = hf.get_vocab_size(with_added_tokens=True)
    ids = list(range(n)) + [n, n + 1, n + 1000, 2**31]
    r.compare_values("id_to_token", ids, [hf.id_to_token(i) for i in ids], [oc.id_to_token(i) for i in ids], "token")
    r.check()


@pytest.mark.parametrize("name", ["fixture-minilm", "fixture-gpt2"])
def test_settings_from_file(zoo, corpus, name):
    """truncation/padding stored in tokenizer.json (MiniLM: max 128 + fixed 128 padding;
    gpt2: max 50) apply as loaded, and are reported like tokenizers reports them."""
    hf, oc = zoo.hf(name), zoo.oc(name)
    r = Report(f"{name}: settings stored in tokenizer.json")
    for attr in ("truncation", "padding"):
        e, g = getattr(hf, attr), getattr(oc, attr)
        if e != g:
            r.note(f".{attr}: expected {short(e)}, got {short(g)}")
    sub = corpus_mod.sample(corpus, 2000)
    compare_batch(r, "as loaded, singles", hf, oc, sub, True, chunk=50)
    compare_batch(r, "as loaded, pairs", hf, oc, corpus_mod.build_pairs(corpus, 500), True, chunk=50)
    r.check()
