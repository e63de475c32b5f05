"""optimum_cpp.AutoTokenizer called like transformers' AutoTokenizer: every
combination of padding / truncation / max_length / stride / return_* options
on single texts, lists and pairs gives the same BatchEncoding (keys in the
same order, same values, same tensor types) as transformers on the same
folder; settings are per call, so threads with different settings agree with
the sequential results."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch

import optimum_cpp as oc

TEXTS = [
    "Hello, world! Isn't it a great day?",
    "Paris is the capital of France and a great city.",
    "hi",
    "Zoë and Renée visited Gdańsk; 東京 is the capital of 日本 😀",
    "The weather today is good, the movie was bad. " * 6,
]
PAIRS = ["Where is Paris?", "a", "What did they visit in the summer of that year?", "no", "weather " * 9]

CALLS = [
    {},
    {"padding": True},
    {"padding": "longest", "return_tensors": "np"},
    {"padding": "max_length", "max_length": 40, "truncation": True},
    {"truncation": True, "max_length": 12},
    {"max_length": 12},  # max_length alone truncates (transformers' backward compatibility)
    {"truncation": "only_second", "max_length": 20, "padding": True},
    {"truncation": "only_first", "max_length": 24},
    {"truncation": "longest_first", "max_length": 16, "stride": 4, "return_overflowing_tokens": True,
     "padding": True},
    {"truncation": True, "max_length": 10, "stride": 2, "return_overflowing_tokens": True,
     "return_offsets_mapping": True},
    {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True},
    {"return_attention_mask": False, "return_token_type_ids": False},
    {"return_token_type_ids": True, "padding": True, "return_tensors": "pt"},
    {"padding": True, "pad_to_multiple_of": 8},
    {"padding": True, "padding_side": "left"},
    {"add_special_tokens": False, "padding": True},
    {"truncation": True, "padding": "max_length", "return_tensors": "pt"},  # model_max_length
]


@pytest.fixture(scope="module", params=["minilm", "roberta", "distilbert"])
def tokenizers(request, minilm_dir, surface_zoo):
    from transformers import AutoTokenizer

    folder = {"minilm": lambda: minilm_dir,
              "roberta": lambda: surface_zoo("roberta", "feature-extraction"),
              "distilbert": lambda: surface_zoo("distilbert", "feature-extraction")}[request.param]()
    return AutoTokenizer.from_pretrained(str(folder)), oc.AutoTokenizer.from_pretrained(str(folder))


def plain(value):
    """Lists of ints / tuples from lists, numpy arrays and torch tensors."""
    if isinstance(value, torch.Tensor):
        return ("pt", str(value.dtype), value.tolist())
    if isinstance(value, np.ndarray):
        return ("np", str(value.dtype), value.tolist())
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def same_encoding(ref, ours):
    assert isinstance(ours, dict)
    assert list(ours.keys()) == list(ref.keys())
    for key in ref:
        assert plain(ours[key]) == plain(ref[key]), key
        assert plain(getattr(ours, key)) == plain(ref[key])


def call_both(ref, ours, *args, **kwargs):
    try:
        expected = ref(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the same refusal is expected from ours
        with pytest.raises(type(e)):
            ours(*args, **kwargs)
        return None
    got = ours(*args, **kwargs)
    same_encoding(expected, got)
    return got


@pytest.mark.parametrize("call", CALLS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_call_matches_transformers(tokenizers, call):
    ref, ours = tokenizers
    call_both(ref, ours, TEXTS, **call)  # a batch
    call_both(ref, ours, TEXTS[1], **call)  # one text
    call_both(ref, ours, TEXTS, text_pair=PAIRS, **call)  # pairs
    call_both(ref, ours, TEXTS[0], PAIRS[0], **call)  # one pair, positional


def test_batch_encoding_surface(tokenizers):
    ref, ours = tokenizers
    enc = ours(["a short one", "and a somewhat longer text"], padding=True)
    assert enc.input_ids == enc["input_ids"] and "attention_mask" in enc.keys()
    assert dict(enc.items()).keys() == enc.keys()
    assert enc.tokens(1) == ref(["a short one", "and a somewhat longer text"], padding=True).tokens(1)
    assert enc.word_ids(0) == ref(["a short one", "and a somewhat longer text"], padding=True).word_ids(0)
    with pytest.raises(AttributeError):
        enc.no_such_key  # noqa: B018
    # Unequal lengths: rows of an object array with numpy, refused with torch (as transformers does).
    want, got = ref(["a", "b c d e"], return_tensors="np"), ours(["a", "b c d e"], return_tensors="np")
    for key in want:
        assert got[key].dtype == want[key].dtype == object
        assert [r.tolist() for r in got[key]] == [r.tolist() for r in want[key]]
        assert [r.dtype for r in got[key]] == [r.dtype for r in want[key]]
    with pytest.raises(ValueError):
        ref(["a", "b c d e"], return_tensors="pt")
    with pytest.raises(ValueError):
        ours(["a", "b c d e"], return_tensors="pt")
    assert ours.model_input_names == ref.model_input_names


def test_encode_decode_batch_decode(tokenizers):
    ref, ours = tokenizers
    for text, pair in itertools.product(TEXTS[:4], [None, PAIRS[2]]):
        assert ours.encode(text, pair) == ref.encode(text, pair)
        ids = ref(text, pair)["input_ids"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == ref.decode(ids, skip_special_tokens=skip)
            assert ours.decode(np.asarray(ids), skip_special_tokens=skip) == ref.decode(ids, skip_special_tokens=skip)
    batch = ref(TEXTS, padding=True, return_tensors="pt")["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(batch, skip_special_tokens=skip) == ref.batch_decode(batch, skip_special_tokens=skip)
        assert ours.decode(batch.tolist(), skip_special_tokens=skip) == ref.decode(batch.tolist(),
                                                                                  skip_special_tokens=skip)
    assert ours.decode(ids, clean_up_tokenization_spaces=True) == ref.decode(ids, clean_up_tokenization_spaces=True)


def test_bad_options_are_refused_as_transformers_refuses(tokenizers):
    ref, ours = tokenizers
    for kwargs in ({"padding": "sideways"}, {"truncation": "middle"},
                   {"truncation": True, "max_length": 6, "stride": 9, "return_overflowing_tokens": True}):
        with pytest.raises(Exception) as want:
            ref(TEXTS, **kwargs)
        with pytest.raises(Exception) as got:
            ours(TEXTS, **kwargs)
        assert isinstance(got.value, (type(want.value), ValueError)), (kwargs, got.value, want.value)


def test_threads_with_different_settings(minilm_dir):
    """Per-call truncation and padding: no state shared between concurrent calls."""
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(minilm_dir))
    ours = oc.AutoTokenizer.from_pretrained(str(minilm_dir))
    settings = [{"truncation": True, "max_length": n, "padding": pad}
                for n, pad in itertools.product((5, 9, 17, 64), (True, "max_length", False))]
    settings.append({})
    expected = [ref(TEXTS, **s) for s in settings]
    errors = []

    def worker(k):
        try:
            for _ in range(40):
                i = (k * 7 + _) % len(settings)
                got = ours(TEXTS, **settings[i])
                if dict(got) != dict(expected[i]):
                    errors.append((settings[i], dict(got)))
                    return
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:2]
