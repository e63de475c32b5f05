"""Encoder-decoder language models (t5, bart, mbart, marian) on the native engine.

``AutoModelForSeq2SeqLM.from_pretrained(folder)`` loads a checkpoint saved by transformers.
``generate(input_ids, attention_mask=None, **options)`` has transformers' semantics and return
shape: int64 ``[batch * num_return_sequences, 1 + new]``, the decoder_start_token_id then the new
tokens, ``pad_token_id`` after a sequence ends. Each input is encoded once; its beams share the
cross-attention keys/values. Calling the model with ``input_ids`` and ``decoder_input_ids`` returns
``ModelOutput(logits=...)`` ``[batch, decoder_len, vocab]`` as numpy.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import _C


_SEQ2SEQ_KEYS = ("decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens",
                 "begin_suppress_tokens")


class AutoModelForSeq2SeqLM:
    """A t5 / bart / mbart / marian checkpoint folder on the native encoder-decoder engine."""

    def __init__(self, folder: str):
        self.path = str(folder)
        self._native = _C.Seq2SeqModel(self.path)
        with open(os.path.join(self.path, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        gen_path = os.path.join(self.path, "generation_config.json")
        self.generation_config = _C.generation_config(self.path if os.path.exists(gen_path) else None)
        self.tokenizer = None
        if os.path.exists(os.path.join(self.path, "tokenizer.json")):
            from .tokenization import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(self.path)

    @classmethod
    def from_pretrained(cls, model_id, **kwargs):
        """Loads a local checkpoint folder (config.json, model.safetensors, generation_config.json)."""
        unknown = set(kwargs) - {"export", "dtype", "torch_dtype"}
        if unknown:
            raise ValueError(f"AutoModelForSeq2SeqLM.from_pretrained: unsupported options {sorted(unknown)}")
        if not os.path.isdir(str(model_id)):
            raise FileNotFoundError(f"AutoModelForSeq2SeqLM: {model_id} is not a checkpoint folder "
                                    "(Hub ids: download it first)")
        return cls(str(model_id))

    @property
    def model_type(self) -> str:
        return self._native.model_type

    @staticmethod
    def _rows(input_ids, attention_mask):
        ids = np.asarray(input_ids.cpu().numpy() if hasattr(input_ids, "cpu") else input_ids)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"input_ids must be a 2-D integer array, got shape {ids.shape} dtype {ids.dtype}")
        ids = ids.astype(np.int64)
        if attention_mask is None:
            mask = np.ones_like(ids)
        else:
            mask = np.asarray(attention_mask.cpu().numpy() if hasattr(attention_mask, "cpu") else attention_mask)
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask has shape {mask.shape}, input_ids {ids.shape}")
        return ids, mask.astype(np.int64)

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, **kwargs):
        """transformers' generate for encoder-decoders: right-padded ``input_ids`` with ``attention_mask``;
        options over the model's generation_config.json. Returns int64 numpy [rows, 1 + new]."""
        if input_ids is None:
            input_ids = kwargs.pop("inputs", None)
        if input_ids is None:
            raise ValueError("generate needs input_ids")
        for name in ("return_dict_in_generate", "output_scores", "use_cache"):
            if kwargs.pop(name, None) and name != "use_cache":
                raise ValueError(f"generate: {name}=True is not supported for encoder-decoders yet")
        ids, mask = self._rows(input_ids, attention_mask)
        items = [[int(t) for t, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask)]
        options = {}
        if generation_config is not None:
            user = generation_config.to_diff_dict() if hasattr(generation_config, "to_diff_dict") else dict(generation_config)
            known = set(_C.generation_config(None)) | set(_SEQ2SEQ_KEYS)
            options.update({k: v for k, v in user.items() if k in known and v is not None})
        options.update(kwargs)
        out = _C.generate(self._native, items, generation_config=self.path, **options)
        resolved = _C.generation_config(self.path, **options)
        start = resolved.get("decoder_start_token_id")
        if start is None:
            start = self._native.decoder_start_token_id
        pad = resolved.get("pad_token_id")
        if pad is None:
            eos = resolved.get("eos_token_id")
            pad = (eos[0] if isinstance(eos, list) else eos) if eos not in (None, []) else 0
        rows = [[start] + seq["tokens"] for item in out for seq in item]
        width = max(len(r) for r in rows)
        return np.array([r + [pad] * (width - len(r)) for r in rows], dtype=np.int64)

    def __call__(self, input_ids=None, attention_mask=None, decoder_input_ids=None, **kwargs):
        from . import ModelOutput

        if decoder_input_ids is None:
            raise ValueError("decoder_input_ids is required (the decoder's inputs, starting with "
                             "decoder_start_token_id)")
        ids, mask = self._rows(input_ids, attention_mask)
        dec = np.asarray(decoder_input_ids.cpu().numpy() if hasattr(decoder_input_ids, "cpu") else decoder_input_ids)
        logits = self._native.decoder_logits(ids, mask, dec.astype(np.int64), one_step=True)
        return ModelOutput(logits=logits)
