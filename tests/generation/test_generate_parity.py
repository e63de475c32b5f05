"""optimum-cpp's generation algorithms against transformers' generate() on the
same table language model (tests/generation/generate_util.py): greedy, beam
search and the logits processors give identical ids and scores."""

import itertools
import math

import pytest
import torch

from generate_util import one_thread  # noqa: F401 (fixture)
from generate_util import Pair, _C, hf_beam_tokens, hf_new_tokens, random_prompts

VOCAB = 64


@pytest.fixture(scope="module")
def pair():
    # Two eos candidates made likelier so sequences do end early.
    return Pair(vocab=VOCAB, positions=160, seed=1, scale=2.0, eos_boost={3: 2.0, 7: 1.5})


def check_greedy(pair, prompt, **kwargs):
    eos = kwargs.get("eos_token_id", [])
    eos = [eos] if isinstance(eos, int) else list(eos)
    out = pair.hf_generate(prompt, do_sample=False, **kwargs)
    expected = hf_new_tokens(out, len(prompt), None, eos)[0]
    got = _C.generate(pair.cpp, [prompt], **kwargs)[0][0]
    assert got["tokens"] == expected, kwargs
    hf_scores = [out.scores[i][0, t].item() for i, t in enumerate(expected)]
    assert got["scores"] == pytest.approx(hf_scores, abs=1e-5, rel=1e-6)
    hf_logprobs = [torch.log_softmax(out.scores[i][0], -1)[t].item() for i, t in enumerate(expected)]
    assert got["logprobs"] == pytest.approx(hf_logprobs, abs=1e-5)
    return got


@pytest.mark.parametrize("seed", range(6))
def test_greedy_64_tokens(pair, seed):
    for prompt in random_prompts(2, VOCAB, seed):
        got = check_greedy(pair, prompt, max_new_tokens=64)
        assert len(got["tokens"]) == 64
        assert got["finish_reason"] == "length"


@pytest.mark.parametrize(
    "options",
    [
        dict(max_new_tokens=48, eos_token_id=3),
        dict(max_new_tokens=48, eos_token_id=[3, 7]),
        dict(max_new_tokens=48, repetition_penalty=1.3),
        dict(max_new_tokens=48, repetition_penalty=0.7),
        dict(max_new_tokens=48, no_repeat_ngram_size=2),
        dict(max_new_tokens=48, no_repeat_ngram_size=3, repetition_penalty=1.2),
        dict(max_new_tokens=48, min_new_tokens=20, eos_token_id=[3, 7]),
        dict(max_new_tokens=48, min_length=25, eos_token_id=[3, 7]),
        dict(max_length=30, eos_token_id=[7, 3]),
        dict(eos_token_id=3),  # default length: 20 new tokens
    ],
)
def test_greedy_processors_and_stopping(pair, options):
    reasons = set()
    for prompt in random_prompts(4, VOCAB, 11):
        got = check_greedy(pair, prompt, **options)
        reasons.add(got["finish_reason"])
    if "eos_token_id" in options and "min_new_tokens" not in options and "min_length" not in options:
        assert "eos" in reasons  # the boosted eos tokens do end some sequences


BEAM_CASES = [
    dict(num_beams=nb, length_penalty=lp, early_stopping=es, num_return_sequences=nrs, eos_token_id=eos)
    for nb, lp, es, nrs, eos in [
        (2, 1.0, False, 1, 3),
        (2, 1.0, True, 2, [3, 7]),
        (3, 0.0, "never", 2, 3),
        (3, 2.0, False, 3, [3, 7]),
        (3, -1.0, True, 1, 3),
        (4, 1.0, "never", 4, [3, 7]),
        (4, 0.5, False, 2, 3),
        (4, 1.5, True, 3, [7]),
        (2, 1.0, False, 1, None),
        (3, 1.0, "never", 2, None),
    ]
]


@pytest.mark.parametrize("options", BEAM_CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_beam_search(pair, options):
    options = {k: v for k, v in options.items() if v is not None}
    for prompt in random_prompts(3, VOCAB, 5):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=40, **options)
        got = _C.generate(pair.cpp, [prompt], max_new_tokens=40, **options)[0]
        assert [s["tokens"] for s in got] == hf_beam_tokens(out, len(prompt)), prompt
        assert [s["sequence_score"] for s in got] == pytest.approx(out.sequences_scores.tolist(), abs=1e-5)


