"""optimum_cpp.SentenceTransformer on the real all-MiniLM-L6-v2 against the
sentence-transformers library run on the same folder."""

import numpy as np
import pytest
import torch
from st_helpers import SENTENCES, compare, minilm_dir, st_minilm  # noqa: F401 (fixtures)
from sentence_transformers import util as st_util

import optimum_cpp as oc


@pytest.fixture(scope="module")
def ours(minilm_dir):
    return oc.SentenceTransformer(str(minilm_dir))


@pytest.fixture(scope="module")
def reference(st_minilm):
    return st_minilm.encode(SENTENCES)


def test_configuration_matches(ours, st_minilm):
    assert ours.module_names == ["Transformer", "Pooling", "Normalize"]
    assert ours.pooling_modes == ["mean"]
    assert ours.max_seq_length == st_minilm.max_seq_length == 256
    assert ours.get_sentence_embedding_dimension() == st_minilm.get_sentence_embedding_dimension() == 384
    assert ours.similarity_fn_name == st_minilm.similarity_fn_name


@pytest.mark.parametrize("batch_size", [32, 3, 1])
def test_embeddings_match(ours, reference, batch_size, record_property):
    got = ours.encode(SENTENCES, batch_size=batch_size)
    assert got.dtype == np.float32 and got.shape == reference.shape == (len(SENTENCES), 384)
    cos, diff = compare(got, reference)
    record_property("min_cosine", cos)
    record_property("max_abs_diff", diff)
    print(f"all-MiniLM-L6-v2 batch_size={batch_size}: min cosine {cos:.9f}, max abs diff {diff:.3g}")
    assert cos >= 0.99999 and diff <= 1e-5, (cos, diff)


def test_long_inputs_are_truncated_like_sentence_transformers(ours, st_minilm):
    # Both long sentences exceed 256 tokens; a longer tail must not change the embedding.
    long = "word " * 400
    longer = "word " * 800
    got = ours.encode([long, longer])
    np.testing.assert_array_equal(got[0], got[1])
    cos, diff = compare(got, st_minilm.encode([long, longer]))
    assert cos >= 0.99999 and diff <= 1e-5
    ours.max_seq_length = 16
    st_minilm.max_seq_length = 16
    try:
        cos, diff = compare(ours.encode(SENTENCES), st_minilm.encode(SENTENCES))
        assert cos >= 0.99999 and diff <= 1e-5
    finally:
        ours.max_seq_length = 256
        st_minilm.max_seq_length = 256


def test_single_string_and_options(ours, st_minilm):
    one = ours.encode("Paris is the capital of France.")
    ref = st_minilm.encode("Paris is the capital of France.")
    assert one.shape == ref.shape == (384,)
    assert compare(one[None], ref[None])[1] <= 1e-5
    rows = ours.encode(SENTENCES[:3], convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 3 and rows[0].shape == (384,)
    t = ours.encode(SENTENCES[:3], convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == (3, 384)
    norm = ours.encode(SENTENCES[:4], normalize_embeddings=True)
    assert compare(norm, st_minilm.encode(SENTENCES[:4], normalize_embeddings=True))[1] <= 1e-5


def test_empty_list(ours, st_minilm):
    got = ours.encode([])
    ref = st_minilm.encode([])
    assert got.shape == ref.shape and got.size == 0


def test_similarity_matches(ours, st_minilm, reference):
    emb = ours.encode(SENTENCES)
    got = ours.similarity(emb, emb)
    ref = st_minilm.similarity(reference, reference).numpy()
    assert got.shape == ref.shape == (len(SENTENCES), len(SENTENCES))
    assert np.abs(got - ref).max() <= 1e-5


@pytest.mark.parametrize("name,fn", [
    ("cos_sim", st_util.cos_sim), ("dot_score", st_util.dot_score),
    ("euclidean_sim", st_util.euclidean_sim), ("manhattan_sim", st_util.manhattan_sim),
])
def test_util_functions_match(name, fn, reference):
    rng = np.random.default_rng(0)
    a = (reference[:5] * 3.0).astype(np.float32)
    b = rng.standard_normal((7, 384)).astype(np.float32)
    got = getattr(oc.util, name)(a, b)
    ref = fn(a, b).numpy()
    assert got.shape == ref.shape == (5, 7)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    # A 1-D input counts as one row, as in sentence_transformers.util.
    np.testing.assert_allclose(getattr(oc.util, name)(a[0], b), fn(a[0], b).numpy(), rtol=1e-5, atol=1e-4)


def test_util_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="embedding sizes differ"):
        oc.util.cos_sim(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))


def test_plain_transformers_folder_gets_mean_pooling(minilm_dir, tmp_path, st_minilm):
    # Without modules.json, sentence-transformers adds mean pooling (no Normalize).
    import shutil

    from sentence_transformers import SentenceTransformer

    for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
              "special_tokens_map.json"):
        shutil.copy(minilm_dir / f, tmp_path / f)
    ref = SentenceTransformer(str(tmp_path), device="cpu").encode(SENTENCES)
    ours = oc.SentenceTransformer(str(tmp_path))
    assert ours.module_names == ["Transformer", "Pooling"]
    cos, diff = compare(ours.encode(SENTENCES), ref)
    assert cos >= 0.99999 and diff <= 1e-4
