"""Tiny random sentence-transformers models built at test time from
sentence-transformers' own modules (every pooling mode, Dense with
activations, Normalize, prompts, similarity functions), saved, loaded by
optimum_cpp.SentenceTransformer and compared with the in-memory original."""

import json

import numpy as np
import pytest
import torch
from st_helpers import SENTENCES, build_st, compare, minilm_dir, tiny_base  # noqa: F401 (fixtures)

import optimum_cpp as oc

MODES = ["cls", "mean", "max", "lasttoken", "weightedmean", "mean_sqrt_len_tokens", ("cls", "mean", "max")]


def check(st, folder, sentences=SENTENCES, tol=1e-5, batch_size=4, **encode_kwargs):
    ref = st.encode(sentences, **encode_kwargs)
    ours = oc.SentenceTransformer(str(folder))
    got = ours.encode(sentences, batch_size=batch_size, **encode_kwargs)
    cos, diff = compare(got, ref)
    assert cos >= 0.99999 and diff <= tol, (cos, diff)
    return ours, cos, diff


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m if isinstance(m, str) else "+".join(m))
@pytest.mark.parametrize("head", ["plain", "dense_tanh_normalize", "normalize"])
def test_pooling_modes(tiny_base, tmp_path, mode, head):
    dense = [(16, torch.nn.Tanh(), True)] if head == "dense_tanh_normalize" else None
    st = build_st(tiny_base, tmp_path / "st", pooling_mode=mode, dense=dense, normalize=head != "plain")
    ours, cos, diff = check(st, tmp_path / "st")
    print(f"tiny {mode} {head}: min cosine {cos:.9f} max abs diff {diff:.3g}")
    modes = [mode] if isinstance(mode, str) else list(mode)
    assert ours.pooling_modes == modes
    assert ours.get_sentence_embedding_dimension() == st.get_sentence_embedding_dimension()
    expected = ["Transformer", "Pooling"] + (["Dense"] if dense else []) + (["Normalize"] if head != "plain" else [])
    assert ours.module_names == expected
    assert ours.max_seq_length == st.max_seq_length == 24


@pytest.mark.parametrize("activation", [torch.nn.Identity(), torch.nn.ReLU(), torch.nn.Sigmoid(), torch.nn.GELU()],
                         ids=lambda a: type(a).__name__)
def test_dense_activations_two_layers_no_bias(tiny_base, tmp_path, activation):
    st = build_st(tiny_base, tmp_path / "st", pooling_mode="mean",
                  dense=[(24, activation, False), (8, torch.nn.Tanh(), True)])
    check(st, tmp_path / "st")


def test_dense_weights_from_pytorch_model_bin(tiny_base, tmp_path):
    st = build_st(tiny_base, tmp_path / "st", pooling_mode="max", dense=[(12, torch.nn.Tanh(), True)],
                  normalize=True, safe_serialization=False)
    assert (tmp_path / "st" / "2_Dense" / "pytorch_model.bin").is_file()
    assert not (tmp_path / "st" / "2_Dense" / "model.safetensors").exists()
    check(st, tmp_path / "st")


def test_legacy_pooling_flags(tiny_base, tmp_path, minilm_dir):
    # Older configs spell the modes as pooling_mode_*_tokens flags, concatenated in a fixed order.
    from sentence_transformers import SentenceTransformer

    build_st(tiny_base, tmp_path / "st", pooling_mode="mean")
    (tmp_path / "st" / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": True, "pooling_mode_mean_sqrt_len_tokens": False,
    }))
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    ours, _, _ = check(st, tmp_path / "st")
    assert ours.pooling_modes == ["max", "mean"]


@pytest.mark.parametrize("with_dense", [False, True], ids=["plain", "dense"])
def test_legacy_pooling_every_flag(tiny_base, tmp_path, with_dense):
    # Every pooling_mode_* flag set: sentence-transformers concatenates the six modes in its legacy order
    # (cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken), 6 x 32 = 192 wide.
    from sentence_transformers import SentenceTransformer

    dense = [(16, torch.nn.Tanh(), True)] if with_dense else None
    build_st(tiny_base, tmp_path / "st", pooling_mode=("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean",
                                                      "lasttoken"), dense=dense)
    (tmp_path / "st" / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": True, "pooling_mode_mean_sqrt_len_tokens": True,
        "pooling_mode_weightedmean_tokens": True, "pooling_mode_lasttoken": True, "include_prompt": True,
    }))
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert st.get_embedding_dimension() == (16 if with_dense else 192)
    ours, _, _ = check(st, tmp_path / "st")
    assert ours.pooling_modes == ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
    assert ours.get_sentence_embedding_dimension() == st.get_embedding_dimension()


