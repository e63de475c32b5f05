"""Shared fixtures of the tokenizer parity suite (optimum_cpp vs `tokenizers` 0.23.3).

* puts python/ (where the built _C extension lands) and this folder on sys.path;
* ``oc``: the optimum_cpp module; if it cannot be imported every test using it
  errors with the import error (never skips);
* ``corpus`` / ``pairs``: the deterministic corpus of corpus.py;
* ``zoo``: every tokenizer compared (tok_zoo.py), built lazily in a temp folder.

Goldens always come from `tokenizers` / `transformers` in this process, never
from files stored in the repository.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "python"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p)) if p == HERE else sys.path.append(str(p))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ["RUST_BACKTRACE"] = "0"  # tokenizers panics on some truncation settings; keep the log short
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import corpus as corpus_mod  # noqa: E402
import tok_zoo  # noqa: E402

N_PAIRS = 2000


@pytest.fixture(scope="session")
def oc():
    try:
        import optimum_cpp
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"optimum_cpp cannot be imported (build it: make build): {type(e).__name__}: {e}", pytrace=False)
    return optimum_cpp


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    c = corpus_mod.build_corpus()
    assert len(c) >= 10_000 and c[0] == ""
    return c


@pytest.fixture(scope="session")
def pairs(corpus) -> list[tuple[str, str]]:
    return corpus_mod.build_pairs(corpus, N_PAIRS)


@pytest.fixture(scope="session")
def zoo(tmp_path_factory, corpus, oc) -> tok_zoo.Zoo:
    return tok_zoo.Zoo(tmp_path_factory.mktemp("tokenizer_zoo"), corpus)


def pytest_configure(config):
    # The Report messages carry the diagnosis; long tracebacks would print the
    # 10,000-string corpus fixture. Only when this suite runs on its own.
    args = [str(a) for a in config.args]
    if config.option.tbstyle == "auto" and args and all("tests/tokenizers" in a for a in args):
        config.option.tbstyle = "short"
