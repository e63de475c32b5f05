"""`optimum-cpp serve` under faults: models that fail at load, an error
inside a batch, unregister and scale during traffic, clients that leave
mid-request, response timeouts (504) and a full queue (429). Each gets the
right status, nothing is lost, and the server keeps serving."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import pathlib
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import server_util  # noqa: E402

T = 30  # seconds: bound of every HTTP call


def link_copy(src: pathlib.Path, dst: pathlib.Path):
    """A model folder copy made of hard links (the weights are not duplicated)."""
    shutil.copytree(src, dst, copy_function=os.link)


def fresh_copy(src: pathlib.Path, dst: pathlib.Path):
    shutil.copytree(src, dst)


def long_text(seed: int, words: int = 220) -> str:
    rng = random.Random(seed)
    vocab = ["model", "server", "batch", "queue", "token", "river", "mountain", "quiet", "light", "music",
             "paper", "window", "garden", "number", "signal", "engine", "winter", "story", "bridge", "cloud"]
    return " ".join(rng.choice(vocab) for _ in range(words))


@pytest.fixture(scope="module")
def fault_store(store, tmp_path_factory):
    """minilm and cls (links to the shared store's), `badbatch` (a classifier whose forward fails on
    texts longer than its 512 positions: its tokenizer does not truncate) and broken models."""
    root = tmp_path_factory.mktemp("faults")
    fs = root / "model_store"
    fs.mkdir()
    link_copy(store / "minilm", fs / "minilm")
    link_copy(store / "classifier", fs / "cls")
    fresh_copy(store / "classifier", fs / "badbatch")
    tok = json.loads((fs / "badbatch" / "tokenizer_config.json").read_text())
    tok["model_max_length"] = 1_000_000
    (fs / "badbatch" / "tokenizer_config.json").write_text(json.dumps(tok))
    (fs / "badbatch" / "model-config.yaml").write_text(
        "batchSize: 4\nmaxBatchDelay: 1500\nmaxBatchTokens: 1000000\nminWorkers: 1\nmaxWorkers: 1\n")
    # Broken models: registration fails, the server keeps serving.
    weights = (store / "classifier" / "model.safetensors").read_bytes()
    fresh_copy(store / "classifier", fs / "garbage_weights")
    (fs / "garbage_weights" / "model.safetensors").write_bytes(random.Random(0).randbytes(len(weights)))
    fresh_copy(store / "classifier", fs / "truncated_weights")
    (fs / "truncated_weights" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    fresh_copy(store / "classifier", fs / "wrong_shape")
    cfg = json.loads((fs / "wrong_shape" / "config.json").read_text())
    cfg["hidden_size"] = cfg["hidden_size"] * 2
    (fs / "wrong_shape" / "config.json").write_text(json.dumps(cfg))
    fresh_copy(store / "classifier", fs / "bad_config")
    (fs / "bad_config" / "config.json").write_text('{"model_type": "bert", "hidden_size": ')
    fresh_copy(store / "classifier", fs / "no_weights")
    (fs / "no_weights" / "model.safetensors").unlink()
    fresh_copy(store / "classifier", fs / "bad_tokenizer")
    (fs / "bad_tokenizer" / "tokenizer.json").write_text('{"model": {"type": "WordPiece", "vocab": 5}}')
    # An archive of a broken model: validated and extracted, then the load fails.
    subprocess.run([str(server_util.CLI), "archive", "--model-name", "corrupt", "--version", "1.0", "--model",
                    str(fs / "garbage_weights"), "--handler", "text-classification", "--export-path", str(fs)],
                   check=True, capture_output=True, timeout=120)
    return fs


# url -> what its registration error names.
BROKEN = {"garbage_weights": ["Failed to load model garbage_weights", "garbage_weights/model.safetensors"],
          "truncated_weights": ["Failed to load model truncated_weights", "truncated_weights/model.safetensors",
                                "past the end"],
          "wrong_shape": ["Failed to load model wrong_shape", "wrong_shape/model.safetensors", "config.json"],
          "bad_config": ["bad_config/config.json", "malformed JSON"],
          "no_weights": ["Failed to load model no_weights", "no weights"],
          "bad_tokenizer": ["Failed to load model bad_tokenizer", "bad_tokenizer/tokenizer.json"],
          "corrupt.mar": ["Failed to load model corrupt", "model/model.safetensors"]}


@pytest.fixture(scope="module")
def fault_server(fault_store, tmp_path_factory):
    s = server_util.ServerProcess(tmp_path_factory.mktemp("fault_server"), fault_store,
                                  models=["minilm=minilm", "cls=cls", "badbatch=badbatch"],
                                  properties={"default_workers_per_model": 1},
                                  # The timeout test bounds when the 504 arrives; on a CI machine
                                  # running two suites at once, spinning OpenMP threads (the server's
                                  # default, for latency) would take the cores from the I/O thread.
                                  env={"OPTIMUM_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"})
    yield s
    s.stop()


def tree(folder: pathlib.Path) -> dict:
    return {str(p.relative_to(folder)): None if p.is_dir() else p.stat().st_size
            for p in sorted(pathlib.Path(folder).rglob("*"))}


def scratch(server) -> pathlib.Path:
    return pathlib.Path("/tmp") / f"optimum-cpp-serve-{server.pid}"


def predict(server, model, data, timeout=T):
    return requests.post(f"{server.inference}/predictions/{model}", data=data, timeout=timeout)


def models(server):
    return sorted(m["modelName"] for m in requests.get(server.management + "/models", timeout=T).json()["models"])


def serves(server):
    a = predict(server, "cls", "a fine day")
    b = requests.post(server.inference + "/v1/embeddings", json={"model": "minilm", "input": "hello"}, timeout=T)
    return a.status_code == 200 and b.status_code == 200 and len(b.json()["data"][0]["embedding"]) == 384


def metric(server, name, **labels) -> float:
    text = requests.get(server.metrics + "/metrics", timeout=T).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- a model that fails at load ----------------------------------------------------------------


def test_models_failing_at_load(fault_server, fault_store):
    s = fault_server
    before_store, before_scratch = tree(fault_store), tree(scratch(s))
    for url in BROKEN:
        r = requests.post(s.management + "/models", params={"url": url, "synchronous": "true"}, timeout=120)
        assert r.status_code == 400, (url, r.status_code, r.text)
        msg = r.json()["message"]
        for needle in BROKEN[url]:
            assert needle in msg, (url, needle, msg)
        assert models(s) == ["badbatch", "cls", "minilm"], url
        assert serves(s), url
    # Nothing is left behind: the store as it was, the failed archive's extraction removed.
    assert tree(fault_store) == before_store and tree(scratch(s)) == before_scratch
    assert requests.get(s.inference + "/v2/health/ready", timeout=T).status_code == 200
    # Asynchronous: 202, the failure logged, readiness back, the name free to register again.
    r = requests.post(s.management + "/models", params={"url": "garbage_weights", "synchronous": "false"}, timeout=T)
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while "loading model garbage_weights failed" not in s.log_text():
        assert time.time() < deadline, s.log_text()[-3000:]
        time.sleep(0.05)
    assert requests.get(s.inference + "/v2/health/ready", timeout=T).status_code == 200
    assert models(s) == ["badbatch", "cls", "minilm"] and serves(s) and s.alive()
    assert tree(scratch(s)) == before_scratch


def test_models_failing_at_startup_are_skipped(fault_store, tmp_path):
    """--models with broken ones: each failure logged naming the model and file, the others served."""
    with server_util.ServerProcess(tmp_path, fault_store, models=["cls=cls", "g=garbage_weights", "c=corrupt.mar"],
                                   env={"OPTIMUM_NUM_THREADS": "1"}) as s:
        assert models(s) == ["cls"]
        assert predict(s, "cls", "hello").status_code == 200
        log = s.log_text()
        assert "model g failed to load" in log and "garbage_weights/model.safetensors" in log, log
        assert "failed to load" in log and "corrupt" in log, log
        assert tree(scratch(s)) == {}, "the broken archive's extraction stayed"
        assert requests.get(s.inference + "/v2/health/ready", timeout=T).status_code == 200


# ---- an error inside a batch -----------------------------------------------------------------


def test_error_inside_a_batch_fails_only_its_request(fault_server):
    """badbatch (batch 4, 1.5 s batch delay, one worker): one text over 512 tokens makes its batch's forward
    fail; that request gets the error, its batch mates (computed again one by one), the next batch and
    every other model are served. A client cannot fail other clients' requests."""
    s = fault_server
    bad = long_text(1, 700)
    with cf.ThreadPoolExecutor(8) as ex:
        first = [ex.submit(predict, s, "badbatch", bad)] + [ex.submit(predict, s, "badbatch", f"good {i}")
                                                            for i in range(3)]
        # The first batch is full (4 inputs): it runs at once. The next four make the next batch.
        results = [f.result() for f in first]
        second = [ex.submit(predict, s, "badbatch", f"fine {i}") for i in range(4)]
        other = ex.submit(predict, s, "cls", "another model")
        results2 = [f.result() for f in second]
        assert other.result().status_code == 200
    assert results[0].status_code == 400, results[0].text
    err = results[0].json()["message"]
    assert "512" in err and "max_position_embeddings" in err, err
    assert [r.status_code for r in results[1:]] == [200] * 3, [r.text for r in results[1:]]
    assert all(r.json()["label"] in ("NEG", "POS") for r in results[1:])
    # A request holding the bad text among good ones fails as a whole, naming it.
    r = requests.post(s.inference + "/predictions/badbatch", json={"inputs": ["good", bad, "fine"]}, timeout=T)
    assert r.status_code == 400 and r.json()["message"] == err, r.text
    assert [r.status_code for r in results2] == [200] * 4, [r.text for r in results2]
    assert all(r.json()["label"] in ("NEG", "POS") for r in results2)
    assert serves(s) and s.alive()


