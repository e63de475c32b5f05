"""The encoder-decoder logits processors (forced BOS/EOS, suppressed tokens, suppressed at begin)
against transformers' classes on random scores, and their place in generate's processor list."""

import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from optimum_cpp import _C  # noqa: E402

G = transformers.generation.logits_process

CASES = [
    ("ForcedBOSTokenLogitsProcessor", dict(bos_token_id=7), lambda: G.ForcedBOSTokenLogitsProcessor(7)),
    ("ForcedEOSTokenLogitsProcessor", dict(max_length=2, eos_token_id=[3, 9]),
     lambda: G.ForcedEOSTokenLogitsProcessor(2, [3, 9])),
    ("ForcedEOSTokenLogitsProcessor", dict(max_length=5, eos_token_id=4),
     lambda: G.ForcedEOSTokenLogitsProcessor(5, 4)),
    ("SuppressTokensLogitsProcessor", dict(suppress_tokens=[1, 5, 99]),
     lambda: G.SuppressTokensLogitsProcessor([1, 5, 99])),
    ("SuppressTokensAtBeginLogitsProcessor", dict(begin_suppress_tokens=[2, 8], begin_index=1),
     lambda: G.SuppressTokensAtBeginLogitsProcessor([2, 8], 1)),
]


@pytest.mark.parametrize("length", [1, 2, 4])
@pytest.mark.parametrize("name,kwargs,make", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_processor_matches_transformers(name, kwargs, make, length):
    g = torch.Generator().manual_seed(length * 31 + len(name))
    scores = torch.randn(3, 100, generator=g)
    scores[0, :4] = -math.inf
    input_ids = torch.randint(0, 100, (3, length), generator=g)
    expected = make()(input_ids, scores.clone())
    got = torch.from_numpy(_C.logits_processor(name, **kwargs)(input_ids.numpy(), scores.numpy()))
    assert torch.equal(torch.isinf(got), torch.isinf(expected)), name
    finite = torch.isfinite(expected)
    assert torch.equal(got[finite], expected[finite]), name


def test_processor_order_as_transformers():
    options = dict(no_repeat_ngram_size=2, min_new_tokens=2, eos_token_id=[3], forced_bos_token_id=5,
                   forced_eos_token_id=[3], suppress_tokens=[4], begin_suppress_tokens=[6], max_new_tokens=8)
    config = transformers.GenerationConfig(**options)
    config._eos_token_tensor = torch.tensor([3])
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=16, d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2))
    config.max_length = 9
    expected = [type(p).__name__ for p in model._get_logits_processor(config, input_ids_seq_length=1)]
    assert _C.logits_processors(1, **options) == expected
