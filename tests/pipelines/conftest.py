"""Shared fixtures for the pipeline tests: the package under test, the tiny
model zoo (session-scoped, built once), transformers' pipelines, and a deep
comparison that records the largest score difference per pipeline (printed
at the end of the run)."""

from __future__ import annotations

import math
import pathlib
import sys

import pytest
import torch

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))

torch.set_num_threads(2)

import pipe_zoo  # noqa: E402

ATOL = 1e-4
_MAX_DIFFS: dict[str, float] = {}
_COUNTS: dict[str, int] = {}


def record(task: str, diff: float) -> None:
    _MAX_DIFFS[task] = max(_MAX_DIFFS.get(task, 0.0), diff)
    _COUNTS[task] = _COUNTS.get(task, 0) + 1


def assert_same(expected, got, task: str, path: str = "result") -> float:
    """Same structure, same strings/ints, floats within ATOL; returns the max float diff."""
    if isinstance(expected, float) or (hasattr(expected, "dtype") and getattr(expected, "shape", None) == ()):
        expected = float(expected)
        assert isinstance(got, (int, float)), f"{path}: expected a number {expected}, got {got!r}"
        d = abs(expected - float(got))
        assert d <= ATOL or (math.isnan(expected) and math.isnan(got)), f"{path}: {expected} vs {got} (diff {d})"
        record(task, d)
        return d
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{path}: expected a dict, got {got!r}"
        assert set(expected) == set(got), f"{path}: keys {sorted(expected)} vs {sorted(got)}"
        return max([assert_same(expected[k], got[k], task, f"{path}[{k!r}]") for k in expected] + [0.0])
    if isinstance(expected, (list, tuple)):
        assert isinstance(got, list), f"{path}: expected a list, got {got!r}"
        assert len(expected) == len(got), f"{path}: length {len(expected)} vs {len(got)}: {expected!r} vs {got!r}"
        return max([assert_same(e, g, task, f"{path}[{i}]") for i, (e, g) in enumerate(zip(expected, got))] + [0.0])
    if hasattr(expected, "item"):
        expected = expected.item()
    assert expected == got, f"{path}: {expected!r} vs {got!r}"
    return 0.0


def pytest_terminal_summary(terminalreporter):
    if not _MAX_DIFFS:
        return
    terminalreporter.write_sep("-", "pipelines: max |score diff| vs transformers")
    for task in sorted(_MAX_DIFFS):
        terminalreporter.write_line(f"{task:28s} {_MAX_DIFFS[task]:.3g}  ({_COUNTS[task]} values compared)")


@pytest.fixture(scope="session")
def oc():
    import optimum_cpp

    return optimum_cpp


@pytest.fixture(scope="session")
def zoo_root(tmp_path_factory):
    return tmp_path_factory.mktemp("pipeline_models")


class Zoo:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self._hf = {}
        self._oc = {}

    def folder(self, family, head, labels=None, **kw):
        return pipe_zoo.build(self.root, family, head, labels, **kw)

    def hf(self, task, folder):
        from transformers import pipeline

        key = (task, str(folder))
        if key not in self._hf:
            self._hf[key] = pipeline(task, model=str(folder))
        return self._hf[key]

    def oc(self, task, folder, **kwargs):
        import optimum_cpp

        key = (task, str(folder), repr(sorted(kwargs.items())))
        if key not in self._oc:
            self._oc[key] = optimum_cpp.pipeline(task, model=str(folder), **kwargs)
        return self._oc[key]


@pytest.fixture(scope="session")
def zoo(zoo_root):
    return Zoo(zoo_root)
