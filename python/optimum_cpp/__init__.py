"""optimum-cpp: Hugging Face models on a native C++ engine.

The classes mirror transformers' Auto classes: ``from_pretrained(folder)``
loads a checkpoint, calling the model with numpy int arrays returns a
``ModelOutput`` (a dict that also allows attribute access) of numpy arrays
named as transformers names them.
"""

from __future__ import annotations

import json
import os
import types
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
from .seq2seq_lm import AutoModelForSeq2SeqLM
from .speech_seq2seq import AutoModelForSpeechSeq2Seq, WhisperForConditionalGeneration
from .streamers import TextIteratorStreamer, TextStreamer
from .tokenization import AutoTokenizer, BatchEncoding, PreTrainedTokenizer
from .configuration import PretrainedConfig
from .feature_extraction import AutoFeatureExtractor, BatchFeature, WhisperFeatureExtractor, load_audio, resample
from .image_processing import (
    AutoImageProcessor,
    CLIPImageProcessor,
    ConvNextImageProcessor,
    ViTImageProcessor,
    load_image,
)
from .decoder_heads import DecoderForSequenceClassification, DecoderModel
from .decoder_heads import decoder_model_type as _decoder_model_type

_DECODER_HEADS = {"feature-extraction": DecoderModel, "text-classification": DecoderForSequenceClassification}

__all__ = [
    "AccessDeniedError",
    "AutoFeatureExtractor",
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForImageClassification",
    "AutoModelForQuestionAnswering",
    "AutoModelForSeq2SeqLM",
    "AutoModelForSpeechSeq2Seq",
    "WhisperForConditionalGeneration",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoTokenizer",
    "AutoImageProcessor",
    "CLIPImageProcessor",
    "ConvNextImageProcessor",
    "ViTImageProcessor",
    "load_image",
    "BatchEncoding",
    "BatchFeature",
    "PreTrainedConfig",
    "PretrainedConfig",
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
    "WhisperFeatureExtractor",
    "get_num_threads",
    "load_audio",
    "resample",
    "pipeline",
    "push_folder_to_hub",
    "set_num_threads",
    "cpu_isa",
    "export_onnx",
]


def export_onnx(
    model,
    output_dir,
    *,
    task: str = "auto",
    opset: int = 17,
    dtype: str = "fp32",
    dynamic_axes: bool = True,
    batch_size: int = 0,
    sequence_length: int = 0,
    external_data: bool = False,
    validate: str = "engine",
) -> dict:
    """Export the checkpoint folder ``model`` to ONNX in ``output_dir`` (which must not exist
    or be empty), as ``optimum-cpp export --format onnx`` does: ``model.onnx`` with Optimum's
    input/output and dynamic-axis names, ``config.json``, every preprocessor and
    ``optimum_export.json``. ``opset`` 11..17 (LayerNormalization from 17, decomposed below);
    ``dtype`` "fp32" or "fp16" (LayerNorm and softmax computed in fp32); ``dynamic_axes=False``
    fixes the axes to ``batch_size`` x ``sequence_length`` (default 2 x 16); ``external_data``
    writes the weights to ``model.onnx_data`` (automatic above 2 GB). The ONNX checker with
    strict shape inference runs on every export. ``validate`` "transformers" (or "auto") also runs
    ``model.onnx`` in ONNX Runtime against transformers on Optimum's grid, as
    ``optimum-cpp export --format onnx --validate transformers`` does: a difference beyond the
    registry's ATOL raises ``ValidationError`` and removes ``output_dir``. Returns the export's
    summary."""
    from . import _C

    if validate not in ("engine", "transformers", "auto"):
        raise ValueError(f"validate must be 'engine', 'transformers' or 'auto', got {validate!r}")
    summary = _C.export_onnx(str(model), str(output_dir), task, opset, dtype, dynamic_axes, batch_size,
                             sequence_length, external_data)
    if validate != "engine":
        from .validate import validate_export

        try:
            validate_export(model, output_dir, task=None if task == "auto" else task, reference=validate)
        except Exception:
            import shutil

            shutil.rmtree(output_dir, ignore_errors=True)
            raise
    return summary


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


