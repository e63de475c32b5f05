"""optimum-cpp through its Python package (optimum_cpp), on the folder `optimum-cpp export` wrote.

fp32           build/optimum-cpp export --model M OUT (padded batch, as every peer gets it)
fp32-unpadded  the same folder, called with skip_padding=True: pad positions are not computed
               (returned as zeros); "not available" while the model call does not take it
bf16, int8     build/optimum-cpp export --model M OUT --dtype bf16|int8; "not available" while
               the exporter rejects the dtype (the CLI's message is reported)
bf16-unpadded, int8-unpadded  those folders called with skip_padding=True (the unpadded path
               runs in every precision)
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import numpy as np

from . import Unavailable

VARIANTS = ["fp32", "fp32-unpadded", "bf16", "bf16-unpadded", "int8", "int8-unpadded"]
MISSING: dict[str, str] = {}

ROOT = pathlib.Path(__file__).resolve().parents[3]
CLI = ROOT / "build" / "optimum-cpp"


def available():
    if not CLI.exists():
        return f"{CLI} not built; run make build"
    try:
        import optimum_cpp  # noqa: F401
    except ImportError as e:  # pragma: no cover
        return f"optimum_cpp not importable ({e}); run make build"
    return None


def _stale(out: pathlib.Path, model_dir: str) -> bool:
    """The export is redone when the CLI (a rebuilt engine) or the source is newer than it."""
    stamp = out / "optimum_export.json"
    if not stamp.exists():
        return True
    t = stamp.stat().st_mtime
    newer = [p for p in [CLI, *pathlib.Path(model_dir).glob("*")] if p.is_file() and p.stat().st_mtime > t]
    return bool(newer)


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    dtype = variant.split("-")[0]
    out = work / f"optimum-cpp-{dtype}"
    if _stale(out, model_dir):
        shutil.rmtree(out, ignore_errors=True)
        cmd = [str(CLI), "export", "--model", model_dir, str(out)]
        if dtype != "fp32":
            cmd += ["--dtype", dtype]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
            msg = msg[-1] if msg else f"exit {r.returncode}"
            if dtype != "fp32":
                raise Unavailable(f"`optimum-cpp export --dtype {dtype}` failed: {msg}")
            raise RuntimeError(f"optimum-cpp export failed: {msg}")
    return str(out)


def imports() -> None:
    import optimum_cpp  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import optimum_cpp

    optimum_cpp.set_num_threads(threads)
    model = optimum_cpp.AutoModel.from_pretrained(artifact)
    kwargs = {"skip_padding": True} if variant.endswith("-unpadded") else {}

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)["last_hidden_state"]

    def probe() -> None:
        ids = np.array([[101, 2000, 102, 0]], dtype=np.int64)
        try:
            run(ids, (ids != 0).astype(np.int64))
        except TypeError as e:
            raise Unavailable(f"the model call does not take skip_padding yet ({e})") from None

    if kwargs:
        run.probe = probe
    return run
