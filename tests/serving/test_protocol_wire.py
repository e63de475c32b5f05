"""The serving protocol codecs against the real clients, byte for byte, with
no server: tritonclient.http builds v2 requests (JSON and binary tensors) and
reads our v2 responses; the openai client sends /v1/embeddings through an
httpx MockTransport whose answer our codec writes. The codecs run in
build/serving_protocol_tool (target serving_protocol_tool)."""

import base64
import json
import pathlib
import subprocess

import httpx2 as httpx  # the HTTP library the openai client is built on
import numpy as np
import openai
import pytest
import tritonclient.http as httpclient
from tritonclient.http._utils import _get_inference_request
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = ROOT / "build" / "serving_protocol_tool"


@pytest.fixture(scope="module", autouse=True)
def tool_built():
    assert TOOL.exists(), f"{TOOL} is missing: cmake --build build --target serving_protocol_tool"


def run_tool(*args):
    out = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, timeout=30)
    assert out.returncode in (0, 2), out.stderr.decode()
    return json.loads(out.stdout), out.returncode


def triton_body(inputs, outputs=None, request_id="", parameters=None):
    body, json_size = _get_inference_request(
        inputs=inputs, request_id=request_id, outputs=outputs, sequence_id=0, sequence_start=False,
        sequence_end=False, priority=0, timeout=None, custom_parameters=parameters)
    return body, json_size


def parse(tmp_path, inputs, task="text-embedding", **kw):
    body, json_size = triton_body(inputs, **kw)
    (tmp_path / "req.bin").write_bytes(body)
    result, rc = run_tool("v2-request", tmp_path / "req.bin", "-" if json_size is None else json_size, task)
    assert rc == 0, result
    return result, body, json_size


def bytes_input(name, texts, binary, shape=None):
    arr = np.array([t.encode() for t in texts], dtype=np.object_)
    if shape is not None:
        arr = arr.reshape(shape)
    i = httpclient.InferInput(name, list(arr.shape), "BYTES")
    i.set_data_from_numpy(arr, binary_data=binary)
    return i


TEXTS = ["hello world", "naïve café 日本語 🤗", ""]


@pytest.mark.parametrize("binary", [True, False])
def test_bytes_input(tmp_path, binary):
    result, body, json_size = parse(tmp_path, [bytes_input("text", TEXTS[:2], binary)],
                                    outputs=[httpclient.InferRequestedOutput("embedding", binary_data=binary)],
                                    request_id="req-1", parameters={"top_k": 2})
    assert (json_size is not None) == binary
    req = result["request"]
    assert req["id"] == "req-1"
    (t,) = req["inputs"]
    assert t["name"] == "text" and t["datatype"] == "BYTES" and t["shape"] == [2]
    assert [bytes(b) for b in t["bytes"]] == [s.encode() for s in TEXTS[:2]]
    if binary:
        # The raw section is tritonclient's serialize_byte_tensor, byte for byte.
        raw = serialize_byte_tensor(np.array([s.encode() for s in TEXTS[:2]], dtype=np.object_)).item()
        assert body[json_size:] == raw
        assert t["parameters"]["binary_data_size"] == len(raw)
    assert req["outputs"] == [{"name": "embedding", "binary_data": binary}]
    assert result["call"] == {"inputs": TEXTS[:2], "options": {"top_k": 2}}


def test_no_outputs_asks_binary_output_and_n_by_1(tmp_path):
    result, _, _ = parse(tmp_path, [bytes_input("text", TEXTS, True, shape=(3, 1))])
    assert result["request"]["binary_data_output"] is True
    assert result["request"]["inputs"][0]["shape"] == [3, 1]
    assert result["call"]["inputs"] == TEXTS
    assert result["call"]["options"] == {}


@pytest.mark.parametrize("dtype,triton", [(np.float32, "FP32"), (np.float16, "FP16"), (np.float64, "FP64"),
                                          (np.int64, "INT64"), (np.int8, "INT8"), (np.uint8, "UINT8"),
                                          (np.uint32, "UINT32"), (np.bool_, "BOOL")])
