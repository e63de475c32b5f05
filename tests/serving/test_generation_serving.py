"""Text generation on the server: OpenAI /v1/completions and
/v1/chat/completions through the `openai` client (whole and streamed),
the OIP generate extension and TorchServe /predictions, over a tiny random
llama built with transformers at test time (SmolLM2's tokenizer and chat
template, converted from the real GGUF file) and the real SmolLM2-135M GGUF.
Truth is transformers' generate() (greedy) and the in-process C++ pipeline
(seeded sampling, which transformers' RNG cannot reproduce); continuous
batching must not change a request's tokens (prefix independence)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import threading
import time

import pytest
import requests

import server_util

ROOT = server_util.ROOT
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LONG = 30000  # new tokens of a request that outlasts its test (it is cancelled by closing its connection)
LOAD_SECONDS = float(os.environ.get("OPTIMUM_GENERATION_LOAD_SECONDS", "60"))


def models_dir() -> pathlib.Path:
    local = ROOT / ".models"
    if (local / GGUF).exists():
        return local
    fallback = pathlib.Path("/work/main/.models")
    if (fallback / GGUF).exists():
        return fallback
    raise FileNotFoundError(f"{GGUF} is in neither {local} nor {fallback} (run `make setup`)")


def write_smollm2_tokenizer(folder: pathlib.Path) -> None:
    """tokenizer.json + tokenizer_config.json converted from the GGUF file (the
    conversion transformers' GGUF support does; transformers then loads the
    folder as a plain PreTrainedTokenizerFast)."""
    from optimum_cpp import _C

    meta = _C.gguf_metadata(str(models_dir() / GGUF))
    (folder / "tokenizer.json").write_text(_C.gguf_tokenizer_json(meta, GGUF))
    cfg = _C.gguf_tokenizer_config(meta, GGUF)
    config = dict(cfg["special_tokens"])
    config.update({"add_bos_token": cfg["add_bos_token"], "add_eos_token": cfg["add_eos_token"],
                   "chat_template": cfg["chat_template"], "tokenizer_class": "PreTrainedTokenizerFast",
                   "clean_up_tokenization_spaces": False})
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def tiny_llama(folder: pathlib.Path) -> None:
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True)
    write_smollm2_tokenizer(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                         initializer_range=0.2, tie_word_embeddings=False, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(folder)
    GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).save_pretrained(folder)


@pytest.fixture(scope="module")
def gen_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("genstore")
    store = root / "store"
    tiny_llama(store / "tiny")
    (store / "tiny" / "model-config.yaml").write_text(
        "maxNumSequence: 8\nmaxSequenceLength: 2048\njobQueueSize: 64\nresponseTimeout: 120\n")
    # One slot, a queue of two: for 429, disconnects and the running gauge.
    shutil.copytree(store / "tiny", store / "narrow")
    (store / "narrow" / "model-config.yaml").write_text("maxNumSequence: 1\nmaxSequenceLength: 32768\njobQueueSize: 2\n")
    # The real SmolLM2 as a folder holding its GGUF file (handler inferred).
    (store / "smol").mkdir()
    os.symlink(models_dir() / GGUF, store / "smol" / GGUF)
    (store / "smol" / "model-config.yaml").write_text("maxNumSequence: 4\nmaxSequenceLength: 1024\n")
    return store


@pytest.fixture(scope="module")
def server(gen_store, tmp_path_factory):
    s = server_util.ServerProcess(tmp_path_factory.mktemp("genserver"), gen_store,
                                  models=["tiny=tiny", "narrow=narrow", "smol=smol"])
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}:\n{s.log_text()[-4000:]}"


@pytest.fixture(scope="module")
def client(server):
    import openai

    return openai.OpenAI(base_url=server.inference + "/v1", api_key="none", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def reference(gen_store):
    """transformers' model and tokenizer of the tiny llama."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = gen_store / "tiny"
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def smol_reference():
    """transformers' GGUF loading of SmolLM2, converted once and cached (tests/refcache/gguf_reference.py)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "refcache"))
    import gguf_reference

    path = models_dir() / GGUF
    return gguf_reference.load_model(path), gguf_reference.load_tokenizer(path)


def hf_greedy(model, tok, ids, max_new_tokens):
    """transformers' greedy continuation: new ids, their text, finish reason and per-token logprobs."""
    import torch

    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             do_sample=False, max_new_tokens=max_new_tokens, output_scores=True,
                             return_dict_in_generate=True, pad_token_id=tok.eos_token_id)
    new = out.sequences[0, len(ids):].tolist()
    logprobs = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, new)]
    ended = bool(new) and new[-1] == tok.eos_token_id
    return new, tok.decode(new, skip_special_tokens=True), "stop" if ended else "length", logprobs