PreTrainedConfig = PretrainedConfig  # transformers 5 spells it PreTrainedConfig


def _as_ids(x):
    """A torch tensor as numpy (the engine reads numpy int arrays)."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


class _OptimizedModel:
    """Base of the Auto classes; subclasses set the task."""

    task = "feature-extraction"

    def __init__(self, native: _NativeModel):
        self._native = native
        # Built in C++ without recursion (a config may nest 1000 levels; inf kept).
        self.config = PretrainedConfig(native.config)

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
        export_cache_dir: str | None = None,
        validate: str = "engine",
    ):
        """Load a model: a local folder or a Hub id, an exported folder directly, or a vanilla
        checkpoint (with ``export=True`` converted once to the native format and cached).

        ``cache_dir`` is the Hub download cache (as in transformers); the exports made with
        ``export=True`` go to ``export_cache_dir``, else ``$OPTIMUM_CPP_CACHE``, else
        ``$HF_HOME/optimum-cpp/exports``, ``$XDG_CACHE_HOME/huggingface/optimum-cpp/exports`` or
        ``~/.cache/huggingface/optimum-cpp/exports`` (list and clean it with ``optimum-cpp cache``).

        ``dtype`` ("fp32", "bf16", "int8"; None: an export's own precision, else fp32) is the
        precision of the encoder-layer Linears. With ``export=True`` the export is written in it
        and checked by the accuracy guard on ``calibration_texts`` (default: built-in English
        sentences): the most sensitive layers are kept in ``fallback_dtype`` ("fp32", "bf16" for
        an int8 export, or "auto": bf16 for int8 where the CPU computes bf16 natively) until the thresholds are met, or with ``strict_accuracy=True`` the
        export fails (``ValidationError``). A checkpoint loaded without export is packed in
        ``dtype`` at load (int8 quantized then).

        ``validate`` (with ``export=True``): "engine" checks the export against the engine loaded
        from the source (always done); "transformers" also compares it with transformers running
        the source on Optimum's grid (batch 1, 3, 5 x sequence 8, 33, 96, 154, random right
        padding) at the registry's ATOL, as ``optimum-cli export`` validates against PyTorch
        (``optimum_cpp.validate.validate_export``; needs torch and transformers); "auto" does so
        when they are importable and records why not otherwise. A failure raises
        ``ValidationError`` naming the output and the difference, and removes the new export.
        The result is recorded in the export's ``optimum_export.json``."""
        if validate not in ("engine", "transformers", "auto"):
            raise ValueError(f"validate must be 'engine', 'transformers' or 'auto', got {validate!r}")
        if validate != "engine" and not export:
            raise ValueError(f"validate={validate!r} checks a new export: pass export=True")
        if isinstance(calibration_texts, str):
            raise TypeError("calibration_texts must be a list of strings, not a string")
        if isinstance(export, str):
            if export == "onnx":
                raise InvalidArgumentError(
                    "export='onnx': the engine runs native exports; write an ONNX folder with "
                    "optimum_cpp.export_onnx(model, output_dir) (or `optimum-cpp export --format onnx`) and "
                    "load it with ONNX Runtime or Optimum's ORTModel classes")
            if export != "native":
                raise InvalidArgumentError(f"export={export!r}: expected True, False, 'native' or 'onnx'")
            export = True
        # Decoder checkpoints (llama, qwen3, gemma3_text, gpt2, ...) run on the decoder engine.
        if cls.task in _DECODER_HEADS and not export and _decoder_model_type(model_id):
            return _DECODER_HEADS[cls.task].from_pretrained(model_id, dtype=dtype)
        model = cls(
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
                str(export_cache_dir) if export_cache_dir else "",
            )
        )
        if validate != "engine":
            from .validate import validate_export

            try:
                validate_export(model_id, model.path, task=cls.task, reference=validate, revision=revision,
                                subfolder=subfolder or "")
            except Exception:
                if model.exported_now:
                    import shutil

                    shutil.rmtree(model.path, ignore_errors=True)
                raise
        return model

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
    def session(self) -> str:
        """``OptimizedModel(session=EncoderModel|DecoderSession, task=..., model_type=...)``."""
        return self._native.session

    @property
    def output_names(self) -> list[str]:
        return self._native.output_names

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, *,
                 pixel_values=None, output_hidden_states=None, output_attentions=None, return_dict=None,
                 **kwargs):
        """Run the model on numpy (or torch) int arrays (vision models: float32 ``pixel_values``
        [batch, channels, height, width], also as the first positional argument); returns a
        ``ModelOutput`` of numpy arrays, or with ``return_dict=False`` a tuple in transformers' order.
        ``output_hidden_states`` and ``output_attentions`` are refused (the fused engine keeps neither)."""
        if "pixel_values" in self.input_names:
            if pixel_values is None:
                pixel_values = input_ids  # ViTModel.forward(pixel_values, ...) positionally
            elif input_ids is not None:
                raise TypeError("give pixel_values once (positionally or by name), not input_ids too")
            input_ids = None
            if kwargs.pop("interpolate_pos_encoding", False):
                raise UnsupportedError("interpolate_pos_encoding=True is not supported: give pixel_values of "
                                       "the config's image_size")
        elif pixel_values is not None:
            raise ValueError(f"model_type {self.model_type!r} takes input_ids, not pixel_values")
        if input_ids is None and pixel_values is None:
            raise ValueError("pixel_values is required" if "pixel_values" in self.input_names
                             else "input_ids is required")
        for option, value in (("output_hidden_states", output_hidden_states),
                              ("output_attentions", output_attentions)):
            if value:
                raise UnsupportedError(
                    f"{option}=True is not available: the optimum-cpp encoder engine runs fused layers and keeps "
                    f"no per-layer {option[7:]}; run the model with transformers for {option}")
        skip_padding = bool(kwargs.pop("skip_padding", False))
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        inputs = {"pixel_values": _as_ids(pixel_values)} if pixel_values is not None else {
            "input_ids": _as_ids(input_ids)}
        for name, value in (
            ("attention_mask", attention_mask),
            ("token_type_ids", token_type_ids),
            ("position_ids", position_ids),
        ):
            if value is not None:
                inputs[name] = _as_ids(value)
        out = ModelOutput(self._native.forward(inputs, skip_padding))
        if return_dict is None:
            return_dict = self.config.get("return_dict", True)
        return out if return_dict else out.to_tuple()

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