@pytest.mark.parametrize("binary", [True, False])
def test_numeric_inputs(tmp_path, dtype, triton, binary):
    arr = (np.arange(6).reshape(2, 3) * (1 if triton in ("BOOL",) or "INT" in triton else 1.25)).astype(dtype)
    if triton == "BOOL":
        arr = np.array([[True, False, True], [False, False, True]])
    i = httpclient.InferInput("x", [2, 3], triton)
    i.set_data_from_numpy(arr, binary_data=binary)
    result, _, _ = parse(tmp_path, [i])
    (t,) = result["request"]["inputs"]
    assert t["datatype"] == triton and t["shape"] == [2, 3]
    if binary:
        assert bytes(t["raw"]) == arr.tobytes()
        assert t["numbers"] == []
    else:
        assert t["raw"] is None
        assert np.array_equal(np.array(t["numbers"], dtype=np.float64).reshape(2, 3), arr.astype(np.float64))
    assert "unexpected input 'x'" in result["call_error"]


@pytest.mark.parametrize("binary", [True, False])
def test_question_answering_and_pairs(tmp_path, binary):
    result, _, _ = parse(tmp_path, [bytes_input("question", ["Who?"], binary),
                                    bytes_input("context", ["Ann did."], binary)], task="question-answering")
    assert result["call"]["inputs"] == [{"question": "Who?", "context": "Ann did."}]
    result, _, _ = parse(tmp_path, [bytes_input("text", ["a", "b"], binary),
                                    bytes_input("text_pair", ["c", "d"], binary)], task="text-classification")
    assert result["call"]["inputs"] == [{"text": "a", "text_pair": "c"}, {"text": "b", "text_pair": "d"}]


def test_invalid_utf8_in_binary_bytes(tmp_path):
    arr = np.array([b"ok", b"\xff\xfe"], dtype=np.object_)
    i = httpclient.InferInput("text", [2], "BYTES")
    i.set_data_from_numpy(arr, binary_data=True)
    result, _, _ = parse(tmp_path, [i])
    assert "input 'text' element 1" in result["call_error"] and "UTF-8" in result["call_error"]


def respond(tmp_path, inputs, outputs, results, task):
    body, json_size = triton_body(inputs, outputs=outputs)
    (tmp_path / "req.bin").write_bytes(body)
    (tmp_path / "results.json").write_text(json.dumps({"outputs": results}))
    meta, rc = run_tool("v2-response", tmp_path / "req.bin", "-" if json_size is None else json_size,
                        tmp_path / "results.json", task, tmp_path / "resp.bin")
    assert rc == 0, meta
    response = (tmp_path / "resp.bin").read_bytes()
    return httpclient.InferResult.from_response_body(response, header_length=meta["header_length"]), meta


@pytest.mark.parametrize("binary", [True, False, None])
def test_embedding_response_read_by_tritonclient(tmp_path, binary):
    vectors = [[0.1, -2.5, 3.0e-8, 7.0], [1.0, 2.0, 3.0, 4.0]]
    outputs = None if binary is None else [httpclient.InferRequestedOutput("embedding", binary_data=binary)]
    result, meta = respond(tmp_path, [bytes_input("text", ["a", "b"], True)], outputs, vectors, "text-embedding")
    assert (meta["header_length"] is not None) == (binary is not False)
    emb = result.as_numpy("embedding")
    assert emb.dtype == np.float32 and emb.shape == (2, 4)
    assert np.array_equal(emb, np.array(vectors, dtype=np.float32))
    out = result.get_response()
    assert out["model_name"] == "model" and out["model_version"] == "1"
    assert out["outputs"][0]["datatype"] == "FP32" and out["outputs"][0]["shape"] == [2, 4]


