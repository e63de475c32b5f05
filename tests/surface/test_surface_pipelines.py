"""pipeline() called as transformers.pipeline is: batch_size=N gives the
unbatched results (and transformers' pipeline results within 1e-4) for every
task; lists give lists; generators, iterators and datasets give generators;
device / dtype / torch_dtype / trust_remote_code / accelerator / tokenizer
options map or are refused by name."""

from __future__ import annotations

import math

import pytest
import torch

import optimum_cpp as oc
from pipe_zoo import CORPUS, NER_LABELS, NLI_LABELS, TC_LABELS

ATOL = 1e-4
LONG = " ".join(CORPUS * 4)
TEXTS = ["hi", "Paris is the capital of France.", CORPUS[7], LONG[:600], "The movie was bad.", CORPUS[9], "Zoë",
         CORPUS[2] + " " + CORPUS[3]]


def same(expected, got, path="result"):
    if hasattr(expected, "item") and getattr(expected, "shape", None) == ():
        expected = expected.item()
    if isinstance(expected, float):
        assert isinstance(got, (int, float)), f"{path}: {expected} vs {got!r}"
        assert abs(expected - got) <= ATOL or (math.isnan(expected) and math.isnan(got)), f"{path}: {expected} vs {got}"
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(expected) == set(got), f"{path}: {expected!r} vs {got!r}"
        for k in expected:
            same(expected[k], got[k], f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, list) and len(expected) == len(got), f"{path}: {expected!r} vs {got!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            same(e, g, f"{path}[{i}]")
    else:
        assert expected == got, f"{path}: {expected!r} vs {got!r}"


def task_cases(zoo):
    qa = [{"question": "Where does John live?", "context": c} for c in (CORPUS[0], LONG[:500], CORPUS[5], "London.")]
    return [
        ("text-classification", zoo("bert", "text-classification", TC_LABELS), TEXTS, {}),
        ("token-classification", zoo("distilbert", "token-classification", NER_LABELS), TEXTS,
         {"aggregation_strategy": "simple"}),
        ("question-answering", zoo("roberta", "question-answering"), qa, {}),
        ("fill-mask", zoo("bert", "fill-mask"), [f"Paris is the [MASK] of {w}." for w in ("France", "a great city",
                                                                                           "the movie " * 5)], {}),
        ("feature-extraction", zoo("electra", "feature-extraction"), TEXTS[:5], {}),
        ("zero-shot-classification", zoo("bert", "text-classification", NLI_LABELS), TEXTS[:5],
         {"candidate_labels": ["politics", "music", "sport"]}),
    ]


@pytest.fixture(scope="module")
def cases(surface_zoo):
    return task_cases(surface_zoo)


@pytest.mark.parametrize("index", range(6), ids=["text-classification", "token-classification",
                                                 "question-answering", "fill-mask", "feature-extraction",
                                                 "zero-shot-classification"])
def test_batch_size_equals_unbatched_and_transformers(cases, index):
    from transformers import pipeline as hf_pipeline

    task, folder, inputs, options = cases[index]
    unbatched = oc.pipeline(task, model=str(folder))
    # Each input alone (a list of one: text-classification wraps a lone string's result in a list;
    # question-answering and fill-mask unwrap a list of one).
    alone = [unbatched(x, **options) if task in ("question-answering", "fill-mask") else unbatched([x], **options)[0]
             for x in inputs]
    for bs in (2, 3, len(inputs)):
        batched = oc.pipeline(task, model=str(folder), batch_size=bs, device=-1, accelerator="optimum-cpp")
        same(alone, batched(inputs, **options), f"batch_size={bs}")
        same(alone, unbatched(inputs, batch_size=bs, **options), f"call batch_size={bs}")
    if task == "question-answering":
        return  # transformers 5 removed its question-answering pipeline (tests/pipelines compares with its logic)
    # transformers' feature-extraction returns the padding rows of its batches: compare it unbatched.
    ref = hf_pipeline(task, model=str(folder), batch_size=1 if task == "feature-extraction" else 3, device="cpu")
    same(ref(inputs, **options), oc.pipeline(task, model=str(folder), batch_size=3)(inputs, **options), "vs transformers")


