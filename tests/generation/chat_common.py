"""Shared fixtures of the generation tests.

* puts python/ (where the built _C extension lands) on sys.path;
* ``oc``: the optimum_cpp._C module (an import failure errors every test using it);
* ``models_dir``: <repo root>/.models, falling back to /work/main/.models
  (`make setup` fetches the two real GGUF models there); a missing model fails.

References always come from transformers / jinja2 in this process.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

TEMPLATES = HERE / "templates"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_GGUF = "gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="session")
def oc():
    from optimum_cpp import _C

    return _C


@pytest.fixture(scope="session")
def models_dir() -> pathlib.Path:
    for d in (ROOT / ".models", pathlib.Path("/work/main/.models")):
        if (d / SMOLLM2_GGUF).is_file() and (d / GEMMA3_GGUF).is_file():
            return d
    pytest.fail(f"the GGUF models are missing from {ROOT / '.models'}: run `make setup`")