class AutoModelForImageClassification(_OptimizedModel):
    """Vision classifier (ViTForImageClassification): ``model(pixel_values).logits``."""

    task = "image-classification"


class Pipeline:
    """A task pipeline running in C++; called like transformers' pipeline objects.

    A list of inputs gives a list of results, ``batch_size`` inputs per forward (sorted by length,
    unpadded); a generator, iterator, torch ``Dataset`` or other iterable (e.g. a ``datasets``
    dataset) gives a generator of results, read ``batch_size`` inputs at a time, as transformers'
    pipelines stream them."""

    def __init__(self, native: _NativePipeline, model=None, tokenizer=None):
        self._native = native
        self._model = model
        self._tokenizer = tokenizer

    @property
    def task(self) -> str:
        return self._native.task

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def model(self):
        """The pipeline's model (``AutoModelFor...`` loaded from the same folder, on first use)."""
        if self._model is None:
            if self.task == "text-embedding":
                self._model = SentenceTransformer(self._native.model_path)
            else:
                cls = _TASK_MODEL_CLASS.get(self.task, AutoModel)
                self._model = cls.from_pretrained(self._native.model_path)
        return self._model

    @property
    def tokenizer(self):
        """The pipeline's tokenizer (an ``AutoTokenizer`` of the model folder, on first use)."""
        if self._tokenizer is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self._native.model_path)
        return self._tokenizer

    def __call__(self, inputs=None, *args, batch_size=None, num_workers=None, **kwargs):
        del num_workers  # no DataLoader workers: tokenization runs on the engine's threads
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
        if batch_size is not None:
            _check_batch_size(batch_size)
            kwargs["batch_size"] = batch_size
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if _is_stream(inputs):
            return self._stream(inputs, batch_size or self.batch_size, kwargs)
        return json.loads(self._native.call_json(json.dumps(inputs), json.dumps(kwargs)))

    def _stream(self, inputs, batch_size: int, kwargs: dict):
        """Results of an iterable of inputs, one at a time, running ``batch_size`` inputs per forward."""
        kwargs = {k: v for k, v in kwargs.items() if k != "batch_size"}
        options = json.dumps(kwargs)
        iterator = _iterate(inputs)

        def results():
            while True:
                chunk = []
                for item in iterator:
                    chunk.append(item)
                    if len(chunk) == batch_size:
                        break
                if not chunk:
                    return
                yield from json.loads(self._native.run_batch_json(json.dumps(chunk), options, batch_size))
                if len(chunk) < batch_size:
                    return

        return results()

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
        _check_batch_size(batch_size)
        return json.loads(self._native.run_batch_json(json.dumps(inputs), json.dumps(kwargs), batch_size))

    def __repr__(self) -> str:
        return f"Pipeline(task={self.task!r}, model={self._native.model_path!r})"


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _is_stream(inputs) -> bool:
    """Inputs transformers' pipelines stream (a generator out): generators, iterators, datasets."""
    if isinstance(inputs, (str, bytes, dict, list)):
        return False
    if isinstance(inputs, types.GeneratorType) or hasattr(inputs, "__next__"):
        return True
    return hasattr(inputs, "__iter__") or (hasattr(inputs, "__getitem__") and hasattr(inputs, "__len__"))