@pytest.mark.parametrize("flags, modes", [
    (dict.fromkeys(["cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                    "lasttoken"], 1), ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]),
    ({"cls_token": "yes", "max_tokens": 0, "mean_tokens": None, "lasttoken": [1]}, ["cls", "lasttoken"]),
    ({"cls_token": "", "max_tokens": 0.0, "mean_tokens": {}, "weightedmean_tokens": 2.5}, ["weightedmean"]),
], ids=["ints", "mixed", "falsy"])
def test_legacy_pooling_flags_are_python_truthy(tiny_base, tmp_path, flags, modes):
    # sentence-transformers reads each flag as `if kwargs.get(flag, False)`: 1 or "yes" set one too. Before,
    # only JSON true did, so six 1 flags gave mean pooling (32 wide) and the 192-wide Dense after it was refused.
    from sentence_transformers import SentenceTransformer

    dense = [(16, torch.nn.Tanh(), True)]
    build_st(tiny_base, tmp_path / "st", pooling_mode=tuple(modes) if len(modes) > 1 else modes[0], dense=dense)
    (tmp_path / "st" / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, **{f"pooling_mode_{k}": v for k, v in flags.items()}}))
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    expected = (st[1].pooling_mode,) if isinstance(st[1].pooling_mode, str) else st[1].pooling_mode
    assert list(expected) == modes
    ours, _, _ = check(st, tmp_path / "st")
    assert ours.pooling_modes == modes


def test_prompts_and_include_prompt(tiny_base, tmp_path):
    prompts = {"query": "query: ", "document": "passage: "}
    for include_prompt in (True, False):
        folder = tmp_path / f"st-{include_prompt}"
        st = build_st(tiny_base, folder, pooling_mode="mean", include_prompt=include_prompt, prompts=prompts,
                      default_prompt_name="query")
        ours, _, _ = check(st, folder)  # the default prompt applies
        assert ours.prompts["query"] == "query: " and ours.default_prompt_name == "query"
        for kwargs in ({"prompt_name": "document"}, {"prompt": "Represent this sentence: "}, {"prompt": ""}):
            ref = st.encode(SENTENCES, **kwargs)
            cos, diff = compare(ours.encode(SENTENCES, **kwargs), ref)
            assert cos >= 0.99999 and diff <= 1e-5, (include_prompt, kwargs, diff)
        with pytest.raises(ValueError, match="nope"):
            ours.encode(SENTENCES, prompt_name="nope")


@pytest.mark.parametrize("fn", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_fn_name(tiny_base, tmp_path, fn):
    st = build_st(tiny_base, tmp_path / "st", pooling_mode="mean", similarity_fn_name=fn)
    ours = oc.SentenceTransformer(str(tmp_path / "st"))
    assert ours.similarity_fn_name == fn
    a = ours.encode(SENTENCES[:5])
    b = ours.encode(SENTENCES[5:9])
    np.testing.assert_allclose(ours.similarity(a, b), st.similarity(a, b).numpy(), rtol=1e-5, atol=1e-5)


def test_do_lower_case(tiny_base, tmp_path, minilm_dir):
    # A cased tokenizer and an older sentence_bert_config.json asking for
    # do_lower_case: sentence-transformers puts a Lowercase normalizer first.
    import transformers as T
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    base = tmp_path / "cased"
    T.BertModel.from_pretrained(str(tiny_base)).save_pretrained(base)
    tok = json.loads((minilm_dir / "tokenizer.json").read_text())
    tok["normalizer"]["lowercase"] = False
    (base / "tokenizer.json").write_text(json.dumps(tok))
    tok_cfg = json.loads((minilm_dir / "tokenizer_config.json").read_text())
    tok_cfg["do_lower_case"] = False
    (base / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    cased = SentenceTransformer(modules=[Transformer(str(base), max_seq_length=24), Pooling(32)], device="cpu")
    cased.save(str(tmp_path / "st"))
    cfg_path = tmp_path / "st" / "sentence_bert_config.json"
    cfg_path.write_text(json.dumps({"max_seq_length": 24, "do_lower_case": True}))
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    sentences = ["HELLO World", "Paris IS the Capital", "ÄÖÜ straße"]
    ours, _, _ = check(st, tmp_path / "st", sentences=sentences)
    assert ours._native.do_lower_case
    # Without lowercasing the cased tokenizer gives other ids, so other embeddings.
    assert compare(ours.encode(sentences), cased.encode(sentences))[1] > 1e-3


def test_batching_order_and_single_items(tiny_base, tmp_path):
    st = build_st(tiny_base, tmp_path / "st", pooling_mode="weightedmean", dense=[(16, torch.nn.Tanh(), True)])
    ours = oc.SentenceTransformer(str(tmp_path / "st"))
    batch = ours.encode(SENTENCES, batch_size=5)
    singles = np.stack([ours.encode(s) for s in SENTENCES])
    assert compare(batch, singles)[1] <= 1e-5
    assert compare(batch, st.encode(SENTENCES, batch_size=5))[1] <= 1e-5
    assert ours.encode([]).shape == st.encode([]).shape


def test_encode_query_document_and_truncate_dim(tiny_base, tmp_path):
    prompts = {"query": "query: ", "passage": "passage: "}
    st = build_st(tiny_base, tmp_path / "st", pooling_mode="mean", include_prompt=False, prompts=prompts)
    ours = oc.SentenceTransformer(str(tmp_path / "st"))
    for method in ("encode_query", "encode_document"):
        cos, diff = compare(getattr(ours, method)(SENTENCES), getattr(st, method)(SENTENCES))
        assert cos >= 0.99999 and diff <= 1e-5, method
    for normalize in (False, True):
        ref = st.encode(SENTENCES, truncate_dim=8, normalize_embeddings=normalize)
        got = ours.encode(SENTENCES, truncate_dim=8, normalize_embeddings=normalize)
        assert got.shape == ref.shape == (len(SENTENCES), 8)
        assert compare(got, ref)[1] <= 1e-5
    from sentence_transformers import SentenceTransformer

    st8 = SentenceTransformer(str(tmp_path / "st"), device="cpu", truncate_dim=8)
    ours8 = oc.SentenceTransformer(str(tmp_path / "st"), truncate_dim=8)
    assert ours8.get_sentence_embedding_dimension() == st8.get_sentence_embedding_dimension() == 8
    assert compare(ours8.encode(SENTENCES), st8.encode(SENTENCES))[1] <= 1e-5


@pytest.mark.parametrize("mode", ["cls", "lasttoken", "weightedmean", "max"])
def test_left_padding(tiny_base, tmp_path, mode):
    # A tokenizer that pads on the left: pooling follows the mask, not the position.
    # BERT's positions count the padding, so the results depend on the batch
    # composition (in sentence-transformers too): one batch on both sides.
    from sentence_transformers import SentenceTransformer

    build_st(tiny_base, tmp_path / "st", pooling_mode=mode, include_prompt=False)
    cfg_path = tmp_path / "st" / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["padding_side"] = "left"
    cfg_path.write_text(json.dumps(cfg))
    st = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    assert st.tokenizer.padding_side == "left"
    check(st, tmp_path / "st", batch_size=32)
    check(st, tmp_path / "st", batch_size=32, prompt="query: ")


def test_transformer_in_a_subfolder(tiny_base, tmp_path):
    # Older saves keep the Transformer module in 0_Transformer/ (modules.json path).
    import shutil

    from sentence_transformers import SentenceTransformer

    build_st(tiny_base, tmp_path / "flat", pooling_mode="mean", dense=[(16, torch.nn.Tanh(), True)])
    old = tmp_path / "old"
    (old / "0_Transformer").mkdir(parents=True)
    for f in (tmp_path / "flat").iterdir():
        if f.is_dir() or f.name in ("modules.json", "config_sentence_transformers.json", "README.md"):
            (shutil.copytree if f.is_dir() else shutil.copy)(f, old / f.name)
        else:
            shutil.copy(f, old / "0_Transformer" / f.name)
    modules = json.loads((old / "modules.json").read_text())
    modules[0]["path"] = "0_Transformer"
    (old / "modules.json").write_text(json.dumps(modules))
    st = SentenceTransformer(str(old), device="cpu")
    ours, _, _ = check(st, old)
    assert ours.module_names == ["Transformer", "Pooling", "Dense"]
