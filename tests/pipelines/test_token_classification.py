"""token-classification vs transformers' pipeline: every aggregation strategy,
ignore_labels, offsets into text with accents, CJK and emoji, long texts."""

from __future__ import annotations

import pytest

from pipe_check import assert_same
from pipe_zoo import NER_LABELS

T = "token-classification"
TEXTS = [
    "My name is John and I live in London.",
    "Mary works at Google in New York, playing tennis.",
    "Zoë and Renée visited Gdańsk and São Paulo.",
    "東京 is the capital of 日本 😀 and 🚀 rockets!",
    "",
    "  spaced   out\ttext  ",
]
STRATEGIES = ["none", "simple", "first", "average", "max"]


@pytest.fixture(scope="module")
def bert_ner(zoo):
    return zoo.folder("bert", T, NER_LABELS)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("ignore", [None, [], ["O", "B-PER"]], ids=["ignore-default", "ignore-none", "ignore-O-BPER"])
def test_bert_strategies(zoo, bert_ner, strategy, ignore):
    kwargs = {"aggregation_strategy": strategy}
    if ignore is not None:
        kwargs["ignore_labels"] = ignore
    hf, ours = zoo.hf(T, bert_ner), zoo.oc(T, bert_ner)
    for text in TEXTS:
        assert_same(hf(text, **kwargs), ours(text, **kwargs), T, f"{strategy} {text!r}")
    assert_same(hf(TEXTS, **kwargs), ours(TEXTS, **kwargs), T)


@pytest.mark.parametrize("family", ["xlm-roberta", "electra", "roberta", "albert", "distilbert"])
@pytest.mark.parametrize("strategy", ["none", "simple", "first"])
def test_families(zoo, family, strategy):
    folder = zoo.folder(family, T, NER_LABELS)
    hf, ours = zoo.hf(T, folder), zoo.oc(T, folder)
    kwargs = {"aggregation_strategy": strategy, "ignore_labels": []}
    assert_same(hf(TEXTS, **kwargs), ours(TEXTS, **kwargs), T)


def test_long_text_truncated_like_transformers(zoo, bert_ner):
    text = "Mary works at Google in New York. " * 90
    hf, ours = zoo.hf(T, bert_ner), zoo.oc(T, bert_ner)
    for strategy in ("none", "simple"):
        assert_same(hf(text, aggregation_strategy=strategy, ignore_labels=[]),
                    ours(text, aggregation_strategy=strategy, ignore_labels=[]), T)


@pytest.mark.parametrize("strategy", ["simple", "first", "max"])
def test_stride_windows(zoo, strategy):
    from transformers import AutoTokenizer, pipeline

    folder = zoo.folder("bert", T, NER_LABELS)
    tok = AutoTokenizer.from_pretrained(str(folder), model_max_length=24)
    hf = pipeline(T, model=str(folder), tokenizer=tok)
    # the same tokenizer limit on our side: a copy of the folder with model_max_length 24
    import json
    import shutil

    small = folder.parent / (folder.name + "-mml24")
    if not small.exists():
        shutil.copytree(folder, small)
        cfg = json.loads((small / "tokenizer_config.json").read_text())
        cfg["model_max_length"] = 24
        (small / "tokenizer_config.json").write_text(json.dumps(cfg))
    ours = zoo.oc(T, small)
    text = "Mary works at Google in New York. John lives in London and plays tennis at school with Renée."
    kwargs = {"aggregation_strategy": strategy, "stride": 8, "ignore_labels": []}
    assert_same(hf(text, **kwargs), ours(text, **kwargs), T)


def test_errors(zoo, bert_ner, oc):
    ours = zoo.oc(T, bert_ner)
    with pytest.raises(oc.InvalidArgumentError, match="aggregation_strategy 'best'"):
        ours("John", aggregation_strategy="best")
    with pytest.raises(oc.InvalidArgumentError, match="stride"):
        ours("John", stride=4)
    with pytest.raises(oc.InvalidArgumentError, match="untokenized string"):
        ours([["John", "lives"]])
