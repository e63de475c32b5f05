"""``SentenceTransformer``: sentence-transformers models on the native engine.

Mirrors ``sentence_transformers.SentenceTransformer`` for inference: the
modules.json chain (Transformer -> Pooling -> Dense -> Normalize) is read from
the model folder and run in C++; ``encode`` returns numpy arrays, and
``similarity`` numpy matrices (sentence-transformers returns torch tensors).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Sequence

import numpy as np

from ._C import SentenceTransformerModel as _NativeSentenceTransformer
from ._C import normalize_embeddings as normalize_embeddings_fn


class SentenceTransformer:
    """Load a sentence-transformers model folder (or a plain transformers encoder, which gets
    mean pooling as sentence-transformers gives it).

    ``device`` must be None or "cpu" (the engine runs on the CPU; "cuda" is refused, never
    silently run on the CPU);
    ``export=True`` converts the Transformer module once to the native format (cached).
    ``dtype`` ("fp32", "bf16", "int8"; None: an export's own precision, else fp32) is the
    precision of the encoder layers (see ``AutoModel.from_pretrained``; with ``export=True``
    the export is written in it, through the accuracy guard). The export goes to the export
    cache shared with ``AutoModel`` (``export_cache_dir``, else as ``AutoModel.from_pretrained``
    says), one entry per source, task and precision.
    """

    def __init__(
        self,
        model_name_or_path: str,
        device: str | None = None,
        *,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        token: str | None = None,
        local_files_only: bool = False,
        subfolder: str = "",
        export: bool = False,
        num_threads: int = 0,
        trust_remote_code: bool = False,
        truncate_dim: int | None = None,
        dtype: str | None = None,
        export_cache_dir: str | None = None,
    ):
        del trust_remote_code  # no remote code is ever run
        _check_device(device)
        self._native = _NativeSentenceTransformer(
            str(model_name_or_path),
            num_threads,
            export,
            revision or "",
            subfolder or "",
            str(cache_folder) if cache_folder else "",
            token or "",
            local_files_only,
            dtype or "auto",
            str(export_cache_dir) if export_cache_dir else "",
        )
        self.prompts: dict[str, str] = dict(self._native.prompts)
        if prompts:
            self.prompts.update(prompts)
        self.default_prompt_name = default_prompt_name or self._native.default_prompt_name
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(
                f"default prompt name {self.default_prompt_name!r} is not one of the prompts {list(self.prompts)}"
            )
        if similarity_fn_name is not None:
            self.similarity_fn_name = similarity_fn_name
        self.truncate_dim = truncate_dim

    def encode(
        self,
        sentences: str | Sequence[str],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: str | None = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        dtype: str | None = None,
    ):
        """Embeddings of ``sentences``: a float32 array [n, dim], or [dim] for a single string.

        ``prompt`` (or the prompt named ``prompt_name``, else the default prompt) is
        prepended to every sentence; ``truncate_dim`` (else the model's) keeps the first
        dimensions, before ``normalize_embeddings``; ``precision`` ("int8", "uint8", "binary",
        "ubinary") quantizes the results as ``sentence_transformers.quantization.quantize_embeddings``
        does (int8/uint8 ranges from this call's embeddings); ``convert_to_numpy=False`` gives a list
        of 1-D arrays, ``convert_to_tensor=True`` a torch tensor. ``output_value="token_embeddings"``
        gives one [tokens, hidden] array per sentence (real tokens only), ``None`` one dict per
        sentence with input_ids, attention_mask, token_embeddings and sentence_embedding (unpadded).
        ``show_progress_bar`` shows a tqdm bar over the batches (plain lines on stderr without tqdm).
        """
        del dtype
        _check_device(device)
        truncate_dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        if output_value not in ("sentence_embedding", "token_embeddings", None):
            raise ValueError(f"output_value {output_value!r} is not supported: use 'sentence_embedding', "
                             "'token_embeddings' or None")
        if precision not in _PRECISIONS:
            raise ValueError(f"Precision {precision!r} is not supported, must be one of {list(_PRECISIONS)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
        single = isinstance(sentences, str)
        items = [sentences] if single else list(sentences)
        for s in items:
            if not isinstance(s, str):
                raise TypeError(f"sentences must be strings, got {type(s).__name__}")
        if prompt is None:
            if prompt_name is not None:
                if prompt_name not in self.prompts:
                    raise ValueError(
                        f"Prompt name '{prompt_name}' not found in the configured prompts dictionary "
                        f"with keys {list(self.prompts.keys())!r}."
                    )
                prompt = self.prompts[prompt_name]
            elif self.default_prompt_name is not None:
                prompt = self.prompts.get(self.default_prompt_name)
        if not items:
            # sentence-transformers returns an empty 1-D result for an empty list.
            if convert_to_tensor:
                import torch

                return torch.tensor([])
            return np.empty((0,), dtype=np.float32) if convert_to_numpy else []
        if output_value != "sentence_embedding":
            return self._encode_tokens(items, single, prompt or "", batch_size, output_value, normalize_embeddings,
                                       truncate_dim, convert_to_tensor, show_progress_bar)
        # An explicit "" means no prompt (and overrides the model's default).
        out = self._encode_in_batches(items, batch_size, normalize_embeddings and truncate_dim is None,
                                      prompt if prompt is not None else "", show_progress_bar)
        if truncate_dim is not None:
            out = np.ascontiguousarray(out[:, :truncate_dim])
            if normalize_embeddings:
                out = normalize_embeddings_fn(out)
        if precision != "float32":
            out = quantize_embeddings(out, precision)
        if convert_to_tensor:
            import torch

            out = torch.from_numpy(out)
            return out[0] if single else out
        if not convert_to_numpy:
            rows = list(out)
            return rows[0] if single else rows
        return out[0] if single else out

    def _encode_in_batches(self, items, batch_size, normalize, prompt, show_progress_bar):
        if not show_progress_bar:
            return self._native.encode(items, batch_size, normalize, prompt, None)
        # Chunks of whole batches (each chunk sorted by length as encode sorts the whole list), one
        # progress step per batch.
        per_step = batch_size
        chunks = [items[i:i + per_step] for i in range(0, len(items), per_step)]
        parts = []
        with _progress(len(chunks), "Batches") as bar:
            for chunk in chunks:
                parts.append(self._native.encode(chunk, batch_size, normalize, prompt, None))
                bar.update(1)
        return np.concatenate(parts, axis=0)

    def _encode_tokens(self, items, single, prompt, batch_size, output_value, normalize, truncate_dim,
                       convert_to_tensor, show_progress_bar):
        """output_value "token_embeddings" or None: per-sentence arrays (real tokens only)."""
        rows = []
        chunks = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
        with _progress(len(chunks), "Batches", disable=not show_progress_bar) as bar:
            for chunk in chunks:
                rows.extend(self._native.token_embeddings(chunk, batch_size, prompt))
                bar.update(1)
        sentence = None
        if output_value is None:
            sentence = self.encode(items, prompt=prompt, batch_size=batch_size, normalize_embeddings=normalize,
                                   truncate_dim=truncate_dim)
        to = _to_torch if convert_to_tensor else (lambda a: a)
        out = []
        for i, (ids, types, mask, emb) in enumerate(rows):
            if output_value == "token_embeddings":
                out.append(to(emb))
                continue
            item = {"input_ids": to(np.asarray(ids, dtype=np.int64))}
            if self._token_type_ids:
                item["token_type_ids"] = to(np.asarray(types, dtype=np.int64))
            item["attention_mask"] = to(np.asarray(mask, dtype=np.int64))
            item["token_embeddings"] = to(emb)
            item["sentence_embedding"] = to(sentence[i])
            out.append(item)
        return out[0] if single else out

    @property
    def _token_type_ids(self) -> bool:
        return "token_type_ids" in self.tokenizer.model_input_names

    @property
    def tokenizer(self):
        """The Transformer module's tokenizer (``optimum_cpp.AutoTokenizer``)."""
        if getattr(self, "_tokenizer", None) is None:
            from .tokenization import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self._native.model_path)
        return self._tokenizer

    def tokenize(self, texts, **kwargs) -> dict:
        """Model inputs of ``texts`` as sentence-transformers' ``tokenize`` gives them: input_ids,
        (token_type_ids,) attention_mask padded to the longest and truncated to max_seq_length, as
        torch tensors (numpy arrays without torch)."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if self._native.do_lower_case:
            texts = [t.lower() for t in texts]
        try:
            import torch  # noqa: F401

            tensors = "pt"
        except ImportError:
            tensors = "np"
        return dict(self.tokenizer(texts, padding=True, truncation="longest_first", max_length=self.max_seq_length,
                                   return_tensors=tensors))

    preprocess = tokenize

    def save(self, path, model_name: str | None = None, create_model_card: bool = True, train_datasets=None,
             safe_serialization: bool = True) -> None:
        """Write the model folder to ``path`` (modules.json, the Transformer module, Pooling, Dense,
        Normalize, config_sentence_transformers.json with the current prompts and similarity
        function, sentence_bert_config.json with the current max_seq_length), so that
        ``SentenceTransformer(path)`` loads it back (and sentence-transformers too, unless the
        Transformer module is a native export)."""
        del model_name, create_model_card, train_datasets, safe_serialization
        src, dst = os.path.abspath(self.path), os.path.abspath(str(path))
        if src == dst:
            raise ValueError(f"save(): {path} is the folder the model was loaded from")
        os.makedirs(dst, exist_ok=True)
        shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git", ".cache"))
        module_dir = self._transformer_module_dir(src)
        model_path = os.path.abspath(self._native.model_path)
        if module_dir is not None and model_path != os.path.join(src, module_dir).rstrip(os.sep):
            # Exported: the Transformer module's files come from the export.
            shutil.copytree(model_path, os.path.join(dst, module_dir), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git", ".cache"))
        cfg_path = os.path.join(dst, "config_sentence_transformers.json")
        cfg = _read_json(cfg_path, {})
        cfg["prompts"] = dict(self.prompts)
        cfg["default_prompt_name"] = self.default_prompt_name
        cfg["similarity_fn_name"] = self.similarity_fn_name
        _write_json(cfg_path, cfg)
        if module_dir is not None:
            bert_path = os.path.join(dst, module_dir, "sentence_bert_config.json")
            bert = _read_json(bert_path, {})
            bert["max_seq_length"] = self.max_seq_length
            bert.setdefault("do_lower_case", self._native.do_lower_case)
            _write_json(bert_path, bert)

    save_pretrained = save

    @staticmethod
    def _transformer_module_dir(folder: str):
        modules = _read_json(os.path.join(folder, "modules.json"), default=None)
        if not isinstance(modules, list):
            return ""  # a plain transformers folder
        for m in modules:
            if isinstance(m, dict) and str(m.get("type", "")).endswith("Transformer"):
                return str(m.get("path", ""))
        return None

    def similarity_pairwise(self, embeddings1, embeddings2) -> np.ndarray:
        """[n] similarities of embeddings1[i] and embeddings2[i] with the model's similarity function
        (sentence-transformers' similarity_pairwise; numpy instead of torch)."""
        a = np.atleast_2d(np.asarray(_as_numpy(embeddings1), dtype=np.float32))
        b = np.atleast_2d(np.asarray(_as_numpy(embeddings2), dtype=np.float32))
        if a.shape != b.shape:
            raise ValueError(f"similarity_pairwise needs embeddings of the same shape, got {a.shape} and {b.shape}")
        fn = self.similarity_fn_name
        if fn == "cosine":
            a, b = normalize_embeddings_fn(a), normalize_embeddings_fn(b)
            return (a * b).sum(axis=-1)
        if fn == "dot":
            return (a * b).sum(axis=-1)
        if fn == "euclidean":
            return -np.sqrt(((a - b) ** 2).sum(axis=-1))
        if fn == "manhattan":
            return -np.abs(a - b).sum(axis=-1)
        raise ValueError(f"unknown similarity function {fn!r}")

    def encode_query(self, sentences, prompt_name: str | None = None, prompt: str | None = None, **kwargs):
        """encode() with the "query" prompt when the model has one (sentence-transformers' encode_query)."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, sentences, prompt_name: str | None = None, prompt: str | None = None, **kwargs):
        """encode() with the first of the "document", "passage", "corpus" prompts the model has."""
        if prompt_name is None and prompt is None:
            prompt_name = next((n for n in ("document", "passage", "corpus") if n in self.prompts), None)
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def similarity(self, embeddings1, embeddings2) -> np.ndarray:
        """[n, m] similarity matrix with the model's similarity function (``similarity_fn_name``)."""
        return self._native.similarity(np.asarray(_as_numpy(embeddings1), dtype=np.float32),
                                       np.asarray(_as_numpy(embeddings2), dtype=np.float32))

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def session(self) -> str:
        """The Transformer module's load path, as every model's:
        ``OptimizedModel(session=EncoderModel|DecoderSession, task=feature-extraction, model_type=...)``."""
        return self._native.session

    def to(self, device):
        """Only the CPU: ``to("cpu")`` returns the model, any other device is refused."""
        _check_device(device)
        return self

    @property
    def similarity_fn_name(self) -> str:
        return self._native.similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: str) -> None:
        self._native.similarity_fn_name = getattr(value, "value", value)

    @property
    def max_seq_length(self) -> int | None:
        return self._native.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self._native.max_seq_length = value

    def get_sentence_embedding_dimension(self) -> int:
        dim = self._native.dimension
        return min(dim, self.truncate_dim) if self.truncate_dim else dim

    get_embedding_dimension = get_sentence_embedding_dimension

    @property
    def module_names(self) -> list[str]:
        """Module classes in modules.json order, e.g. ['Transformer', 'Pooling', 'Normalize']."""
        return self._native.module_names

    @property
    def pooling_modes(self) -> list[str]:
        return self._native.pooling_modes

    @property
    def path(self) -> str:
        return self._native.path

    def __repr__(self) -> str:
        return (
            f"SentenceTransformer(path={self.path!r}, modules={self.module_names}, "
            f"pooling={self.pooling_modes}, dim={self.get_sentence_embedding_dimension()})"
        )


def _as_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    elif isinstance(x, list) and x and hasattr(x[0], "detach"):
        x = np.stack([t.detach().cpu().numpy() for t in x])
    return x


_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def quantize_embeddings(embeddings: np.ndarray, precision: str, ranges=None, calibration_embeddings=None):
    """``sentence_transformers.quantization.quantize_embeddings`` in numpy: int8/uint8 buckets from
    ``ranges`` ([2, dim] min/max), else ``calibration_embeddings``, else the embeddings themselves;
    binary/ubinary pack the signs (> 0) 8 per byte."""
    embeddings = np.asarray(_as_numpy(embeddings))
    if embeddings.dtype in (np.uint8, np.int8):
        raise ValueError("Embeddings to quantize must be float rather than int8 or uint8.")
    if embeddings.ndim == 1:
        embeddings = embeddings[None, :]
    if embeddings.ndim == 2 and embeddings.shape[0] == 0:
        dim = embeddings.shape[1]
        if precision.endswith("int8"):
            return np.zeros((0, dim), dtype=np.int8 if precision == "int8" else np.uint8)
        if precision.endswith("binary"):
            return np.zeros((0, (dim + 7) // 8), dtype=np.int8 if precision == "binary" else np.uint8)
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision.endswith("int8"):
        if ranges is None:
            source = calibration_embeddings if calibration_embeddings is not None else embeddings
            ranges = np.vstack((np.min(source, axis=0), np.max(source, axis=0)))
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        steps = np.where(steps == 0, 1, steps)
        q = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return q.astype(np.uint8) if precision == "uint8" else (q - 128).astype(np.int8)
    if precision == "binary":
        return (np.packbits(embeddings > 0, axis=-1).reshape(embeddings.shape[0], -1) - 128).astype(np.int8)
    if precision == "ubinary":
        return np.packbits(embeddings > 0, axis=-1).reshape(embeddings.shape[0], -1)
    raise ValueError(f"Precision {precision!r} is not supported")


def _check_device(device) -> None:
    if device is None:
        return
    name = str(device)
    if name in ("cpu", "-1") or (isinstance(device, int) and not isinstance(device, bool) and device == -1):
        return
    raise ValueError(f"device={device!r}: optimum-cpp runs on the CPU only; use device='cpu' (or leave it out)")


def _to_torch(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def _read_json(path, default):
    """The JSON value in ``path``; ``default`` when there is no such file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def _write_json(path, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


class _progress:
    """A tqdm bar when tqdm is installed (and ``disable`` is False), else plain lines on stderr."""

    def __init__(self, total: int, desc: str, disable: bool = False):
        self.total, self.desc, self.disable, self.done, self.bar = total, desc, disable, 0, None

    def __enter__(self):
        if not self.disable:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=self.total, desc=self.desc)
            except ImportError:
                self.bar = None
        return self

    def update(self, n: int) -> None:
        self.done += n
        if self.disable:
            return
        if self.bar is not None:
            self.bar.update(n)
        else:
            print(f"{self.desc}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False