# ---- unregister and scale during traffic ------------------------------------------------------------


def test_unregister_and_scale_during_traffic(fault_server, fault_store):
    s = fault_server
    r = requests.post(s.management + "/models", params={"url": "cls", "model_name": "busy", "batch_size": 4,
                                                        "max_batch_delay": 5, "initial_workers": 2}, timeout=T)
    assert r.status_code == 200, r.text
    stop = threading.Event()
    unregistered = threading.Event()
    lock = threading.Lock()
    sent, answers, errors = [0], [], []

    def client(i):
        sess = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            with lock:
                sent[0] += 1
            after = unregistered.is_set()
            try:
                if n % 3 == 0:
                    r = sess.post(s.inference + "/v2/models/busy/infer", json={"inputs": [
                        {"name": "text", "shape": [2], "datatype": "BYTES", "data": [f"v2 {i} {n}", "x"]}]}, timeout=T)
                else:
                    r = sess.post(s.inference + "/predictions/busy", data=f"client {i} request {n}", timeout=T)
                with lock:
                    answers.append((after, r.status_code, r.text[:200]))
            except Exception as e:  # noqa: BLE001 (every failure is counted)
                with lock:
                    errors.append(repr(e))

    def scaler(seq):
        for w in seq:
            if stop.is_set():
                return
            r = requests.put(s.management + "/models/busy", params={"min_worker": w, "max_worker": 4,
                                                                     "synchronous": "true"}, timeout=T)
            assert r.status_code in (200, 404), r.text
            time.sleep(0.05)

    with cf.ThreadPoolExecutor(8) as ex:
        try:
            clients = [ex.submit(client, i) for i in range(6)]
            time.sleep(0.5)
            # Two scalers at once: concurrent scale requests on one model.
            s1 = ex.submit(scaler, [3, 1, 4, 2, 1, 3, 2, 4, 1, 2])
            s2 = ex.submit(scaler, [2, 4, 1, 3, 2, 1, 4, 3, 2, 1])
            s1.result()
            s2.result()
            time.sleep(0.3)
            r = requests.delete(s.management + "/models/busy", timeout=T)
            assert r.status_code == 200, r.text
            unregistered.set()
            time.sleep(0.5)
        finally:
            stop.set()  # the clients stop whatever failed
        for c in clients:
            c.result()
    assert not errors, errors[:5]
    assert len(answers) == sent[0], (len(answers), sent[0])  # every request answered, none lost
    codes = {}
    for after, code, text in answers:
        codes[code] = codes.get(code, 0) + 1
        assert code in (200, 404, 503), (code, text)
        if after:
            assert code in (404, 503), (code, text)
    assert codes.get(200, 0) > 20, codes
    assert sum(1 for a in answers if a[0] and a[1] == 404) > 0, codes
    assert "busy" not in models(s) and serves(s) and s.alive()


