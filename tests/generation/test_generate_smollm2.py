"""_C.generate on the real SmolLM2-135M-Instruct (the Q4_1 GGUF of .models/,
dequantized by transformers and saved as a checkpoint folder) against
transformers' generate on the same weights: greedy continuations of 64
tokens and beam search identical, eos from the model's generation config."""

import sys
from pathlib import Path

import pytest
import torch

from generate_util import REPO, _C, hf_beam_tokens, one_thread  # noqa: F401 (fixture: 1 thread a side)
sys.path.insert(0, str(REPO / "tests" / "refcache"))
import gguf_reference  # noqa: E402  (transformers' GGUF loading, converted once and cached on disk)

from optimum_cpp.causal_lm import AutoModelForCausalLM

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
]


def models_dir() -> Path:
    for d in (REPO / ".models", Path("/work/main/.models")):
        if (d / GGUF).is_file():
            return d
    raise FileNotFoundError(f"{GGUF} is missing from {REPO / '.models'}: run `make setup`")


@pytest.fixture(scope="module")
def smollm2(one_thread):
    # transformers' GGUF loading as a checkpoint folder (dequantized weights, config, generation
    # config, tokenizer), converted once and cached: the oracle loads it, and so does ours.
    path = models_dir() / GGUF
    saved = gguf_reference.reference_folder(path)
    tok = gguf_reference.load_tokenizer(path)
    hf = gguf_reference.load_model(path)
    return tok, hf, AutoModelForCausalLM.from_pretrained(saved), saved


def hf_generate(hf, prompt, **kwargs):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        return hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), return_dict_in_generate=True,
                           output_scores=True, **kwargs)


def test_greedy_64_tokens_identical(smollm2):
    tok, hf, ours, saved = smollm2
    eos = hf.generation_config.eos_token_id
    prompts = [tok(p)["input_ids"] for p in PROMPTS]
    got = _C.generate(ours, prompts, max_new_tokens=64, generation_config=str(saved))
    for prompt, item in zip(prompts, got):
        out = hf_generate(hf, prompt, do_sample=False, max_new_tokens=64)
        expected = out.sequences[0, len(prompt):].tolist()
        if eos is not None and item[0]["finish_reason"] == "eos":
            expected = expected[: len(item[0]["tokens"])]
        assert item[0]["tokens"] == expected, tok.decode(prompt)


def test_beam_search_identical(smollm2):
    tok, hf, ours, saved = smollm2
    prompt = tok(PROMPTS[0])["input_ids"]
    out = hf_generate(hf, prompt, do_sample=False, max_new_tokens=24, num_beams=3, num_return_sequences=2)
    got = _C.generate(ours, [prompt], max_new_tokens=24, num_beams=3, num_return_sequences=2,
                      generation_config=str(saved))[0]
    assert [s["tokens"] for s in got] == hf_beam_tokens(out, len(prompt))
    assert [s["sequence_score"] for s in got] == pytest.approx(out.sequences_scores.tolist(), abs=1e-4)
