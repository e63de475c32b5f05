"""Shared fixtures for the pipeline tests: the package under test, the tiny
model zoo (session-scoped, built once), transformers' pipelines, and a deep
comparison that records the largest score difference per pipeline (printed
at the end of the run)."""

from __future__ import annotations

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

from pipe_check import _COUNTS, _MAX_DIFFS  # noqa: E402


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
