"""Native export of encoder-decoders (t5, bart, marian) and vit, on tiny random models built with
transformers at test time: the registry lists their tasks (CLI `tasks`, `export --help`, Python API),
the exported folder keeps every preprocessor, loads directly and through export=True, and its outputs,
greedy ids and pipelines equal transformers'; bf16 / int8 exports run the accuracy guard; bad tasks,
hostile or missing preprocessor files and occupied output folders give clear errors."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import optimum_cpp  # noqa: E402
from optimum_cpp import _C  # noqa: E402

torch.set_num_threads(2)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
VOCAB = 99
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a summary of the news: markets rose and fell",
    "translate English to German: the house is small",
    "hello world, how are you today? fine, thanks!",
    "summarize: models turn text into other text",
] * 4
TEXTS = ["the quick fox is small", "hello markets, how are you?", "translate the news today"]
SEQ2SEQ = ["t5", "bart", "marian"]


def _tokenizer(specials, template):
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token=specials[-1]))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=specials,
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()[:60])
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single=template, special_tokens=[(t, tok.token_to_id(t)) for t in specials if t in template])
    return tok


def _cli(*args, timeout=300):
    assert CLI.exists(), f"{CLI} is not built (cmake --build build --target optimum-cpp)"
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _export(src, out, *extra):
    p = _cli("export", "--model", src, *extra, out)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Tiny random t5 / bart / marian checkpoints with trained tokenizers, and a vit with its processor."""
    root = tmp_path_factory.mktemp("s2s-src")
    t5 = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                               relative_attention_num_buckets=8, decoder_start_token_id=0, eos_token_id=1,
                               pad_token_id=0)
    bart = transformers.BartConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                                   decoder_ffn_dim=64, max_position_embeddings=64)
    marian = transformers.MarianConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                                       encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                                       decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=1,
                                       eos_token_id=2, decoder_start_token_id=1, forced_eos_token_id=2)
    setups = {
        "t5": (t5, ["<pad>", "</s>", "<unk>"], "$A </s>", dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")),
        "bart": (bart, ["<s>", "<pad>", "</s>", "<unk>"], "<s> $A </s>",
                 dict(bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>")),
        "marian": (marian, ["<s>", "<pad>", "</s>", "<unk>"], "$A </s>",
                   dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")),
    }
    out = {}
    for i, (name, (config, specials, template, names)) in enumerate(setups.items()):
        torch.manual_seed(70 + i)
        folder = root / name
        model = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
        with torch.no_grad():  # spread the logits so greedy choices are stable
            for p in model.parameters():
                if p.dim() == 2:
                    p.mul_(2.0)
        model.save_pretrained(folder)
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=_tokenizer(specials, template), **names)
        fast.save_pretrained(folder)
        out[name] = folder
    torch.manual_seed(3)
    vit = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=37, num_labels=5,
                                 id2label={i: f"c{i}" for i in range(5)}, label2id={f"c{i}": i for i in range(5)})
    head = transformers.ViTForImageClassification(vit).eval()
    with torch.no_grad():
        head.classifier.weight.mul_(20.0)
    head.save_pretrained(root / "vit")
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "vit")
    out["vit"] = root / "vit"
    return out


@pytest.fixture(scope="module")
def exports(sources, tmp_path_factory):
    root = tmp_path_factory.mktemp("s2s-exports")
    out = {}
    for name, src in sources.items():
        _export(src, root / name)
        out[name] = root / name
    return out


# ------------------------------------------------------------------ registry


def test_registry_lists_the_tasks():
    table = {(m, t, e) for m, t, e in _C.registry_table()}
    for model_type in ("t5", "bart", "mbart", "marian"):
        for task in ("text2text-generation", "text2text-generation-with-past"):
            assert (model_type, task, "native") in table
        assert _C.supported_tasks(model_type) == ["text2text-generation", "text2text-generation-with-past"]
    assert ("vit", "image-classification", "native") in table
    assert ("vit", "feature-extraction", "native") in table
    cfg = _C.export_config("t5", "translation_en_to_de", n_layers=2)
    assert cfg["task"] == "text2text-generation"
    assert [n for n, _ in cfg["inputs"]] == ["input_ids", "attention_mask", "decoder_input_ids"]
    assert [n for n, _ in cfg["outputs"]] == ["logits", "encoder_last_hidden_state"]
    for synonym in ("summarization", "translation", "seq2seq-lm"):
        assert _C.export_config("bart", synonym)["task"] == "text2text-generation"
    past = _C.export_config("bart", "seq2seq-lm-with-past", n_layers=2)
    assert past["task"] == "text2text-generation-with-past" and past["use_past"]
    names = [n for n, _ in past["inputs"]]
    assert "past_key_values.1.decoder.key" in names and "past_key_values.0.encoder.value" in names

    tasks = _cli("tasks")
    assert tasks.returncode == 0, tasks.stderr
    for model_type in ("t5", "bart", "mbart", "marian"):
        assert any(line.split()[:3] == [model_type, "text2text-generation-with-past", "native"]
                   for line in tasks.stdout.splitlines()), tasks.stdout
    helptext = _cli("export", "--help")
    assert helptext.returncode == 0
    assert "text2text-generation" in helptext.stdout and "translation_xx_to_yy" in helptext.stdout


# ------------------------------------------------------------------ export and load


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_export_folder_persists_every_preprocessor(sources, exports, name):
    out = exports[name]
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == "text2text-generation" and meta["model_type"] == name
    assert meta["layout"]["kind"] == "seq2seq" and meta["dtype"] == "fp32"
    assert meta["validation"]["passed"] and meta["validation"]["max_abs_diff"] <= meta["validation"]["atol"]
    outputs = {c["output"] for c in meta["validation"]["cases"]}
    assert outputs == {"logits", "encoder_last_hidden_state"}
    assert {(c["batch_size"], c["encoder_sequence_length"]) for c in meta["validation"]["cases"]} == \
        {(1, 8), (1, 33), (3, 8), (3, 33)}
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        assert (out / f).read_bytes() == (sources[name] / f).read_bytes(), f
        assert f in meta["preprocessors"]
    assert not (out / "model.safetensors").exists()  # transformers refuses the folder
    assert (out / "README.md").exists()


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_exported_outputs_equal_transformers(sources, exports, name):
    atol = _C.export_config(name, "text2text-generation")["atol"]
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources[name]).eval()
    tok = transformers.AutoTokenizer.from_pretrained(sources[name])
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    model = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(exports[name])
    start = hf.config.decoder_start_token_id
    dec = torch.tensor([[start, 5, 6, 7, 8]] * len(TEXTS))
    with torch.no_grad():
        ref = hf(**enc, decoder_input_ids=dec)
    got = model(**enc, decoder_input_ids=dec).logits
    assert np.abs(got - ref.logits.numpy()).max() <= atol
    hidden = model._native.encode(enc["input_ids"].numpy(), enc["attention_mask"].numpy())
    mask = enc["attention_mask"].numpy().astype(bool)
    assert np.abs(np.asarray(hidden)[mask] - ref.encoder_last_hidden_state.numpy()[mask]).max() <= atol


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_generate_over_export_equals_transformers_greedy(sources, exports, name):
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources[name]).eval()
    tok = transformers.AutoTokenizer.from_pretrained(sources[name])
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    model = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(exports[name])
    for kwargs in (dict(max_new_tokens=16), dict(max_new_tokens=10, num_beams=3)):
        with torch.no_grad():
            want = hf.generate(**enc, do_sample=False, **kwargs).numpy()
        got = model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], **kwargs)
        assert got.tolist() == want.tolist(), kwargs


