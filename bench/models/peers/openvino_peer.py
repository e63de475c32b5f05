"""OpenVINO CPU plugin on the torch.onnx export, through openvino's own API.

optimum-intel 2.2.0 (its OVModel classes) needs transformers < 5.6 and another torch, so
the model is read with openvino.Core and compiled directly. INFERENCE_NUM_THREADS = threads,
PERFORMANCE_HINT LATENCY.
fp32  INFERENCE_PRECISION_HINT f32;  bf16  INFERENCE_PRECISION_HINT bf16 (AVX512-BF16);
int8  nncf.compress_weights (int8 asymmetric weights, what optimum-intel's load_in_8bit does), f32 compute.
"""

from __future__ import annotations

import pathlib

import numpy as np

from . import onnx_export

VARIANTS = ["fp32", "bf16", "int8"]
MISSING: dict[str, str] = {}


def available():
    try:
        import openvino  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    import openvino as ov

    out = work / "openvino" / ("model-int8.xml" if variant == "int8" else "model.xml")
    if out.exists():
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = ov.Core().read_model(str(onnx_export.export(model_dir, work)))
    if variant == "int8":
        import nncf

        model = nncf.compress_weights(model)
    ov.save_model(model, str(out), compress_to_fp16=False)
    return str(out)


def imports() -> None:
    import openvino  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import openvino as ov

    core = ov.Core()
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "bf16" if variant == "bf16" else "f32",
    }
    compiled = core.compile_model(core.read_model(artifact), "CPU", config)
    request = compiled.create_infer_request()

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
        return request.get_output_tensor(0).data.copy()

    return run