def chat_ids(tok, messages):
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"]) if isinstance(ids, dict) or hasattr(ids, "keys") else list(ids)


def metric(server, name, model):
    text = requests.get(server.metrics + "/metrics", timeout=10).text
    m = re.search(re.escape(name) + r'\{model_name="' + re.escape(model) + r'"[^}]*\} (\S+)', text)
    assert m, f"{name} for {model} not in the metrics:\n{text[:2000]}"
    return float(m.group(1))


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


PROMPTS = ["The quick brown fox", "Once upon a time, in a land far away,", "def fibonacci(n):"]


# ---------------------------------------------------------------- completions


@pytest.mark.parametrize("prompt", PROMPTS)
def test_completion_greedy_equals_transformers(client, reference, prompt):
    model, tok = reference
    ids = tok(prompt).input_ids
    new, text, reason, logprobs = hf_greedy(model, tok, ids, 40)
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=40, temperature=0, logprobs=0)
    c = r.choices[0]
    assert c.text == text
    assert c.finish_reason == reason
    assert r.usage.prompt_tokens == len(ids) and r.usage.completion_tokens == len(new)
    assert r.usage.total_tokens == len(ids) + len(new)
    got = c.logprobs.token_logprobs
    assert len(got) == len(new)
    assert max(abs(a - b) for a, b in zip(got, logprobs)) < 1e-3
    assert c.logprobs.tokens == [tok.decode([t], skip_special_tokens=True) for t in new]


