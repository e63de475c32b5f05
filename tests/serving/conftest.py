"""Fixtures of the serving tests: a model store with the real all-MiniLM-L6-v2
(the PyPI copy, exported natively) and tiny transformers models, and one
shared server over them (session scope: started once)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import server_util  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "load: a sustained-load test (minutes; its duration may come from an env var)")


def pytest_terminal_summary(terminalreporter):
    if server_util.SUMMARY:
        terminalreporter.write_sep("-", "serving: load figures")
        for line in server_util.SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> pathlib.Path:
    """model_store/: minilm (native export of the PyPI MiniLM, text-embedding),
    classifier (a tiny BERT text classifier folder), ner, qa."""
    root = tmp_path_factory.mktemp("serving")
    store = root / "model_store"
    store.mkdir()
    subprocess.run([str(server_util.CLI), "export", "--model", str(server_util.minilm_folder()),
                    str(store / "minilm")], check=True, capture_output=True)
    models = root / "models"
    for name, head, labels in [("classifier", "text-classification", ["NEG", "POS"]),
                               ("ner", "token-classification", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
                               ("qa", "question-answering", None)]:
        src = server_util.tiny_model(models, "bert", head, labels)
        shutil.copytree(src, store / name)
    return store


@pytest.fixture(scope="session")
def server(store, tmp_path_factory):
    """One server for the read-only tests: batch_size 8, 20 ms batch delay."""
    s = server_util.ServerProcess(tmp_path_factory.mktemp("server"), store,
                                  models=["minilm=minilm", "classifier=classifier", "ner=ner", "qa=qa"],
                                  properties={"default_workers_per_model": 1})
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}:\n{s.log_text()[-4000:]}"


@pytest.fixture(scope="session")
def oc():
    import optimum_cpp

    return optimum_cpp
