"""The C++ GGUF reader against the `gguf` package (the code transformers loads
GGUF files with): metadata equal to gguf.GGUFReader's fields, and every
dequantized tensor bit-identical (np.array_equal) to gguf.quants.dequantize,
on files written here with gguf.GGUFWriter and on the two real models; then
hostile files give clear errors."""

import json
import struct
from collections import defaultdict

import gguf
import numpy as np
import pytest
from gguf_common import GEMMA3, SMOLLM2, gguf_reader, gguf_string, models_dir, raw_gguf, write_gguf_file

from optimum_cpp import _C

Q = gguf.GGMLQuantizationType

# The types the reader dequantizes; the gguf package quantizes all but the K-quants.
QUANTIZABLE = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]
# K-quants: random blocks whose fp16 scales (byte offsets) are overwritten with finite values.
K_SCALES = {Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}


def random_blocks(rng, qtype, rows, cols):
    """Random block bytes of a (rows, cols) tensor, every fp16 scale finite."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    offsets = K_SCALES.get(qtype, (0, 2) if qtype in (Q.Q4_1, Q.Q5_1) else (0,))
    for off in offsets:
        scales = rng.uniform(-2, 2, size=n_blocks).astype(np.float16)
        raw[:, off : off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(rows, cols // block * size)


def write_synthetic(path, rng):
    """A file holding every supported type, quantized by the gguf package
    where it can, as random blocks otherwise; returns the tensor names."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_uint64("test.u64", 2**64 - 1)
    w.add_int64("test.i64", -(2**63))
    w.add_float32("test.f32", 0.1)
    w.add_float64("test.f64", 1e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.str", "héllo ▁wörld 🤗")
    w.add_array("test.arr_i32", [1, -2, 3])
    w.add_array("test.arr_f32", [0.5, 1e-7, -3.25])
    w.add_array("test.arr_str", ["a", "ß", ""])
    w.add_array("test.arr_empty", [])
    names = []
    shapes = [(4, 256), (3, 512), (512,)]
    for qtype in QUANTIZABLE:
        for i, shape in enumerate(shapes):
            data = rng.standard_normal(shape).astype(np.float32) * 3
            name = f"{qtype.name}.{i}.weight"
            if qtype == Q.F32:
                w.add_tensor(name, data)
            elif qtype == Q.F16:
                w.add_tensor(name, data.astype(np.float16))
            else:
                w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
            names.append(name)
    for qtype in [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, *K_SCALES]:
        name = f"{qtype.name}.raw.weight"
        w.add_tensor(name, random_blocks(rng, qtype, 6, 512), raw_dtype=qtype)
        names.append(name)
    # Every bf16 bit pattern but NaNs (numpy and C++ would both keep them, but array_equal fails on NaN).
    bf16 = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    bf16 = bf16[(bf16 & 0x7F80) != 0x7F80].view(np.uint8).reshape(1, -1)
    w.add_tensor("BF16.all.weight", bf16, raw_dtype=Q.BF16)
    names.append("BF16.all.weight")
    f16 = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    w.add_tensor("F16.all.weight", f16[(f16 & 0x7C00) != 0x7C00].view(np.float16))
    names.append("F16.all.weight")
    write_gguf_file(w)
    return names


def reader_metadata(reader):
    """GGUFReader's fields as plain Python values (strings decoded)."""
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def check_tensor(ours_file, reader_tensor):
    ours = ours_file.dequantize(reader_tensor.name)
    ref = gguf.quants.dequantize(reader_tensor.data, reader_tensor.tensor_type)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape, reader_tensor.name
    assert np.array_equal(ours, ref), (reader_tensor.name, reader_tensor.tensor_type.name)


@pytest.mark.parametrize("version", [3, 2])
def test_synthetic_every_type(tmp_path, version):
    path = tmp_path / "synthetic.gguf"
    names = write_synthetic(path, np.random.default_rng(version))
    if version == 2:  # version 2 has version 3's layout (3 only added big-endian files)
        raw = bytearray(path.read_bytes())
        raw[4:8] = struct.pack("<I", 2)
        path.write_bytes(bytes(raw))
    f = _C.GgufFile(str(path))
    assert f.version == version
    reader = gguf.GGUFReader(path)
    assert json.loads(f.metadata_json()) == reader_metadata(reader)
    infos = {name: (tid, shape, nbytes) for name, tid, _, shape, _, nbytes in f.tensor_infos()}
    assert [t.name for t in reader.tensors] == [i[0] for i in f.tensor_infos()] == names
    for t in reader.tensors:
        tid, shape, nbytes = infos[t.name]
        assert tid == int(t.tensor_type) and nbytes == t.n_bytes
        assert tuple(shape) == tuple(int(d) for d in reversed(t.shape))
        check_tensor(f, t)
        assert np.array_equal(_C.gguf_tensor(str(path), t.name), f.dequantize(t.name))


@pytest.mark.parametrize("model", [SMOLLM2, GEMMA3])
def test_real_model(model):
    path = models_dir() / model
    f = _C.GgufFile(str(path))
    reader = gguf_reader(path)
    assert json.loads(f.metadata_json()) == reader_metadata(reader)
    assert json.loads(_C.gguf_metadata(str(path)))["general.architecture"] == reader.fields[
        "general.architecture"
    ].contents()
    assert [(i[0], i[1], tuple(i[3]), i[5]) for i in f.tensor_infos()] == [
        (t.name, int(t.tensor_type), tuple(int(d) for d in reversed(t.shape)), int(t.n_bytes)) for t in reader.tensors
    ]
    # Blocks 0 and 1, the other tensors outside the blocks, and two of each type
    # (test_gguf_checkpoint.py compares every tensor through transformers). The
    # 168M-element embedding of gemma-3 (numpy takes seconds) only where its type
    # is not seen elsewhere.
    seen = defaultdict(int)
    for t in reader.tensors:
        layer = t.name.split(".")[1] if t.name.startswith("blk.") else None
        if t.n_elements > 50_000_000 and any(o.tensor_type == t.tensor_type and o is not t for o in reader.tensors):
            continue
        if layer in (None, "0", "1") or seen[t.tensor_type] < 2:
            seen[t.tensor_type] += 1
            check_tensor(f, t)
    assert set(seen) == {t.tensor_type for t in reader.tensors}


# Hostile files: clear errors, never a crash.


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


ARCH = ("general.architecture", 8, gguf_string("llama"))
ONE_TENSOR = dict(kvs=[ARCH], tensors=[("w", [32], 0, 0)], data=b"\0" * 128)


def open_error(tmp_path, content, cls=_C.FormatError):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(cls) as info:
        _C.GgufFile(str(path))
    assert str(path) in str(info.value)
    return str(info.value)


def test_hostile_truncated(tmp_path):
    good = raw_gguf(**ONE_TENSOR)
    path = tmp_path / "ok.gguf"
    path.write_bytes(good)
    assert _C.GgufFile(str(path)).dequantize("w").shape == (32,)
    header_end = len(raw_gguf(kvs=[ARCH], tensors=[("w", [32], 0, 0)])) - 1
    for cut in range(0, header_end):
        open_error(tmp_path, good[:cut])
    assert "past the end" in open_error(tmp_path, good[: header_end + 100])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_kv=2**62), "key-value count"),
        (dict(n_tensors=2**60), "tensor count"),
        (dict(version=1), "version 1"),
        (dict(version=0x03000000), "big-endian"),
        (dict(kvs=[("k", 8, u64(2**63))]), "k: string length 9223372036854775808 runs past the end"),
        (dict(kvs=[("k", 9, u32(4) + u64(2**61))]), "array length"),
        (dict(kvs=[("k", 9, u32(99) + u64(1))]), "unknown array item type"),
        (dict(kvs=[("k", 77, b"")]), "unknown value type"),
        (dict(kvs=[("k", 9, (u32(9) + u64(1)) * 8 + u32(4) + u64(0))]), "nested deeper than 8"),
        (dict(kvs=[("k", 4, u32(1)), ("k", 4, u32(2))]), "duplicate key 'k'"),
        (dict(kvs=[("general.alignment", 4, u32(3))]), "general.alignment"),
        (dict(tensors=[("w", [32], 0, 0), ("w", [32], 0, 128)], data=b"\0" * 256), "duplicate tensor 'w'"),
        (dict(tensors=[("w", [1, 1, 1, 1, 1], 0, 0)], data=b"\0" * 32), "dimensions"),
        (dict(tensors=[("w", [2**62, 2**62], 0, 0)]), "overflows"),
        (dict(tensors=[("w", [2**63], 0, 0)]), "overflows"),
        (dict(tensors=[("w", [32], 99, 0)], data=b"\0" * 128), "unknown ggml type 99"),
        (dict(tensors=[("w", [33], 2, 0)], data=b"\0" * 128), "block size"),
        (dict(tensors=[("w", [32], 0, 4)], data=b"\0" * 256), "alignment"),
        (dict(tensors=[("w", [32], 0, 2**63)], data=b"\0" * 128), "past the end"),
        (dict(tensors=[("w", [2**40], 0, 0)], data=b"\0" * 128), "past the end"),
        (dict(tensors=[("a", [32], 0, 0), ("b", [32], 0, 64)], data=b"\0" * 256), "overlap"),
    ],
)
def test_hostile_header(tmp_path, kwargs, message):
    assert message in open_error(tmp_path, raw_gguf(**kwargs))


