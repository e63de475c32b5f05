"""Causal language models on the native decoder engine.

``AutoModelForCausalLM.from_pretrained(folder | Hub id, gguf_file=None)``
loads a llama / mistral / qwen2 / qwen3 / gemma3 (...) checkpoint, or a GGUF
file (llama.cpp's format, read as transformers' ``gguf_file=`` does) with its
tokenizer, chat template and generation defaults (``model.tokenizer``,
``model.generation_config``). ``generate`` has transformers' semantics and
return shapes. Calling it with ``input_ids`` (and an
``attention_mask`` for a padded batch) returns ``ModelOutput(logits=...)``,
logits ``[batch, seq, vocab]`` as numpy: each row's real tokens run as one
ragged segment at positions 0, 1, 2, ... (what transformers' generate
computes from the mask); padded positions get zeros.

``new_cache(slots, capacity)`` and ``step(cache, [(slot, ids), ...])`` are the
low-level interface generation drives: each segment appends its tokens to
its slot of the preallocated KV cache and gets next-token logits.

Every load goes through the engine's one path for all architectures,
``OptimizedModel`` over a backend session (``model.session``:
``OptimizedModel(session=DecoderSession, task=text-generation, ...)``); the
decoder engine under that session is what generation runs.
"""

from __future__ import annotations

import json

import numpy as np

import os

from . import _C
from ._C import DecoderLM as _NativeCausalLM
from .tokenization import PreTrainedTokenizer, _has_tokenizer