@pytest.mark.parametrize("name", ["t5", "bart"])
@pytest.mark.parametrize("task", ["text2text-generation", "summarization", "translation_en_to_de"])
def test_pipelines_from_exported_folder(sources, exports, name, task):
    from_export = optimum_cpp.pipeline(task, str(exports[name]))
    from_source = optimum_cpp.pipeline(task, str(sources[name]))
    assert from_export(TEXTS, max_new_tokens=8) == from_source(TEXTS, max_new_tokens=8)
    # transformers' Text2TextGenerationPipeline: tokenizer -> generate -> decode(skip_special_tokens).
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources[name]).eval()
    tok = transformers.AutoTokenizer.from_pretrained(sources[name])
    with torch.no_grad():
        ids = hf.generate(**tok(TEXTS[0], return_tensors="pt"), do_sample=False, max_new_tokens=8)
    want = tok.decode(ids[0], skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert list(from_export(TEXTS[0], max_new_tokens=8)[0].values()) == [want]


def test_cli_export_with_task_synonym_and_run(sources, tmp_path):
    out = tmp_path / "t5-translation"
    p = _export(sources["t5"], out, "--task", "translation_en_to_fr")
    assert "text2text-generation" in p.stderr + p.stdout
    assert json.loads((out / "optimum_export.json").read_text())["task"] == "text2text-generation"
    run = _cli("run", "--no-progress", "--model", out, "--task", "summarization", TEXTS[0])
    assert run.returncode == 0, run.stderr
    want = optimum_cpp.pipeline("summarization", str(sources["t5"]))(TEXTS[0])
    assert [json.loads(line) for line in run.stdout.splitlines()] == [want]


def test_from_pretrained_export_true(sources, tmp_path):
    cache = tmp_path / "cache"
    first = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(sources["bart"], export=True, export_cache_dir=cache)
    assert first.exported_now and pathlib.Path(first.path).is_relative_to(cache)
    assert json.loads((pathlib.Path(first.path) / "optimum_export.json").read_text())["layout"]["kind"] == "seq2seq"
    again = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(sources["bart"], export=True, export_cache_dir=cache)
    assert not again.exported_now and again.path == first.path
    direct = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(sources["bart"])
    ids = np.array([[5, 6, 7, 8, 2]])
    assert again.generate(ids, max_new_tokens=12).tolist() == direct.generate(ids, max_new_tokens=12).tolist()
    pipe = optimum_cpp.pipeline("text2text-generation", first.path)
    assert pipe(TEXTS[0], max_new_tokens=6) == optimum_cpp.pipeline("text2text-generation", str(sources["bart"]))(
        TEXTS[0], max_new_tokens=6)


def test_vit_export_loads_and_equals_transformers(sources, exports, tmp_path):
    out = exports["vit"]
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == "image-classification"
    assert "preprocessor_config.json" in meta["preprocessors"]
    assert (out / "preprocessor_config.json").read_bytes() == (sources["vit"] / "preprocessor_config.json").read_bytes()
    hf = transformers.ViTForImageClassification.from_pretrained(sources["vit"]).eval()
    pixels = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        want = hf(pixel_values=pixels).logits.numpy()
    model = optimum_cpp.AutoModelForImageClassification.from_pretrained(str(out))
    got = model(pixel_values=pixels.numpy()).logits
    assert np.abs(np.asarray(got) - want).max() <= _C.export_config("vit", "image-classification")["atol"]
    from PIL import Image

    img = str(tmp_path / "img.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 29, 3), dtype=np.uint8)).save(img)
    assert optimum_cpp.pipeline("image-classification", str(out))(img) == \
        optimum_cpp.pipeline("image-classification", str(sources["vit"]))(img)


# ------------------------------------------------------------------ precision


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_low_precision_export_runs_the_guard(sources, tmp_path, dtype):
    out = tmp_path / f"t5-{dtype}"
    _export(sources["t5"], out, "--dtype", dtype)
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["dtype"] == dtype and meta["accuracy"]["dtype"] == dtype
    assert meta["accuracy"]["exported"]["min_cosine"] >= meta["accuracy"]["thresholds"]["min_cosine"]
    assert any(v == dtype for v in meta["linear_precisions"].values()) or meta["accuracy"]["fallback_linears"]
    # Task-level judgment against transformers fp32: logits cosine per position.
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources["t5"]).eval()
    tok = transformers.AutoTokenizer.from_pretrained(sources["t5"])
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    dec = torch.tensor([[0, 5, 6, 7]] * len(TEXTS))
    with torch.no_grad():
        ref = hf(**enc, decoder_input_ids=dec).logits.numpy().reshape(-1, VOCAB)
    got = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(out)(**enc, decoder_input_ids=dec).logits.reshape(-1, VOCAB)
    cos = (ref * got).sum(-1) / np.linalg.norm(ref, axis=-1) / np.linalg.norm(got, axis=-1)
    assert cos.min() >= 0.98, cos.min()


def test_vit_low_precision_is_refused_clearly(sources, tmp_path):
    p = _cli("export", "--model", sources["vit"], "--dtype", "int8", tmp_path / "vit-int8")
    assert p.returncode != 0 and "vision" in p.stderr and "fp32" in p.stderr
    assert not (tmp_path / "vit-int8").exists()


# ------------------------------------------------------------------ errors


def test_task_the_model_type_lacks(sources, tmp_path):
    p = _cli("export", "--model", sources["t5"], "--task", "text-classification", tmp_path / "x")
    assert p.returncode != 0
    assert "text-classification" in p.stderr and "t5" in p.stderr and "text2text-generation" in p.stderr
    p = _cli("export", "--model", sources["vit"], "--task", "text2text-generation", tmp_path / "y")
    assert p.returncode != 0 and "vit" in p.stderr and "image-classification" in p.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    with pytest.raises(optimum_cpp.UnsupportedError, match="fill-mask"):
        _C.export_native(str(sources["bart"]), str(tmp_path / "z"), task="fill-mask")


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("case", ["tokenizer", "generation_config", "preprocessor_config"])
def test_hostile_preprocessor_files(sources, tmp_path, case):
    if case == "preprocessor_config":
        src = _copy(sources["vit"], tmp_path / "src")
        (src / "preprocessor_config.json").write_text('{"image_processor_type": "ViTImageProcessor", '
                                                       '"size": {"height": -3, "width": "x"}}')
        name = "preprocessor_config.json"
    elif case == "tokenizer":
        src = _copy(sources["t5"], tmp_path / "src")
        (src / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": 17}}')
        name = "tokenizer"
    else:
        src = _copy(sources["bart"], tmp_path / "src")
        (src / "generation_config.json").write_text('{"eos_token_id": "not an id"}')
        name = "generation_config.json"
    out = tmp_path / "out"
    p = _cli("export", "--model", src, out)
    assert p.returncode != 0
    assert name in p.stderr, p.stderr
    assert not out.exists()
    assert not any(x.name.startswith("out.partial") for x in tmp_path.iterdir())


def test_missing_preprocessor_files(sources, tmp_path):
    src = _copy(sources["t5"], tmp_path / "src")
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        (src / f).unlink(missing_ok=True)
    out = tmp_path / "out"
    _export(src, out)
    # generation_config.json is written from config.json, as transformers' GenerationConfig.from_model_config.
    gen = json.loads((out / "generation_config.json").read_text())
    want = transformers.GenerationConfig.from_model_config(transformers.AutoConfig.from_pretrained(src))
    for key in ("decoder_start_token_id", "eos_token_id", "pad_token_id"):
        assert gen[key] == getattr(want, key), key
    model = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(out)
    assert model.tokenizer is None
    ids = np.array([[5, 6, 7, 1]])
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources["t5"]).eval()
    with torch.no_grad():
        want_ids = hf.generate(torch.tensor(ids), do_sample=False, max_new_tokens=8).numpy()
    assert model.generate(ids, max_new_tokens=8).tolist() == want_ids.tolist()
    with pytest.raises(optimum_cpp.NotFoundError, match="tokenizer"):
        optimum_cpp.pipeline("text2text-generation", str(out))


def test_output_folder_exists(sources, exports, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    p = _cli("export", "--model", sources["bart"], busy)
    assert p.returncode != 0 and "busy" in p.stderr and "not empty" in p.stderr
    assert (busy / "notes.txt").read_text() == "keep me" and len(list(busy.iterdir())) == 1
    p = _cli("export", "--model", sources["bart"], sources["bart"])
    assert p.returncode != 0 and "source" in p.stderr
    assert (sources["bart"] / "model.safetensors").exists()
    # An export is replaced in place.
    again = tmp_path / "again"
    _export(sources["marian"], again)
    _export(sources["marian"], again)
    assert json.loads((again / "optimum_export.json").read_text())["validation"]["passed"]
