"""Image processors on the C++ engine, driven by ``preprocessor_config.json``
as transformers' PIL-backend processors read it.

``AutoImageProcessor.from_pretrained(folder)`` dispatches on
``image_processor_type`` (or ``feature_extractor_type``); calling the processor
with images (paths, bytes, PIL images or HxWxC uint8 numpy arrays) returns a
``BatchFeature`` whose ``pixel_values`` is a float32 ``[N, 3, H, W]`` array.
Files and bytes are decoded in C++ (JPEG, PNG, WebP) to RGB as PIL's
``Image.open(f).convert("RGB")`` does.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ._C import ImageProcessor as _NativeImageProcessor
from ._C import load_image as _load_image
from ._C import supported_image_processors

__all__ = [
    "AutoImageProcessor",
    "BatchFeature",
    "CLIPImageProcessor",
    "ConvNextImageProcessor",
    "ViTImageProcessor",
    "load_image",
    "supported_image_processors",
]


def load_image(source, *, max_pixels: int = 0) -> np.ndarray:
    """Decode a JPEG/PNG/WebP file path or bytes to an HxWx3 uint8 RGB array.

    Images above ``max_pixels`` (default: PIL's decompression-bomb limit,
    2 * 89478485) are refused with a ``InvalidArgumentError``."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    return _load_image(source, max_pixels)


class BatchFeature(dict):
    """Processor outputs by name; ``out.pixel_values`` and ``out["pixel_values"]`` both work."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _as_input(image, convert_rgb: bool):
    """A path, bytes or uint8 array for the engine; PIL images become arrays
    as transformers turns them into arrays (convert_to_rgb composites
    transparency onto white)."""
    if isinstance(image, os.PathLike):
        return os.fspath(image)
    if isinstance(image, (str, bytes, bytearray, memoryview, np.ndarray)):
        return image
    if hasattr(image, "getbands") and hasattr(image, "convert"):  # a PIL image
        if image.mode == "RGB":
            return np.asarray(image)
        if convert_rgb:
            from PIL import Image

            if "A" in image.getbands() or image.info.get("transparency") is not None:
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
            return np.asarray(image.convert("RGB"))
        raise ValueError(
            f"a PIL image in mode {image.mode!r} needs do_convert_rgb (or convert it to 'RGB' first)"
        )
    if hasattr(image, "detach"):  # a torch tensor, HxWxC uint8
        return image.detach().cpu().numpy()
    raise TypeError(f"unsupported image type {type(image).__name__}")


class BaseImageProcessor:
    """An image processor backed by the C++ engine."""

    def __init__(self, native: _NativeImageProcessor):
        self._native = native

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> "BaseImageProcessor":
        """Load ``preprocessor_config.json`` from a local folder (or the file itself).
        Keyword arguments override config keys, as transformers' ``from_pretrained`` does."""
        path = os.fspath(pretrained_model_name_or_path)
        if kwargs.pop("use_fast", None):
            raise ValueError("optimum-cpp implements the PIL (slow) image processors only; use_fast=True is not available")
        kwargs.pop("backend", None)
        config_file = os.path.join(path, "preprocessor_config.json") if os.path.isdir(path) else path
        if not kwargs and cls._family is None:
            return cls(_NativeImageProcessor.from_pretrained(config_file))
        with open(config_file, encoding="utf-8") as f:
            config = json.load(f)
        config.update(kwargs)
        if cls._family is not None:
            config["image_processor_type"] = cls._family
        return cls(_NativeImageProcessor.from_json(json.dumps(config), config_file))

    @classmethod
    def from_dict(cls, config: dict, **kwargs) -> "BaseImageProcessor":
        """Build from a config dict (the content of preprocessor_config.json)."""
        config = dict(config, **kwargs)
        if cls._family is not None:
            config["image_processor_type"] = cls._family
        return cls(_NativeImageProcessor.from_json(json.dumps(config), "config dict"))

    _family: str | None = None

    @property
    def config(self) -> dict:
        """The resolved settings (class defaults applied)."""
        return self._native.config

    def __getattr__(self, name: str) -> Any:
        config = self.__dict__.get("_native")
        if config is not None and name in config.config:
            return config.config[name]
        raise AttributeError(name)

    def __call__(self, images, return_tensors: str | None = "np", **kwargs) -> BatchFeature:
        return self.preprocess(images, return_tensors=return_tensors, **kwargs)

    def preprocess(self, images, return_tensors: str | None = "np", max_pixels: int = 0) -> BatchFeature:
        """``pixel_values`` float32 ``[N, 3, H, W]`` for one image or a list of images."""
        if return_tensors not in (None, "np", "pt"):
            raise ValueError(f"return_tensors must be 'np' or 'pt', got {return_tensors!r}")
        convert = self._native.config["do_convert_rgb"]
        if isinstance(images, (list, tuple)):
            inputs = [_as_input(im, convert) for im in images]
        else:
            inputs = [_as_input(images, convert)]
        pixel_values = self._native.preprocess(inputs, max_pixels)
        if return_tensors == "pt":
            import torch

            pixel_values = torch.from_numpy(pixel_values)
        return BatchFeature(pixel_values=pixel_values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self.config)})"


class ViTImageProcessor(BaseImageProcessor):
    _family = "ViTImageProcessor"


class CLIPImageProcessor(BaseImageProcessor):
    _family = "CLIPImageProcessor"


class ConvNextImageProcessor(BaseImageProcessor):
    _family = "ConvNextImageProcessor"


class AutoImageProcessor(BaseImageProcessor):
    """Dispatches on the config's ``image_processor_type`` / ``feature_extractor_type``."""

    _family = None
