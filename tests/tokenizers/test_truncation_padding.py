"""Truncation (max_length, stride, 3 strategies, both directions) and padding (batch
longest, fixed length, pad_to_multiple_of, left/right) against `tokenizers`.

Batches are encoded in chunks of 40 so batch-longest padding lengths vary;
overflowing windows are compared recursively. Settings that make `tokenizers`
raise (max_length too small for the special tokens, stride too large) must
raise in optimum_cpp too, input by input.
"""

from __future__ import annotations

import pytest

import corpus as corpus_mod
from tok_compare import Report, compare_batch, encode_one, outcome, short

NAMES = [
    "fixture-minilm",
    "fixture-gpt2",
    "fixture-t5-small",
    "hf-roberta",
    "hf-llama2",
    "trained-bytelevel-bpe",
    "trained-llama3-style",
]


def T(max_length, stride=0, strategy="longest_first", direction="right"):
    return dict(max_length=max_length, stride=stride, strategy=strategy, direction=direction)


def P(direction="right", length=None, pad_to_multiple_of=None, pad_type_id=0):
    return dict(direction=direction, length=length, pad_to_multiple_of=pad_to_multiple_of, pad_type_id=pad_type_id)


# id -> (truncation, padding, add_special_tokens)
CONFIGS = {
    "trunc8": (T(8), None, True),
    "trunc16-stride4-left": (T(16, 4, direction="left"), None, True),
    "trunc12-stride2-only_first": (T(12, 2, "only_first"), None, True),
    "trunc12-stride3-only_second-left": (T(12, 3, "only_second", "left"), None, True),
    "trunc32-only_second": (T(32, 0, "only_second"), None, True),
    "trunc64-stride10": (T(64, 10), None, True),
    "trunc5-stride1-left": (T(5, 1, direction="left"), None, True),
    "trunc3-only_first(too-short)": (T(3, 0, "only_first"), None, True),
    "trunc10-stride9(too-large)": (T(10, 9), None, True),
    "trunc16-stride4-no-specials": (T(16, 4), None, False),
    "trunc7-only_second-left-no-specials": (T(7, 2, "only_second", "left"), None, False),
    "pad-longest": (None, P(), True),
    "pad-longest-left-type1": (None, P("left", pad_type_id=1), True),
    "pad-fixed40": (None, P(length=40), True),
    "pad-fixed24-left": (None, P("left", length=24), True),
    "pad-multiple8": (None, P(pad_to_multiple_of=8), True),
    "pad-fixed16-multiple7-left": (None, P("left", length=16, pad_to_multiple_of=7), True),
    "trunc20-stride5+pad-longest": (T(20, 5), P(), True),
    "trunc16-stride4-only_second-left+pad-fixed16-left": (T(16, 4, "only_second", "left"), P("left", length=16), True),
    "trunc30-left+pad-multiple8": (T(30, 0, direction="left"), P(pad_to_multiple_of=8), True),
    "trunc12-stride2-only_first+pad-fixed12-multiple5": (T(12, 2, "only_first"), P(length=12, pad_to_multiple_of=5), True),
}

PAD_CANDIDATES = ["[PAD]", "<pad>", "<|endoftext|>", "<|end_of_text|>", "<unk>"]


def _pad_token(hf):
    for t in PAD_CANDIDATES:
        i = hf.token_to_id(t)
        if i is not None:
            return t, i
    return "[PAD]", 0


def _configure(tok, trunc, pad, pad_token, pad_id):
    tok.no_truncation()
    tok.no_padding()
    if trunc is not None:
        tok.enable_truncation(**trunc)
    if pad is not None:
        tok.enable_padding(pad_id=pad_id, pad_token=pad_token, **pad)


@pytest.fixture(scope="module")
def tp_inputs(corpus):
    # bounded lengths: a long pair cut into short windows overflows combinatorially
    # (every window of the first sequence carries every window of the second)
    singles = [s[:600] for s in corpus_mod.sample(corpus, 300, seed=11)]
    pairs = [(a[:120], b[:120]) for a, b in corpus_mod.build_pairs(corpus, 300, seed=12)]
    return singles, pairs


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", NAMES)
def test_truncation_padding(zoo, tp_inputs, name, config):
    trunc, pad, add_special = CONFIGS[config]
    hf, oc = zoo.plain(name)
    pad_token, pad_id = _pad_token(hf)
    r = Report(f"{name} [{config}] truncation={trunc} padding={pad}")
    e = outcome(_configure, hf, trunc, pad, pad_token, pad_id)
    g = outcome(_configure, oc, trunc, pad, pad_token, pad_id)
    if (e.error is None) != (g.error is None):
        r.note(f"configuring: expected {e.describe()}, got {g.describe()}")
        r.check()
    if e.error is not None:
        return
    for attr in ("truncation", "padding"):
        ev, gv = getattr(hf, attr), getattr(oc, attr)
        if ev != gv:
            r.note(f".{attr}: expected {short(ev)}, got {short(gv)}")
    singles, pairs = tp_inputs
    if trunc is not None and trunc["max_length"] <= 8:
        # windows of 1-3 tokens: every window of the first sequence pairs with every window
        # of the second (10^5+ overflowing encodings for 300 pairs of 120 chars); 60 chars
        # per side keeps every combination rule exercised at a quarter of the cost
        pairs = [(a[:60], b[:60]) for a, b in pairs]
    compare_batch(r, "singles, encode_batch chunks of 40", hf, oc, singles, add_special, chunk=40)
    compare_batch(r, "pairs, encode_batch chunks of 40", hf, oc, pairs, add_special, chunk=40)
    few = singles[:30] + pairs[:30]
    r.compare_outcomes(
        "encode() one by one",
        few,
        [outcome(encode_one, hf, x, add_special) for x in few],
        [outcome(encode_one, oc, x, add_special) for x in few],
        "encoding",
    )
    r.check()
