"""optimum_cpp's image decoding and image processors against Pillow and
transformers' PIL-backend processors (``AutoImageProcessor(backend="pil")``,
the slow ones; the torchvision ones do not run with this torch build).

Truth is computed here at test time: Pillow decodes the files Pillow wrote
(``transformers.image_utils.load_image``, i.e. ``Image.open(f).convert("RGB")``)
and transformers turns them into ``pixel_values``. 50 images of odd sizes
(1x1 to 700x500), modes RGB, RGBA, L, LA, P (and 1, I;16, CMYK) and formats
PNG (also interlaced), JPEG and WebP (lossy and lossless) are generated once
per module. Hostile files must give clear errors.
"""

from __future__ import annotations

import io
import json
import pathlib
import struct
import sys
import zlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))

from PIL import Image  # noqa: E402

N_IMAGES = 50


@pytest.fixture(scope="module")
def oc():
    try:
        import optimum_cpp
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"optimum_cpp cannot be imported (build target _C): {type(e).__name__}: {e}", pytrace=False)
    return optimum_cpp


@pytest.fixture(scope="module")
def hf():
    import transformers
    from transformers import image_utils

    transformers.logging.set_verbosity_error()
    return transformers, image_utils


def _content(rng, h, w, c):
    """Gradients, a few hard edges and noise: realistic for JPEG/WebP, hard for resampling."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), ((x // 7 + y // 5) % 2) * 200 + 20, (x * y) % 256]
    base = np.stack([planes[i % 4] for i in range(c)], -1).astype(np.int64)
    return np.clip(base + rng.integers(-25, 26, size=(h, w, c)), 0, 255).astype(np.uint8)


# (height, width): 1x1, thin strips, odd primes, up to 700x500 (upscales and downscales).
_SIZES = [(1, 1), (2, 3), (1, 40), (40, 1), (7, 5), (13, 17), (31, 29), (64, 64), (97, 45), (45, 97),
          (128, 211), (223, 225), (224, 224), (240, 161), (300, 301), (333, 500), (500, 333), (501, 700),
          (700, 500), (19, 383)]
_MODES = ["RGB", "RGBA", "L", "LA", "P", "RGB", "RGBA", "P", "L", "RGB", "1", "I;16", "CMYK"]
_FORMATS = {"RGB": ["PNG", "JPEG", "WEBP"], "RGBA": ["PNG", "WEBP"], "L": ["PNG", "JPEG"], "LA": ["PNG"],
            "P": ["PNG"], "1": ["PNG"], "I;16": ["PNG"], "CMYK": ["JPEG"]}


def _make_image(rng, mode, h, w):
    if mode in ("RGB", "CMYK"):
        return Image.fromarray(_content(rng, h, w, 3)).convert(mode)
    if mode == "RGBA":
        return Image.fromarray(_content(rng, h, w, 4), "RGBA")
    if mode == "L":
        return Image.fromarray(_content(rng, h, w, 1)[..., 0])
    if mode == "LA":
        return Image.fromarray(_content(rng, h, w, 4), "RGBA").convert("LA")
    if mode == "P":
        return Image.fromarray(_content(rng, h, w, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=61)
    if mode == "1":
        return Image.fromarray(_content(rng, h, w, 1)[..., 0]).convert("1")
    if mode == "I;16":
        return Image.fromarray(_content(rng, h, w, 1)[..., 0].astype(np.uint16) * 2)  # half above 255
    raise AssertionError(mode)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """50 (path, mode, format) files written by Pillow, deterministic."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(1234)
    out = []
    for i in range(N_IMAGES):
        h, w = _SIZES[i % len(_SIZES)] if i < len(_SIZES) else (int(rng.integers(1, 701)), int(rng.integers(1, 501)))
        mode = _MODES[i % len(_MODES)]
        fmts = _FORMATS[mode]
        fmt = fmts[i % len(fmts)]
        kwargs = {}
        if fmt == "JPEG":
            kwargs = {"quality": int(rng.integers(60, 96)), "subsampling": int(i % 3)}
        elif fmt == "WEBP":
            kwargs = {"lossless": True, "method": 0} if i % 2 else {"quality": 80, "method": 0}
        elif fmt == "PNG" and i % 4 == 0:
            kwargs = {"interlace": 1}
        if mode == "P" and i % 3 == 0:
            kwargs["transparency"] = 5  # tRNS on a palette: convert("RGB") ignores it
        path = folder / f"img{i:02d}_{mode.replace(';', '')}_{h}x{w}.{fmt.lower()}"
        _make_image(rng, mode, h, w).save(path, fmt, **kwargs)
        out.append((path, mode, fmt))
    return out


