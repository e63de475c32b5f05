"""Tiny random decoder models built with transformers at test time.

Each model is made once per session (fixed seed), saved with save_pretrained
into a session temporary folder and shared by the tests; the transformers
model itself (fp32, eval) is the oracle.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import transformers

VOCAB = 96

_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


def _llama(**kw):
    return transformers.LlamaConfig(**{**_COMMON, **kw})


# name -> config factory. Sequences in the tests reach 12 + 16 = 28 positions:
# sliding windows are smaller, dynamic RoPE's max_position_embeddings too.
MODEL_CONFIGS = {
    "llama": lambda: _llama(),
    "llama_bias_tied": lambda: _llama(attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
                                      num_key_value_heads=1),
    "mistral": lambda: transformers.MistralConfig(**{**_COMMON, "sliding_window": 5}),
    "qwen2": lambda: transformers.Qwen2Config(
        **{**_COMMON, "use_sliding_window": True, "sliding_window": 6, "max_window_layers": 1}),
    "qwen3": lambda: transformers.Qwen3Config(**{**_COMMON, "head_dim": 24}),
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
