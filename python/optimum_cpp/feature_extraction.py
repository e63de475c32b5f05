"""Speech feature extractors and audio loading over the C++ preprocessors.

``WhisperFeatureExtractor.from_pretrained(folder)`` (or ``AutoFeatureExtractor``) reads
``preprocessor_config.json`` as transformers does; calling it takes transformers' arguments
(``raw_speech`` as a 1-D array, a list of floats, a batch of arrays or a 2-D array,
``sampling_rate``, ``padding``, ``truncation``, ``max_length``, ``pad_to_multiple_of``,
``return_attention_mask``, ``do_normalize``, ``return_tensors``) and returns a
``BatchFeature`` with ``input_features`` shaped ``(batch, feature_size, frames)``.
A mismatched ``sampling_rate`` is refused, as transformers does: resample first
(``resample`` or ``load_audio(..., sampling_rate=16000)``, libsoxr HQ, the method of
transformers' ``load_audio`` and ``librosa.load``).
"""

from __future__ import annotations

import logging
import os

import numpy as np

from . import _C

logger = logging.getLogger(__name__)

__all__ = ["AutoFeatureExtractor", "BatchFeature", "WhisperFeatureExtractor", "load_audio", "resample"]


def load_audio(source, sampling_rate: int | None = None, *, max_frames: int | None = None):
    """Decode an audio file (a path, or its bytes) with libsndfile: WAV, FLAC, OGG, AIFF... to mono
    float32 (channels averaged, as transformers' loader does). Returns ``(samples, sample_rate)``;
    with ``sampling_rate`` the samples are resampled to it (libsoxr HQ) and that rate is returned.
    ``max_frames`` bounds the decoded length (default 2**28 frames); past it, or on a file
    libsndfile cannot read, ``FormatError`` names the file."""
    limit = int(max_frames or 0)
    if isinstance(source, (bytes, bytearray, memoryview)):
        samples, rate = _C.load_audio_bytes(bytes(source), "<audio bytes>", limit)
    elif isinstance(source, (str, os.PathLike)):
        samples, rate = _C.load_audio_file(os.fspath(source), limit)
    else:
        raise TypeError(f"load_audio takes a path or bytes, not {type(source).__name__}")
    if sampling_rate is not None and int(sampling_rate) != rate:
        samples, rate = _C.resample(samples, rate, int(sampling_rate)), int(sampling_rate)
    return samples, rate


def resample(samples, orig_sr: int, target_sr: int) -> np.ndarray:
    """``samples`` (mono) from ``orig_sr`` to ``target_sr`` with libsoxr HQ, padded or cut to
    ``ceil(n * target_sr / orig_sr)`` samples, as transformers' ``load_audio`` does."""
    return _C.resample(np.ascontiguousarray(samples, dtype=np.float32), int(orig_sr), int(target_sr))


class BatchFeature(dict):
    """transformers' BatchFeature: a dict of arrays that also allows attribute access."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def convert_to_tensors(self, tensor_type=None) -> "BatchFeature":
        if tensor_type is None:
            return self
        name = getattr(tensor_type, "value", tensor_type)
        if name == "np":
            return self
        if name == "pt":
            import torch

            for key, value in self.items():
                self[key] = torch.from_numpy(np.asarray(value))
            return self
        raise ValueError(f"return_tensors={tensor_type!r} is not supported (use 'np' or 'pt')")

    def to(self, device) -> "BatchFeature":
        if str(device) != "cpu":
            raise ValueError(f"device={device!r}: optimum-cpp runs on the CPU only")
        return self


def _padding_name(padding) -> str:
    if padding is True:
        return "longest"
    if padding is False or padding is None:
        return "do_not_pad"
    return str(getattr(padding, "value", padding))


class WhisperFeatureExtractor:
    """transformers' WhisperFeatureExtractor computed in C++ (FFTW STFT, Slaney mel bank)."""

    model_input_names = ["input_features"]

    def __init__(self, native):
        self._native = native
        for key, value in native.config.items():
            setattr(self, key, value)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load ``preprocessor_config.json`` from a folder (or that file's path)."""
        _refuse_hub_options(kwargs)
        return cls(_C.FeatureExtractor.whisper_from_pretrained(os.fspath(pretrained_model_name_or_path)))

    def to_dict(self) -> dict:
        return dict(self._native.config)

    def __call__(self, raw_speech, truncation: bool = True, pad_to_multiple_of: int | None = None,
                 return_tensors=None, return_attention_mask: bool | None = None, padding="max_length",
                 max_length: int | None = None, sampling_rate: int | None = None, do_normalize: bool | None = None,
                 device: str | None = "cpu", **kwargs) -> BatchFeature:
        if device not in (None, "cpu"):
            raise ValueError(f"device={device!r}: optimum-cpp computes features on the CPU only")
        if sampling_rate is None:
            logger.warning("It is strongly recommended to pass the `sampling_rate` argument to "
                           f"`{type(self).__name__}()`. Failing to do so can result in silent errors that might be "
                           "hard to debug.")
        is_batched_numpy = isinstance(raw_speech, np.ndarray) and raw_speech.ndim > 1
        if is_batched_numpy and raw_speech.ndim > 2:
            raise ValueError(f"Only mono-channel audio is supported for input to {type(self).__name__}")
        if hasattr(raw_speech, "detach"):  # a torch tensor
            raw_speech = raw_speech.detach().cpu().numpy()
            is_batched_numpy = raw_speech.ndim > 1
        is_batched = is_batched_numpy or (
            isinstance(raw_speech, (list, tuple)) and len(raw_speech) > 0
            and isinstance(raw_speech[0], (np.ndarray, tuple, list)))
        if is_batched:
            batch = [np.ascontiguousarray(np.asarray(s, dtype=np.float32).reshape(-1)) for s in raw_speech]
        else:
            batch = [np.ascontiguousarray(np.asarray(raw_speech, dtype=np.float32).reshape(-1))]
        out = self._native(batch, _padding_name(padding), max_length, bool(truncation), pad_to_multiple_of,
                           None if return_attention_mask is None else bool(return_attention_mask),
                           None if sampling_rate is None else int(sampling_rate),
                           None if do_normalize is None else bool(do_normalize))
        return BatchFeature(out).convert_to_tensors(return_tensors)

    def __repr__(self) -> str:
        return f"WhisperFeatureExtractor({self.to_dict()})"


_FEATURE_EXTRACTORS = {"WhisperFeatureExtractor": WhisperFeatureExtractor}


class AutoFeatureExtractor:
    """``AutoFeatureExtractor.from_pretrained(folder)``: the class named by ``feature_extractor_type``
    (or by config.json's model_type); ``UnsupportedError`` names any other type."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        _refuse_hub_options(kwargs)
        native = _C.FeatureExtractor.from_pretrained(os.fspath(pretrained_model_name_or_path))
        return _FEATURE_EXTRACTORS[native.type](native)


def _refuse_hub_options(kwargs) -> None:
    if kwargs.pop("trust_remote_code", None):
        raise ValueError("trust_remote_code=True is refused: optimum-cpp runs no code from a model repository")
    if kwargs:
        raise TypeError(f"unexpected arguments: {sorted(kwargs)} (from_pretrained takes a local folder)")
