"""Encoder-decoder language models (t5, bart, mbart, marian) on the native engine.

``AutoModelForSeq2SeqLM.from_pretrained(folder | Hub id)`` loads a checkpoint saved by transformers or a
native export (``optimum-cpp export``); with ``export=True`` a checkpoint is exported once to the native
format (in ``dtype``: fp32, bf16 or int8 with the accuracy guard) into the export cache and loaded from there.
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
        self.exported_now = False  # from_pretrained(export=True) sets it when it exported in that call
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
    def from_pretrained(cls, model_id, *, export=False, dtype=None, torch_dtype=None, revision=None, subfolder="",
                        cache_dir=None, token=None, force_download=False, local_files_only=False,
                        calibration_texts=None, strict_accuracy=False, fallback_dtype="auto", export_cache_dir=None):
        """Loads a local folder or Hub id: a transformers checkpoint (config.json, model.safetensors,
        generation_config.json, tokenizer files) or a native export. ``export=True`` (or "native") converts a
        checkpoint once to the native format in ``dtype`` ("fp32", "bf16", "int8") into the export cache
        (``export_cache_dir``, else $OPTIMUM_CPP_CACHE, ...) and loads that; an export loads as it is."""
        if torch_dtype is not None and str(torch_dtype) not in ("float32", "torch.float32", "fp32"):
            raise ValueError(f"torch_dtype={torch_dtype!r}: use dtype='fp32', 'bf16' or 'int8' with export=True")
        if isinstance(export, str):
            if export != "native":
                raise ValueError(f"export={export!r}: expected True, False or 'native' (ONNX folders load in "
                                 "ONNX Runtime / Optimum's ORTModelForSeq2SeqLM)")
            export = True
        if dtype not in (None, "auto", "fp32") and not export:
            raise ValueError(f"dtype={dtype!r} needs export=True (a checkpoint loads in fp32; an export in its own "
                             "precision)")
        if isinstance(calibration_texts, str):
            raise TypeError("calibration_texts must be a list of strings, not a string")
        folder, exported_now = _C.seq2seq_folder(
            str(model_id), bool(export), dtype or "auto", revision or "", subfolder or "",
            str(cache_dir) if cache_dir else "", token or "", force_download, local_files_only,
            [str(t) for t in calibration_texts or []], strict_accuracy, fallback_dtype,
            str(export_cache_dir) if export_cache_dir else "")
        model = cls(folder)
        model.exported_now = exported_now
        return model

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