def test_completion_stream_equals_whole(client, reference):
    model, tok = reference
    prompt = PROMPTS[1]
    new, text, reason, _ = hf_greedy(model, tok, tok(prompt).input_ids, 48)
    stream = client.completions.create(model="tiny", prompt=prompt, max_tokens=48, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    pieces, reasons, usage = [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            pieces.append(c.text)
            if c.finish_reason:
                reasons.append(c.finish_reason)
    assert "".join(pieces) == text
    assert reasons == [reason]
    assert len(pieces) > 3, "the answer came in one piece: not streamed"
    assert usage.completion_tokens == len(new)


def test_completion_prompt_list_and_token_ids(client, reference):
    model, tok = reference
    ids = tok(PROMPTS[2]).input_ids
    r = client.completions.create(model="tiny", prompt=[PROMPTS[0], ids], max_tokens=12, temperature=0)
    assert [c.index for c in r.choices] == [0, 1]
    assert r.choices[0].text == hf_greedy(model, tok, tok(PROMPTS[0]).input_ids, 12)[1]
    assert r.choices[1].text == hf_greedy(model, tok, ids, 12)[1]


def test_stop_strings_cut_the_text(client, reference):
    model, tok = reference
    prompt = PROMPTS[0]
    _, text, _, _ = hf_greedy(model, tok, tok(prompt).input_ids, 60)
    stop = text[len(text) // 2: len(text) // 2 + 3]
    assert len(stop) == 3
    expected = text[: text.find(stop)]
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=60, temperature=0, stop=[stop, "\x00zz"])
    assert r.choices[0].text == expected and r.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model="tiny", prompt=prompt, max_tokens=60, temperature=0, stop=stop,
                                         stream=True)
    pieces, reasons = [], []
    for chunk in streamed:
        for c in chunk.choices:
            pieces.append(c.text)
            reasons += [c.finish_reason] if c.finish_reason else []
    assert "".join(pieces) == expected and reasons == ["stop"]


def test_max_tokens_ends_with_length(client, reference):
    model, tok = reference
    new, text, reason, _ = hf_greedy(model, tok, tok(PROMPTS[2]).input_ids, 5)
    r = client.completions.create(model="tiny", prompt=PROMPTS[2], max_tokens=5, temperature=0)
    assert r.choices[0].finish_reason == reason == "length" and r.usage.completion_tokens == 5
    assert r.choices[0].text == text


def in_process(folder, prompt, **kw):
    import optimum_cpp

    pipe = optimum_cpp.pipeline("text-generation", str(folder))
    return [o["generated_text"] for o in pipe(prompt, return_full_text=False, **kw)]


def test_sampling_n_equals_in_process_and_is_prefix_independent(client, server, gen_store):
    prompt = PROMPTS[1]
    args = dict(model="tiny", prompt=prompt, max_tokens=24, temperature=0.8, top_p=0.9, seed=1234, n=3)
    alone = client.completions.create(**args)
    texts = [c.text for c in alone.choices]
    expected = in_process(gen_store / "tiny", prompt, do_sample=True, temperature=0.8, top_p=0.9, seed=1234,
                          num_return_sequences=3, max_new_tokens=24)
    assert texts == expected
    assert len(set(texts)) > 1, "three samples were identical"
    # The same request inside a busy batch (other requests joining and leaving).
    busy = []

    def other(i):
        busy.append(client.completions.create(model="tiny", prompt=PROMPTS[i % 3] * (i + 1), max_tokens=10 + 7 * i,
                                              temperature=1.0, seed=i))

    threads = [threading.Thread(target=other, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    again = client.completions.create(**args)
    for t in threads:
        t.join()
    assert [c.text for c in again.choices] == texts
    assert len(busy) == 4


# ---------------------------------------------------------------- chat


def test_chat_greedy_equals_transformers(client, reference):
    model, tok = reference
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name three colours."}]
    ids = chat_ids(tok, messages)
    new, text, reason, _ = hf_greedy(model, tok, ids, 32)
    r = client.chat.completions.create(model="tiny", messages=messages, max_tokens=32, temperature=0,
                                       logprobs=True)
    m = r.choices[0]
    assert m.message.role == "assistant" and m.message.content == text and m.finish_reason == reason
    assert r.usage.prompt_tokens == len(ids) and r.usage.completion_tokens == len(new)
    assert len(m.logprobs.content) == len(new)
    stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=32, temperature=0,
                                            stream=True)
    roles, pieces = [], []
    for chunk in stream:
        for c in chunk.choices:
            roles += [c.delta.role] if c.delta.role else []
            pieces.append(c.delta.content or "")
    assert roles == ["assistant"] and "".join(pieces) == text


def test_real_smollm2_chat(client, smol_reference):
    model, tok = smol_reference
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = chat_ids(tok, messages)
    new, text, reason, _ = hf_greedy(model, tok, ids, 24)
    r = client.chat.completions.create(model="smol", messages=messages, max_tokens=24, temperature=0)
    assert r.choices[0].message.content == text and r.choices[0].finish_reason == reason
    assert r.usage.prompt_tokens == len(ids) and r.usage.completion_tokens == len(new)
    assert "Paris" in text


def test_models_list_and_describe(client, server):
    ids = {m.id for m in client.models.list().data}
    assert {"tiny", "narrow", "smol"} <= ids
    d = requests.get(server.management + "/models/narrow", timeout=10).json()[0]
    g = d["generation"]
    assert g["maxNumSequence"] == 1 and g["maxSequenceLength"] == 32768
    # KV bytes = slots x positions x (layers x 2 x kv heads x head dim x 4 bytes) of the tiny llama.
    assert g["kvCacheBytes"] == 1 * 32768 * 2 * 2 * 2 * 16 * 4
    assert metric(server, "optimum_generation_kv_cache_bytes", "narrow") == g["kvCacheBytes"]
    assert d["handler"] == "text-generation"


def test_errors_are_openai_bodies(server, client):
    import openai

    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="nope", prompt="x", max_tokens=2)
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="x", max_tokens=10**6)
    assert "max_tokens" in str(e.value)
    r = requests.post(server.inference + "/v1/chat/completions", json={"model": "tiny", "messages": "hi"}, timeout=10)
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    r = requests.post(server.inference + "/v1/completions",
                      json={"model": "tiny", "prompt": "x", "temperature": 0, "n": 2}, timeout=10)
    assert r.status_code == 400 and "n" in r.json()["error"]["message"]


