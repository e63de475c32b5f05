"""Speech preprocessing against the reference libraries, run here:

- log-mel features of optimum_cpp.WhisperFeatureExtractor vs transformers' WhisperFeatureExtractor
  (saved with save_pretrained, 80 and 128 bins) on 20 synthetic signals, 1 s to 40 s, made at
  8 / 16 / 22.05 / 44.1 / 48 kHz and resampled to 16 kHz by optimum_cpp.resample (libsoxr HQ, the
  method of transformers' load_audio): both extractors get the same array, so only they are compared;
- batches with padding, attention masks, do_normalize, pad_to_multiple_of, left padding;
- our resampler vs scipy.signal.resample_poly on band-limited signals (stated tolerance below);
- WAV/FLAC files written by soundfile decoded equal to soundfile's read (mixed down as transformers'
  loader does), from the path and from bytes;
- hostile files refused with an error naming the file; the `features` CLI subcommand.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf
import transformers

import optimum_cpp as oc

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("OPTIMUM_BUILD_DIR", ROOT / "build")) / "optimum-cpp"
ATOL = 1e-4  # the tolerance on log-mel features


_SAVED = {}


def _saved_extractors(bins, tmp_path_factory):
    """(folder, transformers' extractor, ours) for a config saved by transformers' save_pretrained."""
    if bins not in _SAVED:
        folder = tmp_path_factory.mktemp(f"whisper_fe_{bins}")
        transformers.WhisperFeatureExtractor(feature_size=bins).save_pretrained(folder)
        _SAVED[bins] = (folder, transformers.WhisperFeatureExtractor.from_pretrained(folder),
                        oc.WhisperFeatureExtractor.from_pretrained(folder))
    return _SAVED[bins]


@pytest.fixture(scope="module", params=[80, 128], ids=["80bins", "128bins"])
def extractors(request, tmp_path_factory):
    return _saved_extractors(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def extractors80(tmp_path_factory):
    return _saved_extractors(80, tmp_path_factory)


def _signals():
    """20 (name, source rate, samples) synthetic signals, deterministic."""
    rng = np.random.default_rng(1234)
    out = []

    def t(rate, seconds):
        return np.arange(int(rate * seconds)) / rate

    def add(name, rate, x):
        out.append((name, rate, np.asarray(x, dtype=np.float32)))

    add("tone440_16k_1s", 16000, 0.5 * np.sin(2 * np.pi * 440 * t(16000, 1)))
    add("tone1k_8k_3s", 8000, 0.8 * np.sin(2 * np.pi * 1000 * t(8000, 3)))
    add("tone3500_44k_2s", 44100, 0.3 * np.sin(2 * np.pi * 3500 * t(44100, 2)))
    add("tone7k_48k_5s", 48000, 0.3 * np.sin(2 * np.pi * 7000 * t(48000, 5)))
    add("quiet_tone_22k_4s", 22050, 1e-4 * np.sin(2 * np.pi * 300 * t(22050, 4)))
    tt = t(16000, 10)
    add("linear_chirp_16k_10s", 16000, 0.5 * np.sin(2 * np.pi * (50 * tt + (7000 - 50) / (2 * 10) * tt ** 2)))
    tt = t(44100, 6)
    add("log_chirp_44k_6s", 44100, 0.4 * np.sin(2 * np.pi * 100 * 6 / np.log(80) * (80 ** (tt / 6) - 1)))
    add("white_noise_16k_1s", 16000, 0.1 * rng.standard_normal(16000))
    add("white_noise_48k_12s", 48000, 0.05 * rng.standard_normal(48000 * 12))
    add("uniform_noise_8k_20s", 8000, rng.uniform(-1, 1, 8000 * 20))
    add("silence_16k_2s", 16000, np.zeros(32000))
    add("silence_44k_1s", 44100, np.zeros(44100))
    add("dc_offset_16k_3s", 16000, np.full(48000, 0.25))
    add("tone_plus_noise_22k_8s", 22050,
        0.4 * np.sin(2 * np.pi * 800 * t(22050, 8)) + 0.01 * rng.standard_normal(22050 * 8))
    impulses = np.zeros(16000 * 4)
    impulses[::4000] = 0.9
    add("impulses_16k_4s", 16000, impulses)
    add("square_48k_2s", 48000, 0.2 * np.sign(np.sin(2 * np.pi * 220 * t(48000, 2))))
    tt = t(16000, 15)
    add("am_tone_16k_15s", 16000, 0.5 * (1 + 0.5 * np.sin(2 * np.pi * 3 * tt)) * np.sin(2 * np.pi * 2000 * tt))
    half = np.concatenate([0.5 * np.sin(2 * np.pi * 600 * t(16000, 2)), np.zeros(16000 * 3)])
    add("tone_then_silence_16k_5s", 16000, half)
    add("noise_30s_exact_16k", 16000, 0.2 * rng.standard_normal(16000 * 30))
    tt = t(16000, 40)
    add("long_mix_16k_40s", 16000, 0.3 * np.sin(2 * np.pi * 1500 * tt) + 0.05 * rng.standard_normal(tt.size))
    assert len(out) == 20
    return out


SIGNALS = _signals()


def _at_16k(rate, x):
    return x if rate == 16000 else oc.resample(x, rate, 16000)


def test_features_match_transformers_on_20_signals(extractors):
    _, theirs, ours = extractors
    batch = []
    for name, rate, x in SIGNALS:
        x16 = _at_16k(rate, x)
        assert x16.dtype == np.float32 and x16.size == -(-x.size * 16000 // rate), name
        batch.append(x16)
    # One call per side (transformers' torch STFT runs the batch at once); items are independent.
    expected = theirs(batch, sampling_rate=16000, return_tensors="np")["input_features"]
    got = ours(batch, sampling_rate=16000, return_tensors="np")["input_features"]
    assert got.shape == expected.shape == (20, theirs.feature_size, 3000)
    assert got.dtype == np.float32
    worst = {name: float(np.abs(got[i] - expected[i]).max()) for i, (name, _, _) in enumerate(SIGNALS)}
    bad = {k: v for k, v in worst.items() if v > ATOL}
    assert not bad, f"features differ by more than {ATOL}: {bad}"
    # transformers' float64 numpy path (its reference when torch is absent) agrees far more tightly:
    # the gap above is torch's float32 STFT.
    for i in (0, 6, 9, 16):
        padded = np.zeros((1, theirs.n_samples), np.float32)
        padded[0, :min(batch[i].size, theirs.n_samples)] = batch[i][:theirs.n_samples]
        exact = theirs._np_extract_fbank_features(padded, "cpu")
        np.testing.assert_allclose(got[i], exact[0], atol=1e-5, rtol=0, err_msg=SIGNALS[i][0])


def _compare(theirs, ours, batch, **kwargs):
    expected = theirs(batch, sampling_rate=16000, return_tensors="np", **kwargs)
    got = ours(batch, sampling_rate=16000, return_tensors="np", **kwargs)
    assert sorted(got.keys()) == sorted(expected.keys()), kwargs
    np.testing.assert_allclose(got["input_features"], expected["input_features"], atol=ATOL, rtol=0)
    if "attention_mask" in expected:
        np.testing.assert_array_equal(got["attention_mask"], expected["attention_mask"])
        assert got["attention_mask"].dtype == expected["attention_mask"].dtype
    return got


def test_batches_with_padding_and_masks(extractors80):
    _, theirs, ours = extractors80
    batch = [_at_16k(r, x) for _, r, x in (SIGNALS[0], SIGNALS[7], SIGNALS[14], SIGNALS[19])]  # 1 s .. 40 s
    got = _compare(theirs, ours, batch, return_attention_mask=True)
    assert got["input_features"].shape[0] == 4 and got["attention_mask"].shape == (4, 3000)
    # Each item of a padded batch equals the item alone.
    for i, x in enumerate(batch):
        alone = ours(x, sampling_rate=16000)["input_features"][0]
        np.testing.assert_array_equal(got["input_features"][i], alone)
    short = [x[:n] for x, n in zip(batch, (16000, 12345, 40000))]
    _compare(theirs, ours, short, padding="longest", return_attention_mask=True)
    _compare(theirs, ours, short, padding="longest", pad_to_multiple_of=1000, return_attention_mask=True)
    _compare(theirs, ours, short, padding="longest", do_normalize=True)
    _compare(theirs, ours, short, max_length=20000, return_attention_mask=True)
    _compare(theirs, ours, [batch[3]], padding="longest", truncation=False)  # 40 s, not cut
    _compare(theirs, ours, np.stack([x[:16000] for x in batch]), padding="longest")  # a 2-D array is a batch
    _compare(theirs, ours, list(map(float, batch[0][:8000])))  # a list of floats is one item


def test_config_mask_default_and_left_padding(tmp_path):
    # return_attention_mask=True in the config and None in the call: transformers returns the per-sample mask.
    transformers.WhisperFeatureExtractor(feature_size=80, return_attention_mask=True,
                                         padding_side="left").save_pretrained(tmp_path)
    theirs = transformers.WhisperFeatureExtractor.from_pretrained(tmp_path)
    ours = oc.AutoFeatureExtractor.from_pretrained(tmp_path)
    batch = [SIGNALS[0][2], SIGNALS[7][2][:9000]]
    got = _compare(theirs, ours, batch, padding="longest")
    assert got["attention_mask"].shape == (2, 16000)
    _compare(theirs, ours, batch, padding="longest", return_attention_mask=True)


def test_sampling_rate_mismatch_is_refused_like_transformers(extractors80):
    _, theirs, ours = extractors80
    x = SIGNALS[1][2]
    with pytest.raises(ValueError, match="8000"):
        theirs(x, sampling_rate=8000)
    with pytest.raises(ValueError, match="8000"):
        ours(x, sampling_rate=8000)


def test_auto_feature_extractor_dispatch(tmp_path):
    transformers.WhisperFeatureExtractor(feature_size=128).save_pretrained(tmp_path)
    fe = oc.AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(fe, oc.WhisperFeatureExtractor) and fe.feature_size == 128
    assert fe.n_samples == transformers.AutoFeatureExtractor.from_pretrained(tmp_path).n_samples
    cfg = json.loads((tmp_path / "preprocessor_config.json").read_text())
    cfg["feature_extractor_type"] = "NoSuchFeatureExtractor"
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.UnsupportedError, match="NoSuchFeatureExtractor"):
        oc.AutoFeatureExtractor.from_pretrained(tmp_path)
    cfg["feature_extractor_type"] = "WhisperFeatureExtractor"
    cfg["n_fft"] = "400"
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.FormatError, match="n_fft"):
        oc.AutoFeatureExtractor.from_pretrained(tmp_path)


def test_resampler_matches_scipy_resample_poly():
    """libsoxr HQ and scipy's polyphase Kaiser filter are different filters: on band-limited signals
    (tones below 0.4 of the lower Nyquist rate) they agree within 2e-3 away from the edges (0.05 s),
    and their lengths agree (ceil(n * to / from))."""
    from math import gcd

    from scipy.signal import resample_poly

    rng = np.random.default_rng(7)
    for from_rate, to_rate in [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000), (16000, 44100)]:
        n = int(from_rate * 1.5)
        tt = np.arange(n) / from_rate
        top = 0.4 * min(from_rate, to_rate) / 2
        freqs = rng.uniform(50, top, 5)
        x = sum(0.15 * np.sin(2 * np.pi * f * tt + rng.uniform(0, 6)) for f in freqs).astype(np.float32)
        g = gcd(from_rate, to_rate)
        ref = resample_poly(x.astype(np.float64), to_rate // g, from_rate // g)
        got = oc.resample(x, from_rate, to_rate)
        assert got.size == ref.size == -(-n * to_rate // from_rate)
        edge = int(0.05 * to_rate)
        err = np.abs(got[edge:-edge] - ref[edge:-edge]).max()
        assert err < 2e-3, (from_rate, to_rate, err)


DECODE_CASES = [
    ("int16_mono_8k.wav", "WAV", "PCM_16", 8000, 1),
    ("float_stereo_44k.wav", "WAV", "FLOAT", 44100, 2),
    ("int16_stereo_48k.wav", "WAV", "PCM_16", 48000, 2),
    ("int24_mono_16k.flac", "FLAC", "PCM_24", 16000, 1),
    ("int16_stereo_44k.flac", "FLAC", "PCM_16", 44100, 2),
    ("int16_3ch_48k.flac", "FLAC", "PCM_16", 48000, 3),
]


@pytest.mark.parametrize("name,fmt,subtype,rate,channels", DECODE_CASES, ids=[c[0] for c in DECODE_CASES])
def test_decoding_equals_soundfile(tmp_path, name, fmt, subtype, rate, channels):
    rng = np.random.default_rng(len(name))
    n = rate // 2 + 17
    data = (0.6 * rng.uniform(-1, 1, (n, channels))).astype(np.float32)
    path = tmp_path / name
    sf.write(path, data, rate, format=fmt, subtype=subtype)
    # transformers' soundfile loader: float32, channels-first, mean over channels.
    with sf.SoundFile(path) as f:
        ref = f.read(dtype="float32", always_2d=True).T
    ref = ref.mean(axis=0) if ref.shape[0] > 1 else ref[0]
    got, got_rate = oc.load_audio(path)
    assert got_rate == rate and got.dtype == np.float32 and got.shape == ref.shape
    if channels <= 2:
        np.testing.assert_array_equal(got, ref)
    else:  # numpy's pairwise summation order may differ by an ulp
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)
    from_bytes, bytes_rate = oc.load_audio(path.read_bytes())
    np.testing.assert_array_equal(from_bytes, got)
    assert bytes_rate == rate
    resampled, r16 = oc.load_audio(str(path), sampling_rate=16000)
    assert r16 == 16000
    np.testing.assert_array_equal(resampled, got if rate == 16000 else oc.resample(got, rate, 16000))


def _wav_bytes(n=1000, rate=16000):
    b = io.BytesIO()
    sf.write(b, (0.5 * np.sin(np.arange(n) / 5)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return b.getvalue()


def _flac_with_huge_length():
    b = io.BytesIO()
    sf.write(b, np.zeros(1000, np.float32), 16000, format="FLAC", subtype="PCM_16")
    data = bytearray(b.getvalue())
    # STREAMINFO starts at byte 8; its bytes 10..17 end with the 36-bit total sample count.
    v = int.from_bytes(data[18:26], "big") | ((1 << 36) - 1)
    data[18:26] = v.to_bytes(8, "big")
    return bytes(data)


def _wav_with_zero_channels():
    data = bytearray(_wav_bytes())
    i = data.find(b"fmt ")
    data[i + 10:i + 12] = struct.pack("<H", 0)
    return bytes(data)


HOSTILE = {
    "truncated_header.wav": _wav_bytes()[:30],
    "garbage.wav": bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)),
    "zero_channels.wav": _wav_with_zero_channels(),
    "huge_length.flac": _flac_with_huge_length(),
    "empty.wav": b"",
    # fuzz_audio finding: libsndfile refuses it cleanly (and leaks 5.7 KB in libvorbis, see
    # tests/fuzz/lsan_suppressions.txt).
    "malformed_vorbis.ogg": (ROOT / "tests/fuzz/regressions/audio/malformed_vorbis_header_leak.ogg").read_bytes(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_audio_is_refused_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    with pytest.raises(oc.FormatError) as info:
        oc.load_audio(path)
    assert str(path) in str(info.value)
    with pytest.raises(oc.FormatError, match="audio bytes"):
        oc.load_audio(HOSTILE[name])


def test_missing_file_and_limits(tmp_path):
    with pytest.raises(oc.NotFoundError, match="nope.wav"):
        oc.load_audio(tmp_path / "nope.wav")
    with pytest.raises(oc.FormatError, match="limit"):
        oc.load_audio(_wav_bytes(n=5000), max_frames=1000)


def test_features_cli(tmp_path, extractors80):
    folder, theirs, _ = extractors80
    assert CLI.is_file(), f"{CLI} is missing: build the optimum-cpp target"
    wav = tmp_path / "a.wav"
    x = SIGNALS[2][2]  # 44.1 kHz: the CLI resamples to the extractor's rate
    sf.write(wav, x, 44100, subtype="FLOAT")
    npy = tmp_path / "features.npy"
    run = subprocess.run([str(CLI), "features", str(folder), "--audio", str(wav), "--output", str(npy)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["shape"] == [1, theirs.feature_size, 3000]
    assert summary["source_sample_rate"] == 44100
    expected = theirs(oc.resample(sf.read(wav, dtype="float32")[0], 44100, 16000), sampling_rate=16000,
                      return_tensors="np")["input_features"]
    np.testing.assert_allclose(np.load(npy), expected, atol=ATOL, rtol=0)
    bad = subprocess.run([str(CLI), "features", str(folder), "--audio", str(tmp_path / "missing.wav")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "missing.wav" in bad.stderr


def test_nested_processor_config_wins_as_in_transformers(tmp_path):
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(tmp_path)
    nested = transformers.WhisperFeatureExtractor(feature_size=128, hop_length=200).to_dict()
    (tmp_path / "processor_config.json").write_text(json.dumps({"feature_extractor": nested}))
    theirs = transformers.AutoFeatureExtractor.from_pretrained(tmp_path)
    ours = oc.AutoFeatureExtractor.from_pretrained(tmp_path)
    assert (ours.feature_size, ours.hop_length) == (theirs.feature_size, theirs.hop_length) == (128, 200)
    x = SIGNALS[7][2]
    _compare(theirs, ours, x)


def test_threads_share_one_extractor(tmp_path, extractors80):
    """Extraction and decoding release the GIL; FFTW plans are made under a lock (extractors built
    in threads too): results from 4 threads equal the sequential ones."""
    from concurrent.futures import ThreadPoolExecutor

    folder, _, ours = extractors80
    items = [SIGNALS[i][2] for i in (0, 7, 10, 13, 15, 17)]
    items = [x if SIGNALS[i][1] == 16000 else oc.resample(x, SIGNALS[i][1], 16000)
             for i, x in zip((0, 7, 10, 13, 15, 17), items)]
    sequential = [ours(x, sampling_rate=16000)["input_features"] for x in items]
    wav = tmp_path / "t.wav"
    sf.write(wav, items[0], 16000, subtype="PCM_16")

    def work(i):
        fe = oc.WhisperFeatureExtractor.from_pretrained(folder) if i % 2 else ours
        audio, _ = oc.load_audio(wav)
        return fe(items[i % len(items)], sampling_rate=16000)["input_features"], audio

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(12)))
    for i, (features, audio) in enumerate(results):
        np.testing.assert_array_equal(features, sequential[i % len(items)])
        np.testing.assert_array_equal(audio, sf.read(wav, dtype="float32")[0])


def test_resampler_is_transformers_load_audio_soxr():
    """python-soxr (transformers' resampler, requirements-test.txt) gives the same samples bit for bit;
    transformers' load_audio(backend="soundfile") equals load_audio(path, sampling_rate)."""
    soxr = pytest.importorskip("soxr", reason="python-soxr is not installed (python/requirements-test.txt pins it)")
    import math

    from transformers.audio_utils import load_audio

    rng = np.random.default_rng(11)
    for from_rate, to_rate in [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000), (16000, 44100)]:
        x = (0.3 * rng.standard_normal(int(from_rate * 1.3))).astype(np.float32)
        n = math.ceil(x.size * to_rate / from_rate)
        ref = soxr.resample(x, from_rate, to_rate, quality="soxr_hq")
        ref = np.pad(ref, (0, max(0, n - len(ref))))[:n]
        np.testing.assert_array_equal(oc.resample(x, from_rate, to_rate), ref)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "stereo.flac")
        sf.write(path, (0.3 * rng.standard_normal((44100 * 2, 2))).astype(np.float32), 44100, subtype="PCM_24")
        ours, rate = oc.load_audio(path, sampling_rate=16000)
        assert rate == 16000
        np.testing.assert_array_equal(ours, load_audio(path, 16000, backend="soundfile"))