def test_nesting_limit_accepts_eight_levels(tmp_path):
    path = tmp_path / "nested.gguf"
    path.write_bytes(raw_gguf(kvs=[("k", 9, (u32(9) + u64(1)) * 7 + u32(4) + u64(1) + u32(7))]))
    assert json.loads(_C.gguf_metadata(str(path)))["k"] == [[[[[[[[7]]]]]]]]


def test_invalid_utf8_and_odd_names(tmp_path):
    path = tmp_path / "odd.gguf"
    path.write_bytes(raw_gguf(kvs=[("k\xff".encode("latin-1"), 8, gguf_string(b"\xff\xfe")), ARCH]))
    meta = json.loads(_C.gguf_metadata(str(path)))  # replaced on dump, never a crash
    assert meta["general.architecture"] == "llama" and len(meta) == 2


def test_unsupported_tensor_type(tmp_path):
    path = tmp_path / "q2k.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("blk.0.attn_q.weight", random_blocks(np.random.default_rng(0), Q.Q2_K, 2, 256), raw_dtype=Q.Q2_K)
    w.add_tensor("iq.weight", np.zeros((2, 66), np.uint8), raw_dtype=Q.IQ2_XXS)
    write_gguf_file(w)
    f = _C.GgufFile(str(path))  # opening and metadata work
    for name, tname in [("blk.0.attn_q.weight", "Q2_K"), ("iq.weight", "IQ2_XXS")]:
        with pytest.raises(_C.UnsupportedError, match=f"'{name}'.*{tname}"):
            f.dequantize(name)
    with pytest.raises(_C.NotFoundError, match="nope"):
        f.dequantize("nope")