def _configs():
    """preprocessor_config.json variants: every resample filter, square and shortest-edge sizes,
    center crop (CLIP: crop after a shortest-edge resize, also a crop larger than the image in
    one dimension; ConvNeXt: crop_pct), legacy int sizes and feature_extractor_type."""
    vit = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "do_rescale": True,
           "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    return {
        "vit_default_bilinear": dict(vit, size={"height": 224, "width": 224}, resample=2),
        "vit_nearest": dict(vit, size={"height": 37, "width": 53}, resample=0),
        "vit_lanczos": dict(vit, size={"height": 64, "width": 48}, resample=1),
        "vit_bicubic": dict(vit, size={"height": 96, "width": 96}, resample=3,
                            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]),
        "vit_box": dict(vit, size={"height": 30, "width": 41}, resample=4),
        "vit_hamming_legacy_int": {"feature_extractor_type": "ViTFeatureExtractor", "size": 50, "resample": 5,
                                   "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
        "vit_no_normalize": dict(vit, size={"height": 16, "width": 16}, do_normalize=False),
        "clip_crop": {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 48},
                      "crop_size": {"height": 40, "width": 40}, "do_center_crop": True, "resample": 3},
        "clip_crop_pads": {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 24},
                           "crop_size": {"height": 20, "width": 64}, "do_center_crop": True, "resample": 2},
        "convnext_crop_pct": {"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 56},
                              "crop_pct": 0.875, "resample": 3},
        "convnext_warp": {"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 384},
                          "resample": 2},
    }


@pytest.fixture(scope="module")
def config_dirs(tmp_path_factory):
    out = {}
    for name, cfg in _configs().items():
        d = tmp_path_factory.mktemp(name)
        (d / "preprocessor_config.json").write_text(json.dumps(cfg))
        out[name] = d
    return out


def test_decoded_pixels_equal_pillow(oc, hf, images):
    _, image_utils = hf
    for path, mode, fmt in images:
        ref = np.asarray(image_utils.load_image(str(path)))
        got = oc.load_image(str(path))
        assert got.dtype == np.uint8 and got.shape == ref.shape, (path.name, got.shape, ref.shape)
        # Same libjpeg-turbo IDCT (islow) and upsampling, same libwebp: exact everywhere.
        assert np.array_equal(got, ref), f"{path.name}: max diff {np.abs(got.astype(int) - ref).max()}"
        assert np.array_equal(oc.load_image(path.read_bytes()), ref), path.name


@pytest.mark.parametrize("name", list(_configs()))
def test_pixel_values_match_transformers(oc, hf, images, config_dirs, name):
    transformers, image_utils = hf
    d = config_dirs[name]
    ref_proc = transformers.AutoImageProcessor.from_pretrained(str(d), backend="pil")
    ours = oc.AutoImageProcessor.from_pretrained(d)
    pil_images = [image_utils.load_image(str(p)) for p, _, _ in images]
    ref = ref_proc(pil_images, return_tensors="np")["pixel_values"]
    got = ours([str(p) for p, _, _ in images], return_tensors="np")["pixel_values"]
    assert got.dtype == np.float32 and got.shape == ref.shape, (got.shape, ref.shape)
    diff = np.abs(got - ref).max()
    assert diff <= 1e-3, f"{name}: max |diff| {diff}"
    # Each image alone equals its row of the batch; bytes and PIL inputs give the same.
    for k in (0, 7, len(images) - 1):
        path = images[k][0]
        assert np.array_equal(ours(str(path))["pixel_values"][0], got[k])
        assert np.array_equal(ours(path.read_bytes())["pixel_values"][0], got[k])
        assert np.array_equal(ours(pil_images[k])["pixel_values"][0], got[k])


