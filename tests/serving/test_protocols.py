"""The server's protocols against real clients (requests, tritonclient.http,
the openai client): every answer equals the in-process pipeline, a batch
equals its items one by one, and TorchServe's management API shapes."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import requests

TEXTS = ["Hello world!", "Paris is the capital of France and a great city.", "The weather today is good.",
         "My name is John and I live in London.", "a"]


def close(a, b, atol=1e-5):
    """Nested JSON equality with float tolerance."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (a, b)
        for k in a:
            close(a[k], b[k], atol)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            close(x, y, atol)
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= atol, (a, b)
    else:
        assert a == b, (a, b)


@pytest.fixture(scope="module")
def pipes(oc, store):
    return {
        "minilm": oc.pipeline("text-embedding", str(store / "minilm")),
        "classifier": oc.pipeline("text-classification", str(store / "classifier")),
        "ner": oc.pipeline("token-classification", str(store / "ner")),
        "qa": oc.pipeline("question-answering", str(store / "qa")),
    }


def expected(pipes, model, item, **options):
    return pipes[model].run_batch([item], options, 1)[0] if hasattr(pipes[model], "run_batch") else \
        pipes[model]([item], **options)[0]


# ---------------- TorchServe inference API ----------------

def test_ping_and_api_description(server):
    r = requests.get(server.inference + "/ping", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "Healthy"}
    r = requests.get(server.inference + "/api-description", timeout=10)
    assert r.status_code == 200 and "/predictions/{model_name}" in r.json()["paths"]


@pytest.mark.parametrize("model", ["classifier", "ner", "minilm"])
def test_predictions_text_body_equals_pipeline(server, pipes, model):
    for text in TEXTS:
        r = requests.post(f"{server.inference}/predictions/{model}", data=text.encode(),
                          headers={"Content-Type": "text/plain"}, timeout=30)
        assert r.status_code == 200, r.text
        close(r.json(), pipes[model]([text])[0])


def test_predictions_json_bodies(server, pipes):
    # A JSON object with inputs (a list) and parameters (call options).
    r = requests.post(f"{server.inference}/predictions/classifier",
                      json={"inputs": TEXTS, "parameters": {"top_k": 2}}, timeout=30)
    assert r.status_code == 200, r.text
    close(r.json(), pipes["classifier"](TEXTS, top_k=2))
    # A question-answering object.
    item = {"question": "Where does John live?", "context": "My name is John and I live in London."}
    r = requests.post(f"{server.inference}/predictions/qa", json=item, timeout=30)
    assert r.status_code == 200, r.text
    close(r.json(), pipes["qa"](item))
    # A text pair.
    pair = {"text": "Paris is great.", "text_pair": "The weather today is good."}
    r = requests.post(f"{server.inference}/predictions/classifier", json=pair, timeout=30)
    close(r.json(), pipes["classifier"]([pair])[0])


def test_predictions_multipart(server, pipes):
    files = {"data": ("a.txt", TEXTS[0].encode(), "text/plain"), "more": ("b.txt", TEXTS[1].encode(), "text/plain")}
    r = requests.post(f"{server.inference}/predictions/classifier", files=files, timeout=30)
    assert r.status_code == 200, r.text
    close(r.json(), pipes["classifier"](TEXTS[:2]))


def test_batch_equals_items_one_by_one(server):
    one = [requests.post(f"{server.inference}/predictions/minilm", data=t.encode(), timeout=30).json() for t in TEXTS]
    batch = requests.post(f"{server.inference}/predictions/minilm", json={"inputs": TEXTS}, timeout=30).json()
    close(batch, one)


def test_predictions_version_route_and_streaming(server, pipes):
    r = requests.post(f"{server.inference}/predictions/classifier/1.0", data=TEXTS[0], timeout=30)
    assert r.status_code == 200
    close(r.json(), pipes["classifier"]([TEXTS[0]])[0])
    r = requests.post(f"{server.inference}/predictions/classifier/9.9", data=TEXTS[0], timeout=30)
    assert r.status_code == 404 and "version" in r.json()["message"]
    # NDJSON streaming: one line per input as it is answered.
    with requests.post(f"{server.inference}/predictions/classifier?stream=true", json={"inputs": TEXTS},
                       stream=True, timeout=30) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-ndjson"
        assert r.headers.get("Transfer-Encoding") == "chunked"
        lines = [json.loads(l) for l in r.iter_lines() if l]
    assert sorted(l["index"] for l in lines) == list(range(len(TEXTS)))
    for line in lines:
        close(line["result"], pipes["classifier"]([TEXTS[line["index"]]])[0])


