"""OpenVINO through optimum-intel (OVModelForFeatureExtraction), CPU plugin, in .venv-bench/openvino.

Export: OVModelForFeatureExtraction.from_pretrained(model, export=True) saved once (fp32 IR;
int8: quantization_config=OVWeightQuantizationConfig(bits=8), nncf int8 weight compression).
Load: from_pretrained(ir, ov_config=...) and compile() (compile is part of load time), with
INFERENCE_NUM_THREADS = threads, PERFORMANCE_HINT LATENCY and
fp32  INFERENCE_PRECISION_HINT f32 (explicit: on AVX512-BF16/AMX CPUs OpenVINO's default is bf16)
bf16  INFERENCE_PRECISION_HINT bf16 (on the fp32 IR; only where the CPU has AVX512-BF16 or AMX)
int8  int8-compressed weights, f32 compute (what optimum-intel's load_in_8bit gives)
"""

from __future__ import annotations

import pathlib

import numpy as np

from . import Unavailable

VARIANTS = ["fp32", "bf16", "int8"]
MISSING: dict[str, str] = {}
VENV = ".venv-bench/openvino"


def available():
    return None


def _bf16_cpu() -> bool:
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    if variant == "bf16" and not _bf16_cpu():
        raise Unavailable("this CPU has neither AVX512-BF16 nor AMX; OpenVINO would run bf16 emulated")
    kind = "int8" if variant == "int8" else "fp32"
    out = work / "optimum-intel" / kind
    if not (out / "openvino_model.xml").exists():
        from optimum.intel import OVModelForFeatureExtraction

        kwargs = {}
        if kind == "int8":
            from optimum.intel import OVWeightQuantizationConfig

            kwargs["quantization_config"] = OVWeightQuantizationConfig(bits=8)
        model = OVModelForFeatureExtraction.from_pretrained(model_dir, export=True, compile=False, **kwargs)
        model.save_pretrained(str(out))
    return str(out)


def imports() -> None:
    import openvino  # noqa: F401
    from optimum.intel import OVModelForFeatureExtraction  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    from optimum.intel import OVModelForFeatureExtraction

    config = {
        "INFERENCE_NUM_THREADS": str(threads),
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "bf16" if variant == "bf16" else "f32",
    }
    model = OVModelForFeatureExtraction.from_pretrained(artifact, ov_config=config, compile=False)
    model.compile()

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return np.array(model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state, copy=True)

    return run
