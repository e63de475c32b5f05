"""Sampling, batching, streaming, stop strings, configuration and errors of
optimum-cpp's generate, with transformers as the oracle where it has one."""

import json

import pytest
import torch

from generate_util import one_thread  # noqa: F401 (fixture)
from generate_util import Pair, _C, hf_new_tokens, random_prompts

VOCAB = 64


@pytest.fixture(scope="module")
def pair():
    return Pair(vocab=VOCAB, positions=160, seed=2, scale=1.5, eos_boost={3: 2.0, 7: 1.5})


def tokens(result):
    return [[s["tokens"] for s in item] for item in result]


# --- sampling ------------------------------------------------------------------------------------------

SAMPLING = [
    dict(do_sample=True),
    dict(do_sample=True, temperature=0.7, top_k=0, top_p=0.9),
    dict(do_sample=True, top_k=20, min_p=0.05, typical_p=0.9, repetition_penalty=1.2),
    dict(do_sample=True, num_beams=3, num_return_sequences=2, eos_token_id=[3, 7]),
]


@pytest.mark.parametrize("options", SAMPLING)
def test_sampling_is_reproducible_for_a_seed(pair, options):
    prompts = random_prompts(3, VOCAB, 1)
    a = _C.generate(pair.cpp, prompts, max_new_tokens=40, seed=123, **options)
    b = _C.generate(pair.cpp, prompts, max_new_tokens=40, seed=123, **options)
    c = _C.generate(pair.cpp, prompts, max_new_tokens=40, seed=124, **options)
    assert tokens(a) == tokens(b)
    assert tokens(a) != tokens(c)
    # Unseeded runs draw a random seed, as transformers without manual_seed.
    unseeded = {str(tokens(_C.generate(pair.cpp, prompts, max_new_tokens=40, **options))) for _ in range(3)}
    assert len(unseeded) > 1


def test_sampling_top_k_1_is_greedy(pair):
    for prompt in random_prompts(4, VOCAB, 2):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=48, eos_token_id=[3, 7])
        expected = hf_new_tokens(out, len(prompt), None, [3, 7])
        got = _C.generate(pair.cpp, [prompt], do_sample=True, top_k=1, seed=5, max_new_tokens=48,
                          eos_token_id=[3, 7])
        assert tokens(got)[0] == expected


def test_sampling_follows_the_distribution(pair):
    """Many one-token samples: frequencies match softmax(table row) (chi-square-like bound)."""
    prompt = [5]
    n = 4000
    counts = torch.zeros(VOCAB)
    got = _C.generate(pair.cpp, [prompt] * n, do_sample=True, top_k=0, max_new_tokens=1, seed=9)
    # Every prompt has its own RNG seeded alike: one seed gives one draw; use num_return_sequences instead.
    assert len({s["tokens"][0] for item in got for s in item}) == 1
    got = _C.generate(pair.cpp, [prompt], do_sample=True, top_k=0, max_new_tokens=1, seed=9,
                      num_return_sequences=n)[0]
    for s in got:
        counts[s["tokens"][0]] += 1
    probs = torch.softmax(pair.next_logits(prompt), -1)
    assert torch.allclose(counts / n, probs, atol=0.03)


def test_num_return_sequences_sampling(pair):
    got = _C.generate(pair.cpp, [[1, 2]], do_sample=True, num_return_sequences=5, max_new_tokens=30, seed=3)
    assert len(got[0]) == 5
    assert len({tuple(s["tokens"]) for s in got[0]}) > 1


# --- batched = one by one ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "options",
    [
        dict(max_new_tokens=40, eos_token_id=[3, 7]),
        dict(max_new_tokens=40, num_beams=3, num_return_sequences=2, eos_token_id=3, length_penalty=0.5),
        dict(max_new_tokens=40, do_sample=True, seed=77, top_p=0.9, num_return_sequences=2),
        dict(max_new_tokens=30, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=5,
             eos_token_id=[3, 7]),
    ],
)
def test_batch_equals_one_by_one(pair, options):
    prompts = random_prompts(6, VOCAB, 4, min_len=1, max_len=20)
    batched = _C.generate(pair.cpp, prompts, **options)
    alone = [_C.generate(pair.cpp, [p], **options)[0] for p in prompts]
    assert batched == alone


# --- streaming -----------------------------------------------------------------------------------------