def test_errors_are_named(server):
    r = requests.post(f"{server.inference}/predictions/nope", data="x", timeout=10)
    assert r.status_code == 404 and r.json()["type"] == "NotFound" and "nope" in r.json()["message"]
    r = requests.post(f"{server.inference}/predictions/classifier", data=b"{bad json",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = requests.post(f"{server.inference}/predictions/classifier", json={"inputs": ["x"], "parameters": {"bogus": 1}},
                      timeout=10)
    assert r.status_code == 400 and "bogus" in r.json()["message"]


# ---------------- KServe v2 (tritonclient.http) and v1 ----------------

def test_v2_tritonclient_http(server, pipes):
    import tritonclient.http as httpclient

    c = httpclient.InferenceServerClient(server.inference.removeprefix("http://"))
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("minilm")
    meta = c.get_model_metadata("minilm")
    assert meta["outputs"] == [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}]
    for binary in (False, True):
        inp = httpclient.InferInput("text", [len(TEXTS)], "BYTES")
        inp.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_), binary_data=binary)
        out = httpclient.InferRequestedOutput("embedding", binary_data=binary)
        res = c.infer("minilm", [inp], outputs=[out])
        emb = res.as_numpy("embedding")
        assert emb.shape == (len(TEXTS), 384) and emb.dtype == np.float32
        np.testing.assert_allclose(emb, np.array(pipes["minilm"](TEXTS)), atol=1e-5)
        # classifier: one JSON text per input
        res = c.infer("classifier", [inp])
        got = [json.loads(x) for x in res.as_numpy("output")]
        close(got, pipes["classifier"](TEXTS))
    with pytest.raises(Exception, match="nope"):
        c.infer("nope", [inp])