class GenerationConfig(dict):
    """Generation defaults (generation_config.json keys); ``cfg.max_new_tokens`` and ``cfg["max_new_tokens"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def to_dict(self) -> dict:
        return dict(self)


# generate() arguments transformers accepts that are not generation options here.
_OUTPUT_ARGS = ("return_dict_in_generate", "output_scores", "output_logits", "output_attentions",
                "output_hidden_states", "use_cache")


class AutoModelForCausalLM:
    """A decoder-only language model running in C++."""

    def __init__(self, native: _NativeCausalLM, path: str, language_model=None, model=None):
        self._native = native
        self._model = model  # _C.Model: the OptimizedModel whose DecoderSession holds `native`
        self._path = path
        self._lm = language_model
        self.config = language_model.config if language_model is not None else json.loads(native.config_json)
        if language_model is not None:
            gen = language_model.generation_config
        else:
            gen = _C.generation_config(path) if os.path.isdir(path) else _C.generation_config()
        self.generation_config = GenerationConfig(gen)
        self._tokenizer = None

    @classmethod
    def from_pretrained(cls, model_id, *, gguf_file: str | None = None, dtype: str = "fp32",
                        revision: str | None = None, subfolder: str = "", cache_dir=None, token: str | None = None,
                        force_download: bool = False, local_files_only: bool = False, num_threads: int = 0,
                        torch_dtype=None, **kwargs):
        """Load a checkpoint folder, a Hub id, or a GGUF file (``gguf_file=`` names it inside the folder or
        repository; a path ending in .gguf is one). ``dtype`` ("fp32", "bf16", "int8") is the precision of the
        projection Linears. A local folder without tokenizer files loads the model alone (``tokenizer`` None)."""
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        if torch_dtype is not None and str(torch_dtype) not in ("float32", "torch.float32", "fp32"):
            raise ValueError(f"torch_dtype={torch_dtype!r}: use dtype='fp32', 'bf16' or 'int8'")
        model_id = str(model_id)
        if (gguf_file is None and not model_id.endswith(".gguf") and os.path.isdir(model_id)
                and not _has_tokenizer(model_id)):
            model = _C.Model(model_id, "text-generation", num_threads=int(num_threads), dtype=dtype,
                             allow_base_model=True)
            return cls(_NativeCausalLM._wrap(model.causal_lm), model_id, model=model)
        lm = _C.LanguageModel(model_id, gguf_file or "", dtype, revision or "", subfolder or "",
                              str(cache_dir) if cache_dir else "", token or "", force_download, local_files_only,
                              int(num_threads))
        model = _C.language_model_session(lm)
        return cls(_NativeCausalLM._wrap(model.causal_lm), lm.path, lm, model=model)

    @property
    def tokenizer(self) -> PreTrainedTokenizer | None:
        """The model's tokenizer (with its chat template), or None for a folder without tokenizer files."""
        if self._tokenizer is None and self._lm is not None:
            native, template, path = self._lm.tokenizer
            self._tokenizer = PreTrainedTokenizer(native, template, path, owner=self._lm)
        return self._tokenizer

    @property
    def name_or_path(self) -> str:
        return self._path

    @property
    def is_gguf(self) -> bool:
        return self._lm is not None and self._lm.is_gguf

    def save_pretrained(self, save_directory) -> None:
        """Write a checkpoint folder transformers and this engine load (f32 safetensors, tokenizer with its chat
        template, generation config); a GGUF model is written dequantized."""
        if self._lm is None:
            raise ValueError("save_pretrained needs a model loaded with its tokenizer (folder with tokenizer files, "
                             "Hub id or GGUF file)")
        self._lm.save_pretrained(str(save_directory))

    @property
    def session(self) -> str:
        """The load path: ``OptimizedModel(session=DecoderSession, task=text-generation, model_type=...)``."""
        return self._model.session if self._model is not None else "DecoderLM"

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

    # Generation ------------------------------------------------------------

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, streamer=None, **kwargs):
        """transformers' generate: ``input_ids`` [batch, len] (left-padded rows with ``attention_mask``),
        options from ``generation_config`` (a dict or transformers GenerationConfig) and keyword arguments over
        the model's defaults. Returns int64 numpy ``[batch * num_return_sequences, len + new]``: the prompts as
        given, then the new tokens, ``pad_token_id`` after a sequence ends. With
        ``return_dict_in_generate=True`` a ModelOutput with ``sequences`` and, with ``output_scores=True``,
        ``scores`` (per step, the processed score of each row's chosen token, [rows]; the full-vocabulary
        scores are not kept), ``transition_scores`` [rows, new] and, for beam search, ``sequences_scores``."""
        from . import ModelOutput

        if input_ids is None:
            input_ids = kwargs.pop("inputs", None)
        if input_ids is None:
            raise ValueError("generate needs input_ids")
        return_dict = bool(kwargs.pop("return_dict_in_generate", False))
        output_scores = bool(kwargs.pop("output_scores", False))
        for name in _OUTPUT_ARGS:
            value = kwargs.pop(name, None)
            if name in ("output_logits", "output_attentions", "output_hidden_states") and value:
                raise ValueError(f"generate: {name}=True is not supported (logits are not kept per step)")
        # Stop strings are matched on text decoded by the model's tokenizer (else the one given, as
        # transformers' generate(tokenizer=...)).
        user_tokenizer = kwargs.pop("tokenizer", None)
        decode_with = {}
        if self._lm is not None:
            decode_with["tokenizer"] = self.tokenizer._native
        elif isinstance(user_tokenizer, PreTrainedTokenizer):
            decode_with["tokenizer"] = user_tokenizer._native
        elif isinstance(user_tokenizer, _C.Tokenizer):
            decode_with["tokenizer"] = user_tokenizer
        elif user_tokenizer is not None:
            decode_with["decode"] = lambda ids: user_tokenizer.decode(list(ids))

        config = dict(self.generation_config)
        if generation_config is not None:
            if hasattr(generation_config, "to_diff_dict"):
                user = generation_config.to_diff_dict()
            elif isinstance(generation_config, dict):
                user = dict(generation_config)
            else:
                raise TypeError(f"generation_config must be a dict or a transformers GenerationConfig, got "
                                f"{type(generation_config).__name__}")
            known = set(config)
            config.update({k: v for k, v in user.items() if k in known})
        options = dict(kwargs)
        resolved = _C.generation_config(None, **{**{k: v for k, v in config.items() if v is not None}, **options})
        pad = resolved.get("pad_token_id")
        if pad is None:
            eos = resolved.get("eos_token_id")
            pad = (eos[0] if isinstance(eos, list) and eos else eos) if eos not in (None, []) else 0

        ids = np.asarray(input_ids.cpu().numpy() if hasattr(input_ids, "cpu") else input_ids)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"input_ids must be a 2-D integer array, got shape {ids.shape} dtype {ids.dtype}")
        ids = ids.astype(np.int64)
        if attention_mask is None:
            # transformers infers the mask when the pad token is in the inputs and differs from eos.
            eos = resolved.get("eos_token_id")
            eos_list = eos if isinstance(eos, list) else [] if eos is None else [eos]
            cfg_pad = resolved.get("pad_token_id")
            if cfg_pad is not None and cfg_pad not in eos_list and (ids == cfg_pad).any():
                mask = ids != cfg_pad
            else:
                mask = np.ones(ids.shape, dtype=bool)
        else:
            mask = np.asarray(attention_mask.cpu().numpy() if hasattr(attention_mask, "cpu") else attention_mask)
            if mask.ndim == 1:
                mask = mask[None, :]
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask shape {mask.shape} differs from input_ids shape {ids.shape}")
            mask = mask.astype(bool)
        prompts = [ids[b, mask[b]] for b in range(ids.shape[0])]
        for b, p in enumerate(prompts):
            if len(p) == 0:
                raise ValueError(f"generate: row {b} of input_ids has no tokens under its attention_mask")

        callback = None
        if streamer is not None:
            if len(prompts) != 1:
                raise ValueError("a streamer supports batch size 1 only")
            if int(resolved.get("num_beams", 1)) > 1:
                raise ValueError("`streamer` cannot be used with beam search (yet!). Make sure that `num_beams` is "
                                 "set to 1.")
            if int(resolved.get("num_return_sequences", 1)) > 1:
                raise ValueError("a streamer supports one returned sequence only (num_return_sequences=1)")
            streamer.put(ids[:1])

            def callback(item, sequence, token, score, logprob, finished):
                streamer.put(np.asarray([token], dtype=np.int64))

        call = {**{k: v for k, v in config.items() if v is not None and k not in options}, **options}
        try:
            out = _C.generate(self.causal_lm, prompts, callback, **decode_with, **call)
        finally:
            if streamer is not None:
                streamer.end()

        rows = [seq for item in out for seq in item]
        n_return = len(out[0]) if out else 1
        new = max((len(s["tokens"]) for s in rows), default=0)
        sequences = np.full((len(rows), ids.shape[1] + new), pad, dtype=np.int64)
        sequences[:, : ids.shape[1]] = np.repeat(ids, n_return, axis=0)
        for r, s in enumerate(rows):
            sequences[r, ids.shape[1]: ids.shape[1] + len(s["tokens"])] = s["tokens"]
        if not return_dict:
            return sequences
        result = ModelOutput(sequences=sequences)
        if output_scores:
            transition = np.zeros((len(rows), new), dtype=np.float32)
            for r, s in enumerate(rows):
                transition[r, : len(s["scores"])] = s["scores"]
            if any(s["scores"] for s in rows) or new == 0:
                result["scores"] = tuple(transition[:, t] for t in range(new))
                result["transition_scores"] = transition
            if rows and rows[0]["sequence_score"] is not None:
                result["sequences_scores"] = np.asarray([s["sequence_score"] for s in rows], dtype=np.float32)
        return result

    def __repr__(self) -> str:
        return f"AutoModelForCausalLM(model_type={self.model_type!r}, path={self._path!r}, session={self.session!r})"
