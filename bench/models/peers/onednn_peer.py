"""Reference, not a peer: the model's linear layers as raw oneDNN GEMM calls, nothing else.

One call runs, for each of the model's layers, the four GEMMs of an encoder layer on all real
tokens of the batch (tokens = attention_mask.sum(): the padded count for the fixed-shape
cases, the unpadded count for the mixed batch):
  [tokens x hidden] x [hidden x 3*hidden] (QKV), [hidden x hidden] (attention output),
  [hidden x intermediate] (FFN up), [intermediate x hidden] (FFN down)
through libdnnl's C API by ctypes (no numpy in the timed path; buffers allocated once per
shape at first use, outside the timing of later calls):
  fp32-sgemm     dnnl_sgemm
  int8-u8s8s32   dnnl_gemm_u8s8s32 (u8 activations, s8 weights, s32 accumulators: VNNI/AMX kernels)
It runs interleaved with the engines, so "optimum-cpp reaches X% of oneDNN's GEMM rate" compares
two medians taken under the same machine load. Attention score/context matmuls, softmax,
LayerNorm, GELU and embeddings are not in it: it is the time the linear layers alone take at
oneDNN's own GEMM rate. Its output is not a hidden state (no accuracy check)."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import pathlib

import numpy as np

VARIANTS = ["fp32-sgemm", "int8-u8s8s32"]
MISSING: dict[str, str] = {}
REFERENCE_ONLY = True


def _lib():
    name = ctypes.util.find_library("dnnl") or "libdnnl.so.2"
    return ctypes.CDLL(name)


def available():
    try:
        _lib()
    except OSError as e:
        return f"libdnnl not loadable ({e})"
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    return model_dir


def imports() -> None:
    _lib()


def load(artifact: str, variant: str, threads: int):
    cfg = json.loads((pathlib.Path(artifact) / "config.json").read_text())
    h, inter, layers = int(cfg["hidden_size"]), int(cfg["intermediate_size"]), int(cfg["num_hidden_layers"])
    lib = _lib()
    d = ctypes.c_int64
    p = ctypes.c_void_p
    c = ctypes.c_char
    f = ctypes.c_float
    sgemm = lib.dnnl_sgemm
    sgemm.argtypes = [c, c, d, d, d, f, p, d, p, d, f, p, d]
    sgemm.restype = ctypes.c_int
    igemm = lib.dnnl_gemm_u8s8s32
    igemm.argtypes = [c, c, c, d, d, d, f, p, d, ctypes.c_uint8, p, d, ctypes.c_int8, f, p, d, p]
    igemm.restype = ctypes.c_int
    rng = np.random.default_rng(0)
    buffers: dict[tuple[int, int, int], tuple] = {}
    keep = []
    co = np.zeros(1, dtype=np.int32)
    keep.append(co)

    def bufs(m: int, n: int, k: int):
        key = (m, n, k)
        if key not in buffers:
            if variant == "fp32-sgemm":
                a = rng.standard_normal((m, k), dtype=np.float32)
                b = rng.standard_normal((k, n), dtype=np.float32)
                out = np.empty((m, n), dtype=np.float32)
            else:
                a = rng.integers(0, 255, (m, k), dtype=np.uint8)
                b = rng.integers(-127, 127, (k, n), dtype=np.int8)
                out = np.empty((m, n), dtype=np.int32)
            keep.extend([a, b, out])
            buffers[key] = (a.ctypes.data, b.ctypes.data, out.ctypes.data)
        return buffers[key]

    def gemm(m: int, n: int, k: int) -> None:
        a, b, out = bufs(m, n, k)
        if variant == "fp32-sgemm":
            st = sgemm(b"N", b"N", m, n, k, 1.0, a, k, b, n, 0.0, out, n)
        else:
            st = igemm(b"N", b"N", b"F", m, n, k, 1.0, a, k, 0, b, n, 0, 0.0, out, n, co.ctypes.data)
        if st != 0:
            raise RuntimeError(f"oneDNN gemm {m}x{n}x{k} failed with status {st}")

    def run(input_ids: np.ndarray, attention_mask: np.ndarray):
        t = int(attention_mask.sum())
        for _ in range(layers):
            gemm(t, 3 * h, h)
            gemm(t, h, h)
            gemm(t, inter, h)
            gemm(t, h, inter)
        return None

    return run
