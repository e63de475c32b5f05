"""pipeline("automatic-speech-recognition") on a tiny random whisper against transformers' pipeline on the
same checkpoint: file paths, bytes, arrays and dicts, chunk_length_s over a > 30 s signal, return_timestamps;
and the errors."""

import os
import shutil

import numpy as np
import pytest
import soundfile

import optimum_cpp

RATE = 16000


def _signal(seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    x = 0.4 * np.sin(2 * np.pi * (180 + 40 * np.sin(0.5 * t)) * t) + 0.05 * rng.standard_normal(t.size)
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t) ** 2
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def pipes(whisper_dir):
    import transformers

    ref = transformers.pipeline("automatic-speech-recognition", model=whisper_dir, device="cpu")
    ours = optimum_cpp.pipeline("automatic-speech-recognition", model=whisper_dir)
    return ref, ours


def _norm(out):
    out = dict(out)
    if "chunks" in out:
        out["chunks"] = [{"text": c["text"], "timestamp": tuple(c["timestamp"])} for c in out["chunks"]]
    return out


GEN = {"max_new_tokens": 24, "language": "en"}


@pytest.mark.parametrize("seconds,kw", [
    (5.0, {}),
    (12.5, {"return_timestamps": True}),
    (47.0, {"chunk_length_s": 30}),
    (47.0, {"chunk_length_s": 30, "return_timestamps": True}),
    (65.0, {"chunk_length_s": 20, "stride_length_s": [4, 2], "return_timestamps": True}),
])
def test_array_input_equals_transformers(pipes, seconds, kw):
    ref, ours = pipes
    audio = _signal(seconds, int(seconds * 10))
    expected = ref(audio.copy(), generate_kwargs=dict(GEN), **kw)
    got = ours(audio.copy(), generate_kwargs=dict(GEN), **kw)
    assert _norm(got) == _norm(expected)


def test_file_bytes_and_dict_inputs(pipes, tmp_path):
    ref, ours = pipes
    gen = dict(GEN, num_beams=2)  # the inputs, not the search, are under test here
    audio = _signal(6.0, 3)
    path = str(tmp_path / "a.wav")
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    expected = ref({"raw": audio.copy(), "sampling_rate": RATE}, generate_kwargs=dict(gen))
    assert ours(path, generate_kwargs=dict(gen)) == expected
    with open(path, "rb") as f:
        assert ours(f.read(), generate_kwargs=dict(gen)) == expected
    assert ours({"array": audio.copy(), "sampling_rate": RATE}, generate_kwargs=dict(gen)) == expected
    assert ours([audio.copy(), audio.copy()], generate_kwargs=dict(gen)) == [expected, expected]


def test_errors(pipes, whisper_dir, tmp_path):
    _, ours = pipes
    with pytest.raises(ValueError, match="chunk_length_s"):
        ours(_signal(31.0, 1))
    with pytest.raises(ValueError, match="word"):
        ours(_signal(2.0, 1), return_timestamps="word")
    with pytest.raises(ValueError, match="sampling_rate"):
        ours({"raw": _signal(2.0, 1)})
    with pytest.raises(ValueError, match="1-D"):
        ours(np.zeros((2, 100), np.float32))
    with pytest.raises(TypeError, match="int"):
        ours(5)
    with pytest.raises(ValueError, match="bogus"):
        ours(_signal(2.0, 1), bogus=1)
    bare = tmp_path / "no-fe"
    shutil.copytree(whisper_dir, bare)
    os.remove(bare / "preprocessor_config.json")
    with pytest.raises(ValueError, match="preprocessor_config.json"):
        optimum_cpp.pipeline("automatic-speech-recognition", model=str(bare))