@pytest.mark.parametrize("options", [dict(repetition_penalty=1.5), dict(no_repeat_ngram_size=2),
                                     dict(min_new_tokens=10, eos_token_id=[3, 7])])
def test_beam_search_with_processors(pair, options):
    for prompt in random_prompts(2, VOCAB, 8):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=32, num_beams=3, num_return_sequences=3,
                               **options)
        got = _C.generate(pair.cpp, [prompt], max_new_tokens=32, num_beams=3, num_return_sequences=3, **options)[0]
        assert [s["tokens"] for s in got] == hf_beam_tokens(out, len(prompt))
        assert [s["sequence_score"] for s in got] == pytest.approx(out.sequences_scores.tolist(), abs=1e-5)


def test_beam_search_64_tokens(pair):
    for prompt in random_prompts(2, VOCAB, 21):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=64, num_beams=4, num_return_sequences=2)
        got = _C.generate(pair.cpp, [prompt], max_new_tokens=64, num_beams=4, num_return_sequences=2)[0]
        assert [s["tokens"] for s in got] == hf_beam_tokens(out, len(prompt))
        assert len(got[0]["tokens"]) == 64
        assert [s["sequence_score"] for s in got] == pytest.approx(out.sequences_scores.tolist(), abs=1e-5)


# --- processors one by one on random logits ------------------------------------------------------------

def hf_processor(name, **kwargs):
    import transformers.generation.logits_process as lp

    return getattr(lp, name)(**kwargs)


PROCESSOR_CASES = [
    ("RepetitionPenaltyLogitsProcessor", dict(penalty=1.7)),
    ("RepetitionPenaltyLogitsProcessor", dict(penalty=0.6)),
    ("RepetitionPenaltyLogitsProcessor", dict(penalty=1.3, prompt_ignore_length=5)),
    ("NoRepeatNGramLogitsProcessor", dict(ngram_size=1)),
    ("NoRepeatNGramLogitsProcessor", dict(ngram_size=2)),
    ("NoRepeatNGramLogitsProcessor", dict(ngram_size=3)),
    ("MinLengthLogitsProcessor", dict(min_length=30, eos_token_id=[3, 9])),
    ("MinLengthLogitsProcessor", dict(min_length=10, eos_token_id=3)),
    ("MinNewTokensLengthLogitsProcessor", dict(prompt_length_to_skip=10, min_new_tokens=5, eos_token_id=[1, 2])),
    ("MinNewTokensLengthLogitsProcessor", dict(prompt_length_to_skip=10, min_new_tokens=50, eos_token_id=[1, 2])),
    ("TemperatureLogitsWarper", dict(temperature=0.7)),
    ("TemperatureLogitsWarper", dict(temperature=1.9)),
    ("TopKLogitsWarper", dict(top_k=1)),
    ("TopKLogitsWarper", dict(top_k=10)),
    ("TopKLogitsWarper", dict(top_k=3, min_tokens_to_keep=5)),
    ("TopKLogitsWarper", dict(top_k=500)),
    ("TopPLogitsWarper", dict(top_p=0.9)),
    ("TopPLogitsWarper", dict(top_p=0.3)),
    ("TopPLogitsWarper", dict(top_p=0.01, min_tokens_to_keep=3)),
    ("TopPLogitsWarper", dict(top_p=1.0)),
    ("MinPLogitsWarper", dict(min_p=0.1)),
    ("MinPLogitsWarper", dict(min_p=0.5, min_tokens_to_keep=4)),
    ("MinPLogitsWarper", dict(min_p=0.0)),
    ("TypicalLogitsWarper", dict(mass=0.9)),
    ("TypicalLogitsWarper", dict(mass=0.2)),
    ("TypicalLogitsWarper", dict(mass=0.5, min_tokens_to_keep=6)),
]