def test_v2_rest_errors(server):
    url = f"{server.inference}/v2/models/classifier/infer"
    bad = [
        {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["only one"]}]},
        {"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]},
        {"inputs": [{"name": "other", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
        {"inputs": []},
    ]
    for body in bad:
        r = requests.post(url, json=body, timeout=10)
        assert r.status_code == 400, (body, r.text)
        assert "error" in r.json()
    assert requests.get(f"{server.inference}/v2/models/nope", timeout=10).status_code == 404
    r = requests.get(f"{server.inference}/v2", timeout=10)
    assert r.json()["name"] == "optimum-cpp" and "binary_tensor_data" in r.json()["extensions"]


def test_v1_predict(server, pipes):
    r = requests.post(f"{server.inference}/v1/models/classifier:predict", json={"instances": TEXTS}, timeout=30)
    assert r.status_code == 200, r.text
    close(r.json()["predictions"], pipes["classifier"](TEXTS))
    assert requests.get(f"{server.inference}/v1/models/classifier", timeout=10).json() == {"name": "classifier",
                                                                                          "ready": True}


# ---------------- OpenAI ----------------

def test_openai_embeddings(server, pipes):
    import openai

    client = openai.OpenAI(base_url=server.inference + "/v1", api_key="unused", max_retries=0, timeout=30)
    res = client.embeddings.create(model="minilm", input=TEXTS)
    got = np.array([d.embedding for d in res.data])
    np.testing.assert_allclose(got, np.array(pipes["minilm"](TEXTS)), atol=1e-5)
    assert [d.index for d in res.data] == list(range(len(TEXTS)))
    assert res.usage.prompt_tokens == res.usage.total_tokens > len(TEXTS)
    # Asked for explicitly, base64 comes back as the string: little-endian float32 bytes.
    res64 = client.embeddings.create(model="minilm", input=TEXTS[0], encoding_format="base64")
    decoded = np.frombuffer(base64.b64decode(res64.data[0].embedding), dtype="<f4")
    np.testing.assert_allclose(decoded, got[0], atol=1e-6)
    assert [m.id for m in client.models.list().data] == ["classifier", "minilm", "ner", "qa"]
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="classifier", input="x")
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="x")


# ---------------- management API (TorchServe's shapes) ----------------

def test_management_describe_list_scale(server):
    m = server.management
    r = requests.get(m + "/models", timeout=10).json()
    assert [x["modelName"] for x in r["models"]] == ["classifier", "minilm", "ner", "qa"]
    page = requests.get(m + "/models?limit=2", timeout=10).json()
    assert len(page["models"]) == 2 and page["nextPageToken"] == "2"
    rest = requests.get(m + "/models?limit=2&next_page_token=2", timeout=10).json()
    assert [x["modelName"] for x in rest["models"]] == ["ner", "qa"] and "nextPageToken" not in rest
    d = requests.get(m + "/models/classifier", timeout=10).json()
    assert isinstance(d, list) and len(d) == 1
    for key in ("modelName", "modelVersion", "modelUrl", "minWorkers", "maxWorkers", "batchSize", "maxBatchDelay",
                "responseTimeout", "workers"):
        assert key in d[0], key
    assert d[0]["workers"][0]["status"] in ("READY", "BUSY")
    r = requests.put(m + "/models/classifier?min_worker=2&max_worker=2&synchronous=true", timeout=60)
    assert r.status_code == 200 and "Workers scaled to 2" in r.json()["status"], r.text
    assert len(requests.get(m + "/models/classifier", timeout=10).json()[0]["workers"]) == 2
    r = requests.put(m + "/models/classifier?min_worker=1&max_worker=1&synchronous=true", timeout=60)
    assert r.status_code == 200 and "Workers scaled to 1" in r.json()["status"]
    assert requests.get(m + "/models/nope", timeout=10).status_code == 404


def test_management_register_versions_unregister(server, store):
    m = server.management
    r = requests.post(m + "/models", params={"url": "classifier", "model_name": "clf2", "batch_size": 4,
                                             "max_batch_delay": 10, "initial_workers": 1, "synchronous": "true"},
                      timeout=120)
    assert r.status_code == 200 and r.json()["status"].startswith('Model "clf2" Version: 1.0 registered'), r.text
    r = requests.post(m + "/models", params={"url": "classifier", "model_name": "clf2"}, timeout=60)
    assert r.status_code == 409
    d = requests.get(m + "/models/clf2", timeout=10).json()[0]
    assert d["batchSize"] == 4 and d["maxBatchDelay"] == 10
    r = requests.post(server.inference + "/predictions/clf2", data="hello", timeout=30)
    assert r.status_code == 200
    r = requests.delete(m + "/models/clf2", timeout=60)
    assert r.status_code == 200 and r.json() == {"status": 'Model "clf2" unregistered'}
    assert requests.post(server.inference + "/predictions/clf2", data="hello", timeout=30).status_code == 404


def test_metrics(server):
    requests.post(f"{server.inference}/predictions/classifier", data="hello", timeout=30)
    text = requests.get(server.metrics + "/metrics", timeout=10).text
    for name in ("ts_inference_requests_total", "ts_inference_latency_microseconds", "ts_queue_latency_microseconds",
                 "optimum_stage_latency_seconds_bucket", "optimum_batch_size_bucket", "optimum_queue_depth",
                 "optimum_workers", "optimum_process_resident_memory_bytes"):
        assert name in text, name
    for stage in ("queue", "tokenize", "compute", "postprocess"):
        assert f'stage="{stage}"' in text
    only = requests.get(server.metrics + "/metrics?name[]=ts_inference_requests_total", timeout=10).text
    assert "ts_inference_requests_total{" in only and "optimum_batch_size" not in only


def test_response_over_max_response_size(store, tmp_path):
    import server_util

    with server_util.ServerProcess(tmp_path, store, models=["minilm=minilm"],
                                   properties={"max_response_size": 2000}) as s:
        r = requests.post(f"{s.inference}/predictions/minilm", data="hello", timeout=30)
        assert r.status_code == 507 and "max_response_size" in r.json()["message"], r.text
        assert requests.get(f"{s.inference}/ping", timeout=10).status_code == 200
