"""Causal language models on the native decoder engine.

``AutoModelForCausalLM.from_pretrained(folder)`` loads a llama / mistral /
qwen2 / qwen3 (...) checkpoint. Calling it with ``input_ids`` (and an
``attention_mask`` for a padded batch) returns ``ModelOutput(logits=...)``,
logits ``[batch, seq, vocab]`` as numpy: each row's real tokens run as one
ragged segment at positions 0, 1, 2, ... (what transformers' generate
computes from the mask); padded positions get zeros.

``new_cache(slots, capacity)`` and ``step(cache, [(slot, ids), ...])`` are the
low-level interface generation drives: each segment appends its tokens to
its slot of the preallocated KV cache and gets next-token logits.
"""

from __future__ import annotations

import json

import numpy as np

from ._C import DecoderLM as _NativeCausalLM


class AutoModelForCausalLM:
    """A decoder-only language model running in C++ (fp32)."""

    def __init__(self, native: _NativeCausalLM, path: str):
        self._native = native
        self._path = path
        self.config = json.loads(native.config_json)

    @classmethod
    def from_pretrained(cls, model_id, *, dtype: str = "fp32"):
        """Load a local folder with ``config.json`` and safetensors weights."""
        return cls(_NativeCausalLM(str(model_id), dtype), str(model_id))

    @property
    def causal_lm(self):
        """The model as the engine-independent ``_C.CausalLM`` that ``_C.generate`` runs."""
        return self._native.causal_lm

    @property
    def model_type(self) -> str:
        return self._native.model_type

    @property
    def vocab_size(self) -> int:
        return self._native.vocab_size

    @property
    def max_positions(self) -> int:
        return self._native.max_positions

    @property
    def cache_bytes_per_position(self) -> int:
        return self._native.cache_bytes_per_position

    def new_cache(self, slots: int, capacity: int):
        """A KV cache of ``slots`` sequences of up to ``capacity`` positions each."""
        return self._native.new_cache(int(slots), int(capacity))

    def step(self, cache, segments, all_logits: bool = False) -> np.ndarray:
        """Append each ``(slot, token_ids)`` of ``segments`` to ``cache``; logits [rows, vocab]: one row per
        segment (its last token), or one per new token with ``all_logits``."""
        return self._native.step(cache, [(int(s), ids) for s, ids in segments], bool(all_logits))

    def hidden_states(self, cache, segments) -> np.ndarray:
        """Final-normed hidden states [rows, hidden] of every new token (the base model's output)."""
        return self._native.hidden_states(cache, [(int(s), ids) for s, ids in segments])

    def layer_states(self, cache, segments) -> np.ndarray:
        """Embeddings and every layer's output, [n_layers + 1, rows, hidden], to bisect a parity
        failure layer by layer: entries 0 .. n_layers - 1 are transformers' output_hidden_states,
        whose last entry is the final-normed output (``hidden_states``) instead of the raw one."""
        return self._native.layer_states(cache, [(int(s), ids) for s, ids in segments])

    def _segments(self, input_ids, attention_mask):
        ids = np.asarray(input_ids)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2:
            raise ValueError(f"input_ids must have 1 or 2 dimensions, got {ids.ndim}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"input_ids must hold integers, got {ids.dtype}")
        if attention_mask is None:
            mask = np.ones(ids.shape, dtype=bool)
        else:
            mask = np.asarray(attention_mask)
            if mask.ndim == 1:
                mask = mask[None, :]
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask shape {mask.shape} differs from input_ids shape {ids.shape}")
            mask = mask.astype(bool)
        return ids.astype(np.int64), mask

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        from . import ModelOutput

        if input_ids is None:
            raise ValueError("input_ids is required")
        unknown = set(kwargs) - {"return_dict", "use_cache"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        ids, mask = self._segments(input_ids, attention_mask)
        batch, seq = ids.shape
        logits = np.zeros((batch, seq, self.vocab_size), dtype=np.float32)
        rows = [np.nonzero(mask[b])[0] for b in range(batch)]
        live = [b for b in range(batch) if len(rows[b])]
        if live:
            cache = self.new_cache(batch, max(len(rows[b]) for b in live))
            out = self.step(cache, [(b, ids[b, rows[b]]) for b in live], all_logits=True)
            at = 0
            for b in live:
                n = len(rows[b])
                logits[b, rows[b]] = out[at : at + n]
                at += n
        return ModelOutput(logits=logits)

    forward = __call__

    def __repr__(self) -> str:
        return f"AutoModelForCausalLM(model_type={self.model_type!r}, path={self._path!r})"