def _iterate(inputs):
    if hasattr(inputs, "__iter__"):
        return iter(inputs)
    return (inputs[i] for i in range(len(inputs)))  # a map-style dataset (torch Dataset)


_TASK_MODEL_CLASS = {}  # filled below, once the Auto classes exist


def _device_is_cpu(device) -> bool:
    if device is None:
        return True
    if isinstance(device, bool):
        return False
    if isinstance(device, int):
        return device == -1
    return str(device) in ("cpu", "-1")


_DTYPES = {"float32": "fp32", "fp32": "fp32", "bfloat16": "bf16", "bf16": "bf16", "int8": "int8", "auto": None}


def _map_dtype(value, option: str):
    """transformers' torch_dtype / dtype (a torch dtype or its name) as the export precision."""
    if value is None:
        return None
    name = str(value)
    if name.startswith("torch."):
        name = name[len("torch."):]
    if name not in _DTYPES:
        raise ValueError(f"{option}={value!r} is not supported by optimum-cpp: use torch.float32 / 'float32' "
                         "(fp32), torch.bfloat16 / 'bfloat16' (bf16), 'int8', or 'auto'")
    return _DTYPES[name]


def _model_folder(value) -> str:
    if isinstance(value, (_OptimizedModel, SentenceTransformer)) or hasattr(value, "_native") and hasattr(value, "path"):
        return str(value.path)
    if hasattr(value, "name_or_path") and not isinstance(value, str):  # a transformers model object
        raise TypeError("pipeline(model=...) takes a folder, a Hub id or an optimum_cpp model, not a "
                        f"{type(value).__name__} (load it with optimum_cpp.AutoModelFor...from_pretrained)")
    return str(value)


