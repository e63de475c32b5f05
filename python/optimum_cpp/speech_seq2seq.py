"""Speech encoder-decoders (whisper) on the native engine.

``AutoModelForSpeechSeq2Seq.from_pretrained(folder)`` loads a whisper checkpoint saved by transformers
(``WhisperForConditionalGeneration`` is the same class). ``generate(input_features, **options)`` follows
transformers' ``WhisperGenerationMixin.generate`` for short-form audio (at most 3000 mel frames = 30 s):
the decoder prompt from ``language`` / ``task`` / ``return_timestamps`` over generation_config.json
(``lang_to_id``, ``task_to_id``, ``no_timestamps_token_id``, else ``forced_decoder_ids``), language
detection, ``suppress_tokens`` / ``begin_suppress_tokens``, the timestamp rules, greedy or beam search, and
the same output: int64 ``[batch, tokens]`` without the prompt, cut into timestamp segments as transformers
does (with ``return_timestamps=True`` the window is decoded again from the last complete segment, as in
transformers), right-padded with ``pad_token_id``. ``return_dict_in_generate=True`` with
``force_unique_generate_call=True`` returns ``{"sequences": prompt + new tokens (eos kept)}``, one call of
the decoder per input, as transformers does.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import _C

_NUM_SEGMENT_FRAMES = 3000
_INPUT_STRIDE = 2
_TIME_PRECISION = 0.02


def _as_numpy(x, dtype):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


class AutoModelForSpeechSeq2Seq:
    """A whisper checkpoint folder on the native encoder-decoder engine."""

    main_input_name = "input_features"

    def __init__(self, folder: str):
        self.path = str(folder)
        with open(os.path.join(self.path, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        if self.config.get("model_type") != "whisper":
            raise ValueError(f"AutoModelForSpeechSeq2Seq: {self.path}/config.json has model_type "
                             f"{self.config.get('model_type')!r}; the speech encoder-decoder supported is 'whisper'")
        self._native = _C.Seq2SeqModel(self.path)
        self._gen_path = os.path.join(self.path, "generation_config.json")
        self.generation_config = {}
        if os.path.exists(self._gen_path):
            with open(self._gen_path, encoding="utf-8") as f:
                self.generation_config = json.load(f)

    @classmethod
    def from_pretrained(cls, model_id, **kwargs):
        """Loads a local checkpoint folder (config.json, model.safetensors, generation_config.json)."""
        unknown = set(kwargs) - {"export", "dtype", "torch_dtype"}
        if unknown:
            raise ValueError(f"{cls.__name__}.from_pretrained: unsupported options {sorted(unknown)}")
        if not os.path.isdir(str(model_id)):
            raise FileNotFoundError(f"{cls.__name__}: {model_id} is not a checkpoint folder (Hub ids: download it first)")
        return cls(str(model_id))

    @property
    def model_type(self) -> str:
        return self._native.model_type

    def _setting(self, name, default=None):
        value = self.generation_config.get(name)
        if value is None:
            value = self.config.get(name)
        return default if value is None else value

    def _raw(self, features, options):
        kwargs = dict(options)
        if os.path.exists(self._gen_path):
            kwargs["whisper_config"] = self._gen_path
        return _C.generate_whisper(self._native, features, generation_config=self.path, **kwargs)

    def generate(self, input_features=None, attention_mask=None, generation_config=None, *, language=None,
                 task=None, return_timestamps=None, return_dict_in_generate=False, force_unique_generate_call=None,
                 **kwargs):
        """transformers' whisper generate for short-form ``input_features`` [batch, mels, <= 3000 frames]."""
        if input_features is None:
            input_features = kwargs.pop("inputs", None)
        if input_features is None:
            raise ValueError("generate needs input_features (log-mel, from the model's feature extractor)")
        for name in ("output_scores", "return_token_timestamps", "prompt_ids", "return_segments"):
            if kwargs.pop(name, None):
                raise ValueError(f"generate: {name} is not supported for whisper yet")
        for name in ("use_cache", "streamer"):
            kwargs.pop(name, None)
        if isinstance(language, (list, tuple)):
            raise ValueError("generate: one language for the whole batch (a list of languages is not supported yet)")
        if generation_config is not None:
            user = generation_config.to_diff_dict() if hasattr(generation_config, "to_diff_dict") else dict(generation_config)
            known = set(_C.generation_config(None))
            kwargs = {**{k: v for k, v in user.items() if k in known and v is not None}, **kwargs}
        feats = _as_numpy(input_features, np.float32)
        if feats.ndim != 3:
            raise ValueError(f"input_features must be [batch, num_mel_bins, frames], got shape {feats.shape}")
        frames = feats.shape[-1]
        if frames > _NUM_SEGMENT_FRAMES:
            raise ValueError(f"input_features has {frames} frames: long-form generation (> 30 s) is not supported; "
                             "use pipeline('automatic-speech-recognition', chunk_length_s=30)")
        if frames < _NUM_SEGMENT_FRAMES:
            feats = np.pad(feats, ((0, 0), (0, 0), (0, _NUM_SEGMENT_FRAMES - frames)))
        if return_timestamps is None:
            return_timestamps = self.generation_config.get("return_timestamps")
        options = dict(kwargs, language=language, task=task, return_timestamps=return_timestamps)
        pad = self._setting("pad_token_id", 0)
        eos = self._setting("eos_token_id")
        eos = eos[0] if isinstance(eos, list) else eos
        if return_dict_in_generate and (force_unique_generate_call or not return_timestamps):
            out = self._raw(feats, options)
            rows = [o["prompt"] + s["tokens"] for o in out for s in o["sequences"]]
            return {"sequences": _pad_rows(rows, pad)}
        no_ts = self.generation_config.get("no_timestamps_token_id")
        timestamp_begin = no_ts + 1 if no_ts is not None else self._native.vocab_size + 1
        rows = []
        for b in range(feats.shape[0]):
            tokens = []
            seek = 0
            item = feats[b:b + 1]
            while seek < frames:
                window = item[:, :, seek:seek + min(frames - seek, _NUM_SEGMENT_FRAMES)]
                num = window.shape[-1]
                window = np.pad(window, ((0, 0), (0, 0), (0, _NUM_SEGMENT_FRAMES - num)))
                out = self._raw(np.ascontiguousarray(window), options)[0]["sequences"]
                seqs = [s["tokens"] for s in out]
                if len(seqs) != 1:
                    raise ValueError("generate: num_return_sequences > 1 is not supported for whisper yet")
                seq = _strip_end(seqs[0], pad, eos)
                segment_tokens, offset = _retrieve_segment(seq, timestamp_begin, num)
                tokens += segment_tokens
                seek += offset
                if force_unique_generate_call or not return_timestamps:
                    break
            rows.append(tokens)
        return _pad_rows(rows, pad)

    def __call__(self, input_features=None, decoder_input_ids=None, **kwargs):
        from . import ModelOutput

        if decoder_input_ids is None:
            raise ValueError("decoder_input_ids is required (starting with decoder_start_token_id)")
        feats = _as_numpy(input_features, np.float32)
        dec = _as_numpy(decoder_input_ids, np.int64)
        return ModelOutput(logits=self._native.decoder_logits_features(feats, dec))

    def encode(self, input_features):
        """The encoder's last_hidden_state [batch, frames / 2, d_model]."""
        return self._native.encode_features(_as_numpy(input_features, np.float32))


