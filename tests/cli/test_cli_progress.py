"""Progress of `optimum-cpp` on stderr (subprocesses on build/optimum-cpp):
plain lines when stderr is a pipe, a bar redrawn in place on a terminal (a
pseudo-terminal from Python's pty module), nothing but results and errors
with --quiet, step timings with --verbose; the exported folder and results
are the same in every mode and match transformers / sentence-transformers."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cli_testlib import cli, cli_on_tty, minilm_dir, tiny_classifier  # noqa: E402


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> pathlib.Path:
    return tiny_classifier(tmp_path_factory.mktemp("progress") / "tiny-classifier")


def export_meta(folder: pathlib.Path) -> dict:
    return json.loads((folder / "optimum_export.json").read_text())


def test_plain_lines_when_stderr_is_not_a_terminal(classifier, tmp_path):
    r = cli("export", "-m", classifier, tmp_path / "out", "--dtype", "int8")
    lines = r.stderr.splitlines()
    assert "\r" not in r.stderr and "\033[" not in r.stderr, r.stderr
    # One line per step as it starts: export, load, accuracy guard, write, validation.
    for step in ("export:", "  load:", "  accuracy guard:", "  write:", "  validation"):
        assert any(line.startswith(step) for line in lines), (step, r.stderr)
    assert any(line.startswith("exported bert (text-classification)") for line in lines), r.stderr
    assert not any("done in" in line for line in lines), r.stderr  # timings are for --verbose
    assert export_meta(tmp_path / "out")["validation"]["passed"] is True


def test_quiet_prints_nothing_but_results_and_verbose_prints_timings(classifier, tmp_path):
    quiet = cli("export", "-m", classifier, tmp_path / "quiet", "--quiet")
    assert quiet.stderr == "" and quiet.stdout == ""
    verbose = cli("--verbose", "export", "-m", classifier, tmp_path / "verbose")
    for step in ("load", "write", "validation", "export"):
        assert any(line.strip().startswith(step) and "done in" in line for line in verbose.stderr.splitlines()), (
            step, verbose.stderr)
    assert export_meta(tmp_path / "quiet")["validation"] == export_meta(tmp_path / "verbose")["validation"]
    # --quiet on a command with results: the results only.
    sentences = ["A man is eating food.", "A man is riding a horse."]
    q = cli("embed", "--model", minilm_dir(), *sentences, "-q")
    assert q.stderr == ""
    assert len(q.stdout.splitlines()) == 2
    both = cli("tasks", "--quiet", "--verbose", check=False)
    assert both.returncode != 0 and "--quiet and --verbose" in both.stderr


def test_a_bar_redrawn_in_place_on_a_terminal(classifier, tmp_path):
    rc, out, tty = cli_on_tty("export", "-m", classifier, tmp_path / "tty", "--dtype", "int8")
    assert rc == 0, tty
    assert "\r" in tty and "\033[K" in tty, tty
    assert "export > validation |" in tty and "| 100% (4/4)" in tty, tty  # the innermost step's bar
    assert "exported bert (text-classification)" in tty
    assert out == ""
    assert export_meta(tmp_path / "tty")["validation"]["passed"] is True
    rc, out, tty = cli_on_tty("export", "-m", classifier, tmp_path / "tty-quiet", "--quiet")
    assert rc == 0 and tty == "" and out == ""


def test_run_progress_over_inputs_and_results_match_transformers(classifier, tmp_path):
    import transformers as T
    texts = [f"sentence number {i} is here" for i in range(5)]
    rc, out, tty = cli_on_tty("run", "--model", classifier, "--task", "text-classification", *texts)
    assert rc == 0, tty
    assert "run |" in tty and "(5/5)" in tty, tty
    ref = T.pipeline("text-classification", model=str(classifier))
    # One result per input; the CLI prints each input's result as transformers gives it for one text.
    got = [json.loads(line) for line in out.splitlines()]
    want = [ref(t) for t in texts]
    assert all(isinstance(g, list) and len(g) == 1 for g in got), got
    got, want = [g[0] for g in got], [w[0] for w in want]
    assert [g["label"] for g in got] == [w["label"] for w in want]
    np.testing.assert_allclose([g["score"] for g in got], [w["score"] for w in want], atol=1e-5)
    plain = cli("run", "--model", classifier, "--task", "text-classification", *texts)
    assert [json.loads(line)[0] for line in plain.stdout.splitlines()] == got
    assert "run: text-classification (5 steps)" in plain.stderr, plain.stderr
    assert cli("run", "--model", classifier, "--task", "text-classification", "--no-progress", *texts,
               ).stderr.count("run") == 0


def test_archive_progress_and_the_archive_checks(classifier, tmp_path):
    cli("export", "-m", classifier, tmp_path / "exported", "-q")
    r = cli("archive", "--model-name", "tiny", "--model", tmp_path / "exported", "--export-path", tmp_path / "store",
            "--verbose")
    assert r.stdout.strip() == str(tmp_path / "store" / "tiny.mar")
    lines = r.stderr.splitlines()
    assert any(line.startswith("archive: ") and line.endswith("B)") for line in lines), r.stderr
    assert any(line.startswith("archive ") and "done in" in line for line in lines), r.stderr
    check = json.loads(cli("archive", "--check", tmp_path / "store" / "tiny.mar", "--extract-to", tmp_path / "x").stdout)
    assert check["manifest"]["model"]["modelName"] == "tiny"
    rc, _, tty = cli_on_tty("archive", "--model-name", "tiny2", "--model", tmp_path / "exported", "--export-path",
                            tmp_path / "store", "--archive-format", "tgz")
    assert rc == 0 and "\rarchive |" in tty, tty