# ---------------------------------------------------------------- logprobs with alternatives


def hf_steps(model, tok, ids, new, n, processors=()):
    """transformers' log_softmax of the processed scores at each step that
    produced `new` (the model's logits through `processors`, as generate()
    applies them; compute_transition_scores(normalize_logits=True)): per new
    token its logprob, the top-n logprobs, and the texts of the top n+3 ids
    (ties within float noise may swap neighbours)."""
    import torch

    seq = torch.tensor([list(ids) + list(new)])
    with torch.no_grad():
        logits = model(seq).logits[0, len(ids) - 1: len(ids) - 1 + len(new)].float()
    steps = []
    for i, t in enumerate(new):
        scores = logits[i: i + 1].clone()
        for p in processors:
            scores = p(seq[:, : len(ids) + i], scores)
        lp = torch.log_softmax(scores[0], -1)
        top = torch.topk(lp, n + 3)
        steps.append((lp[t].item(), top.values.tolist()[:n],
                      {tok.decode([j], skip_special_tokens=True) for j in top.indices.tolist()}))
    return steps


def check_alternatives(steps, token_logprobs, tops, n):
    """Ours (per token: its logprob and [(text, logprob)]) against transformers'
    steps; -inf (a token a warper removed) is sent as -9999.0 as vLLM does."""
    assert len(token_logprobs) == len(steps) == len(tops)
    for (want, want_top, texts), got, top in zip(steps, token_logprobs, tops):
        assert abs(got - want) < 1e-3
        assert len(top) == n
        values = [v for _, v in top]
        want_top = [v if v > -1e30 else -9999.0 for v in want_top]
        assert max(abs(a - b) for a, b in zip(sorted(values, reverse=True), want_top)) < 1e-3, (values, want_top)
        assert {t for t, v in top if v > -9999.0} <= texts, (top, texts)


def test_completion_logprobs_alternatives_equal_transformers(client, reference):
    model, tok = reference
    prompt = PROMPTS[0]
    ids = tok(prompt).input_ids
    new, text, _, _ = hf_greedy(model, tok, ids, 24)
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=24, temperature=0, logprobs=5)
    lp = r.choices[0].logprobs
    assert r.choices[0].text == text
    assert lp.tokens == [tok.decode([t], skip_special_tokens=True) for t in new]
    check_alternatives(hf_steps(model, tok, ids, new, 5), lp.token_logprobs,
                       [list(d.items()) for d in lp.top_logprobs], 5)
    offsets = [0]
    for t in lp.tokens[:-1]:
        offsets.append(offsets[-1] + len(t))
    assert lp.text_offset == offsets
    # Streamed: the same logprobs chunk by chunk, the offsets continuing.
    stream = client.completions.create(model="tiny", prompt=prompt, max_tokens=24, temperature=0, logprobs=5,
                                       stream=True)
    got = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for chunk in stream:
        for c in chunk.choices:
            if c.logprobs:
                for k in got:
                    got[k] += getattr(c.logprobs, k)
    assert got == {k: getattr(lp, k) for k in got}


