"""ONNX Runtime (CPUExecutionProvider) on the torch.onnx export.

fp32      the plain export, ORT_ENABLE_ALL graph optimizations at session creation
fp32-O2   + onnxruntime.transformers.optimizer fusions (Attention, SkipLayerNorm, BiasGelu,
          EmbedLayerNorm), what optimum's O2 level runs
fp32-O3   O2 + GELU approximation (FastGelu), what optimum's O3 adds
int8      onnxruntime.quantization.quantize_dynamic of the plain export (s8 weights, u8 activations)
"""

from __future__ import annotations

import pathlib

import numpy as np

from . import onnx_export

VARIANTS = ["fp32", "fp32-O2", "fp32-O3", "int8"]
MISSING = {"bf16": "ORT CPU has no bf16 kernels for these ops"}


def available():
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


def _optimized(model_dir: str, work: pathlib.Path, level: int) -> pathlib.Path:
    out = work / "onnx" / f"model-O{level}.onnx"
    if out.exists():
        return out
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    src = onnx_export.export(model_dir, work)
    hidden, heads = onnx_export.hidden_and_heads(model_dir)
    opts = FusionOptions("bert")
    opts.enable_gelu_approximation = level >= 3
    m = optimizer.optimize_model(
        str(src), model_type="bert", num_heads=heads, hidden_size=hidden, optimization_options=opts, opt_level=0
    )
    m.save_model_to_file(str(out))
    return out


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    if variant == "fp32":
        return str(onnx_export.export(model_dir, work))
    if variant == "fp32-O2":
        return str(_optimized(model_dir, work, 2))
    if variant == "fp32-O3":
        return str(_optimized(model_dir, work, 3))
    if variant == "int8":
        out = work / "onnx" / "model-int8.onnx"
        if not out.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(onnx_export.export(model_dir, work)), str(out), weight_type=QuantType.QInt8)
        return str(out)
    raise ValueError(variant)


def imports() -> None:
    import onnxruntime  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(artifact, so, providers=["CPUExecutionProvider"])

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return sess.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    return run
