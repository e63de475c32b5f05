"""Fixtures of the GGUF tokenizer tests: the two real GGUF models, their
metadata in the JSON shape io::GgufFile::metadata() gives, transformers'
tokenizer loaded with `gguf_file=` (the oracle) and ours converted in C++,
both from that metadata and straight from the file (the C++ GGUF reader).

Everything expensive (gemma-3's 262k vocabulary) is built once per session.
A missing model file fails the tests; it never skips.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = "gemma-3-270m-q4_k_m.gguf"


def models_dir() -> pathlib.Path:
    """<repo>/.models, else the main checkout's (worktrees share it)."""
    for d in (ROOT / ".models", pathlib.Path("/work/main/.models")):
        if (d / SMOLLM2).is_file() and (d / GEMMA3).is_file():
            return d
    raise FileNotFoundError(f"{SMOLLM2} and {GEMMA3} not found under {ROOT / '.models'}; run `make setup`")


class _Everything:
    """Asks transformers' GGUF reader for every string array in full."""

    def __contains__(self, key) -> bool:
        return True


def _plain(value):
    """A metadata value as JSON: numpy scalars/arrays become Python ones."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def metadata_of(path: pathlib.Path) -> dict:
    """Every key/value of the file as JSON-ready Python values, read by the
    reader transformers itself uses (the `gguf` package's GGUFReader takes a
    minute on gemma-3's vocabulary; test_metadata_readers_agree checks both
    readers agree on the smaller file)."""
    from transformers.integrations.gguf.reader import read_gguf_metadata

    metadata, _ = read_gguf_metadata(str(path), _Everything())
    return {k: _plain(v) for k, v in metadata.items()}


def metadata_via_gguf_package(path: pathlib.Path) -> dict:
    """The same, read with gguf.GGUFReader."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        out[key] = _plain(field.contents())
    return out


@pytest.fixture(scope="session")
def oc():
    import optimum_cpp._C as c

    return c


class Model:
    """One GGUF file seen by both sides."""

    def __init__(self, oc, name: str):
        # transformers' AutoTokenizer.from_pretrained(dir, gguf_file=name), converted once and cached.
        sys.path.insert(0, str(ROOT / "tests" / "refcache"))
        import gguf_reference

        self.name = name
        self.path = models_dir() / name
        self.metadata = metadata_of(self.path)
        self.metadata_json = json.dumps(self.metadata)
        self.hf = gguf_reference.load_tokenizer(self.path)
        # Two routes to the C++ tokenizer: metadata read in Python (the oracle's
        # reader) and the whole file read by the C++ GGUF reader.
        self.cpp = oc.tokenizer_from_gguf_metadata(self.metadata_json, name)
        self.cpp_file = oc.tokenizer_from_gguf_file(str(self.path))
        self.cpp_json = json.loads(oc.gguf_tokenizer_json(self.metadata_json, name))
        self.cpp_config = oc.gguf_tokenizer_config(self.metadata_json, name)


_MODELS: dict[str, Model] = {}


@pytest.fixture(scope="session", params=[SMOLLM2, GEMMA3], ids=["smollm2", "gemma3"])
def model(request, oc) -> Model:
    if request.param not in _MODELS:
        _MODELS[request.param] = Model(oc, request.param)
    return _MODELS[request.param]
