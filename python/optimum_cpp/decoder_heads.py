"""Decoder checkpoints behind ``AutoModel`` and ``AutoModelForSequenceClassification``.

``AutoModel.from_pretrained(folder)`` on a decoder (llama, qwen3, gemma3_text,
gpt2, ...) gives ``DecoderModel``: called with ``input_ids`` (and an
``attention_mask``) it returns ``ModelOutput(last_hidden_state=...)``
[batch, seq, hidden], the base model's final-normed output (zeros at masked
positions), so last-token pooling (Qwen3-Embedding) reads the row's last real
token. ``AutoModelForSequenceClassification`` gives
``DecoderForSequenceClassification``: ``ModelOutput(logits=...)`` [batch,
num_labels] from transformers' score Linear on each row's last non-pad token
(``pad_token_id`` from config.json, as transformers picks it).

Both run through the same ``OptimizedModel`` as the encoders (``_C.Model``, whose
backend session is the decoder head for a decoder checkpoint).

Each row's real tokens run at positions 0, 1, 2, ... from its first real
token: transformers' positions for right padding; for left padding
transformers counts from the row's first column, which RoPE families do not
see but learned absolute positions (gpt2) do.
"""

from __future__ import annotations

import json

import numpy as np

from ._C import Model as _NativeModel
from ._C import decoder_model_types
from .configuration import PretrainedConfig


def decoder_model_type(model_id) -> str | None:
    """The model_type of a local folder's config.json when the decoder engine runs it, else None."""
    import os

    path = os.path.join(str(model_id), "config.json")
    if not os.path.isfile(path):
        return None
    try:
        # Only a peek at model_type: anything unusual (hostile nesting, huge or non-UTF-8 files)
        # is left to the C++ loader, which names the file and the field.
        if os.path.getsize(path) > (32 << 20):
            return None
        with open(path, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError, RecursionError, MemoryError):
        return None
    return model_type if model_type in decoder_model_types() else None


class _DecoderHead:
    _task = ""
    _output = ""

    def __init__(self, native, path: str):
        self._native = native
        self._path = path
        self.config = PretrainedConfig(json.loads(native.config_json))

    @classmethod
    def from_pretrained(cls, model_id, *, dtype: str | None = None, **kwargs):
        """Load a local decoder folder (config.json + safetensors); ``dtype`` "fp32" (default), "bf16", "int8"."""
        unknown = set(kwargs) - {"num_threads", "local_files_only", "export"}
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained: unsupported arguments {sorted(unknown)}")
        return cls(_NativeModel(str(model_id), cls._task, dtype=dtype or "fp32"), str(model_id))

    @property
    def model_type(self) -> str:
        return self._native.model_type

    @property
    def path(self) -> str:
        return self._path

    @property
    def session(self) -> str:
        """``OptimizedModel(session=DecoderSession, task=..., model_type=...)``."""
        return self._native.session

    def _run(self, input_ids, attention_mask, kwargs):
        if input_ids is None:
            raise ValueError("input_ids is required")
        unknown = set(kwargs) - {"return_dict", "use_cache", "token_type_ids"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        ids = np.asarray(input_ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"input_ids must hold integers, got {ids.dtype}")
        inputs = {"input_ids": np.ascontiguousarray(ids.astype(np.int64).reshape(1, -1) if ids.ndim == 1 else ids,
                                                    dtype=np.int64)}
        if attention_mask is not None:
            mask = np.asarray(attention_mask).astype(np.int64)
            inputs["attention_mask"] = np.ascontiguousarray(mask.reshape(1, -1) if mask.ndim == 1 else mask)
        return self._native.forward(inputs)[self._output]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_type={self.model_type!r}, path={self._path!r})"


class DecoderModel(_DecoderHead):
    """A decoder's base model: ``last_hidden_state`` [batch, seq, hidden]."""

    _task = "feature-extraction"
    _output = "last_hidden_state"

    @property
    def hidden_size(self) -> int:
        return self._native.hidden_size

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        from . import ModelOutput

        return ModelOutput(last_hidden_state=self._run(input_ids, attention_mask, kwargs))

    forward = __call__


class DecoderForSequenceClassification(_DecoderHead):
    """<Family>ForSequenceClassification: ``logits`` [batch, num_labels] at each row's last non-pad token."""

    _task = "text-classification"
    _output = "logits"

    @property
    def num_labels(self) -> int:
        return self._native.num_labels

    @property
    def pad_token_id(self):
        return self._native.pad_token_id

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        from . import ModelOutput

        return ModelOutput(logits=self._run(input_ids, attention_mask, kwargs))

    forward = __call__