def test_streamer_callback_sees_every_token(pair):
    prompts = random_prompts(3, VOCAB, 6)
    seen = {}

    def streamer(item, seq, token, score, logprob, finished):
        seen.setdefault((item, seq), []).append((token, score, logprob, finished))

    result = _C.generate(pair.cpp, prompts, max_new_tokens=25, eos_token_id=[3, 7], do_sample=True, seed=1,
                         num_return_sequences=2, streamer=streamer)
    for i, item in enumerate(result):
        for j, s in enumerate(item):
            events = seen[(i, j)]
            assert [e[0] for e in events] == s["tokens"]
            assert [e[1] for e in events] == pytest.approx(s["scores"])
            assert [e[2] for e in events] == pytest.approx(s["logprobs"])
            assert [e[3] for e in events] == [False] * (len(events) - 1) + [True]


def test_streamer_returning_false_cancels_the_item(pair):
    prompts = random_prompts(2, VOCAB, 7)

    counts = {}

    def streamer(item, seq, token, score, logprob, finished):
        counts.setdefault(item, []).append(token)
        return not (item == 0 and len(counts[item]) >= 5)

    result = _C.generate(pair.cpp, prompts, max_new_tokens=30, streamer=streamer)
    assert result[0][0]["finish_reason"] == "cancelled"
    assert len(result[0][0]["tokens"]) == 5
    assert result[1] == _C.generate(pair.cpp, [prompts[1]], max_new_tokens=30)[0]


def test_generate_stream_iterator(pair):
    prompts = random_prompts(3, VOCAB, 8)
    stream = _C.generate_stream(pair.cpp, prompts, max_new_tokens=30, eos_token_id=[3, 7])
    events = list(stream)
    expected = _C.generate(pair.cpp, prompts, max_new_tokens=30, eos_token_id=[3, 7])
    assert stream.result == expected
    for i, item in enumerate(expected):
        assert [e[2] for e in events if e[0] == i] == item[0]["tokens"]


def test_generate_stream_closed_early_stops(pair):
    stream = _C.generate_stream(pair.cpp, [[1, 2, 3]], max_new_tokens=100)
    first = [next(stream) for _ in range(3)]
    assert [e[2] for e in first] == _C.generate(pair.cpp, [[1, 2, 3]], max_new_tokens=3)[0][0]["tokens"]
    stream.close()
    del stream


def test_stream_refuses_beam_search(pair):
    with pytest.raises(ValueError, match="beam search"):
        _C.generate_stream(pair.cpp, [[1]], num_beams=2)


# --- stop strings --------------------------------------------------------------------------------------

PIECES = ["st", "op", "a", "stop", "sto", "pper", "las", "topper", "s", "to", "pped", "x", "y", "z", " ", "p"]


