"""optimum-cpp through its Python package (optimum_cpp), on the folder `optimum-cpp export` wrote."""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np

VARIANTS = ["fp32"]
MISSING = {"bf16": "no bf16 path in the engine yet", "int8": "no int8 path in the engine yet"}

ROOT = pathlib.Path(__file__).resolve().parents[3]


def available():
    try:
        import optimum_cpp  # noqa: F401
    except ImportError as e:  # pragma: no cover
        return f"optimum_cpp not importable ({e}); run make build"
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    out = work / "optimum-cpp"
    if not (out / "optimum_export.json").exists():
        cli = ROOT / "build" / "optimum-cpp"
        subprocess.run([str(cli), "export", "--model", model_dir, str(out)], check=True, stdout=subprocess.DEVNULL)
    return str(out)


def imports() -> None:
    import optimum_cpp  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import optimum_cpp

    optimum_cpp.set_num_threads(threads)
    model = optimum_cpp.AutoModel.from_pretrained(artifact)

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return model(input_ids=input_ids, attention_mask=attention_mask)["last_hidden_state"]

    return run