def test_uint8_arrays_and_convert_rgb(oc, hf, config_dirs):
    """HxWxC uint8 arrays (and PIL RGBA images) as transformers takes them: CLIP's
    do_convert_rgb composites alpha onto white and repeats gray."""
    transformers, _ = hf
    rng = np.random.default_rng(7)
    d = config_dirs["clip_crop"]
    ref_proc = transformers.AutoImageProcessor.from_pretrained(str(d), backend="pil")
    ours = oc.AutoImageProcessor.from_pretrained(d)
    for shape in [(33, 47, 3), (50, 20, 4), (41, 41, 1)]:
        arr = _content(rng, *shape)
        ref = ref_proc(arr, return_tensors="np")["pixel_values"]
        got = ours(arr)["pixel_values"]
        assert np.abs(got - ref).max() <= 1e-3, shape
    rgba = Image.fromarray(_content(rng, 60, 70, 4), "RGBA")
    ref = ref_proc(rgba, return_tensors="np")["pixel_values"]
    assert np.abs(ours(rgba)["pixel_values"] - ref).max() <= 1e-3
    # ViT has no do_convert_rgb: a 4-channel array is refused with a clear error.
    vit = oc.AutoImageProcessor.from_pretrained(config_dirs["vit_nearest"])
    with pytest.raises(oc.InvalidArgumentError, match="4 channels"):
        vit(_content(rng, 10, 10, 4))


def test_auto_dispatch_and_unknown_type(oc, tmp_path):
    vit = {"image_processor_type": "ViTImageProcessor"}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(vit))
    p = oc.AutoImageProcessor.from_pretrained(tmp_path)
    assert p.config["size"] == {"height": 224, "width": 224} and p.config["resample"] == 2
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "DetrImageProcessor"}))
    with pytest.raises(oc.UnsupportedError, match="DetrImageProcessor"):
        oc.AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_resize": True}))
    with pytest.raises(oc.FormatError, match="image_processor_type"):
        oc.AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(dict(vit, resample=9)))
    with pytest.raises(oc.InvalidArgumentError, match="resample 9"):
        oc.AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(dict(vit, size={"height": 10})))
    with pytest.raises(oc.UnsupportedError, match="size"):
        oc.AutoImageProcessor.from_pretrained(tmp_path)
    # Keyword arguments override the file, and the class named by the caller wins over the
    # config's type, as in transformers.
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "CLIPImageProcessor"}))
    p = oc.ViTImageProcessor.from_pretrained(tmp_path, size={"height": 8, "width": 9})
    assert p.config["image_processor_type"] == "ViTImageProcessor" and p.config["size"] == {"height": 8, "width": 9}