@pytest.mark.parametrize("binary", [True, False])
def test_bytes_response_read_by_tritonclient(tmp_path, binary):
    results = [[{"label": "POSITIVE", "score": 0.9}], {"answer": "Ann 日本", "score": 0.5}]
    result, _ = respond(tmp_path, [bytes_input("text", ["a", "b"], binary)],
                        [httpclient.InferRequestedOutput("output", binary_data=binary)], results,
                        "text-classification")
    out = result.as_numpy("output")
    assert out.shape == (2,)
    assert [json.loads(o) for o in out] == results
    if binary:
        raw = (tmp_path / "resp.bin").read_bytes()
        header = json.loads(raw[:len(raw) - result.get_response()["outputs"][0]["parameters"]["binary_data_size"]])
        tail = raw[len(json.dumps(header, separators=(",", ":"))):]
        assert [json.loads(o) for o in deserialize_bytes_tensor(tail)] == results


def test_refused_requests_are_400(tmp_path):
    i = bytes_input("text", ["a"], True)
    body, json_size = triton_body([i])
    (tmp_path / "req.bin").write_bytes(body[:-1])  # truncated binary tensor
    result, rc = run_tool("v2-request", tmp_path / "req.bin", json_size, "text-embedding")
    assert rc == 2 and result["error"]["http"] == 400, result
    assert "'text'" in result["error"]["message"]


@pytest.mark.parametrize("encoding", ["float", "base64", None])
def test_openai_client_embeddings(tmp_path, encoding):
    vectors = [[0.1, -2.5, 3.0e-8], [1.0, 2.0, 3.5]]
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/embeddings"
        seen["body"] = json.loads(request.content)
        (tmp_path / "req.json").write_bytes(request.content)
        (tmp_path / "results.json").write_text(json.dumps({"outputs": vectors, "tokens": [3, 4]}))
        out, rc = run_tool("openai-response", tmp_path / "req.json", tmp_path / "results.json")
        assert rc == 0, out
        return httpx.Response(200, json=out)

    client = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:1/v1",
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    kw = {} if encoding is None else {"encoding_format": encoding}
    response = client.embeddings.create(model="minilm", input=["a", "b"], **kw)
    # The client asks for base64 when no format is given and decodes it itself.
    assert seen["body"].get("encoding_format") == (encoding or "base64")
    assert response.model == "minilm" and response.object == "list"
    assert response.usage.prompt_tokens == 7 and response.usage.total_tokens == 7
    assert [d.index for d in response.data] == [0, 1]
    if encoding == "base64":  # asked for explicitly: the client hands the text over as is
        got = np.array([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in response.data])
    else:
        got = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert np.array_equal(got, np.array(vectors, dtype=np.float32))


def test_openai_base64_is_float32_little_endian(tmp_path):
    (tmp_path / "req.json").write_text(json.dumps({"input": "a", "model": "m", "encoding_format": "base64"}))
    (tmp_path / "results.json").write_text(json.dumps({"outputs": [[1.0, -0.5, 0.1]], "tokens": [1]}))
    out, rc = run_tool("openai-response", tmp_path / "req.json", tmp_path / "results.json")
    assert rc == 0
    assert base64.b64decode(out["data"][0]["embedding"]) == np.array([1.0, -0.5, 0.1], dtype="<f4").tobytes()


def test_openai_refuses_token_ids(tmp_path):
    (tmp_path / "req.json").write_text(json.dumps({"input": [[1, 2, 3]], "model": "m"}))
    (tmp_path / "results.json").write_text(json.dumps({"outputs": []}))
    out, rc = run_tool("openai-response", tmp_path / "req.json", tmp_path / "results.json")
    assert rc == 2 and out["error"]["http"] == 400 and "token-id" in out["error"]["message"]


def test_torchserve_multipart_from_requests(tmp_path):
    req = httpx.Request("POST", "http://x/predictions/m",
                        files={"data": (None, "first text"), "file": ("a.txt", "second ✓".encode(), "text/plain")})
    body = req.read()
    (tmp_path / "body.bin").write_bytes(body)
    out, rc = run_tool("torchserve", req.headers["content-type"], tmp_path / "body.bin")
    assert rc == 0, out
    assert out["inputs"] == ["first text", "second ✓"]
