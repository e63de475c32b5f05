"""ViT on the native engine against transformers: tiny random ViTModel and
ViTForImageClassification built at test time, last_hidden_state,
pooler_output and logits within 1e-4 on random pixel_values (batch 1 and 3),
a batch equal to its items alone, native export round trips, and the errors
a wrong image gives."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))
CLI = ROOT / "build" / "optimum-cpp"

import optimum_cpp as oc  # noqa: E402
from transformers import ViTConfig, ViTForImageClassification, ViTModel  # noqa: E402

torch.set_num_threads(2)
ATOL = 1e-4

# name -> ViTConfig overrides: a 4x4 grid of 8-pixel patches; a 3x3 grid of
# 10-pixel patches without q/k/v biases; a non-square image whose last rows
# the strided convolution drops (34 // 8 = 4 patch rows, 3 columns), with
# gelu_new layers and a pooler narrower than hidden_size.
CASES = {
    "img32_p8": dict(image_size=32, patch_size=8),
    "img30_p10_nobias": dict(image_size=30, patch_size=10, qkv_bias=False),
    "img34x24_p8": dict(image_size=[34, 24], patch_size=8, hidden_act="gelu_new", pooler_output_size=24),
}


def tiny_config(overrides: dict, **extra) -> ViTConfig:
    kw = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              layer_norm_eps=1e-12, num_labels=5)
    kw.update(overrides)
    kw.update(extra)
    return ViTConfig(**kw)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (folder of ViTModel, torch model, folder of ViTForImageClassification, torch model)."""
    out = {}
    for name, overrides in CASES.items():
        torch.manual_seed(hash(name) % 1000)
        base = ViTModel(tiny_config(overrides)).eval()
        head = ViTForImageClassification(tiny_config(overrides)).eval()
        with torch.no_grad():  # random LayerNorm affines, so a dropped gamma or beta shows
            for m in (base, head):
                for n, p in m.named_parameters():
                    if "layernorm" in n:
                        p.copy_(torch.randn_like(p) * 0.5 + (1.0 if n.endswith("weight") else 0.0))
        d = tmp_path_factory.mktemp(name)
        base.save_pretrained(d / "base")
        head.save_pretrained(d / "head")
        out[name] = (d / "base", base, d / "head", head)
    return out


def pixels(config: ViTConfig, batch: int, seed: int) -> np.ndarray:
    h, w = (config.image_size, config.image_size) if isinstance(config.image_size, int) else config.image_size
    return np.random.default_rng(seed).standard_normal((batch, config.num_channels, h, w)).astype(np.float32)


def max_diff(a, b) -> float:
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("batch", [1, 3])
def test_feature_extraction_matches_transformers(models, name, batch):
    folder, ref, _, _ = models[name]
    x = pixels(ref.config, batch, seed=batch)
    with torch.no_grad():
        want = ref(pixel_values=torch.from_numpy(x))
    model = oc.AutoModel.from_pretrained(folder)
    assert model.input_names == ["pixel_values"]
    got = model(x)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) < ATOL
    assert max_diff(got.pooler_output, want.pooler_output) < ATOL
    # By name and from torch too.
    assert max_diff(model(pixel_values=torch.from_numpy(x)).last_hidden_state, want.last_hidden_state) < ATOL


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("batch", [1, 3])
def test_image_classification_matches_transformers(models, name, batch):
    _, _, folder, ref = models[name]
    x = pixels(ref.config, batch, seed=10 + batch)
    with torch.no_grad():
        want = ref(pixel_values=torch.from_numpy(x)).logits
    model = oc.AutoModelForImageClassification.from_pretrained(folder)
    got = model(pixel_values=x)
    assert list(got) == ["logits"]
    assert max_diff(got.logits, want) < ATOL


def test_batch_equals_items_alone(models):
    _, _, folder, ref = models["img30_p10_nobias"]
    model = oc.AutoModelForImageClassification.from_pretrained(folder)
    x = pixels(ref.config, 4, seed=7)
    batched = model(x).logits
    for i in range(4):
        assert max_diff(batched[i:i + 1], model(x[i:i + 1]).logits) < 1e-5


