"""_C.generate on the native decoder engine against transformers' generate on
tiny random models built at test time: greedy and beam search over 64 new
tokens give identical ids, batches equal their items one by one."""

import pytest
import torch
import transformers

from generate_util import _C, hf_beam_tokens, one_thread, random_prompts  # noqa: F401 (fixture)

from optimum_cpp.causal_lm import AutoModelForCausalLM

VOCAB = 96
NEW = 64


def make_config(family):
    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=0.15)
    if family == "llama":
        return transformers.LlamaConfig(**common)
    if family == "qwen3":
        return transformers.Qwen3Config(**common, head_dim=24)
    if family == "mistral":
        return transformers.MistralConfig(**common, sliding_window=24)
    raise ValueError(family)


@pytest.fixture(scope="module", params=["llama", "qwen3", "mistral"])
def models(request, tmp_path_factory, one_thread):
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(make_config(request.param)).eval()
    folder = tmp_path_factory.mktemp(request.param)
    hf.save_pretrained(folder)
    return hf, AutoModelForCausalLM.from_pretrained(folder)


def hf_generate(hf, prompt, **kwargs):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        return hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), return_dict_in_generate=True,
                           output_scores=True, pad_token_id=0, **kwargs)


def test_greedy_64_tokens_identical(models):
    hf, ours = models
    for prompt in random_prompts(3, VOCAB, 0, min_len=2, max_len=10):
        out = hf_generate(hf, prompt, do_sample=False, max_new_tokens=NEW, eos_token_id=None)
        got = _C.generate(ours, [prompt], max_new_tokens=NEW)[0][0]
        assert got["tokens"] == out.sequences[0, len(prompt):].tolist()
        expected_scores = [out.scores[i][0, t].item() for i, t in enumerate(got["tokens"])]
        assert got["scores"] == pytest.approx(expected_scores, abs=1e-4)


def test_beam_search_64_tokens_identical(models):
    hf, ours = models
    for prompt in random_prompts(2, VOCAB, 1, min_len=2, max_len=10):
        options = dict(num_beams=3, num_return_sequences=2, max_new_tokens=NEW, length_penalty=1.0)
        out = hf_generate(hf, prompt, do_sample=False, eos_token_id=None, **options)
        got = _C.generate(ours, [prompt], **options)[0]
        assert [s["tokens"] for s in got] == hf_beam_tokens(out, len(prompt))
        assert [s["sequence_score"] for s in got] == pytest.approx(out.sequences_scores.tolist(), abs=1e-4)


def test_batch_equals_one_by_one_and_sampling_reproducible(models):
    _, ours = models
    prompts = random_prompts(4, VOCAB, 2, min_len=1, max_len=12)
    for options in (dict(max_new_tokens=24), dict(max_new_tokens=24, num_beams=2),
                    dict(max_new_tokens=24, do_sample=True, seed=3, top_k=0)):
        batched = _C.generate(ours, prompts, **options)
        alone = [_C.generate(ours, [p], **options)[0] for p in prompts]
        assert [[s["tokens"] for s in item] for item in batched] == [[s["tokens"] for s in item] for item in alone]
    a = _C.generate(ours, prompts, max_new_tokens=24, do_sample=True, seed=5)
    b = _C.generate(ours, prompts, max_new_tokens=24, do_sample=True, seed=5)
    assert a == b
