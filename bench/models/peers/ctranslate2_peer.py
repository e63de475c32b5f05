"""CTranslate2: its TransformersConverter and ctranslate2.Encoder (intra_threads = threads).

The Encoder takes each sequence at its own length (no padding), as its users call it;
its output is padded back to the batch's length for the comparison.
fp32 / bf16 / int8: the converter's quantization (float32, bfloat16, int8) and the same
compute_type at load; a compute type the installed build lacks on this CPU (the PyPI
wheel has no bfloat16 on CPU) is reported as not available."""

from __future__ import annotations

import pathlib

import numpy as np

from . import Unavailable

VARIANTS = ["fp32", "bf16", "int8"]
MISSING: dict[str, str] = {}
COMPUTE = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}


def available():
    try:
        import ctranslate2  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    import ctranslate2

    have = ctranslate2.get_supported_compute_types("cpu")
    if COMPUTE[variant] not in have:
        raise Unavailable(f"this CTranslate2 build has no {COMPUTE[variant]} on this CPU (it has: {', '.join(sorted(have))})")
    out = work / f"ctranslate2-{variant}"
    if not (out / "model.bin").exists():
        ctranslate2.converters.TransformersConverter(model_dir).convert(
            str(out), quantization=COMPUTE[variant], force=True
        )
    return str(out)


def imports() -> None:
    import ctranslate2  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import ctranslate2

    enc = ctranslate2.Encoder(artifact, device="cpu", compute_type=COMPUTE[variant], intra_threads=threads, inter_threads=1)

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        lengths = attention_mask.sum(axis=1)
        ids = [row[:n].tolist() for row, n in zip(input_ids, lengths)]
        out = np.asarray(enc.forward_batch(ids).last_hidden_state)
        if out.shape[1] < input_ids.shape[1]:
            out = np.pad(out, ((0, 0), (0, input_ids.shape[1] - out.shape[1]), (0, 0)))
        return out

    return run