def test_head_checkpoint_as_feature_extraction(models):
    # ViTForImageClassification has no pooler: last_hidden_state only, as its .vit gives it.
    _, _, folder, ref = models["img32_p8"]
    x = pixels(ref.config, 2, seed=3)
    with torch.no_grad():
        want = ref.vit(pixel_values=torch.from_numpy(x)).last_hidden_state
    got = oc.AutoModel.from_pretrained(folder)(x)
    assert list(got) == ["last_hidden_state"]
    assert max_diff(got.last_hidden_state, want) < ATOL


def test_wrong_images_are_refused(models):
    folder, ref, _, _ = models["img32_p8"]
    model = oc.AutoModel.from_pretrained(folder)
    with pytest.raises(ValueError):  # transformers refuses it too
        ref(pixel_values=torch.zeros(1, 3, 16, 16))
    with pytest.raises(oc.InvalidArgumentError, match=r"16x16 does not match the model's 32x32 \(image_size"):
        model(np.zeros((1, 3, 16, 16), np.float32))
    with pytest.raises(oc.InvalidArgumentError, match=r"has 1 channels; the model expects 3 \(num_channels\)"):
        model(np.zeros((1, 1, 32, 32), np.float32))
    with pytest.raises(oc.InvalidArgumentError, match=r"expected rank 4"):
        model(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(oc.InvalidArgumentError, match=r"'pixel_values' has dtype I64; expected float32"):
        model(np.zeros((1, 3, 32, 32), np.int64))
    with pytest.raises(oc.InvalidArgumentError, match=r"empty batch"):
        model(np.zeros((0, 3, 32, 32), np.float32))
    with pytest.raises(oc.UnsupportedError, match="interpolate_pos_encoding"):
        model(np.zeros((1, 3, 32, 32), np.float32), interpolate_pos_encoding=True)


def test_config_errors_name_the_key(tmp_path, models):
    folder, _, _, _ = models["img32_p8"]
    cfg = json.loads((folder / "config.json").read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").symlink_to(folder / "model.safetensors")
    for key, value, message in [("patch_size", 40, r"patch_size 40x40 exceeds image_size 32x32"),
                                ("image_size", [32], r"key 'image_size' must be a positive integer or a list"),
                                ("num_channels", 0, r"key 'num_channels' must be a positive integer")]:
        (bad / "config.json").write_text(json.dumps({**cfg, key: value}))
        with pytest.raises(oc.FormatError, match=message):
            oc.AutoModel.from_pretrained(bad)


def test_tasks_are_registered():
    proc = subprocess.run([str(CLI), "tasks"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {tuple(line.split("\t")) for line in proc.stdout.splitlines()}
    assert ("vit", "feature-extraction", "native") in rows
    assert ("vit", "image-classification", "native") in rows


@pytest.mark.parametrize("task,kind", [("feature-extraction", "base"), ("image-classification", "head")])
def test_native_export_round_trip(models, tmp_path, task, kind):
    base, base_ref, head, head_ref = models["img34x24_p8"]
    src, ref = (base, base_ref) if kind == "base" else (head, head_ref)
    out = tmp_path / "exported"
    proc = subprocess.run([str(CLI), "export", "--model", str(src), "--task", task, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == task and meta["model_type"] == "vit"
    assert meta["validation"]["passed"] and meta["validation"]["cases"]
    cls = oc.AutoModel if task == "feature-extraction" else oc.AutoModelForImageClassification
    model = cls.from_pretrained(out)
    x = pixels(ref.config, 3, seed=5)
    with torch.no_grad():
        want = ref(pixel_values=torch.from_numpy(x))
    got = model(x)
    for name in got:
        assert max_diff(got[name], getattr(want, name)) < ATOL


def test_export_true_from_python(models, tmp_path):
    _, _, head, ref = models["img32_p8"]
    model = oc.AutoModelForImageClassification.from_pretrained(head, export=True, export_cache_dir=tmp_path / "c")
    assert model.exported_now
    x = pixels(ref.config, 2, seed=9)
    with torch.no_grad():
        want = ref(pixel_values=torch.from_numpy(x)).logits
    assert max_diff(model(x).logits, want) < ATOL
    model.save_pretrained(tmp_path / "saved")
    again = oc.AutoModelForImageClassification.from_pretrained(tmp_path / "saved")
    assert max_diff(again(x).logits, want) < ATOL


def test_low_precision_export_is_refused_clearly(models, tmp_path):
    _, _, head, _ = models["img32_p8"]
    proc = subprocess.run([str(CLI), "export", "--model", str(head), "--dtype", "int8", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "vision model_type 'vit'" in proc.stderr
