"""optimum_cpp.SentenceTransformer against sentence-transformers on the real
all-MiniLM-L6-v2: encode's precision (quantized with the same semantics as
quantize_embeddings), output_value, show_progress_bar, convert_to_tensor /
convert_to_numpy, normalize_embeddings; save() loads back in both libraries;
tokenize(), similarity(), similarity_pairwise(); device="cuda" refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optimum_cpp as oc
from optimum_cpp.sentence_transformer import quantize_embeddings

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "hi",
    "Ünïcödé àccents, 中文字符 and emoji 🙂 mixed in.",
    "Paris is the capital of France.",
    "What is the capital of France?",
    "word " * 80,  # the longest: sorted first
    "Sentence embeddings map text to dense vectors; similar meanings land close together.",
]
ATOL = 2e-5


@pytest.fixture(scope="module")
def models(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu"), oc.SentenceTransformer(str(minilm_dir))


def test_quantize_embeddings_equals_sentence_transformers():
    from sentence_transformers.quantization import quantize_embeddings as st_quantize

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((37, 20)).astype(np.float32)
    emb[:, 3] = 0.25  # a constant dimension: step 0 -> 1
    calib = rng.standard_normal((100, 20)).astype(np.float32)
    for precision in ("float32", "int8", "uint8", "binary", "ubinary"):
        want = st_quantize(emb, precision)
        got = quantize_embeddings(emb, precision)
        assert got.dtype == want.dtype and np.array_equal(got, want), precision
        want = st_quantize(emb, precision, calibration_embeddings=calib)
        assert np.array_equal(quantize_embeddings(emb, precision, calibration_embeddings=calib), want)
        ranges = np.vstack([calib.min(0), calib.max(0)])
        assert np.array_equal(quantize_embeddings(emb, precision, ranges=ranges),
                              st_quantize(emb, precision, ranges=ranges))
    assert np.array_equal(quantize_embeddings(emb[1], "binary"), st_quantize(emb[1:2], "binary"))


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_encode_precision(models, precision):
    st, ours = models
    want = st.encode(SENTENCES, precision=precision)
    got = ours.encode(SENTENCES, precision=precision)
    assert got.dtype == want.dtype and got.shape == want.shape
    # Same semantics: our float embeddings quantized by sentence-transformers' own function.
    from sentence_transformers.quantization import quantize_embeddings as st_quantize

    assert np.array_equal(got, st_quantize(ours.encode(SENTENCES), precision))
    # Against sentence-transformers' floats: one bucket apart at most (float rounding at a bucket edge).
    if precision.endswith("int8"):
        assert np.abs(got.astype(np.int32) - want.astype(np.int32)).max() <= 1
        assert (got == want).mean() > 0.99
    else:
        assert (np.unpackbits(got.view(np.uint8)) != np.unpackbits(want.view(np.uint8))).sum() <= 2
    single = ours.encode(SENTENCES[0], precision=precision)
    assert np.array_equal(single, st.encode(SENTENCES[0], precision=precision))  # one row: min == max
    tensor = ours.encode(SENTENCES, precision=precision, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and np.array_equal(tensor.numpy(), got)


def test_encode_outputs(models):
    st, ours = models
    want = st.encode(SENTENCES, normalize_embeddings=True)
    got = ours.encode(SENTENCES, normalize_embeddings=True, show_progress_bar=True, batch_size=3)
    np.testing.assert_allclose(got, want, atol=ATOL)
    t = ours.encode(SENTENCES, convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and t.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(t.numpy(), st.encode(SENTENCES, convert_to_tensor=True).numpy(), atol=ATOL)
    rows = ours.encode(SENTENCES, convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == len(SENTENCES)

    want_tokens = st.encode(SENTENCES, output_value="token_embeddings")
    got_tokens = ours.encode(SENTENCES, output_value="token_embeddings", batch_size=3)
    assert len(got_tokens) == len(want_tokens)
    for w, g in zip(want_tokens, got_tokens):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4)
    assert isinstance(ours.encode(SENTENCES[:2], output_value="token_embeddings", convert_to_tensor=True)[0],
                      torch.Tensor)
    long = ["word " * 300]  # truncated to max_seq_length
    np.testing.assert_allclose(ours.encode(long, output_value="token_embeddings")[0],
                               st.encode(long, output_value="token_embeddings")[0].numpy(), atol=1e-4)
    single = ours.encode(SENTENCES[1], output_value="token_embeddings")
    np.testing.assert_allclose(single, st.encode(SENTENCES[1], output_value="token_embeddings").numpy(), atol=1e-4)

    # batch_size=4: sentence-transformers indexes its "modality" string by item (IndexError beyond 4).
    want_all = st.encode(SENTENCES, output_value=None, batch_size=4)
    got_all = ours.encode(SENTENCES, output_value=None)
    for w, g in zip(want_all, got_all):
        n = len(g["input_ids"])  # ours are unpadded; sentence-transformers' are padded to their batch
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            assert g[key].tolist() == w[key][:n].tolist(), key
        assert w["attention_mask"][n:].sum() == 0
        np.testing.assert_allclose(g["token_embeddings"], w["token_embeddings"][:n].numpy(), atol=1e-4)
        np.testing.assert_allclose(g["sentence_embedding"], w["sentence_embedding"].numpy(), atol=ATOL)


def test_tokenize_similarity_pairwise(models):
    st, ours = models
    want = st.tokenize(SENTENCES)
    got = ours.tokenize(SENTENCES)
    assert [k for k in want if k != "modality"] == list(got)
    for key in got:
        assert isinstance(got[key], torch.Tensor) and torch.equal(got[key], want[key]), key
    a, b = st.encode(SENTENCES[:4]), st.encode(SENTENCES[4:])
    for fn in ("cosine", "dot", "euclidean", "manhattan"):
        st.similarity_fn_name = fn
        ours.similarity_fn_name = fn
        np.testing.assert_allclose(ours.similarity_pairwise(a, b), st.similarity_pairwise(a, b).numpy(), atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(ours.similarity(a, b), st.similarity(a, b).numpy(), atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(ours.similarity_pairwise(torch.from_numpy(a), b),
                                   st.similarity_pairwise(a, b).numpy(), atol=1e-5, rtol=1e-5)
    st.similarity_fn_name = "cosine"
    ours.similarity_fn_name = "cosine"


def test_save_loads_back_in_both_libraries(minilm_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    ours = oc.SentenceTransformer(str(minilm_dir))
    ours.max_seq_length = 64
    ours.similarity_fn_name = "dot"
    ours.save(tmp_path / "saved")
    back_st = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    back_ours = oc.SentenceTransformer(str(tmp_path / "saved"))
    assert back_st.max_seq_length == 64 == back_ours.max_seq_length
    assert back_st.similarity_fn_name == "dot" == back_ours.similarity_fn_name
    np.testing.assert_allclose(back_ours.encode(SENTENCES), back_st.encode(SENTENCES), atol=ATOL)
    np.testing.assert_allclose(back_ours.encode(SENTENCES), ours.encode(SENTENCES), atol=1e-6)


def test_cuda_is_refused(minilm_dir, models):
    _, ours = models
    for device in ("cuda", "cuda:0", 0, "mps"):
        with pytest.raises(ValueError, match="CPU"):
            oc.SentenceTransformer(str(minilm_dir), device=device)
        with pytest.raises(ValueError, match="CPU"):
            ours.encode(SENTENCES[:1], device=device)
    assert ours.encode("hi", device="cpu").shape == (384,)
    with pytest.raises(ValueError, match="output_value"):
        ours.encode("hi", output_value="pooler_output")
    with pytest.raises(ValueError, match="Precision"):
        ours.encode("hi", precision="float16")
