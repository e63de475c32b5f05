"""Session-wide plumbing of the Python suites (pytest loads this before every suite's own conftest.py;
test modules never import it).

Per-suite cost: at the end of a run, one line per test directory with its test count, wall time and
CPU time (this process plus the child processes it waited for: CLIs, interpreters, servers), summed
over the setup, call and teardown of its tests (a session fixture counts where it is first set up).
On a loaded machine CPU time is the steadier figure. OPTIMUM_TEST_TIMES=0 turns the table off;
OPTIMUM_TEST_TIMES=<file> also writes it there as JSON."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent

# The process-wide settings some suites' conftest.py and helper modules make at import. When every
# suite ran in one pytest process (which imports them all while collecting) every suite ran with
# all of them; `make python-test` now runs each suite in its own process (tests/run_suites.py), so
# they are made here, for every suite, to keep each suite's environment what it was.
for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                      ("TOKENIZERS_PARALLELISM", "true")):
    os.environ.setdefault(_name, _value)
os.environ["RUST_BACKTRACE"] = "0"  # tests/tokenizers/conftest.py
if str(_TESTS.parent / "python") not in sys.path:
    sys.path.append(str(_TESTS.parent / "python"))  # appended: an explicit PYTHONPATH wins
try:
    import torch
except ImportError:  # a venv without torch (the suites that need it fail on their own)
    torch = None
if torch is not None:
    torch.set_num_threads(2)  # tests/parity, pipelines, surface, vision, sentence_transformers
_COST: dict = {}  # suite -> [tests, wall s, cpu s]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _suite(item) -> str:
    try:
        rel = Path(str(item.fspath)).resolve().relative_to(_TESTS)
    except ValueError:
        return "(outside tests/)"
    return rel.parts[0] if len(rel.parts) > 1 else "(tests/)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = time.perf_counter(), _cpu()
    yield
    cost = _COST.setdefault(_suite(item), [0, 0.0, 0.0])
    cost[0] += 1
    cost[1] += time.perf_counter() - wall
    cost[2] += _cpu() - cpu


def pytest_terminal_summary(terminalreporter):
    setting = os.environ.get("OPTIMUM_TEST_TIMES", "1")
    if setting == "0" or not _COST:
        return
    terminalreporter.write_sep("-", "time per suite (wall / CPU incl. children)")
    for suite, (n, wall, cpu) in sorted(_COST.items(), key=lambda kv: -kv[1][1]):
        terminalreporter.write_line(f"{suite:24s} {n:5d} tests {wall:8.1f} s wall {cpu:8.1f} s CPU")
    total = [sum(c[i] for c in _COST.values()) for i in range(3)]
    terminalreporter.write_line(f"{'total':24s} {total[0]:5d} tests {total[1]:8.1f} s wall {total[2]:8.1f} s CPU")
    if setting != "1":
        Path(setting).write_text(json.dumps({s: {"tests": c[0], "wall_s": round(c[1], 2), "cpu_s": round(c[2], 2)}
                                             for s, c in _COST.items()}, indent=1) + "\n")