def test_generators_and_datasets_stream(cases):
    from transformers import pipeline as hf_pipeline

    task, folder, inputs, options = cases[0]
    pipe = oc.pipeline(task, model=str(folder), batch_size=3, device="cpu")
    ref = hf_pipeline(task, model=str(folder), batch_size=3, device="cpu")
    want = ref((x for x in inputs))
    got = pipe((x for x in inputs))
    assert not isinstance(got, list) and iter(got) is got  # a generator, as transformers returns an iterator
    same(list(want), list(got))

    class Texts(torch.utils.data.Dataset):
        def __len__(self):
            return len(inputs)

        def __getitem__(self, i):
            return inputs[i]

    same(list(ref(Texts())), list(pipe(Texts())), "torch Dataset")
    same(pipe(inputs), list(pipe(iter(inputs), batch_size=2)), "iterator, call batch_size")
    assert list(pipe((x for x in []))) == []

    class Rows:  # datasets-like: an iterable of dict rows, no len
        def __iter__(self):
            return iter({"text": t} for t in inputs)

    same(pipe([{"text": t} for t in inputs]), list(pipe(Rows())), "iterable of rows")


def test_loading_options(cases, tmp_path):
    task, folder, inputs, _ = cases[0]
    base = oc.pipeline(task, model=str(folder))(inputs)
    for ok in ({"device": -1}, {"device": "cpu"}, {"device": torch.device("cpu")}, {"torch_dtype": torch.float32},
               {"dtype": "float32"}, {"trust_remote_code": False}, {"accelerator": "optimum-cpp"},
               {"tokenizer": str(folder)}, {"tokenizer": oc.AutoTokenizer.from_pretrained(str(folder))}):
        same(base, oc.pipeline(task, model=str(folder), **ok)(inputs), repr(ok))
    bf16 = oc.pipeline(task, model=str(folder), torch_dtype=torch.bfloat16)(inputs)
    assert [r["label"] for r in bf16] and len(bf16) == len(base)
    model = oc.AutoModelForSequenceClassification.from_pretrained(str(folder))
    pipe = oc.pipeline(task, model=model)
    same(base, pipe(inputs), "model object")
    assert pipe.model is model and pipe.tokenizer("hi")["input_ids"]

    refusals = [
        ({"device": "cuda"}, "CPU"), ({"device": 0}, "CPU"), ({"device": "cuda:1"}, "CPU"),
        ({"device_map": "cuda"}, "CPU"), ({"torch_dtype": torch.float16}, "torch_dtype"),
        ({"dtype": "float16"}, "dtype"), ({"trust_remote_code": True}, "trust_remote_code"),
        ({"accelerator": "ort"}, "accelerator"), ({"tokenizer": str(tmp_path)}, "tokenizer"),
        ({"batch_size": 0}, "batch_size"),
    ]
    for kwargs, word in refusals:
        with pytest.raises(ValueError, match=word):
            oc.pipeline(task, model=str(folder), **kwargs)


def test_text_embedding_batch_size(minilm_dir):
    from sentence_transformers import SentenceTransformer

    texts = TEXTS + ["word " * 300]
    unbatched = oc.pipeline("text-embedding", model=str(minilm_dir))
    alone = [unbatched([t])[0] for t in texts]
    batched = oc.pipeline("text-embedding", model=str(minilm_dir), batch_size=4)
    same(alone, batched(texts), "batch_size=4")
    same(alone, list(batched(t for t in texts)), "generator batch_size=4")
    same(alone, unbatched(texts, batch_size=3), "call batch_size=3")
    want = SentenceTransformer(str(minilm_dir), device="cpu").encode(texts).tolist()
    same(want, alone, "vs sentence-transformers")
