"""tests/run_suites.py (`make python-test`): every suite directory given runs in its own pytest
process, several at a time, and the run fails when any suite fails (a failing test, a collection
error, a suite with no tests), naming it; the suites' output comes back whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[1] / "run_suites.py"


def make_suite(root: Path, name: str, body: str) -> Path:
    d = root / name
    d.mkdir()
    (d / f"test_{name}.py").write_text(body)
    return d


def run(*args, cwd):
    return subprocess.run([sys.executable, str(RUNNER), *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={"PATH": "/usr/bin:/bin", "OPTIMUM_TEST_TIMES": "0"})


def test_all_suites_run_side_by_side(tmp_path):
    a = make_suite(tmp_path, "suite_a", "def test_one():\n    print('ran suite_a')\n\ndef test_two():\n    pass\n")
    b = make_suite(tmp_path, "suite_b", "import pytest\n\n@pytest.mark.parametrize('i', range(3))\n"
                                        "def test_p(i):\n    assert i < 3\n")
    proc = run("-j", "2", a, b, "--", "-p", "no:cacheprovider", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout and "3 passed" in proc.stdout, proc.stdout
    summary = proc.stdout.split("===== Python suites (2 at a time)")[1]
    assert f"ok   {a}" in summary and f"ok   {b}" in summary, summary


def test_a_failing_suite_fails_the_run_naming_it(tmp_path):
    good = make_suite(tmp_path, "good", "def test_ok():\n    pass\n")
    bad = make_suite(tmp_path, "bad", "def test_bad():\n    assert 1 + 1 == 3, 'arithmetic'\n")
    broken = make_suite(tmp_path, "broken", "import no_such_module_anywhere\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for jobs in ("2", "1"):
        proc = run("-j", jobs, good, bad, broken, empty, "--", "-p", "no:cacheprovider", cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout
        assert "arithmetic" in proc.stdout and "no_such_module_anywhere" in proc.stdout, proc.stdout
        failed = proc.stdout.split("FAILED suites:")[1].split()
        assert sorted(failed) == sorted(map(str, (bad, broken, empty))), proc.stdout
        assert f"ok   {good}" in proc.stdout


def test_one_process_mode_and_bad_arguments(tmp_path):
    a = make_suite(tmp_path, "one_a", "def test_a():\n    pass\n")
    b = make_suite(tmp_path, "one_b", "def test_b():\n    assert False\n")
    proc = run("-j", "0", a, b, "--", "-p", "no:cacheprovider", cwd=tmp_path)
    assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout, proc.stdout
    proc = run(tmp_path / "missing", cwd=tmp_path)
    assert proc.returncode == 2 and "missing" in proc.stderr, proc.stderr