def pipeline(task: str, model=None, tokenizer=None, *, device=None, device_map=None, torch_dtype=None,
             dtype=None, trust_remote_code=None, accelerator: str | None = None, framework=None,
             batch_size=None, **kwargs) -> Pipeline:
    """Build a task pipeline (text-classification, token-classification, question-answering,
    fill-mask, feature-extraction, zero-shot-classification, text-embedding, text-generation,
    text2text-generation, summarization, translation / translation_xx_to_yy, image-classification,
    image-feature-extraction: image file paths in) over a model folder,
    Hub id or ``optimum_cpp`` model, called like ``transformers.pipeline``.

    ``batch_size=N`` (here or in a call on a list of inputs) runs N inputs per forward, sorted by
    length and unpadded; results equal the unbatched call. ``device`` must be the CPU (None, -1,
    "cpu"); ``torch_dtype``/``dtype`` pick the precision (torch.float32 -> fp32, torch.bfloat16 ->
    bf16); ``trust_remote_code=True`` is refused (no remote code is ever run); ``accelerator`` may
    be "optimum-cpp"; ``tokenizer`` must be the model's own (its folder, or a tokenizer loaded from it).

    Loading options (export, revision, subfolder, cache_dir, token, force_download,
    local_files_only, num_threads) go to from_pretrained; every other keyword is a default
    for the calls (top_k=..., aggregation_strategy=...), as with transformers.pipeline."""
    if model is None:
        raise ValueError("pipeline() needs model= (a folder or a Hub id); there is no default model")
    if trust_remote_code:
        raise ValueError("trust_remote_code=True is refused: optimum-cpp runs no code from a model repository; "
                         "only the architectures it implements load")
    if accelerator not in (None, "optimum-cpp", "optimum_cpp"):
        raise ValueError(f"accelerator={accelerator!r}: this pipeline runs on 'optimum-cpp' (for 'ort' use "
                         "optimum.pipelines)")
    if framework not in (None, "pt", "np"):
        raise ValueError(f"framework={framework!r} is not supported (optimum-cpp takes None)")
    if not _device_is_cpu(device):
        raise ValueError(f"device={device!r}: optimum-cpp runs on the CPU only; use device=-1 or device='cpu' "
                         "(or leave it out)")
    if device_map not in (None, "auto") and not _device_is_cpu(device_map):
        raise ValueError(f"device_map={device_map!r}: optimum-cpp runs on the CPU only; use device_map='cpu' "
                         "(or leave it out)")
    if torch_dtype is not None and dtype is not None:
        raise ValueError("give dtype= or torch_dtype=, not both")
    export_dtype = _map_dtype(dtype if dtype is not None else torch_dtype, "dtype" if dtype is not None else "torch_dtype")
    folder = _model_folder(model)
    if task in ("automatic-speech-recognition", "asr"):
        from .asr_pipeline import AutomaticSpeechRecognitionPipeline

        if tokenizer is not None and not _same_source(str(getattr(tokenizer, "name_or_path", tokenizer)), folder):
            raise ValueError(f"pipeline(tokenizer=...): optimum-cpp pipelines use the tokenizer saved with the model "
                             f"({folder}); pass tokenizer=None or that folder")
        return AutomaticSpeechRecognitionPipeline(folder, **kwargs)
    native_model = model if isinstance(model, _OptimizedModel) else None
    if tokenizer is not None:
        tok_path = tokenizer if isinstance(tokenizer, (str, os.PathLike)) else getattr(tokenizer, "name_or_path", None)
        if tok_path is None or not _same_source(str(tok_path), folder):
            raise ValueError(f"pipeline(tokenizer={tok_path or type(tokenizer).__name__!r}): optimum-cpp pipelines use "
                             f"the tokenizer saved with the model ({folder}); pass tokenizer=None or that folder")
    if export_dtype is not None:
        kwargs["dtype"] = export_dtype
    if batch_size is not None:
        _check_batch_size(batch_size)
        kwargs["batch_size"] = batch_size
    tok = tokenizer if isinstance(tokenizer, PreTrainedTokenizer) else None
    return Pipeline(_NativePipeline(task, folder, json.dumps(kwargs)), model=native_model, tokenizer=tok)


def _same_source(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normpath(a) == os.path.normpath(b)


_TASK_MODEL_CLASS.update({
    "feature-extraction": AutoModel,
    "text-classification": AutoModelForSequenceClassification,
    "zero-shot-classification": AutoModelForSequenceClassification,
    "token-classification": AutoModelForTokenClassification,
    "question-answering": AutoModelForQuestionAnswering,
    "fill-mask": AutoModelForMaskedLM,
    "image-classification": AutoModelForImageClassification,
    "image-feature-extraction": AutoModel,
})