def test_unregister_while_its_requests_wait_in_the_pool(fault_server):
    """The tokenize/post-process pool is busy with another model's huge inputs while requests to
    `late` wait in it; `late` is unregistered before they run. They are answered 503/404 (the model
    object outlives its pending pool tasks: no use after free, which the ASan build checks)."""
    s = fault_server
    r = requests.post(s.management + "/models", params={"url": "cls", "model_name": "late", "initial_workers": 1},
                      timeout=T)
    assert r.status_code == 200, r.text
    huge = ("word " * 1_200_000)[:6_000_000]  # about 6 MB: long to tokenize
    with cf.ThreadPoolExecutor(16) as ex:
        hogs = [ex.submit(predict, s, "minilm", huge, 120) for _ in range(4)]
        time.sleep(0.3)
        late = [ex.submit(predict, s, "late", f"waiting {i}") for i in range(8)]
        time.sleep(0.1)
        r = requests.delete(s.management + "/models/late", timeout=T)
        assert r.status_code == 200, r.text
        codes = [f.result().status_code for f in late]
        hog_codes = [f.result().status_code for f in hogs]
    assert set(codes) <= {200, 404, 503}, codes
    assert set(hog_codes) <= {200, 413}, hog_codes
    assert s.alive() and serves(s)


# ---- a client that disconnects mid-request ---------------------------------------------------------


def one_long(server, model, seed=0, words=220):
    t0 = time.time()
    r = predict(server, model, long_text(seed, words))
    assert r.status_code == 200, r.text
    return time.time() - t0


