"""pipeline("image-classification") and pipeline("image-feature-extraction")
on image files against transformers' pipelines (PIL image processor,
use_fast=False) on a tiny random ViT built at test time."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))

import optimum_cpp as oc  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor, ViTModel  # noqa: E402

torch.set_num_threads(2)


def tiny_config(**extra) -> ViTConfig:
    kw = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37, num_labels=7,
              id2label={i: f"class_{i}" for i in range(7)}, label2id={f"class_{i}": i for i in range(7)})
    kw.update(extra)
    return ViTConfig(**kw)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("vit-pipeline")
    processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5, 0.4, 0.3],
                                  image_std=[0.2, 0.3, 0.4])
    head = ViTForImageClassification(tiny_config()).eval()
    with torch.no_grad():  # spread the logits so the ranking is stable
        head.classifier.weight.mul_(20.0)
    head.save_pretrained(d / "head")
    processor.save_pretrained(d / "head")
    base = ViTModel(tiny_config()).eval()
    base.save_pretrained(d / "base")
    processor.save_pretrained(d / "base")
    return d / "head", d / "base"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Image files of several sizes, modes and formats."""
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = []
    for i, (h, w, mode, fmt) in enumerate([(32, 32, "RGB", "png"), (45, 61, "RGB", "png"), (17, 29, "L", "png"),
                                            (40, 33, "RGBA", "png"), (64, 48, "RGB", "jpeg"),
                                            (31, 70, "RGB", "webp")]):
        arr = rng.integers(0, 256, size=(h, w, {"RGB": 3, "L": 1, "RGBA": 4}[mode]), dtype=np.uint8)
        img = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)
        path = d / f"img{i}.{fmt}"
        img.save(path, **({"lossless": True} if fmt == "webp" else {}))
        out.append(str(path))
    return out


def reference(task: str, folder):
    processor = transformers.AutoImageProcessor.from_pretrained(folder, use_fast=False)
    return transformers.pipeline(task, model=str(folder), image_processor=processor, device="cpu")


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 3}, {"top_k": 100}, {"function_to_apply": "sigmoid"},
                                    {"function_to_apply": "none", "top_k": 2}])
def test_image_classification_matches_transformers(folders, images, kwargs):
    head, _ = folders
    want = reference("image-classification", head)(images, **kwargs)
    got = oc.pipeline("image-classification", model=str(head))(images, **kwargs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert [x["label"] for x in g] == [x["label"] for x in w]
        np.testing.assert_allclose([x["score"] for x in g], [x["score"] for x in w], atol=1e-4)


def test_single_image_and_batch_size(folders, images):
    head, _ = folders
    ref = reference("image-classification", head)
    pipe = oc.pipeline("image-classification", model=str(head))
    one = pipe(images[1])
    want = ref(images[1])
    assert [x["label"] for x in one] == [x["label"] for x in want]
    np.testing.assert_allclose([x["score"] for x in one], [x["score"] for x in want], atol=1e-4)
    batched = pipe(images, batch_size=4)
    alone = [pipe(p) for p in images]
    for b, a in zip(batched, alone):
        np.testing.assert_allclose([x["score"] for x in b], [x["score"] for x in a], atol=1e-5)


def test_image_feature_extraction_matches_transformers(folders, images):
    _, base = folders
    ref = reference("image-feature-extraction", base)
    pipe = oc.pipeline("image-feature-extraction", model=str(base))
    for kwargs in ({}, {"pool": True}):
        want = ref(images[:3], **kwargs)
        got = pipe(images[:3], **kwargs)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-4)


def test_bad_inputs_are_refused(folders, tmp_path):
    head, _ = folders
    pipe = oc.pipeline("image-classification", model=str(head))
    with pytest.raises(oc.NotFoundError):
        pipe(str(tmp_path / "missing.png"))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(oc.FormatError):
        pipe(str(junk))
    with pytest.raises(oc.UnsupportedError, match="URLs"):
        pipe("https://example.com/cat.png")
    with pytest.raises(oc.InvalidArgumentError, match="unknown"):
        pipe(str(junk), not_an_option=1)
