"""optimum-cpp: Hugging Face models on a native C++ engine.

The classes mirror transformers' Auto classes: ``from_pretrained(folder)``
loads a checkpoint, calling the model with numpy int arrays returns a
``ModelOutput`` (a dict that also allows attribute access) of numpy arrays
named as transformers names them.
"""

from __future__ import annotations

import json
from typing import Any

from ._C import (
    Encoding,
    FormatError,
    InvalidArgumentError,
    IoError,
    Model as _NativeModel,
    NotFoundError,
    OptimumError,
    Tokenizer,
    UnsupportedError,
    get_num_threads,
    set_num_threads,
)

__version__ = "0.1.0"

__all__ = [
    "AutoModel",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "Encoding",
    "FormatError",
    "InvalidArgumentError",
    "IoError",
    "ModelOutput",
    "NotFoundError",
    "OptimumError",
    "Tokenizer",
    "UnsupportedError",
    "get_num_threads",
    "set_num_threads",
]


class ModelOutput(dict):
    """Outputs by name; ``out.logits`` and ``out["logits"]`` both work."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_tuple(self) -> tuple:
        return tuple(self.values())


class _OptimizedModel:
    """Base of the Auto classes; subclasses set the task."""

    task = "feature-extraction"

    def __init__(self, native: _NativeModel):
        self._native = native
        self.config = json.loads(native.config_json)

    @classmethod
    def from_pretrained(
        cls,
        model_id,
        *,
        export: bool = False,
        dtype: str = "fp32",
        revision: str | None = None,
        subfolder: str = "",
        cache_dir: str | None = None,
        token: str | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        num_threads: int = 0,
    ):
        """Load a model: a local folder or a Hub id, an exported folder directly, or a vanilla
        checkpoint (with ``export=True`` converted once to the native format and cached)."""
        return cls(
            _NativeModel(
                str(model_id),
                cls.task,
                num_threads,
                export,
                dtype,
                revision or "",
                subfolder or "",
                str(cache_dir) if cache_dir else "",
                token or "",
                force_download,
                local_files_only,
            )
        )

    def save_pretrained(self, save_directory) -> None:
        """Write the model in the native format with its preprocessors."""
        self._native.save_pretrained(str(save_directory))

    @property
    def model_type(self) -> str:
        return self._native.model_type

    @property
    def input_names(self) -> list[str]:
        return self._native.input_names

    @property
    def output_names(self) -> list[str]:
        return self._native.output_names

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, **kwargs):
        if input_ids is None:
            raise ValueError("input_ids is required")
        unknown = set(kwargs) - {"return_dict"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        inputs = {"input_ids": input_ids}
        for name, value in (
            ("attention_mask", attention_mask),
            ("token_type_ids", token_type_ids),
            ("position_ids", position_ids),
        ):
            if value is not None:
                inputs[name] = value
        return ModelOutput(self._native.forward(inputs))

    forward = __call__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_type={self.model_type!r}, path={self._native.path!r})"


class AutoModel(_OptimizedModel):
    """Base model: last_hidden_state (and pooler_output where the model has a pooler)."""

    task = "feature-extraction"


class AutoModelForSequenceClassification(_OptimizedModel):
    task = "text-classification"


class AutoModelForTokenClassification(_OptimizedModel):
    task = "token-classification"


class AutoModelForQuestionAnswering(_OptimizedModel):
    task = "question-answering"


class AutoModelForMaskedLM(_OptimizedModel):
    task = "fill-mask"


class AutoModelForMultipleChoice(_OptimizedModel):
    task = "multiple-choice"