@pytest.mark.parametrize("name,kwargs", PROCESSOR_CASES, ids=lambda x: str(x))
def test_processor_matches_transformers(name, kwargs):
    g = torch.Generator().manual_seed(hash(name) % 1000 + len(kwargs))
    for scale in (0.5, 3.0):
        scores = torch.randn(6, 100, generator=g) * scale
        scores[0, :10] = -math.inf  # rows with masked tokens, as after an earlier processor
        input_ids = torch.randint(0, 100, (6, 20), generator=g)
        input_ids[1] = input_ids[1, 0]  # a row repeating one token
        expected = hf_processor(name, **kwargs)(input_ids, scores.clone())
        got = torch.from_numpy(_C.logits_processor(name, **kwargs)(input_ids.numpy(), scores.numpy()))
        assert torch.equal(torch.isinf(got), torch.isinf(expected)), name
        finite = torch.isfinite(expected)
        assert torch.allclose(got[finite], expected[finite], atol=1e-6, rtol=1e-6), name


def test_processor_order_as_transformers(pair):
    """The list generate builds, in _get_logits_processor's order."""
    options = dict(do_sample=True, temperature=0.8, top_k=20, top_p=0.9, min_p=0.05, typical_p=0.95,
                   repetition_penalty=1.1, no_repeat_ngram_size=3, min_length=5, min_new_tokens=2,
                   eos_token_id=[3, 7])
    from transformers import GenerationConfig

    config = GenerationConfig(**options)
    config._eos_token_tensor = torch.tensor([3, 7])
    expected = [type(p).__name__ for p in pair.hf._get_logits_processor(config, input_ids_seq_length=4)]
    assert _C.logits_processors(4, **options) == expected
    greedy = {k: v for k, v in options.items() if k not in ("temperature", "top_k", "top_p", "min_p", "typical_p")}
    greedy["do_sample"] = False
    config = GenerationConfig(**greedy)
    config._eos_token_tensor = torch.tensor([3, 7])
    expected = [type(p).__name__ for p in pair.hf._get_logits_processor(config, input_ids_seq_length=4)]
    assert _C.logits_processors(4, **greedy) == expected


def test_beam_min_tokens_to_keep_as_transformers(pair):
    """Beam sampling keeps len(eos) + 1 tokens in every warper, as transformers."""
    from transformers import GenerationConfig

    for eos in ([3], [3, 7, 9]):
        config = GenerationConfig(do_sample=True, num_beams=3, top_k=1, top_p=0.01, min_p=0.9, typical_p=0.01,
                                  eos_token_id=eos)
        config._eos_token_tensor = torch.tensor(eos)
        procs = pair.hf._get_logits_processor(config, input_ids_seq_length=4)
        scores = torch.randn(3, VOCAB)
        ids = torch.randint(0, VOCAB, (3, 4))
        for p in procs:
            name = type(p).__name__
            args = {"min_tokens_to_keep": p.min_tokens_to_keep}
            args.update({"TopKLogitsWarper": dict(top_k=1), "TopPLogitsWarper": dict(top_p=0.01),
                         "MinPLogitsWarper": dict(min_p=0.9), "TypicalLogitsWarper": dict(mass=0.01)}[name])
            assert p.min_tokens_to_keep == len(eos) + 1
            got = _C.logits_processor(name, **args)(ids.numpy(), scores.numpy())
            assert torch.equal(torch.isinf(torch.from_numpy(got)), torch.isinf(p(ids, scores.clone())))


def test_top_logprobs_as_transformers_scores(pair):
    """top_logprobs=N: the N most likely tokens of the processed distribution."""
    for prompt in random_prompts(2, VOCAB, 30):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=16, repetition_penalty=1.2)
        got = _C.generate(pair.cpp, [prompt], max_new_tokens=16, repetition_penalty=1.2, top_logprobs=5)[0][0]
        assert len(got["top_logprobs"]) == 16
        for step, top in enumerate(got["top_logprobs"]):
            values, indices = torch.log_softmax(out.scores[step][0], -1).topk(5)
            assert [t for t, _ in top] == indices.tolist()
            assert [v for _, v in top] == pytest.approx(values.tolist(), abs=1e-5)
            assert top[0][0] == got["tokens"][step]