# ---------------------------------------------------------------------------
# Hostile inputs


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width, height, color_type=2, bit_depth=8, plte=None, idat=None, rows=None):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(rows if rows is not None else b"")
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if plte is not None:
        out += _chunk(b"PLTE", plte)
    return out + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _pillow_bytes(fmt, size=(40, 30), **kwargs):
    buf = io.BytesIO()
    Image.fromarray(_content(np.random.default_rng(3), size[1], size[0], 3)).save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_hostile_images_clear_errors(oc, tmp_path):
    # Truncated files of every format, from a file (the message names it) and from bytes.
    for fmt in ("PNG", "JPEG", "WEBP"):
        data = _pillow_bytes(fmt)
        path = tmp_path / f"cut.{fmt.lower()}"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(oc.FormatError, match=r"cut\.") as e:
            oc.load_image(str(path))
        assert "truncated" in str(e.value) or "invalid" in str(e.value)
        with pytest.raises(oc.FormatError):
            oc.load_image(data[:20])
    # Garbage, empty, a text file with an image extension.
    for junk in (b"", b"GIF89a" + b"\0" * 30, bytes(range(256)) * 4):
        with pytest.raises(oc.FormatError, match="not a JPEG, PNG or WebP"):
            oc.load_image(junk)
    (tmp_path / "fake.jpg").write_text("hello")
    with pytest.raises(oc.FormatError, match="fake.jpg"):
        oc.load_image(str(tmp_path / "fake.jpg"))
    with pytest.raises(oc.NotFoundError):
        oc.load_image(str(tmp_path / "missing.png"))
    # Huge declared dimensions: refused before any pixel buffer, naming the size.
    with pytest.raises(oc.InvalidArgumentError, match=r"100000x100000.*exceeds the limit"):
        oc.load_image(_png(100000, 100000, rows=b"\0" * 10))
    jpeg = bytearray(_pillow_bytes("JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    with pytest.raises(oc.InvalidArgumentError, match=r"60000x60000"):
        oc.load_image(bytes(jpeg))
    for fmt in ("PNG", "JPEG", "WEBP"):  # the limit is the caller's too (PIL's MAX_IMAGE_PIXELS)
        with pytest.raises(oc.InvalidArgumentError, match=r"30 \(1200 pixels\) exceeds the limit of 1000"):
            oc.load_image(_pillow_bytes(fmt), max_pixels=1000)
    # Zero sizes.
    with pytest.raises(oc.FormatError, match="PNG"):
        oc.load_image(_png(0, 0))
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 0, 0)
    with pytest.raises(oc.FormatError, match="JPEG"):
        oc.load_image(bytes(jpeg))
    # Corrupt palettes: missing, or a length that is not a multiple of 3, is an error...
    rows = b"".join(b"\0" + bytes([i % 2] * 4) for i in range(4))
    with pytest.raises(oc.FormatError, match="PNG"):
        oc.load_image(_png(4, 4, color_type=3, rows=rows))
    with pytest.raises(oc.FormatError, match="PNG"):
        oc.load_image(_png(4, 4, color_type=3, plte=b"\x01\x02\x03\x04", rows=rows))
    # ...indices past a short palette read as black, and a palette longer than 2^bit_depth is
    # used as far as it goes, as Pillow decodes them.
    rows2 = b"".join(b"\0" + bytes([0b00011011]) for _ in range(4))  # 2-bit indices 0, 1, 2, 3
    for data in (_png(4, 4, color_type=3, bit_depth=2, plte=bytes(range(6)), rows=rows2),
                 _png(4, 4, color_type=3, bit_depth=2, plte=bytes(range(3)), rows=rows2),
                 _png(4, 4, color_type=3, bit_depth=1, plte=bytes(range(12)), rows=rows)):
        assert np.array_equal(oc.load_image(data), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    # A bad CRC, a bad IDAT stream, an invalid colour type / bit depth.
    good = _png(4, 4, rows=b"".join(b"\0" + bytes(12) for _ in range(4)))
    assert oc.load_image(good).shape == (4, 4, 3)
    bad_crc = bytearray(good)
    bad_crc[29] ^= 0xFF
    for data in (bytes(bad_crc), _png(4, 4, idat=b"\x78\x9c garbage"), _png(4, 4, color_type=5),
                 _png(4, 4, color_type=2, bit_depth=3)):
        with pytest.raises(oc.FormatError, match="PNG"):
            oc.load_image(data)
    # Hostile inputs through the processor name the image.
    proc = oc.ViTImageProcessor.from_dict({"size": {"height": 8, "width": 8}})
    with pytest.raises(oc.FormatError, match="image 1"):
        proc([_pillow_bytes("PNG"), b"garbage!"])
    with pytest.raises(TypeError):
        proc([3.5])