def test_chat_top_logprobs_of_the_processed_scores(client, reference, gen_store):
    """Sampling with temperature and top_k: the logprobs are log_softmax of the
    warped scores the sampler drew from, so the tokens top_k removed are -inf
    (-9999.0 on the wire); the sampled ids come from the in-process model with
    the same seed (equal to the server's, as test_sampling_n checks)."""
    import numpy as np
    import optimum_cpp
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper

    model, tok = reference
    messages = [{"role": "user", "content": "Write a word."}]
    ids = chat_ids(tok, messages)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(str(gen_store / "tiny"))
    out = ours.generate(np.array([ids]), do_sample=True, temperature=0.7, top_k=3, seed=7, max_new_tokens=12)
    new = [int(t) for t in out[0, len(ids):]]
    new = new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new
    r = client.chat.completions.create(model="tiny", messages=messages, max_tokens=12, temperature=0.7, seed=7,
                                       extra_body={"top_k": 3}, logprobs=True, top_logprobs=4)
    content = r.choices[0].logprobs.content
    assert [c.token for c in content] == [tok.decode([t], skip_special_tokens=True) for t in new]
    assert all(c.bytes == list(c.token.encode()) for c in content)
    assert all(a.bytes == list(a.token.encode()) for c in content for a in c.top_logprobs)
    steps = hf_steps(model, tok, ids, new, 4, [TemperatureLogitsWarper(0.7), TopKLogitsWarper(3)])
    tops = [[(a.token, a.logprob) for a in c.top_logprobs] for c in content]
    check_alternatives(steps, [c.logprob for c in content], tops, 4)
    assert all(top[-1][1] == -9999.0 for top in tops), "top_k=3 left a 4th token"


def test_chat_top_logprobs_streamed_and_bounded(client, server, reference):
    model, tok = reference
    messages = [{"role": "user", "content": "Count to five."}]
    ids = chat_ids(tok, messages)
    new, text, _, _ = hf_greedy(model, tok, ids, 16)
    whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0,
                                           logprobs=True, top_logprobs=20)
    content = whole.choices[0].logprobs.content
    check_alternatives(hf_steps(model, tok, ids, new, 20), [c.logprob for c in content],
                       [[(a.token, a.logprob) for a in c.top_logprobs] for c in content], 20)
    stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0,
                                            logprobs=True, top_logprobs=20, stream=True)
    streamed = [c for chunk in stream for ch in chunk.choices if ch.logprobs for c in ch.logprobs.content]
    assert [c.model_dump() for c in streamed] == [c.model_dump() for c in content]
    # OpenAI's caps: 20 alternatives in chat, 5 in completions; more is a 400 naming the field.
    for route, body, field in [
            ("chat/completions", {"messages": messages, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
            ("chat/completions", {"messages": messages, "top_logprobs": 2}, "top_logprobs"),
            ("completions", {"prompt": "x", "logprobs": 6}, "logprobs"),
            ("completions", {"prompt": "x", "logprobs": -1}, "logprobs")]:
        r = requests.post(f"{server.inference}/v1/{route}", json={"model": "tiny", "max_tokens": 2, **body},
                          timeout=30)
        assert r.status_code == 400 and f'"{field}"' in r.json()["error"]["message"], (body, r.text)


# ---------------------------------------------------------------- slots, queue, disconnects


def stream_raw(server, model, max_tokens, prompt="Once"):
    """A streaming completion on a raw connection: (response, first event line)."""
    r = requests.post(server.inference + "/v1/completions", stream=True, timeout=60,
                      json={"model": model, "prompt": prompt, "max_tokens": max_tokens, "min_tokens": max_tokens, "temperature": 0,
                            "stream": True})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return r


def test_disconnect_frees_the_slot(server, client):
    before = metric(server, "optimum_generation_tokens_total", "narrow")
    r = stream_raw(server, "narrow", LONG)
    lines = r.iter_lines()
    got = [next(lines) for _ in range(6)]
    assert got[0].startswith(b"data: {")
    assert metric(server, "optimum_generation_running", "narrow") == 1
    r.close()
    assert wait_for(lambda: metric(server, "optimum_generation_running", "narrow") == 0, 20)
    spent = metric(server, "optimum_generation_tokens_total", "narrow") - before
    assert spent < LONG / 2, "the request ran to its end after its client left"
    # The one slot serves the next request.
    r = client.completions.create(model="narrow", prompt="Hello", max_tokens=4, temperature=0)
    assert r.usage.completion_tokens == 4


def test_429_past_the_queue(server):
    # One slot running, two waiting: the fourth is refused with 429 and Retry-After.
    held = [stream_raw(server, "narrow", LONG, prompt=f"Hold {i}") for i in range(3)]
    try:
        lines = held[0].iter_lines()  # kept: a dropped iterator may close its connection
        assert next(lines).startswith(b"data: ")
        assert wait_for(lambda: metric(server, "optimum_generation_queue_depth", "narrow") == 2, 20), \
            [line for line in requests.get(server.metrics + "/metrics", timeout=10).text.splitlines()
             if "optimum_generation" in line and "narrow" in line]
        r = requests.post(server.inference + "/v1/completions", timeout=30,
                          json={"model": "narrow", "prompt": "x", "max_tokens": 2})
        assert r.status_code == 429, r.text
        assert r.headers.get("retry-after") and "waiting" in r.json()["error"]["message"]
    finally:
        for h in held:
            h.close()
    assert wait_for(lambda: metric(server, "optimum_generation_running", "narrow") == 0
                    and metric(server, "optimum_generation_queue_depth", "narrow") == 0, 30)


# ---------------------------------------------------------------- OIP generate, TorchServe


def test_oip_generate(server, reference):
    model, tok = reference
    prompt = PROMPTS[0]
    new, text, reason, _ = hf_greedy(model, tok, tok(prompt).input_ids, 20)
    r = requests.post(server.inference + "/v2/models/tiny/generate", timeout=60,
                      json={"text_input": prompt, "parameters": {"max_tokens": 20, "temperature": 0}})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["text_output"] == text and j["model_name"] == "tiny"
    assert j["details"]["finish_reason"] == reason and j["details"]["generated_tokens"] == len(new)
    # Triton's top-level parameters, streamed.
    r = requests.post(server.inference + "/v2/models/tiny/generate_stream", timeout=60, stream=True,
                      json={"text_input": prompt, "max_tokens": 20, "temperature": 0})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len(b"data: "):]) for line in r.iter_lines() if line.startswith(b"data: ")]
    assert "".join(e["text_output"] for e in events) == text
    assert events[-1]["finish_reason"] == reason
    r = requests.post(server.inference + "/v2/models/tiny/generate", timeout=60,
                      json={"text_input": prompt, "parameters": {"beams": 2}})
    assert r.status_code == 400 and "beams" in r.json()["error"]


