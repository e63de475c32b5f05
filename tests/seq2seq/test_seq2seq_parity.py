"""Encoder-decoder parity (t5 v1.0 and gated-gelu v1.1, bart, mbart, marian) against transformers,
run at test time on tiny random models saved with save_pretrained: encoder outputs and decoder
logits at every step within 1e-4, greedy and beam search token for token over 32 new tokens,
the generation-config processors (forced BOS/EOS, no_repeat_ngram_size, suppressed tokens), and
a padded batch equal to its items alone."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from optimum_cpp import _C

ATOL = 1e-4
VOCAB = 99

# Small enough to build in well under a second each; two layers so the layer
# loop and (t5) the shared relative bias of layer 0 are exercised.
COMMON_BART = dict(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                   decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=96)
COMMON_T5 = dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, relative_attention_max_distance=20, decoder_start_token_id=0,
                 eos_token_id=1, pad_token_id=0)


def _configs():
    T = transformers
    return {
        # t5 v1.0: relu MLP, tied head scaled by d_model**-0.5.
        "t5": T.T5Config(**COMMON_T5),
        # t5 v1.1 / flan: gated-gelu, tie_word_embeddings false (no output scaling).
        "t5_v1_1": T.T5Config(**COMMON_T5, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
        "bart": T.BartConfig(**COMMON_BART, activation_function="gelu"),
        "mbart": T.MBartConfig(**COMMON_BART, scale_embedding=True, activation_function="relu"),
        "marian": T.MarianConfig(**COMMON_BART, decoder_start_token_id=VOCAB - 1, pad_token_id=VOCAB - 1,
                                 eos_token_id=0, scale_embedding=True, activation_function="swish"),
    }


FAMILIES = list(_configs())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (transformers model, our model, folder), built once per module."""
    root = tmp_path_factory.mktemp("seq2seq")
    out = {}
    for i, (name, config) in enumerate(_configs().items()):
        torch.manual_seed(1234 + i)
        hf = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
        folder = root / name
        hf.save_pretrained(folder)
        hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
        out[name] = (hf, _C.Seq2SeqModel(str(folder)), str(folder))
    return out


