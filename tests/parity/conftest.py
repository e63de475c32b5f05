"""Shared plumbing for the optimum-cpp <-> transformers fp32 parity suite.

* puts the in-tree package (python/, where the built _C extension lands) on
  sys.path (appended: an explicit PYTHONPATH wins);
* limits torch to 2 threads;
* ``optimum_cpp_module``: the package under test; if it cannot be imported
  every test that needs it errors (never skips);
* ``parity_results``: session-scoped collector the tests fill with the max
  abs diffs they actually measured; ``pytest_terminal_summary`` prints it as
  a model_type x head table at the end of the normal pytest output.

The model grid, the tiny random configs and the session-cached reference
models live in test_encoders.py (kept there so that nothing has to import
this conftest by module name).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
_PKG_DIR = ROOT / "python"
if _PKG_DIR.is_dir() and str(_PKG_DIR) not in sys.path:
    sys.path.append(str(_PKG_DIR))

torch.set_num_threads(2)

ATOL = 1e-4


# --------------------------------------------------------------------------
# Results collector + terminal table
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Measure:
    diff: float | None = None  # max abs diff actually measured; None: nothing measured
    where: str = ""  # output @ input shape of the worst diff
    status: str = "not run"


class ParityResults:
    """(model_type, head) -> {section: Measure}; extras: (model_type, head, check) -> Measure."""

    atol = ATOL

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Measure]] = {}
        self.extras: dict[tuple[str, str, str], Measure] = {}
        self.notes: dict[tuple[str, str], str] = {}

    def measure(self, model_type: str, head: str, section: str) -> Measure:
        return self.rows.setdefault((model_type, head), {}).setdefault(section, Measure())

    def extra(self, model_type: str, head: str, check: str) -> Measure:
        return self.extras.setdefault((model_type, head, check), Measure())

    def note(self, model_type: str, head: str, text: str) -> None:
        self.notes[(model_type, head)] = text


_RESULTS_KEY = pytest.StashKey[ParityResults]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS_KEY] = ParityResults()


def _fmt(m: Measure | None) -> str:
    if m is None or m.diff is None:
        return "-"
    if math.isnan(m.diff):
        return "nan/inf"
    return f"{m.diff:.2e}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    results = config.stash.get(_RESULTS_KEY, None)
    if results is None or (not results.rows and not results.extras):
        return
    tr = terminalreporter
    atol = results.atol
    tr.write_sep("=", f"optimum-cpp vs transformers fp32 parity (atol {atol:g}; measured values)")
    hdr = (
        f"{'model_type':<12} {'head':<19} {'max|diff| vs HF':>15}  {'worst output @ input shape':<34} "
        f"{'batch-vs-single':>15}  {'result':<10} config variant"
    )
    tr.write_line(hdr)
    tr.write_line("-" * len(hdr))
    overall = 0.0
    n_bad = 0
    for key, row in results.rows.items():  # insertion order == test order
        mt, head = key
        par = row.get("vs-transformers")
        bvs = row.get("batch-vs-single")
        bad = [m.status for m in (par, bvs) if m is not None and m.status != "ok"]
        n_bad += bool(bad)
        for m in (par, bvs):
            if m is not None and m.diff is not None:
                overall = float("nan") if math.isnan(m.diff) or math.isnan(overall) else max(overall, m.diff)
        result = "ok" if not bad else "; ".join(bad)
        tr.write_line(
            f"{mt:<12} {head:<19} {_fmt(par):>15}  {(par.where if par else ''):<34} "
            f"{_fmt(bvs):>15}  {result:<10} {results.notes.get(key, '')}"
        )
    if results.extras:
        tr.write_line("")
        hdr2 = f"{'model_type':<12} {'head':<19} {'extra check':<24} {'max|diff| vs HF':>15}  {'worst output @ input shape':<34} result"
        tr.write_line(hdr2)
        tr.write_line("-" * len(hdr2))
        for (mt, head, check), m in results.extras.items():
            n_bad += m.status != "ok"
            if m.diff is not None:
                overall = float("nan") if math.isnan(m.diff) or math.isnan(overall) else max(overall, m.diff)
            tr.write_line(f"{mt:<12} {head:<19} {check:<24} {_fmt(m):>15}  {m.where:<34} {m.status}")
    tr.write_line("")
    tr.write_line(
        f"largest measured max|diff|: {overall:.2e} (atol {atol:g}); rows not ok: {n_bad}"
    )


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def parity_results(pytestconfig) -> ParityResults:
    return pytestconfig.stash[_RESULTS_KEY]


@pytest.fixture(scope="session")
def optimum_cpp_module():
    """The package under test.  Not importable -> the tests error (never skip)."""
    try:
        import optimum_cpp
    except Exception as e:
        raise AssertionError(
            f"cannot import optimum_cpp ({type(e).__name__}: {e}); build the engine and run with "
            f"PYTHONPATH={_PKG_DIR}"
        ) from e
    if not hasattr(optimum_cpp, "AutoModel"):
        where = getattr(optimum_cpp, "__file__", None) or list(getattr(optimum_cpp, "__path__", []))
        raise AssertionError(f"optimum_cpp imported from {where} has no AutoModel (engine not built?)")
    return optimum_cpp