def test_torchserve_predictions(server, gen_store):
    prompt = PROMPTS[2]
    r = requests.post(server.inference + "/predictions/tiny", timeout=60,
                      json={"inputs": prompt, "parameters": {"max_new_tokens": 16, "do_sample": False}})
    assert r.status_code == 200, r.text
    import optimum_cpp

    pipe = optimum_cpp.pipeline("text-generation", str(gen_store / "tiny"))
    assert r.json() == pipe(prompt, max_new_tokens=16, do_sample=False)


# ---------------------------------------------------------------- load


@pytest.mark.load
def test_16_streaming_chats(server):
    """16 concurrent streaming chats for OPTIMUM_GENERATION_LOAD_SECONDS (60 s): no error."""
    import openai

    c = openai.OpenAI(base_url=server.inference + "/v1", api_key="none", max_retries=0, timeout=120)
    stop_at = time.time() + LOAD_SECONDS
    errors, tokens, answers = [], [0], [0]
    lock = threading.Lock()

    def worker(i):
        k = 0
        while time.time() < stop_at:
            try:
                s = c.chat.completions.create(
                    model="tiny", messages=[{"role": "user", "content": f"Tell story {i}.{k}"}], max_tokens=64,
                    temperature=0.7, seed=i * 1000 + k, stream=True, stream_options={"include_usage": True})
                done = False
                for chunk in s:
                    if chunk.usage:
                        with lock:
                            tokens[0] += chunk.usage.completion_tokens
                    done = done or any(ch.finish_reason for ch in chunk.choices)
                if not done:
                    raise AssertionError("a stream ended without a finish_reason")
                with lock:
                    answers[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with lock:
                    errors.append(repr(e))
            k += 1

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    assert not errors, errors[:5]
    assert answers[0] >= 16
    server_util.SUMMARY.append(f"16 streaming chats x {elapsed:.0f} s (tiny llama, 8 slots): {answers[0]} answers, "
                               f"{tokens[0] / elapsed:.0f} generated tokens/s")
    assert wait_for(lambda: metric(server, "optimum_generation_running", "tiny") == 0, 30)
