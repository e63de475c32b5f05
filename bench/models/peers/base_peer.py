"""optimum-cpp from a second checkout, timed interleaved with `ours` in the same run: an A/B of
two builds on one (possibly loaded) machine. OPTIMUM_BENCH_BASE names that checkout's root, which
holds build/optimum-cpp and python/optimum_cpp (with its _C extension) built from the base commit.
Variants and calls are ours' (ours_peer.py); only the CLI that exports and the package that loads
differ. Split the result with --split-base to compare the two builds with compare.py.
"""

from __future__ import annotations

import os
import pathlib
import sys

from . import Unavailable  # noqa: F401  (re-raised from ours_peer)
from . import ours_peer

VARIANTS = list(ours_peer.VARIANTS)
MISSING: dict[str, str] = {}


def _root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("OPTIMUM_BENCH_BASE", ""))


def _use_base() -> None:
    """Point ours_peer at the base checkout: its CLI, and its package first on sys.path."""
    root = _root()
    ours_peer.CLI = root / "build" / "optimum-cpp"
    package = str(root / "python")
    if package not in sys.path:
        sys.path.insert(0, package)


def available():
    if not os.environ.get("OPTIMUM_BENCH_BASE"):
        return "OPTIMUM_BENCH_BASE (the root of a second checkout, built) is not set"
    root = _root()
    if not (root / "build" / "optimum-cpp").exists():
        return f"{root}/build/optimum-cpp not built"
    if not list((root / "python" / "optimum_cpp").glob("_C*.so")):
        return f"{root}/python/optimum_cpp has no _C extension"
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    _use_base()
    return ours_peer.prepare(model_dir, work / "base", variant)


def imports() -> None:
    _use_base()
    import optimum_cpp

    if not str(pathlib.Path(optimum_cpp.__file__).resolve()).startswith(str(_root().resolve())):
        raise RuntimeError(f"base peer imported {optimum_cpp.__file__}, not the base checkout's package")


def load(artifact: str, variant: str, threads: int):
    imports()
    return ours_peer.load(artifact, variant, threads)
