"""text-classification vs transformers' pipeline: every option on BERT, every family."""

from __future__ import annotations

import pytest

from pipe_check import assert_same
from pipe_zoo import FAMILIES, TC_LABELS

TEXTS = ["Paris is the capital of France.", "The movie was bad, the weather today is good!", "hello"]
PAIR = {"text": "Where does John live?", "text_pair": "John lives in London."}
T = "text-classification"


@pytest.fixture(scope="module")
def bert(zoo):
    return zoo.folder("bert", T, TC_LABELS)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"top_k": None}, {"top_k": 1}, {"top_k": 2}, {"top_k": 5}, {"function_to_apply": "sigmoid"},
     {"function_to_apply": "none", "top_k": None}, {"function_to_apply": "SOFTMAX", "top_k": 2}],
    ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default",
)
@pytest.mark.parametrize("inputs", ["single", "batch", "pair", "pair-batch", "pair-list"])
def test_bert_options(zoo, bert, kwargs, inputs):
    data = {"single": TEXTS[0], "batch": TEXTS, "pair": PAIR, "pair-batch": [PAIR, TEXTS[1]],
            "pair-list": [[[PAIR["text"], PAIR["text_pair"]]]]}[inputs]
    assert_same(zoo.hf(T, bert)(data, **kwargs), zoo.oc(T, bert)(data, **kwargs), T)


def test_pipeline_level_defaults(zoo, bert):
    from transformers import pipeline

    hf = pipeline(T, model=str(bert), top_k=None, function_to_apply="sigmoid")
    ours = zoo.oc(T, bert, top_k=None, function_to_apply="sigmoid")
    for data in (TEXTS[0], TEXTS, PAIR):
        assert_same(hf(data), ours(data), T)
    assert_same(hf(TEXTS[0], top_k=1), ours(TEXTS[0], top_k=1), T)


@pytest.mark.parametrize(
    "labels,extra",
    [(["ONLY"], {}), (["A", "B", "C", "D"], {"problem_type": "multi_label_classification"}),
     (["SCORE"], {"problem_type": "regression"}), (["X", "Y"], {"problem_type": "single_label_classification"})],
    ids=["one-label", "multi-label", "regression", "single-label"],
)
def test_default_function_to_apply(zoo, labels, extra):
    folder = zoo.folder("bert", T, labels, **extra)
    for kwargs in ({}, {"top_k": None}):
        assert_same(zoo.hf(T, folder)(TEXTS, **kwargs), zoo.oc(T, folder)(TEXTS, **kwargs), T)


@pytest.mark.parametrize("family", FAMILIES)
def test_families(zoo, family):
    folder = zoo.folder(family, T, TC_LABELS)
    for kwargs in ({}, {"top_k": None}):
        for data in (TEXTS, PAIR):
            assert_same(zoo.hf(T, folder)(data, **kwargs), zoo.oc(T, folder)(data, **kwargs), T)


def test_empty_text(zoo, bert):
    assert_same(zoo.hf(T, bert)("", top_k=None), zoo.oc(T, bert)("", top_k=None), T)


def test_text_beyond_model_max_length(zoo, bert, oc):
    long_text = "Paris is the capital of France. " * 120
    with pytest.raises(Exception):
        zoo.hf(T, bert)(long_text)
    with pytest.raises(oc.InvalidArgumentError, match="position"):
        zoo.oc(T, bert)(long_text)
    # truncation=True truncates to model_max_length, as the tokenizer does for transformers
    assert_same(zoo.hf(T, bert)(long_text, truncation=True, top_k=None),
                zoo.oc(T, bert)(long_text, truncation=True, top_k=None), T)


def test_bad_options(zoo, bert, oc):
    with pytest.raises(oc.InvalidArgumentError, match="function_to_apply"):
        zoo.oc(T, bert)(TEXTS[0], function_to_apply="tanh")
    with pytest.raises(oc.InvalidArgumentError, match="unknown option 'topk'"):
        zoo.oc(T, bert)(TEXTS[0], topk=2)
    with pytest.raises(ValueError, match="text_pair"):
        zoo.hf(T, bert)([["a", "b"]])
    with pytest.raises(oc.InvalidArgumentError, match="text_pair"):
        zoo.oc(T, bert)([["a", "b"]])


def test_top_k_slices_like_python(zoo, bert):
    for k in (0, -1):
        assert_same(zoo.hf(T, bert)(TEXTS, top_k=k), zoo.oc(T, bert)(TEXTS, top_k=k), T)


def test_export_option_passes_through(zoo, bert, oc, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIMUM_CPP_CACHE", str(tmp_path / "exports"))
    ours = oc.pipeline(T, model=str(bert), export=True, top_k=None)
    assert str(tmp_path / "exports") in repr(ours)
    assert_same(zoo.hf(T, bert)(TEXTS, top_k=None), ours(TEXTS), T)


@pytest.mark.parametrize("top_k", [0, -1, -2, -7])
@pytest.mark.parametrize("where", ["call", "pipeline"])
def test_non_positive_top_k_slices_as_transformers(zoo, bert, top_k, where):
    # transformers keeps scores[:top_k] (Python slice): -1 drops the last label, -7 leaves none.
    from transformers import pipeline

    if where == "call":
        hf, ours, kwargs = zoo.hf(T, bert), zoo.oc(T, bert), {"top_k": top_k}
    else:
        hf, ours, kwargs = pipeline(T, model=str(bert), top_k=top_k), zoo.oc(T, bert, top_k=top_k), {}
    for data in (TEXTS[0], TEXTS, PAIR):
        expected = hf(data, **kwargs)
        assert_same(expected, ours(data, **kwargs), T)
    assert len(ours(TEXTS[1], top_k=top_k)) == (max(len(TC_LABELS) + top_k, 0) if top_k < 0 else 0)
