"""Tiny random decoder models built with transformers at test time.

Each model is made once per session (fixed seed), saved with save_pretrained
into a session temporary folder and shared by the tests; the transformers
model itself (fp32, eval) is the oracle.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tokenizers
import torch
import transformers

ATOL = 1e-4
VOCAB = 96
PROMPT = 12
DECODE = 16
PAD = 0

# The llama-shaped config keys every tiny model starts from.
LLAMA_LIKE = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=PAD,
)


def _llama(**kw):
    return transformers.LlamaConfig(**{**LLAMA_LIKE, **kw})


# name -> config factory. Sequences in the tests reach 12 + 16 = 28 positions:
# sliding windows are smaller, dynamic RoPE's max_position_embeddings too.
MODEL_CONFIGS = {
    "llama": lambda: _llama(),
    "llama_bias_tied": lambda: _llama(attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
                                      num_key_value_heads=1),
    "mistral": lambda: transformers.MistralConfig(**{**LLAMA_LIKE, "sliding_window": 5}),
    "qwen2": lambda: transformers.Qwen2Config(
        **{**LLAMA_LIKE, "use_sliding_window": True, "sliding_window": 6, "max_window_layers": 1}),
    "qwen3": lambda: transformers.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24}),
    "llama_rope_linear": lambda: _llama(rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0}),
    "llama_rope_dynamic": lambda: _llama(
        max_position_embeddings=16, rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}),
    "llama_rope_llama3": lambda: _llama(rope_parameters={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16, "rope_theta": 10000.0}),
    "llama_rope_yarn": lambda: _llama(rope_parameters={
        "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32, "rope_theta": 10000.0}),
}

# Older config.json layout (rope_theta + rope_scaling, "type" key): written by
# hand over a saved model, loaded by both sides from the file.
LEGACY_ROPE = {
    "llama_legacy_linear": {"rope_theta": 2000.0, "rope_scaling": {"type": "linear", "factor": 3.0}},
    "llama_legacy_yarn": {"rope_theta": 10000.0,
                          "rope_scaling": {"rope_type": "yarn", "factor": 2.0, "beta_fast": 16,
                                           "original_max_position_embeddings": 24}},
}


class TinyModels:
    """Builds each model on first use; folder and oracle cached for the session."""

    def __init__(self, root):
        self.root = root
        self._made = {}

    def get(self, name):
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def _make(self, name):
        folder = self.root / name
        if name in LEGACY_ROPE:
            base, _ = self.get("llama")
            folder.mkdir()
            for f in (base).iterdir():
                shutil.copy(f, folder / f.name)
            cfg = json.loads((folder / "config.json").read_text())
            cfg.pop("rope_parameters", None)
            cfg.update(LEGACY_ROPE[name])
            (folder / "config.json").write_text(json.dumps(cfg))
            model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
            return folder, model.eval()
        torch.manual_seed(abs(hash(name)) % 1000)
        config = MODEL_CONFIGS[name]()
        model = transformers.AutoModelForCausalLM.from_config(config).to(torch.float32).eval()
        with torch.no_grad():
            # Random norm weights, so the +1/offset and per-head norms matter.
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.normal_(1.0, 0.2)
        model.save_pretrained(folder)
        return folder, model


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    return TinyModels(tmp_path_factory.mktemp("decoders"))


def prompt(seed, length=PROMPT):
    """(1, length) random token ids (>= 3: no bos/eos/pad) from `seed`."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (1, length), generator=g)


def padded(lengths, left, seed=20):
    """(ids, mask) of prompts prompt(seed + b, n) padded with PAD on the left or right."""
    seq = max(lengths)
    ids = torch.full((len(lengths), seq), PAD, dtype=torch.long)
    mask = torch.zeros((len(lengths), seq), dtype=torch.long)
    for b, n in enumerate(lengths):
        cols = slice(seq - n, seq) if left else slice(0, n)
        ids[b, cols] = prompt(seed + b, n)[0]
        mask[b, cols] = 1
    return ids, mask


def check_prompt_and_decode(ours, ref, name):
    """Prompt logits of prompt(7), then DECODE greedy steps over the KV cache, against
    transformers. Returns (ids, transformers' prompt logits, our cache)."""
    ids = prompt(7)
    cache = ours.new_cache(1, PROMPT + DECODE)
    with torch.no_grad():
        out = ref(ids, use_cache=True)
    prompt_logits = out.logits[0].numpy()
    got = ours.step(cache, [(0, ids[0].numpy())], all_logits=True)
    np.testing.assert_allclose(got, prompt_logits, atol=ATOL, rtol=0)
    past = out.past_key_values
    token = int(out.logits[0, -1].argmax())
    for step in range(DECODE):
        with torch.no_grad():
            out = ref(torch.tensor([[token]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        got = ours.step(cache, [(0, [token])])
        assert got.shape == (1, VOCAB)
        np.testing.assert_allclose(got[0], out.logits[0, -1].numpy(), atol=ATOL, rtol=0,
                                   err_msg=f"{name}: decode step {step}")
        token = int(out.logits[0, -1].argmax())
    return ids, prompt_logits, cache


def assert_batch_equal(together, alone):
    """A batch item against the item run alone. Bit-identical on AVX-512; oneDNN's AVX2 GEMMs
    block differently for different row counts, so the sums may differ in the last bits there
    (2.4e-7 measured): 1e-5 absolute, far below any parity tolerance."""
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)


def ragged_prefill(ours, max_len):
    """Three prompts in one step, slots out of order, equal to each alone.
    Returns (prompts, the batch cache, each prompt's logits alone)."""
    prompts = [prompt(11, 9)[0].numpy(), prompt(12, 3)[0].numpy(), prompt(13, 14)[0].numpy()]
    batch_cache = ours.new_cache(3, max_len)
    together = ours.step(batch_cache, [(2, prompts[0]), (0, prompts[1]), (1, prompts[2])], all_logits=True)
    alone = [ours.step(ours.new_cache(1, max_len), [(0, p)], all_logits=True) for p in prompts]
    assert_batch_equal(together, np.concatenate(alone))
    return prompts, batch_cache, alone


def train_bpe_tokenizer(folder, texts):
    """A BPE tokenizer (ids < VOCAB, specials <pad> <s> </s> <unk>) trained on `texts`, saved as
    `folder`/tokenizer.json and returned."""
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                             limit_alphabet=40)
    tok.train_from_iterator(texts, trainer)
    assert tok.get_vocab_size() <= VOCAB
    tok.save(str(folder / "tokenizer.json"))
    return tok
