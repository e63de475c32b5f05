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
    __version__,
    AccessDeniedError,
    CorruptDownloadError,
    Encoding,
    EntryNotFoundError,
    FormatError,
    InvalidArgumentError,
    IoError,
    Model as _NativeModel,
    NetworkError,
    NotFoundError,
    OfflineCacheMissError,
    OptimumError,
    Pipeline as _NativePipeline,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    Tokenizer,
    UnsupportedError,
    ValidationError,
    get_num_threads,
    push_folder_to_hub as _push_folder_to_hub,
    set_num_threads,
    cpu_isa,
)

from . import util
from .sentence_transformer import SentenceTransformer
from .causal_lm import AutoModelForCausalLM
from .streamers import TextIteratorStreamer, TextStreamer
from .tokenization import AutoTokenizer, PreTrainedTokenizer
from .decoder_heads import DecoderForSequenceClassification, DecoderModel
from .decoder_heads import decoder_model_type as _decoder_model_type

_DECODER_HEADS = {"feature-extraction": DecoderModel, "text-classification": DecoderForSequenceClassification}

__all__ = [
    "AccessDeniedError",
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoTokenizer",
    "PreTrainedTokenizer",
    "TextIteratorStreamer",
    "TextStreamer",
    "CorruptDownloadError",
    "DecoderForSequenceClassification",
    "DecoderModel",
    "Encoding",
    "EntryNotFoundError",
    "FormatError",
    "InvalidArgumentError",
    "IoError",
    "ModelOutput",
    "NetworkError",
    "NotFoundError",
    "OfflineCacheMissError",
    "OptimumError",
    "Pipeline",
    "RepositoryNotFoundError",
    "RevisionNotFoundError",
    "SentenceTransformer",
    "Tokenizer",
    "UnsupportedError",
    "ValidationError",
    "get_num_threads",
    "pipeline",
    "push_folder_to_hub",
    "set_num_threads",
    "cpu_isa",
]


def push_folder_to_hub(
    folder,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    revision: str = "main",
    path_in_repo: str = "",
) -> dict:
    """Upload every file of ``folder`` (sub-folders kept, e.g. sentence-transformers'
    ``1_Pooling/``) to the Hub repository ``repo_id`` in one commit, creating the
    repository when needed. ``token`` defaults to HF_TOKEN / the token file; the
    endpoint is HF_ENDPOINT. Returns ``{"commit", "commit_url", "files"}``."""
    return _push_folder_to_hub(str(folder), repo_id, token or "", private, commit_message or "", revision,
                               path_in_repo)


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
        # Built in C++ without recursion (a config may nest 1000 levels; inf kept).
        self.config = native.config

    @classmethod
    def from_pretrained(
        cls,
        model_id,
        *,
        export: bool = False,
        dtype: str | None = None,
        revision: str | None = None,
        subfolder: str = "",
        cache_dir: str | None = None,
        token: str | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        num_threads: int = 0,
        calibration_texts=None,
        strict_accuracy: bool = False,
        fallback_dtype: str = "auto",
    ):
        """Load a model: a local folder or a Hub id, an exported folder directly, or a vanilla
        checkpoint (with ``export=True`` converted once to the native format and cached).

        ``dtype`` ("fp32", "bf16", "int8"; None: an export's own precision, else fp32) is the
        precision of the encoder-layer Linears. With ``export=True`` the export is written in it
        and checked by the accuracy guard on ``calibration_texts`` (default: built-in English
        sentences): the most sensitive layers are kept in ``fallback_dtype`` ("fp32", "bf16" for
        an int8 export, or "auto": bf16 for int8 where the CPU computes bf16 natively) until the thresholds are met, or with ``strict_accuracy=True`` the
        export fails (``ValidationError``). A checkpoint loaded without export is packed in
        ``dtype`` at load (int8 quantized then)."""
        if isinstance(calibration_texts, str):
            raise TypeError("calibration_texts must be a list of strings, not a string")
        # Decoder checkpoints (llama, qwen3, gemma3_text, gpt2, ...) run on the decoder engine.
        if cls.task in _DECODER_HEADS and not export and _decoder_model_type(model_id):
            return _DECODER_HEADS[cls.task].from_pretrained(model_id, dtype=dtype)
        return cls(
            _NativeModel(
                str(model_id),
                cls.task,
                num_threads,
                export,
                dtype or "auto",
                revision or "",
                subfolder or "",
                str(cache_dir) if cache_dir else "",
                token or "",
                force_download,
                local_files_only,
                [str(t) for t in calibration_texts or []],
                strict_accuracy,
                fallback_dtype,
            )
        )

    def save_pretrained(self, save_directory) -> None:
        """Write the model in the native format with its preprocessors."""
        self._native.save_pretrained(str(save_directory))

    @property
    def path(self) -> str:
        """Folder the model was loaded from (the export cache entry when exported)."""
        return self._native.path

    @property
    def exported_now(self) -> bool:
        """True when ``from_pretrained(..., export=True)`` converted the checkpoint in that call
        (False when the export cache already had it)."""
        return self._native.exported_now

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool = False,
        commit_message: str | None = None,
        revision: str = "main",
    ) -> dict:
        """``save_pretrained`` into a temporary folder and upload it to ``repo_id`` in one
        commit (the repository is created when needed). ``from_pretrained(repo_id)`` then
        loads it. Returns ``{"commit", "commit_url", "files"}``."""
        return self._native.push_to_hub(repo_id, token or "", private, commit_message or "", revision)

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
        skip_padding = bool(kwargs.pop("skip_padding", False))
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
        return ModelOutput(self._native.forward(inputs, skip_padding))

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


