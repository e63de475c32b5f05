"""Whisper on the native engine against transformers' WhisperForConditionalGeneration (a tiny random
checkpoint built at test time): encoder outputs, decoder logits at every step, greedy and beam search ids
(forced language / task, language detection, timestamps), batch = items alone, and the errors."""

import json
import os

import numpy as np
import pytest
import torch

import optimum_cpp
from optimum_cpp import _C

N_NEW = 32


def _signals():
    rng = np.random.default_rng(7)
    t = np.arange(16000 * 4) / 16000.0
    tone = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    chirp = 0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t)[: 16000 * 7 // 2]
    noise = 0.3 * rng.standard_normal(16000 * 9)
    return [tone.astype(np.float32), chirp.astype(np.float32), noise.astype(np.float32)]


@pytest.fixture(scope="module")
def setup(whisper_dir):
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    ref = WhisperForConditionalGeneration.from_pretrained(whisper_dir).eval()
    fe = WhisperFeatureExtractor.from_pretrained(whisper_dir)
    feats = fe(_signals(), sampling_rate=16000, return_tensors="np").input_features.astype(np.float32)
    ours = optimum_cpp.AutoModelForSpeechSeq2Seq.from_pretrained(whisper_dir)
    return ref, ours, feats


def _ref_generate(ref, feats, **kw):
    with torch.no_grad():
        out = ref.generate(torch.tensor(feats), max_new_tokens=N_NEW, **kw)
    if isinstance(out, dict):
        return {k: v.numpy() if hasattr(v, "numpy") else v for k, v in out.items()}
    return out.numpy()


def test_encoder_within_1e4(setup):
    ref, ours, feats = setup
    with torch.no_grad():
        expected = ref.model.encoder(torch.tensor(feats)).last_hidden_state.numpy()
    got = ours.encode(feats)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_decoder_logits_every_step_within_1e4(setup):
    ref, ours, feats = setup
    with torch.no_grad():
        seq = ref.generate(torch.tensor(feats), max_new_tokens=N_NEW, language="en", task="transcribe",
                           return_dict_in_generate=True).sequences
        expected = ref(input_features=torch.tensor(feats), decoder_input_ids=seq).logits.numpy()
    got = ours(input_features=feats, decoder_input_ids=seq.numpy()).logits
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


CASES = [
    dict(language="en", task="transcribe"),
    dict(language="fr", task="translate"),
    dict(language="german"),
    dict(),  # language detection
    dict(language="en", num_beams=3),
    dict(num_beams=4, length_penalty=0.5),
    dict(language="en", return_timestamps=True),
    dict(language="fr", return_timestamps=True, num_beams=3),
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "detect")
def test_generate_ids_equal_transformers(setup, kw):
    ref, ours, feats = setup
    expected = _ref_generate(ref, feats, **kw)
    got = ours.generate(feats, max_new_tokens=N_NEW, **kw)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kw", [dict(language="en", return_timestamps=True),
                                dict(language="en", return_timestamps=True, num_beams=2),
                                dict(language="de", task="transcribe")])
def test_single_call_sequences_with_prompt_equal_transformers(setup, kw):
    ref, ours, feats = setup
    expected = _ref_generate(ref, feats, return_dict_in_generate=True, force_unique_generate_call=True, **kw)
    got = ours.generate(feats, max_new_tokens=N_NEW, return_dict_in_generate=True, force_unique_generate_call=True,
                        **kw)
    np.testing.assert_array_equal(got["sequences"], expected["sequences"])


def test_generated_text_has_timestamps_and_text(setup):
    # The fixture must exercise both the timestamp rules and text tokens (else the parity above is weak).
    _, ours, feats = setup
    no_ts = ours.generation_config["no_timestamps_token_id"]
    got = ours.generate(feats, max_new_tokens=N_NEW, language="en", return_timestamps=True)
    assert (got > no_ts).any() and ((got < no_ts) & (got != ours.generation_config["pad_token_id"])).any()


@pytest.mark.parametrize("kw", [dict(language="en"), dict(num_beams=3), dict(language="en", return_timestamps=True)])
def test_batch_equals_items_alone(setup, kw):
    _, ours, feats = setup
    batch = ours.generate(feats, max_new_tokens=N_NEW, **kw)
    pad = ours.generation_config["pad_token_id"]
    for i in range(feats.shape[0]):
        alone = ours.generate(feats[i:i + 1], max_new_tokens=N_NEW, **kw)[0]
        row = batch[i]
        assert list(row[: len(alone)]) == list(alone)
        assert all(t == pad for t in row[len(alone):])


def test_errors_name_the_value(setup, whisper_dir, tmp_path):
    _, ours, feats = setup
    with pytest.raises(ValueError, match="klingon"):
        ours.generate(feats[:1], language="klingon")
    with pytest.raises(ValueError, match="<\\|ja\\|>"):
        ours.generate(feats[:1], language="ja")
    with pytest.raises(ValueError, match="summarize"):
        ours.generate(feats[:1], task="summarize")
    with pytest.raises(ValueError, match="num_mel_bins is 80"):
        ours.generate(feats[:1, :40])
    with pytest.raises(ValueError, match="long-form"):
        ours.generate(np.zeros((1, 80, 3002), np.float32))
    with pytest.raises(ValueError, match="max_target_positions"):
        ours.generate(feats[:1], max_new_tokens=1000, language="en")
    with pytest.raises(ValueError, match="input_ids"):
        ours._native.encode(np.zeros((1, 4), np.int64))
    # An English-only model refuses language / task, as transformers does.
    en = tmp_path / "en-only"
    en.mkdir()
    for name in os.listdir(whisper_dir):
        if os.path.isfile(os.path.join(whisper_dir, name)):
            os.symlink(os.path.join(whisper_dir, name), en / name)
    gen = json.load(open(os.path.join(whisper_dir, "generation_config.json")))
    gen["is_multilingual"] = False
    os.remove(en / "generation_config.json")
    (en / "generation_config.json").write_text(json.dumps(gen))
    with pytest.raises(ValueError, match="English-only"):
        optimum_cpp.AutoModelForSpeechSeq2Seq.from_pretrained(str(en)).generate(feats[:1], language="en")


def test_text_model_is_refused(tmp_path):
    from transformers import BartConfig, BartForConditionalGeneration

    BartForConditionalGeneration(BartConfig(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1,
                                            encoder_attention_heads=2, decoder_attention_heads=2,
                                            encoder_ffn_dim=16, decoder_ffn_dim=16,
                                            max_position_embeddings=32)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="model_type 'bart'"):
        optimum_cpp.AutoModelForSpeechSeq2Seq.from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="input_features"):
        _C.Seq2SeqModel(str(tmp_path)).encode_features(np.zeros((1, 80, 3000), np.float32))
