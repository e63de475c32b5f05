"""zero-shot-classification vs transformers' pipeline on NLI-headed tiny models."""

from __future__ import annotations

import json
import shutil

import pytest

from pipe_check import assert_same
from pipe_zoo import NLI_LABELS

T = "zero-shot-classification"
TEXTS = ["Paris is the capital of France.", "He played football and tennis at school.", "Zoë lives in 東京 😀"]
LABELS = ["politics", "sport", "science", "music"]


@pytest.mark.parametrize("labels", [NLI_LABELS, ["ENTAILMENT", "neutral", "contradiction"], ["neutral", "Entails", "contradiction"],
                                    ["a", "b", "c"], ["neutral", "entailment", "entail_b"], ["zz", "entail_z", "entail_a"]],
                         ids=["entail-last", "entail-first", "entail-middle", "no-entail", "two-entail", "two-entail-unsorted"])
@pytest.mark.parametrize("kwargs", [{}, {"multi_label": True}, {"hypothesis_template": "This text is about {}."}],
                         ids=["default", "multi", "template"])
def test_bert_nli(zoo, labels, kwargs):
    folder = zoo.folder("bert", "text-classification", labels)
    hf, ours = zoo.hf(T, folder), zoo.oc(T, folder)
    assert_same(hf(TEXTS[0], candidate_labels=LABELS, **kwargs), ours(TEXTS[0], candidate_labels=LABELS, **kwargs), T)
    assert_same(hf(TEXTS, candidate_labels="sport, music,politics", **kwargs),
                ours(TEXTS, candidate_labels="sport, music,politics", **kwargs), T)
    assert_same(hf(TEXTS[1], ["sport"], **kwargs), ours(TEXTS[1], ["sport"], **kwargs), T)


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta", "camembert", "distilbert", "electra", "albert", "mpnet"])
def test_families(zoo, family):
    folder = zoo.folder(family, "text-classification", NLI_LABELS)
    hf, ours = zoo.hf(T, folder), zoo.oc(T, folder)
    for kwargs in ({}, {"multi_label": True}):
        assert_same(hf(TEXTS, candidate_labels=LABELS, **kwargs), ours(TEXTS, candidate_labels=LABELS, **kwargs), T)


def test_pipeline_defaults_and_errors(zoo, oc):
    from transformers import pipeline

    folder = zoo.folder("bert", "text-classification", NLI_LABELS)
    hf = pipeline(T, model=str(folder), candidate_labels=LABELS, multi_label=True)
    ours = zoo.oc(T, folder, candidate_labels=LABELS, multi_label=True)
    assert_same(hf(TEXTS), ours(TEXTS), T)
    p = zoo.oc(T, folder)
    for bad, msg in ((dict(candidate_labels=[]), "at least one label"),
                     (dict(candidate_labels=LABELS, hypothesis_template="no slot"), "not able to be formatted")):
        with pytest.raises(ValueError, match=msg):
            zoo.hf(T, folder)(TEXTS[0], **bad)
        with pytest.raises(oc.InvalidArgumentError, match=msg):
            p(TEXTS[0], **bad)
    with pytest.raises(ValueError, match="at least one label and at least one sequence"):
        zoo.hf(T, folder)("", candidate_labels=LABELS)
    with pytest.raises(oc.InvalidArgumentError, match="at least one label and at least one sequence"):
        p("", candidate_labels=LABELS)
    long_text = "Paris is the capital of France. " * 120
    assert_same(zoo.hf(T, folder)(long_text, candidate_labels=LABELS), p(long_text, candidate_labels=LABELS), T)


def copy_with_config(src, dst, edit):
    shutil.copytree(src, dst)
    (dst / "config.json").write_text(edit((dst / "config.json").read_text()))
    return dst


def test_config_with_an_overflowing_number_keeps_label2id_order(zoo, tmp_path):
    # transformers reads 1e400 as inf. Before, the ordered re-read of
    # config.json failed on it and silently fell back to sorted label2id keys:
    # entail_a instead of entail_z, the wrong entailment logit.
    src = zoo.folder("bert", "text-classification", ["zz", "entail_z", "entail_a"])
    folder = copy_with_config(src, tmp_path / "m", lambda t: t.replace("{", '{\n  "unused_huge": 1e400,', 1))
    hf, ours = zoo.hf(T, folder), zoo.oc(T, folder)
    assert_same(hf(TEXTS, candidate_labels=LABELS), ours(TEXTS, candidate_labels=LABELS), T)


@pytest.mark.parametrize("label2id, message", [
    ({"zz": 0, "entail_z": "1", "entail_a": 2}, r"config\.json: /label2id/entail_z: type must be number, but is string"),
    (["entailment"], r"config\.json: /label2id: expected an object, got array"),
])
def test_label2id_of_the_wrong_type_names_the_file(zoo, oc, tmp_path, label2id, message):
    src = zoo.folder("bert", "text-classification", ["zz", "entail_z", "entail_a"])

    def edit(text):
        cfg = json.loads(text)
        cfg["label2id"] = label2id
        return json.dumps(cfg)

    folder = copy_with_config(src, tmp_path / "m", edit)
    with pytest.raises(oc.FormatError, match=message):
        oc.pipeline(T, model=str(folder))
