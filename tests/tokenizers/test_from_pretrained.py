"""optimum_cpp.Tokenizer.from_pretrained(folder) vs transformers' AutoTokenizer.

* legacy folders without tokenizer.json (vocab.txt; vocab.json + merges.txt;
  tokenizer_config.json / special_tokens_map.json / added_tokens.json), which
  both sides must convert the same way;
* folders written by transformers' save_pretrained (tokenizer.json +
  tokenizer_config.json ...) and the real fixture folders.

The golden pipeline is AutoTokenizer's backend_tokenizer (a tokenizers.Tokenizer);
folder-level settings (model_max_length, padding_side, special tokens,
truncation/padding as loaded) are compared with the transformers tokenizer's.
"""

from __future__ import annotations

import pytest

import corpus as corpus_mod
import tok_zoo
from tok_compare import Report, compare_batch, outcome, short

STANDARD_SPECIALS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
FIXTURE_FOLDERS = ["all-MiniLM-L6-v2", "bert-base-NER", "distilbert-base-uncased-distilled-squad", "gpt2", "t5-small"]
SAVED = ["hf-bert-cased", "hf-bert-uncased", "hf-roberta", "hf-gpt2", "hf-t5", "hf-xlmr-spm", "hf-llama2", "hf-llama-spm-bpe"]


def _auto(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def _compare_folder(oc, folder, corpus, pairs, title):
    auto = _auto(folder)
    hf = auto.backend_tokenizer
    r = Report(title)
    got = outcome(oc.Tokenizer.from_pretrained, str(folder))
    if got.error is not None:
        r.note(f"optimum_cpp.Tokenizer.from_pretrained({folder}) raises {type(got.error).__name__}: {got.error}")
        r.check()
    tok = got.value
    # folder-level settings, as loaded
    mml = auto.model_max_length
    expected_mml = None if mml is None or mml >= 10**29 else mml
    if tok.model_max_length != expected_mml:
        r.note(f"model_max_length: expected {expected_mml} (transformers: {mml}), got {tok.model_max_length}")
    if tok.padding_side != auto.padding_side:
        r.note(f"padding_side: expected {auto.padding_side!r}, got {tok.padding_side!r}")
    exp_specials = {k: str(v) for k, v in auto.special_tokens_map.items() if k in STANDARD_SPECIALS}
    got_specials = {k: v for k, v in dict(tok.special_tokens).items() if k in STANDARD_SPECIALS}
    if exp_specials != got_specials:
        r.note(f"special_tokens: expected {exp_specials}, got {got_specials}")
    for attr in ("truncation", "padding"):
        if getattr(hf, attr) != getattr(tok, attr):
            r.note(f".{attr} as loaded: expected {short(getattr(hf, attr))}, got {short(getattr(tok, attr))}")
    for w in (True, False):
        if hf.get_vocab_size(with_added_tokens=w) != tok.get_vocab_size(with_added_tokens=w):
            r.note(f"get_vocab_size(with_added_tokens={w}): expected {hf.get_vocab_size(with_added_tokens=w)}, "
                   f"got {tok.get_vocab_size(with_added_tokens=w)}")
    if hf.get_vocab(with_added_tokens=True) != tok.get_vocab(with_added_tokens=True):
        e, g = hf.get_vocab(with_added_tokens=True), tok.get_vocab(with_added_tokens=True)
        diff = sorted(set(e.items()) ^ set(g.items()))[:10]
        r.note(f"get_vocab(): {len(set(e.items()) ^ set(g.items()))} (token, id) entries differ, e.g. {diff}")
    for t in (hf, tok):
        t.no_truncation()
        t.no_padding()
    compare_batch(r, "singles", hf, tok, corpus_mod.sample(corpus, 1000, seed=21), True)
    compare_batch(r, "pairs", hf, tok, pairs[:300], True)
    compare_batch(r, "singles, add_special_tokens=False", hf, tok, corpus_mod.sample(corpus, 200, seed=22), False)
    ids = [e.ids for e in hf.encode_batch(corpus_mod.sample(corpus, 500, seed=23))]
    for skip in (True, False):
        r.compare_values(f"decode_batch(skip_special_tokens={skip})", ids, hf.decode_batch(ids, skip_special_tokens=skip),
                         tok.decode_batch(ids, skip_special_tokens=skip), "decoded text")
    r.check()


@pytest.mark.parametrize("name", tok_zoo.LEGACY)
def test_legacy_folder(oc, zoo, corpus, pairs, name):
    folder = zoo.legacy_folder(name)
    assert not (folder / "tokenizer.json").exists()
    _compare_folder(oc, folder, corpus, pairs, f"from_pretrained({name}: {sorted(p.name for p in folder.iterdir())})")


@pytest.mark.parametrize("name", SAVED)
def test_saved_pretrained_folder(oc, zoo, corpus, pairs, name):
    folder = zoo.folder(name)
    _compare_folder(oc, folder, corpus, pairs, f"from_pretrained({name} saved by transformers: {sorted(p.name for p in folder.iterdir())})")


@pytest.mark.parametrize("name", FIXTURE_FOLDERS)
def test_fixture_folder(oc, corpus, pairs, name):
    folder = tok_zoo.fixture(name)
    _compare_folder(oc, folder, corpus, pairs, f"from_pretrained(fixture {name})")


def test_from_pretrained_empty_folder_is_not_found(oc, tmp_path):
    with pytest.raises(oc.NotFoundError) as e:
        oc.Tokenizer.from_pretrained(str(tmp_path))
    assert str(tmp_path) in str(e.value)