@pytest.fixture(scope="module")
def string_vocab():
    """A tokenizer whose tokens are short strings (WordLevel + Fuse decoder), for transformers' stop strings."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [PIECES[i % len(PIECES)] + ("" if i < len(PIECES) else f"<{i}>") for i in range(VOCAB)]
    words[-1] = "abcdef"  # transformers' StopStringCriteria tokenizes this prefix to clean the vocabulary
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[0]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.Fuse()
    return words, PreTrainedTokenizerFast(tokenizer_object=tok), tok


@pytest.mark.parametrize("stop", [["stop"], ["op", "xy"], ["pper"], ["st", "zz"], ["a s"]])
def test_stop_strings_as_transformers(pair, string_vocab, stop):
    words, hf_tok, _ = string_vocab
    decode = lambda ids: "".join(words[i] for i in ids)  # noqa: E731
    stopped = 0
    for prompt in random_prompts(8, VOCAB, 12):
        out = pair.hf_generate(prompt, do_sample=False, max_new_tokens=40, stop_strings=stop, tokenizer=hf_tok)
        expected = out.sequences[0, len(prompt):].tolist()
        got = _C.generate(pair.cpp, [prompt], max_new_tokens=40, stop_strings=stop, decode=decode)[0][0]
        assert got["tokens"] == expected, (prompt, stop)
        stopped += got["finish_reason"] == "stop"
    if stop != ["a s"]:
        assert stopped > 0


def test_stop_strings_with_a_cpp_tokenizer(pair, string_vocab, tmp_path):
    words, _, tok = string_vocab
    tok.save(str(tmp_path / "tokenizer.json"))
    cpp_tok = _C.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    decode = lambda ids: "".join(words[i] for i in ids)  # noqa: E731
    for prompt in random_prompts(4, VOCAB, 13):
        a = _C.generate(pair.cpp, [prompt], max_new_tokens=40, stop_strings=["op", "st"], tokenizer=cpp_tok)
        b = _C.generate(pair.cpp, [prompt], max_new_tokens=40, stop_strings=["op", "st"], decode=decode)
        assert a == b


def test_stop_strings_need_a_decoder(pair):
    with pytest.raises(ValueError, match="tokenizer"):
        _C.generate(pair.cpp, [[1]], stop_strings=["x"])


# --- configuration -------------------------------------------------------------------------------------

def test_generation_config_from_files_as_transformers(tmp_path):
    from transformers import GenerationConfig

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(
        {"model_type": "llama", "bos_token_id": 1, "eos_token_id": [2, 5], "pad_token_id": 0, "max_length": 77}))
    hf = GenerationConfig.from_pretrained(model_dir, config_file_name="config.json", _from_model_config=True)
    ours = _C.generation_config(str(model_dir))
    for key in ("bos_token_id", "eos_token_id", "pad_token_id", "max_length"):
        assert ours[key] == getattr(hf, key), key
    (model_dir / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": 1, "eos_token_id": 2, "do_sample": True, "temperature": 0.6, "top_p": 0.9, "top_k": 20,
         "repetition_penalty": 1.1}))
    hf = GenerationConfig.from_pretrained(model_dir)
    ours = _C.generation_config(str(model_dir))
    for key in ("bos_token_id", "eos_token_id", "do_sample", "temperature", "top_p", "top_k", "repetition_penalty"):
        assert ours[key] == getattr(hf, key), key
    assert ours["max_length"] is None  # not set: 20 new tokens by default
    ours = _C.generation_config(str(model_dir), temperature=1.2, eos_token_id=[4, 5], early_stopping="never")
    assert (ours["temperature"], ours["eos_token_id"], ours["early_stopping"]) == (1.2, [4, 5], "never")


def test_defaults_from_generation_config_drive_generate(pair, tmp_path):
    """generation_config= a folder: its eos and lengths apply, call options override."""
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [3, 7], "max_new_tokens": 33}))
    for prompt in random_prompts(3, VOCAB, 14):
        a = _C.generate(pair.cpp, [prompt], generation_config=str(tmp_path))
        b = _C.generate(pair.cpp, [prompt], eos_token_id=[3, 7], max_new_tokens=33)
        assert a == b
        c = _C.generate(pair.cpp, [prompt], generation_config=str(tmp_path), max_new_tokens=5)
        assert len(c[0][0]["tokens"]) <= 5


def test_default_max_length_capped_by_positions():
    small = Pair(vocab=16, positions=24, seed=3)
    prompt = list(range(10))
    out = small.hf_generate(prompt, do_sample=False)
    got = _C.generate(small.cpp, [prompt])[0][0]
    assert got["tokens"] == out.sequences[0, len(prompt):].tolist()
    assert len(prompt) + len(got["tokens"]) == 24


@pytest.mark.parametrize(
    "options,field",
    [
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(num_return_sequences=2), "num_return_sequences"),
        (dict(num_beams=2, num_return_sequences=3), "num_return_sequences"),
        (dict(do_sample=True, temperature=0.0), "temperature"),
        (dict(do_sample=True, top_p=-0.5), "top_p"),
        (dict(do_sample=True, min_p=-0.1), "min_p"),
        (dict(do_sample=True, typical_p=-1.0), "typical_p"),
        (dict(repetition_penalty=0.0), "repetition_penalty"),
        (dict(early_stopping="sometimes"), "early_stopping"),
    ],
)
def test_invalid_options_raise_like_transformers(pair, options, field):
    with pytest.raises(ValueError):
        pair.hf_generate([1, 2], **options)
    with pytest.raises(ValueError, match=field):
        _C.generate(pair.cpp, [[1, 2]], **options)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: _C.generate(m, [[1, 2]], bogus=1), "bogus"),
        (lambda m: _C.generate(m, [[1, 999]]), "999"),
        (lambda m: _C.generate(m, [[]]), "empty"),
        (lambda m: _C.generate(m, [[1, 2]], max_length=2), "max_length"),
        (lambda m: _C.generate(m, [[1, 2]], max_new_tokens=1000), "max_length"),
        (lambda m: _C.generate(m, [[1, 2]], max_new_tokens=2**62), "max_length"),
        (lambda m: _C.generate(m, [[1, 2]], num_beams=10**9, max_new_tokens=2), "sequences"),
        (lambda m: _C.generate(m, [[1, 2]] * 10**5, num_beams=2, max_new_tokens=2), "sequences"),
        (lambda m: _C.generate(m, [[1, 2]], seed=-1), "seed"),
        (lambda m: _C.generate(m, [[1, 2]], top_k="x"), "top_k"),
        (lambda m: _C.generate(object(), [[1]]), "CausalLM"),
    ],
)
def test_bad_input_is_a_clear_error(pair, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(pair.cpp)
