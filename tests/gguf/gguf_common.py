"""Shared helpers of the GGUF tests: where the real models are, and a raw
GGUF writer for files gguf.GGUFWriter refuses to write (hostile ones)."""

import struct
from pathlib import Path

import pytest
from gguf import GGUFReader  # the class itself: test_gguf_checkpoint.py patches gguf.GGUFReader

REPO = Path(__file__).resolve().parents[2]
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = "gemma-3-270m-q4_k_m.gguf"


def models_dir() -> Path:
    """<repo>/.models, or the main checkout's when this worktree has none."""
    for d in (REPO / ".models", Path("/work/main/.models")):
        if (d / SMOLLM2).is_file() and (d / GEMMA3).is_file():
            return d
    pytest.fail(f"the real GGUF models are missing from {REPO / '.models'}: run `make setup`")


def gguf_string(s) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def raw_gguf(kvs=(), tensors=(), version=3, alignment=32, data=b"", n_kv=None, n_tensors=None):
    """A GGUF file's bytes. kvs: [(key, type id, encoded value bytes)];
    tensors: [(name, [ggml dims], type id, data offset)]; `data` is the data
    section (written after padding to `alignment`)."""
    out = b"GGUF" + struct.pack("<I", version)
    out += struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv)
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + value
    for name, dims, ttype, offset in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, offset)
    out += b"\0" * (-len(out) % alignment)
    return out + data


def write_gguf_file(writer):
    """Writes a gguf.GGUFWriter's header, metadata and tensors to its file and closes it."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


_readers = {}


def gguf_reader(path):
    """One gguf.GGUFReader per file for the whole session (parsing a 262k-token vocabulary takes seconds)."""
    key = str(path)
    if key not in _readers:
        _readers[key] = GGUFReader(key)
    return _readers[key]
