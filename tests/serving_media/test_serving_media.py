"""Serving the encoder-decoder and vision tasks (issue 17 through issue 12's request path): a real
`optimum-cpp serve` process on ephemeral loopback ports over `optimum-cpp archive` files of tiny
models built with transformers at test time (t5 for text2text-generation / summarization /
translation_en_to_de, ViT for image-classification). Every answer equals the in-process pipeline
(optimum_cpp.pipeline) on the same input; hostile bodies are answered 4xx naming the problem with
the process alive."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
import requests

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
from PIL import Image  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "serving"))
if str(ROOT / "python") not in sys.path:
    sys.path.append(str(ROOT / "python"))
import server_util  # noqa: E402

import optimum_cpp as oc  # noqa: E402

torch.set_num_threads(2)

VOCAB = 99
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a summary of the news: markets rose and fell",
    "translate English to German: the house is small",
    "hello world, how are you today? fine, thanks!",
    "summarize: models turn text into other text",
] * 4
TEXTS = ["the quick fox is small", "hello markets, how are you?", "translate the news today"]
# handler name given to `optimum-cpp archive` -> the served model's name and the answer's key
TEXT2TEXT = {"text2text-generation": ("t2t", "generated_text"), "summarization": ("summ", "summary_text"),
             "translation_en_to_de": ("trans", "translation_text")}


def _t5(folder: pathlib.Path) -> None:
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "</s>", "<unk>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()[:60])
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(single="$A </s>",
                                                                  special_tokens=[("</s>", tok.token_to_id("</s>"))])
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0,
        task_specific_params={"summarization": {"prefix": "summarize: ", "max_length": 12},
                              "translation_en_to_de": {"prefix": "translate English to German: ", "num_beams": 3}})
    torch.manual_seed(50)
    transformers.AutoModelForSeq2SeqLM.from_config(config).eval().save_pretrained(folder)
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                         unk_token="<unk>").save_pretrained(folder)


def _vit(folder: pathlib.Path) -> None:
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=37, num_labels=7,
                                    id2label={i: f"class_{i}" for i in range(7)},
                                    label2id={f"class_{i}": i for i in range(7)})
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(config).eval()
    with torch.no_grad():  # spread the logits so the ranking is stable
        model.classifier.weight.mul_(20.0)
    model.save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5, 0.4, 0.3],
                                   image_std=[0.2, 0.3, 0.4]).save_pretrained(folder)


def _archive(folder: pathlib.Path, name: str, handler: str, store: pathlib.Path) -> pathlib.Path:
    subprocess.run([str(server_util.CLI), "archive", "--model-name", name, "--version", "1.0", "--model", str(folder),
                    "--handler", handler, "--export-path", str(store)], check=True, capture_output=True)
    return store / f"{name}.mar"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving-media")
    store = root / "store"
    store.mkdir()
    _t5(root / "t5")
    _vit(root / "vit")
    for handler, (name, _) in TEXT2TEXT.items():
        _archive(root / "t5", name, handler, store)
    _archive(root / "vit", "vit", "image-classification", store)
    return {"root": root, "store": store, "t5": root / "t5", "vit": root / "vit"}


@pytest.fixture(scope="module")
def server(models):
    names = [f"{name}={name}.mar" for name, _ in TEXT2TEXT.values()] + ["vit=vit.mar"]
    s = server_util.ServerProcess(models["root"] / "server", models["store"], models=names,
                                  properties={"default_workers_per_model": 1})
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}:\n{s.log_text()[-4000:]}"


@pytest.fixture(scope="module")
def images(models):
    """Encoded images of several sizes, modes and formats, and their files."""
    rng = np.random.default_rng(0)
    out = []
    for i, (h, w, mode, fmt) in enumerate([(32, 32, "RGB", "PNG"), (45, 61, "RGB", "PNG"), (17, 29, "L", "PNG"),
                                            (40, 33, "RGBA", "PNG"), (64, 48, "RGB", "JPEG"),
                                            (31, 70, "RGB", "WEBP")]):
        arr = rng.integers(0, 256, size=(h, w, {"RGB": 3, "L": 1, "RGBA": 4}[mode]), dtype=np.uint8)
        img = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)
        buf = io.BytesIO()
        img.save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        path = models["root"] / f"img{i}.{fmt.lower()}"
        path.write_bytes(buf.getvalue())
        out.append((buf.getvalue(), str(path)))
    return out


@pytest.fixture(scope="module")
def vit_pipe(models):
    return oc.pipeline("image-classification", model=str(models["vit"]))


def same_scores(got, want):
    assert [x["label"] for x in got] == [x["label"] for x in want]
    np.testing.assert_allclose([x["score"] for x in got], [x["score"] for x in want], atol=1e-5)


def alive_and_serving(server, images, vit_pipe):
    assert server.alive(), server.log_text()[-4000:]
    r = requests.post(f"{server.inference}/predictions/vit", data=images[0][0], timeout=30)
    assert r.status_code == 200, r.text
    same_scores(r.json(), vit_pipe(images[0][1]))


# ---------------- archive ----------------

def test_archives_carry_the_preprocessor_files(models):
    with zipfile.ZipFile(models["store"] / "vit.mar") as z:
        names = z.namelist()
        manifest = json.loads(z.read("MAR-INF/MANIFEST.json"))
    assert any(n.endswith("preprocessor_config.json") for n in names), names
    assert manifest["model"]["handler"] == "image-classification"
    with zipfile.ZipFile(models["store"] / "trans.mar") as z:
        manifest = json.loads(z.read("MAR-INF/MANIFEST.json"))
        assert any(n.endswith("tokenizer.json") for n in z.namelist())
    assert manifest["model"]["handler"] == "translation_en_to_de"


def test_speech_recognition_is_refused_naming_the_task(models, tmp_path):
    from optimum_cpp import _C

    tasks = _C.pipeline_tasks()
    if "automatic-speech-recognition" in tasks:
        pytest.fail("automatic-speech-recognition is a pipeline task now: serve it and test it here")
    r = subprocess.run([str(server_util.CLI), "archive", "--model-name", "asr", "--version", "1.0", "--model",
                        str(models["t5"]), "--handler", "automatic-speech-recognition", "--export-path",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode != 0 and "automatic-speech-recognition" in r.stderr, r.stderr


def test_register_speech_recognition_is_a_400_naming_the_task(server, models):
    r = requests.post(server.management + "/models",
                      params={"url": "trans.mar", "model_name": "asr", "handler": "automatic-speech-recognition",
                              "synchronous": "true"}, timeout=60)
    assert r.status_code == 400 and "automatic-speech-recognition" in r.text, r.text
    assert server.alive()


# ---------------- text2text-generation, summarization, translation ----------------

@pytest.mark.parametrize("handler", list(TEXT2TEXT))
def test_text2text_torchserve_equals_pipeline(server, models, handler):
    name, key = TEXT2TEXT[handler]
    pipe = oc.pipeline(handler, str(models["t5"]))
    r = requests.post(f"{server.inference}/predictions/{name}", data=TEXTS[0].encode(), timeout=60)
    assert r.status_code == 200, r.text
    want = pipe(TEXTS[0])
    assert r.json() == want and list(want[0]) == [key]
    # A JSON list: one answer per input, each equal to the input alone.
    r = requests.post(f"{server.inference}/predictions/{name}", json=TEXTS, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == [pipe(t) for t in TEXTS]
    # Call options ride along as TorchServe's "parameters".
    r = requests.post(f"{server.inference}/predictions/{name}",
                      json={"inputs": TEXTS[1], "parameters": {"max_new_tokens": 5}}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == pipe(TEXTS[1], max_new_tokens=5)


def test_text2text_v2_tritonclient_equals_pipeline(server, models):
    import tritonclient.http as httpclient

    c = httpclient.InferenceServerClient(server.inference.removeprefix("http://"))
    assert c.is_model_ready("summ")
    meta = c.get_model_metadata("summ")
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    pipe = oc.pipeline("summarization", str(models["t5"]))
    for binary in (False, True):
        inp = httpclient.InferInput("text", [len(TEXTS)], "BYTES")
        inp.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_), binary_data=binary)
        res = c.infer("summ", [inp], outputs=[httpclient.InferRequestedOutput("output", binary_data=binary)])
        assert [json.loads(x) for x in res.as_numpy("output")] == [pipe(t) for t in TEXTS]


def test_text2text_bad_options_are_named(server):
    r = requests.post(f"{server.inference}/predictions/t2t", json={"inputs": "x", "parameters": {"bogus_opt": 1}},
                      timeout=30)
    assert r.status_code == 400 and "bogus_opt" in r.text, r.text
    r = requests.post(f"{server.inference}/predictions/t2t", json={"inputs": [{"a": 1}]}, timeout=30)
    assert r.status_code == 400 and "string" in r.text, r.text


# ---------------- image-classification ----------------

def test_image_torchserve_raw_bodies_equal_pipeline(server, images, vit_pipe, models):
    for data, path in images:
        for ctype in ("application/octet-stream", None):
            headers = {"Content-Type": ctype} if ctype else {}
            r = requests.post(f"{server.inference}/predictions/vit", data=data, headers=headers, timeout=30)
            assert r.status_code == 200, r.text
            same_scores(r.json(), vit_pipe(path))
    # top_k through a JSON body holding base64 (TorchServe's vision handlers take base64 strings)
    r = requests.post(f"{server.inference}/predictions/vit",
                      json={"inputs": base64.b64encode(images[1][0]).decode(), "parameters": {"top_k": 2}},
                      timeout=30)
    assert r.status_code == 200, r.text
    same_scores(r.json(), vit_pipe(images[1][1], top_k=2))
    # and the in-process pipeline itself equals transformers' on these files
    ref = transformers.pipeline("image-classification", model=str(models["vit"]), device="cpu",
                                image_processor=transformers.AutoImageProcessor.from_pretrained(models["vit"],
                                                                                                use_fast=False))
    for _, path in images:
        want = ref(path)
        got = vit_pipe(path)
        assert [x["label"] for x in got] == [x["label"] for x in want]
        np.testing.assert_allclose([x["score"] for x in got], [x["score"] for x in want], atol=1e-4)


def test_image_torchserve_multipart_files(server, images, vit_pipe):
    files = [("data", (f"img{i}", data, "image/png")) for i, (data, _) in enumerate(images)]
    r = requests.post(f"{server.inference}/predictions/vit", files=files, timeout=60)
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got) == len(images)
    for g, (_, path) in zip(got, images):
        same_scores(g, vit_pipe(path))


def test_image_v2_tritonclient_equals_pipeline(server, images, vit_pipe):
    import tritonclient.http as httpclient

    c = httpclient.InferenceServerClient(server.inference.removeprefix("http://"))
    meta = c.get_model_metadata("vit")
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    inp = httpclient.InferInput("image", [len(images)], "BYTES")
    inp.set_data_from_numpy(np.array([d for d, _ in images], dtype=np.object_), binary_data=True)
    for binary_out in (False, True):
        res = c.infer("vit", [inp], outputs=[httpclient.InferRequestedOutput("output", binary_data=binary_out)])
        got = [json.loads(x) for x in res.as_numpy("output")]
        for g, (_, path) in zip(got, images):
            same_scores(g, vit_pipe(path))
    # A JSON body carries the encoded image as base64 text.
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                        "data": [base64.b64encode(images[4][0]).decode()]}], "parameters": {"top_k": 3}}
    r = requests.post(f"{server.inference}/v2/models/vit/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    same_scores(json.loads(r.json()["outputs"][0]["data"][0]), vit_pipe(images[4][1], top_k=3))


def test_image_and_text2text_grpc_tritonclient(server, images, vit_pipe, models):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    c = grpcclient.InferenceServerClient(server.grpc)
    inp = grpcclient.InferInput("image", [2], "BYTES")
    inp.set_data_from_numpy(np.array([images[0][0], images[5][0]], dtype=np.object_))
    got = [json.loads(x) for x in c.infer("vit", [inp]).as_numpy("output")]
    same_scores(got[0], vit_pipe(images[0][1]))
    same_scores(got[1], vit_pipe(images[5][1]))
    text = grpcclient.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array([TEXTS[0].encode()], dtype=np.object_))
    got = [json.loads(x) for x in c.infer("trans", [text]).as_numpy("output")]
    assert got == [oc.pipeline("translation_en_to_de", str(models["t5"]))(TEXTS[0])]
    bad = grpcclient.InferInput("image", [1], "FP32")
    bad.set_data_from_numpy(np.zeros(1, dtype=np.float32))
    with pytest.raises(InferenceServerException, match="expected BYTES"):
        c.infer("vit", [bad])
    garbage = grpcclient.InferInput("image", [1], "BYTES")
    garbage.set_data_from_numpy(np.array([b"\x00\x01 not an image"], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="not a JPEG, PNG or WebP"):
        c.infer("vit", [garbage])
    assert server.alive()


def test_image_v1_predict(server, images, vit_pipe):
    body = {"instances": [base64.b64encode(images[2][0]).decode(), {"b64": base64.b64encode(images[3][0]).decode()}]}
    r = requests.post(f"{server.inference}/v1/models/vit:predict", json=body, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    same_scores(got[0], vit_pipe(images[2][1]))
    same_scores(got[1], vit_pipe(images[3][1]))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height RGB pixels, with a tiny IDAT and IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def test_hostile_image_bodies_are_4xx_naming_the_problem(server, images, vit_pipe):
    url = f"{server.inference}/predictions/vit"
    png = images[0][0]
    cases = [
        (b"this is not an image at all", "image/png", "not a JPEG, PNG or WebP"),
        (png[: len(png) // 2], "image/png", "image"),                      # truncated PNG
        (png[:20], "image/png", "image"),                                  # cut inside the IHDR
        (_png_header_only(100000, 100000), "image/png", "pixels"),        # decompression bomb
        (_png_header_only(0, 5), "image/png", "image"),                   # empty dimension
        (b"\xff\xd8\xff" + b"\x00" * 100, "image/jpeg", "image"),         # JPEG magic, garbage after
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp", "image"),          # WebP magic, nothing after
        (b"", "image/png", "empty"),
    ]
    for body, ctype, words in cases:
        r = requests.post(url, data=body, headers={"Content-Type": ctype}, timeout=30)
        assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text)
        assert words.lower() in r.text.lower(), (body[:40], r.text)
    # A JSON string is base64, never a path the server would read.
    for value in ["/etc/passwd", "../../../etc/passwd", "not base64!"]:
        r = requests.post(url, json={"inputs": value}, timeout=30)
        assert r.status_code == 400 and "base64" in r.text, r.text
    r = requests.post(url, json={"inputs": [1, 2]}, timeout=30)
    assert r.status_code == 400 and "input 0" in r.text, r.text
    # v2: wrong datatype, wrong name, non-image bytes, base64 of garbage
    v2 = f"{server.inference}/v2/models/vit/infer"
    for body, words in [
        ({"inputs": [{"name": "image", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]}]}, "datatype"),
        ({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}, "image"),
        ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["plain words"]}]}, "JPEG"),
        ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                      "data": [base64.b64encode(b"garbage bytes!").decode()]}]}, "JPEG"),
        ({"inputs": [{"name": "image", "shape": [1, 2, 3], "datatype": "BYTES", "data": ["a"] * 6}]}, "shape"),
    ]:
        r = requests.post(v2, json=body, timeout=30)
        assert r.status_code == 400, (body, r.text)
        assert words.lower() in r.json()["error"].lower(), (body, r.text)
    # one bad image in a batch fails the request, naming it; the server goes on
    files = [("data", ("good", png, "image/png")), ("data", ("bad", b"nope", "image/png"))]
    r = requests.post(url, files=files, timeout=30)
    assert r.status_code == 400 and "not a JPEG, PNG or WebP" in r.text, r.text
    alive_and_serving(server, images, vit_pipe)


def test_text_models_refuse_binary_bodies(server):
    r = requests.post(f"{server.inference}/predictions/t2t", data=b"\x89PNG\r\n\x1a\n\x00\xff",
                      headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 400 and "UTF-8" in r.text, r.text
    assert server.alive()


# ---------------- prepare (setup_config modes of these tasks) ----------------

@pytest.mark.parametrize("mode,source,save_mode", [("image_classification", "vit", "pretrained"),
                                                   ("image_classification", "vit", "native"),
                                                   ("summarization", "t5", "pretrained"),
                                                   ("translation_en_to_de", "t5", "pretrained")])
def test_prepare_carries_the_preprocessor_files_and_serves(server, models, images, vit_pipe, tmp_path, mode, source,
                                                           save_mode):
    config = tmp_path / "setup_config.json"
    config.write_text(json.dumps({"model_name": str(models[source]), "mode": mode, "save_mode": save_mode,
                                  "max_length": "20"}))
    p = subprocess.run([str(server_util.CLI), "prepare", "--config", str(config)], cwd=tmp_path, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    archive = tmp_path / "model_store" / f"{models[source].name}.mar"
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    wanted = "preprocessor_config.json" if source == "vit" else "tokenizer.json"
    assert any(n.endswith(wanted) for n in names), names
    if mode == "image_classification":
        assert "max_length" in p.stderr  # not an image option: warned about, not written
    name = f"prep-{mode}-{save_mode}".replace("_", "-")
    (models["store"] / f"{name}.mar").write_bytes(archive.read_bytes())
    r = requests.post(server.management + "/models", params={"url": f"{name}.mar", "model_name": name,
                                                              "synchronous": "true", "initial_workers": 1},
                      timeout=120)
    assert r.status_code == 200, r.text
    try:
        if source == "vit":
            r = requests.post(f"{server.inference}/predictions/{name}", data=images[1][0], timeout=30)
            assert r.status_code == 200, r.text
            same_scores(r.json(), vit_pipe(images[1][1]))
        else:
            r = requests.post(f"{server.inference}/predictions/{name}", data=TEXTS[2].encode(), timeout=60)
            assert r.status_code == 200, r.text
            assert r.json() == oc.pipeline(mode, str(models["t5"]), max_length=20)(TEXTS[2])
    finally:
        requests.delete(f"{server.management}/models/{name}", timeout=60)