class Pipeline:
    """A task pipeline running in C++; called like transformers' pipeline objects."""

    def __init__(self, native: _NativePipeline):
        self._native = native

    @property
    def task(self) -> str:
        return self._native.task

    def __call__(self, inputs=None, *args, **kwargs):
        if self.task == "question-answering" and inputs is None:
            question, context = kwargs.pop("question", None), kwargs.pop("context", None)
            if question is None or context is None:
                raise ValueError("question-answering needs question= and context= (or {'question', 'context'} inputs)")
            if isinstance(question, list) and isinstance(context, str):
                inputs = [{"question": q, "context": context} for q in question]
            elif isinstance(question, list):
                if len(question) != len(context):
                    raise ValueError("Questions and contexts don't have the same lengths")
                inputs = [{"question": q, "context": c} for q, c in zip(question, context)]
            else:
                inputs = {"question": question, "context": context}
        elif self.task == "zero-shot-classification" and args:
            if len(args) > 1 or "candidate_labels" in kwargs:
                raise ValueError(f"Unable to understand extra arguments {args}")
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise TypeError(f"unexpected positional arguments {args}")
        if inputs is None:
            raise ValueError("At least one input is required.")
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        return json.loads(self._native.call_json(json.dumps(inputs), json.dumps(kwargs)))

    @property
    def batch_size(self) -> int:
        """Inputs per forward when called on a list (pipeline(..., batch_size=N)); 1 by default."""
        return self._native.batch_size

    @property
    def embedding_dimension(self) -> int:
        """Length of one text-embedding result; 0 for the other tasks."""
        return self._native.embedding_dimension

    def run_batch(self, inputs, batch_size=None, **kwargs) -> list:
        """One result per input of the list `inputs`, `batch_size` inputs per forward (default: the
        pipeline's batch_size); each result is what calling the pipeline on that input alone gives."""
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if not isinstance(inputs, list):
            raise TypeError(f"run_batch needs a list of inputs, got {type(inputs).__name__}")
        if batch_size is None:
            batch_size = self.batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return json.loads(self._native.run_batch_json(json.dumps(inputs), json.dumps(kwargs), batch_size))

    def __repr__(self) -> str:
        return f"Pipeline(task={self.task!r}, model={self._native.model_path!r})"


def pipeline(task: str, model=None, **kwargs) -> Pipeline:
    """Build a task pipeline (text-classification, token-classification, question-answering,
    fill-mask, feature-extraction, zero-shot-classification, text-embedding) over a model folder
    or Hub id.

    batch_size=N (here or in a call on a list of inputs) runs N inputs per forward; results
    equal the unbatched call.

    Loading options (export, dtype, revision, subfolder, cache_dir, token, force_download,
    local_files_only, num_threads) go to from_pretrained; every other keyword is a default
    for the calls (top_k=..., aggregation_strategy=...), as with transformers.pipeline."""
    if model is None:
        raise ValueError("pipeline() needs model= (a folder or a Hub id); there is no default model")
    return Pipeline(_NativePipeline(task, str(model), json.dumps(kwargs)))
