"""``SentenceTransformer``: sentence-transformers models on the native engine.

Mirrors ``sentence_transformers.SentenceTransformer`` for inference: the
modules.json chain (Transformer -> Pooling -> Dense -> Normalize) is read from
the model folder and run in C++; ``encode`` returns numpy arrays, and
``similarity`` numpy matrices (sentence-transformers returns torch tensors).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._C import SentenceTransformerModel as _NativeSentenceTransformer
from ._C import normalize_embeddings as normalize_embeddings_fn


class SentenceTransformer:
    """Load a sentence-transformers model folder (or a plain transformers encoder, which gets
    mean pooling as sentence-transformers gives it).

    ``device`` is accepted for compatibility and ignored (the engine runs on the CPU);
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
        del device, trust_remote_code  # CPU only; no remote code is ever run
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
        dimensions, before ``normalize_embeddings``; ``convert_to_numpy=False`` gives a list
        of 1-D arrays, ``convert_to_tensor=True`` a torch tensor.
        """
        del show_progress_bar, device
        truncate_dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        if output_value != "sentence_embedding":
            raise ValueError(f"output_value {output_value!r} is not supported (only 'sentence_embedding')")
        if precision != "float32":
            raise ValueError(f"precision {precision!r} is not supported (only 'float32')")
        if batch_size <= 0:
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
        # An explicit "" means no prompt (and overrides the model's default).
        out = self._native.encode(items, batch_size, normalize_embeddings and truncate_dim is None,
                                  prompt if prompt is not None else "", None)
        if truncate_dim is not None:
            out = np.ascontiguousarray(out[:, :truncate_dim])
            if normalize_embeddings:
                out = normalize_embeddings_fn(out)
        if convert_to_tensor:
            import torch

            out = torch.from_numpy(out)
            return out[0] if single else out
        if not convert_to_numpy:
            rows = list(out)
            return rows[0] if single else rows
        return out[0] if single else out

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
        return self._native.similarity(_as_numpy(embeddings1), _as_numpy(embeddings2))

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
