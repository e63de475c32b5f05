"""Comparison helpers of the pipeline tests: a deep comparison that records
the largest score difference per pipeline (conftest prints the table)."""

from __future__ import annotations

import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]

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
