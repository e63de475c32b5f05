"""ONNX Runtime through Optimum (optimum-onnx), CPUExecutionProvider, in .venv-bench/onnx.

Export: optimum.exporters.onnx.main_export (task feature-extraction), the ONNX model
Optimum users get. Load and run: optimum.onnxruntime.ORTModelForFeatureExtraction with
SessionOptions intra_op_num_threads = threads, inter_op 1, sequential, ORT_ENABLE_ALL.

fp32      the plain export
fp32-O2   ORTOptimizer with AutoOptimizationConfig.O2() (ORT transformer fusions: Attention,
          SkipLayerNorm, BiasGelu, EmbedLayerNorm)
fp32-O3   AutoOptimizationConfig.O3() (O2 + GELU approximation)
int8      ORTQuantizer with AutoQuantizationConfig.avx512_vnni(is_static=False) (avx2 on a CPU
          without VNNI): onnxruntime's quantize_dynamic, s8 per-channel weights, u8 activations
"""

from __future__ import annotations

import pathlib

import numpy as np

from . import Unavailable

VARIANTS = ["fp32", "fp32-O2", "fp32-O3", "int8"]
MISSING = {"bf16": "ONNX Runtime's CPU provider has no bf16 kernels for these ops"}
VENV = ".venv-bench/onnx"


def available():
    return None  # the coordinator checks VENV; imports happen in that interpreter


def _export(model_dir: str, work: pathlib.Path) -> pathlib.Path:
    out = work / "optimum-onnx" / "fp32"
    if not (out / "model.onnx").exists():
        from optimum.exporters.onnx import main_export

        main_export(model_dir, output=str(out), task="feature-extraction", device="cpu", do_validation=False)
    return out


def _vnni() -> bool:
    try:
        return " avx512_vnni" in pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    src = _export(model_dir, work)
    if variant == "fp32":
        return str(src / "model.onnx")
    out = work / "optimum-onnx" / variant
    found = sorted(out.glob("*.onnx")) if out.exists() else []
    if found:
        return str(found[0])
    if variant in ("fp32-O2", "fp32-O3"):
        from optimum.onnxruntime import ORTOptimizer
        from optimum.onnxruntime.configuration import AutoOptimizationConfig

        cfg = AutoOptimizationConfig.O2() if variant == "fp32-O2" else AutoOptimizationConfig.O3()
        ORTOptimizer.from_pretrained(str(src)).optimize(optimization_config=cfg, save_dir=str(out))
    elif variant == "int8":
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoQuantizationConfig

        cfg = (AutoQuantizationConfig.avx512_vnni if _vnni() else AutoQuantizationConfig.avx2)(is_static=False)
        ORTQuantizer.from_pretrained(str(src), file_name="model.onnx").quantize(save_dir=str(out), quantization_config=cfg)
    else:
        raise Unavailable(f"unknown variant {variant}")
    found = sorted(out.glob("*.onnx"))
    if not found:
        raise RuntimeError(f"optimum-onnx wrote no .onnx file into {out}")
    return str(found[0])


def imports() -> None:
    import onnxruntime  # noqa: F401
    from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForFeatureExtraction

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    path = pathlib.Path(artifact)
    model = ORTModelForFeatureExtraction.from_pretrained(
        str(path.parent), file_name=path.name, provider="CPUExecutionProvider", session_options=so, use_io_binding=False
    )

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return run