WhisperForConditionalGeneration = AutoModelForSpeechSeq2Seq


def _pad_rows(rows, pad):
    width = max((len(r) for r in rows), default=0)
    return np.array([r + [pad] * (width - len(r)) for r in rows], dtype=np.int64).reshape(len(rows), width)


def _strip_end(seq, pad, eos):
    # generate_with_fallback: drop the padding (keeping one eos when pad == eos), then a final eos.
    seq = list(seq)
    if seq and seq[-1] == pad:
        n = sum(1 for t in seq if t == pad)
        if pad == eos:
            n -= 1
        if n:
            seq = seq[:-n]
    if seq and seq[-1] == eos:
        seq = seq[:-1]
    return seq


def _retrieve_segment(seq, timestamp_begin, seek_num_frames):
    """transformers' _retrieve_segment: the tokens kept from one window and the frames consumed."""
    is_ts = [t >= timestamp_begin for t in seq]
    single_ending = is_ts[-2:] == [False, True]
    slices = [i + 1 for i in range(len(is_ts) - 1) if is_ts[i] and is_ts[i + 1]]
    if not slices:
        return list(seq), seek_num_frames
    if single_ending:
        slices.append(len(seq))
    else:
        slices[-1] += 1
    kept = list(seq[:slices[-1]])
    if single_ending:
        return kept, seek_num_frames
    last_slice = slices[-1]
    return kept, (seq[last_slice - 2] - timestamp_begin) * _INPUT_STRIDE