def _inputs(pad):
    """A right-padded batch of three inputs of lengths 9, 5 and 1."""
    rng = np.random.default_rng(7)
    lengths = [9, 5, 1]
    ids = np.full((3, 9), pad, dtype=np.int64)
    mask = np.zeros((3, 9), dtype=np.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(3, VOCAB - 2, size=n)
        mask[b, :n] = 1
    return ids, mask, [list(map(int, ids[b, :n])) for b, n in enumerate(lengths)]


def _pad(hf):
    return hf.config.pad_token_id


@pytest.mark.parametrize("name", FAMILIES)
def test_encoder_outputs(models, name):
    hf, ours, _ = models[name]
    ids, mask, items = _inputs(_pad(hf))
    with torch.no_grad():
        ref = hf.get_encoder()(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state
    got = ours.encode(ids, mask)
    assert got.shape == tuple(ref.shape)
    err = np.abs((got - ref.numpy()) * mask[..., None]).max()
    assert err <= ATOL, f"{name}: encoder max error {err}"
    # Each item alone equals its row of the padded batch.
    for b, item in enumerate(items):
        alone = ours.encode(np.array([item], dtype=np.int64))
        assert np.abs(alone[0] - got[b, : len(item)]).max() <= 1e-5


@pytest.mark.parametrize("name", FAMILIES)
def test_decoder_logits_every_step(models, name):
    hf, ours, _ = models[name]
    ids, mask, _ = _inputs(_pad(hf))
    rng = np.random.default_rng(3)
    dec = rng.integers(2, VOCAB - 2, size=(3, 12)).astype(np.int64)
    dec[:, 0] = ours.decoder_start_token_id
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                 decoder_input_ids=torch.tensor(dec)).logits.numpy()
    stepwise = ours.decoder_logits(ids, mask, dec)
    prefill = ours.decoder_logits(ids, mask, dec, one_step=True)
    assert np.abs(stepwise - ref).max() <= ATOL, f"{name}: step-by-step logits"
    assert np.abs(prefill - ref).max() <= ATOL, f"{name}: one-step logits"


def _hf_generate(hf, item, **kwargs):
    with torch.no_grad():
        out = hf.generate(input_ids=torch.tensor([item]), attention_mask=torch.ones(1, len(item), dtype=torch.long),
                          do_sample=False, **kwargs)
    return out[0, 1:].tolist()  # drop decoder_start_token_id


CASES = {
    "greedy_full": dict(max_new_tokens=32, min_new_tokens=32),
    "greedy": dict(max_new_tokens=32),
    "beam": dict(max_new_tokens=32, num_beams=4, length_penalty=0.7),
    "beam_full_early": dict(max_new_tokens=32, min_new_tokens=32, num_beams=4, length_penalty=1.5,
                            early_stopping=True),
}
# transformers' beam search takes seconds per call on the shared CI cores: it
# is the oracle for the first input (and the full-length case for two
# families); the batch is checked against our items alone.
GENERATE_PARAMS = [(n, c) for n in FAMILIES for c in ("greedy_full", "greedy", "beam")] + [
    ("t5_v1_1", "beam_full_early"), ("bart", "beam_full_early")]


@pytest.mark.parametrize("name,case", GENERATE_PARAMS)
def test_generate_matches_transformers(models, name, case):
    hf, ours, folder = models[name]
    kwargs = CASES[case]
    _, _, items = _inputs(_pad(hf))
    got = _C.generate(ours, items, generation_config=folder, **kwargs)
    oracle_items = items if kwargs.get("num_beams", 1) == 1 else items[:1]
    for b, item in enumerate(oracle_items):
        expected = _hf_generate(hf, item, **kwargs)
        assert got[b][0]["tokens"] == expected, f"{name} {case} item {b}"
    for b, item in enumerate(items):
        # The batch equals the item alone.
        alone = _C.generate(ours, [item], generation_config=folder, **kwargs)
        assert alone[0][0]["tokens"] == got[b][0]["tokens"], f"{name} {case} item {b} alone"
    if "min_new_tokens" in kwargs:
        assert all(len(g[0]["tokens"]) == 32 for g in got)


PROCESSOR_CASES = {
    "no_repeat_ngram": dict(max_new_tokens=32, min_new_tokens=32, no_repeat_ngram_size=2),
    "forced_bos": dict(max_new_tokens=20, forced_bos_token_id=7),
    "suppress": dict(max_new_tokens=20, suppress_tokens=[10, 11, 12], begin_suppress_tokens=[13, 14]),
    "beam_no_repeat": dict(max_new_tokens=24, num_beams=4, no_repeat_ngram_size=3, num_return_sequences=2),
}


@pytest.mark.parametrize("name,case", [(n, c) for n in ("t5", "bart") for c in PROCESSOR_CASES
                                       if not (n == "t5" and c == "beam_no_repeat")])
def test_generation_processors(models, name, case):
    hf, ours, folder = models[name]
    kwargs = PROCESSOR_CASES[case]
    _, _, items = _inputs(_pad(hf))
    item = items[0]
    got = _C.generate(ours, [item], generation_config=folder, **kwargs)
    with torch.no_grad():
        out = hf.generate(input_ids=torch.tensor([item]), do_sample=False, **kwargs)
    n = kwargs.get("num_return_sequences", 1)
    pad = hf.generation_config.pad_token_id
    for r in range(n):
        expected = out[r, 1:].tolist()
        mine = got[0][r]["tokens"]
        assert mine == expected[: len(mine)] and all(t == pad for t in expected[len(mine):]), f"{name} {case} {r}"


def test_sampling_top_k_one_is_greedy(models):
    hf, ours, folder = models["bart"]
    _, _, items = _inputs(_pad(hf))
    sampled = _C.generate(ours, items, generation_config=folder, max_new_tokens=16, do_sample=True, top_k=1, seed=5)
    greedy = _C.generate(ours, items, generation_config=folder, max_new_tokens=16)
    assert [s[0]["tokens"] for s in sampled] == [g[0]["tokens"] for g in greedy]
    # Seeded sampling repeats itself.
    a = _C.generate(ours, items, generation_config=folder, max_new_tokens=16, do_sample=True, seed=9)
    b = _C.generate(ours, items, generation_config=folder, max_new_tokens=16, do_sample=True, seed=9)
    assert [s[0]["tokens"] for s in a] == [s[0]["tokens"] for s in b]


def test_decoder_start_token_id_option(models):
    hf, ours, folder = models["bart"]
    _, _, items = _inputs(_pad(hf))
    got = _C.generate(ours, items[:1], generation_config=folder, max_new_tokens=10, decoder_start_token_id=5)
    with torch.no_grad():
        out = hf.generate(input_ids=torch.tensor(items[:1]), do_sample=False, max_new_tokens=10,
                          decoder_start_token_id=5)
    assert out[0, 0].item() == 5
    assert got[0][0]["tokens"] == out[0, 1:].tolist()


def test_errors_name_the_value(models, tmp_path):
    _, ours, _ = models["t5"]
    with pytest.raises(ValueError, match="token id 500"):
        ours.encode(np.array([[1, 500]], dtype=np.int64))
    with pytest.raises(ValueError, match="attention_mask"):
        ours.encode(np.array([[1, 2]], dtype=np.int64), np.array([[1]], dtype=np.int64))
    (tmp_path / "config.json").write_text('{"model_type": "pegasus"}')
    with pytest.raises(ValueError, match="pegasus"):
        _C.Seq2SeqModel(str(tmp_path))
    _, bart, _ = models["bart"]
    with pytest.raises(ValueError, match="max_position_embeddings"):
        bart.encode(np.ones((1, 200), dtype=np.int64))


@pytest.mark.parametrize("name,key,value,match", [
    ("t5", "relative_attention_max_distance", 2, "relative_attention_max_distance"),
    ("t5", "num_heads", -1, "num_heads"),
    ("marian", "max_position_embeddings", 1 << 40, "max_position_embeddings"),
    ("bart", "d_model", 48, "d_model|shape"),
    ("bart", "activation_function", "not_an_act", "activation_function"),
])
def test_hostile_configs_fail_clearly(models, tmp_path, name, key, value, match):
    """A config that does not fit its weights, or asks for absurd sizes, is an error naming the field."""
    import json
    import shutil

    _, _, folder = models[name]
    shutil.copy(os.path.join(folder, "model.safetensors"), tmp_path / "model.safetensors")
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    config[key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _C.Seq2SeqModel(str(tmp_path))