@pytest.mark.parametrize("words", [220, 3])
def test_client_disconnect_mid_request(fault_server, words):
    """Long inputs (the watchdog sees the client leave first) and short ones (the worker meets the
    abandoned inputs first, within milliseconds: they must be answered 499 too, not dropped uncounted)."""
    s = fault_server
    r = requests.post(s.management + "/models", params={"url": "minilm", "model_name": "slow", "batch_size": 1,
                                                        "initial_workers": 1, "response_timeout": 600}, timeout=120)
    assert r.status_code == 200, r.text
    per_input = min(one_long(s, "slow", i, words) for i in range(3))
    n = min(900, max(8, int(4.0 / max(per_input, 0.001))))  # about 4 s of work
    body = json.dumps({"inputs": [long_text(100 + i, words) for i in range(n)]}).encode()
    before_499 = metric(s, "optimum_responses_total", model_name="slow", code="499")
    sock = socket.create_connection(("127.0.0.1", int(s.inference.rsplit(":", 1)[1])), timeout=10)
    sock.sendall(b"POST /predictions/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.5)
    sock.close()  # the client leaves mid-request
    # The abandoned inputs are dropped: a new request is answered long before the ~6 s of work.
    t0 = time.time()
    r = predict(s, "slow", "still there?")
    waited = time.time() - t0
    assert r.status_code == 200, r.text
    assert waited < max(1.0, min(3.0, n * per_input / 2)), (waited, n, per_input)
    deadline = time.time() + 10
    while metric(s, "optimum_responses_total", model_name="slow", code="499") < before_499 + 1:
        assert time.time() < deadline, [line for line in requests.get(s.metrics + "/metrics", timeout=T).text.splitlines()
                                         if "slow" in line and ("responses" in line or "depth" in line)]
        time.sleep(0.05)
    assert metric(s, "optimum_queue_depth", model_name="slow") == 0
    assert serves(s) and s.alive()
    assert requests.delete(s.management + "/models/slow", timeout=T).status_code == 200


# ---- response timeout and a full queue ----------------------------------------------------------------


def test_response_timeout_504(fault_server):
    s = fault_server
    r = requests.post(s.management + "/models", params={"url": "minilm", "model_name": "hurry", "batch_size": 1,
                                                        "initial_workers": 1, "response_timeout": 1}, timeout=120)
    assert r.status_code == 200, r.text
    per_input = min(one_long(s, "hurry", i) for i in range(2))
    n = max(10, int(4.0 / max(per_input, 0.01)))  # about 4 s of work for a 1 s timeout
    t0 = time.time()
    r = requests.post(s.inference + "/predictions/hurry", json={"inputs": [long_text(200 + i) for i in range(n)]},
                      timeout=T)
    took = time.time() - t0
    assert r.status_code == 504, r.text
    assert "hurry" in r.json()["message"] and "timeout" in r.json()["message"], r.text
    assert 0.9 < took < 3.0, took
    # The expired inputs left the queue: the next request is served in time.
    r = predict(s, "hurry", "quick")
    assert r.status_code == 200, r.text
    assert metric(s, "optimum_responses_total", model_name="hurry", code="504") >= 1
    assert requests.delete(s.management + "/models/hurry", timeout=T).status_code == 200
    assert serves(s) and s.alive()


@pytest.fixture(scope="module")
def queue_server(fault_store, tmp_path_factory):
    s = server_util.ServerProcess(tmp_path_factory.mktemp("queue_server"), fault_store, models=["minilm=minilm"],
                                  properties={"default_workers_per_model": 1, "job_queue_size": 4},
                                  env={"OPTIMUM_NUM_THREADS": "1"})
    yield s
    s.stop()


def test_full_queue_429_with_retry_after(queue_server):
    s = queue_server
    # More inputs in one request than the queue holds: 413 naming job_queue_size.
    r = requests.post(s.inference + "/predictions/minilm", json={"inputs": ["a"] * 5}, timeout=T)
    assert r.status_code == 413 and "job_queue_size" in r.json()["message"], r.text
    # 16 clients at once on one worker and a queue of 4: some are turned away with 429 + Retry-After.
    with cf.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(lambda i: predict(s, "minilm", long_text(300 + i)), range(16)))
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {200, 429}, [r.text for r in results]
    refused = [r for r in results if r.status_code == 429]
    assert refused and codes.count(200) >= 4, codes
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1, r.headers
        assert "queue is full" in r.json()["message"] and "minilm" in r.json()["message"], r.text
    assert metric(s, "optimum_responses_total", model_name="minilm", code="429") == len(refused)
    # The queue drains and the server serves again.
    r = predict(s, "minilm", "after the storm")
    assert r.status_code == 200 and s.alive()
