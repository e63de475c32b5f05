"""ONNX export of the vision encoder (vit) and the encoder-decoders (t5, bart, mbart, marian), issues 16/17.

For every registered ONNX (model_type, task) of these families a tiny random transformers model built here
is exported with `optimum-cpp export --format onnx`, passes onnx's full checker, has the registry's
input/output names with every symbolic dimension a declared axis name, and runs in ONNX Runtime against
transformers at the registry's ATOL: ViT on batches of random images; encoder-decoders on Optimum's grid
(batch [1, 3, 5] x sequence [8, 33, 96, 154], random right padding) for the encoder, then the decoder
without past, and the merged decoder's first step (use_cache_branch false) and a second step on its own
present (use_cache_branch true). optimum-onnx (its own virtualenv, one child interpreter for all folders)
loads the folders: ORTModelForSeq2SeqLM's greedy generate equals transformers', ORTModelForImageClassification's
logits equal transformers'. Bad input (an opset lacking an op, a task the model lacks) is a clear error."""

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import transformers as T

import optimum_cpp as oc

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
VENV_PYTHON = ROOT / ".venv-bench" / "onnx" / "bin" / "python"
CHILD = Path(__file__).resolve().parent / "ort_seq2seq_child.py"

GRID_BATCH = [1, 3, 5]
GRID_SEQUENCE = [8, 33, 96, 154]
VOCAB = 120
SEQ2SEQ_SMALL = dict(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                     decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=160,
                     pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
# name -> (model_type, config factory, transformers class); t5 twice: v1.0 (relu, tied head) and v1.1
# (gated-gelu, untied head); relative_attention_max_distance 20 so the grid reaches the saturated buckets.
SEQ2SEQ = {
    "t5": ("t5", lambda: T.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2,
                                    num_heads=4, relative_attention_max_distance=20, pad_token_id=0, eos_token_id=1,
                                    decoder_start_token_id=0), T.T5ForConditionalGeneration),
    "t5-v1_1": ("t5", lambda: T.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                         num_decoder_layers=2, num_heads=4, feed_forward_proj="gated-gelu",
                                         tie_word_embeddings=False, relative_attention_max_distance=20,
                                         pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
                T.T5ForConditionalGeneration),
    "bart": ("bart", lambda: T.BartConfig(**SEQ2SEQ_SMALL), T.BartForConditionalGeneration),
    "mbart": ("mbart", lambda: T.MBartConfig(**SEQ2SEQ_SMALL), T.MBartForConditionalGeneration),
    "marian": ("marian", lambda: T.MarianConfig(**{**SEQ2SEQ_SMALL, "pad_token_id": 1, "decoder_start_token_id": 1}),
               T.MarianMTModel),
}
VIT = lambda **kw: T.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                               image_size=32, patch_size=8, num_channels=3, **kw)
VIT_HEADS = {"feature-extraction": T.ViTModel, "image-classification": T.ViTForImageClassification}
SEQ2SEQ_TASKS = ["text2text-generation", "text2text-generation-with-past"]
ONNX_ROWS = sorted((m, t) for m, t, e in oc._C.registry_table() if e == "onnx")


def spec(model_type, task, n_layers=0):
    return oc._C.export_config(model_type, task, n_layers, "onnx")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def session_for(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cli(*args, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(name, task) -> (transformers model, export folder), built and exported once per module."""
    cache = {}

    def get(name, task):
        if (name, task) not in cache:
            root = tmp_path_factory.mktemp(f"{name}-{task}")
            torch.manual_seed(0)
            if name == "vit":
                cfg = VIT(num_labels=3) if task == "image-classification" else VIT()
                model = VIT_HEADS[task](cfg).eval()
            else:
                _, config, cls = SEQ2SEQ[name]
                model = cls(config()).eval()
            model.save_pretrained(root / "src")
            cli("export", "--model", root / "src", "--format", "onnx", "--task", task, root / "out")
            cache[(name, task)] = (model, root / "out")
        return cache[(name, task)]

    return get


def check_file(path, inputs, outputs):
    """Full checker; the registry's names in order; every symbolic dim a declared axis name."""
    onnx.checker.check_model(str(path), full_check=True)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == [name for name, _ in inputs]
    assert [o.name for o in graph.output] == [name for name, _ in outputs]
    declared = dict(inputs) | dict(outputs)
    for value in list(graph.input) + list(graph.output):
        axes = declared[value.name]
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_param"):
                assert dim.dim_param == axes.get(i), (path.name, value.name, i, dim.dim_param, axes)
            else:
                assert dim.HasField("dim_value") and i not in axes, (path.name, value.name, i)


def test_registry_rows():
    rows = set(ONNX_ROWS)
    assert {("vit", t) for t in VIT_HEADS} <= rows
    for model_type in {m for m, _, _ in SEQ2SEQ.values()}:
        assert {t for m, t in rows if m == model_type} == set(SEQ2SEQ_TASKS)
        for task in SEQ2SEQ_TASKS:
            s = spec(model_type, task, 2)
            assert s["is_encoder_decoder"] and not s["is_decoder"] and s["use_past"] == task.endswith("-with-past")
            assert [n for n, _ in s["inputs"]] == ["input_ids", "attention_mask"]
            names = [n for n, _ in s["decoder_inputs"]]
            assert names[:3] == ["encoder_attention_mask", "input_ids", "encoder_hidden_states"]
            if s["use_past"]:
                assert names[3:7] == [f"past_key_values.0.{p}.{kv}" for p in ("decoder", "encoder")
                                      for kv in ("key", "value")]
                assert names[-1] == "use_cache_branch"
                assert [n for n, _ in s["decoder_outputs"]][:5] == [
                    "logits", "present.0.decoder.key", "present.0.decoder.value", "present.0.encoder.key",
                    "present.0.encoder.value"]


@pytest.mark.parametrize("task", sorted(VIT_HEADS))
def test_vit_matches_transformers(task, exported):
    model, out = exported("vit", task)
    s = spec("vit", task)
    check_file(out / "model.onnx", s["inputs"], s["outputs"])
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert "Conv" in ops
    session = session_for(out / "model.onnx")
    outputs = [o.name for o in session.get_outputs()]
    assert outputs == (["last_hidden_state", "pooler_output"] if task == "feature-extraction" else ["logits"])
    rng = np.random.default_rng(0)
    for batch in GRID_BATCH:
        pixels = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        got = dict(zip(outputs, session.run(None, {"pixel_values": pixels})))
        with torch.no_grad():
            want = model(pixel_values=torch.from_numpy(pixels))
        for name in outputs:
            diff = np.abs(got[name] - want[name].numpy()).max()
            assert diff <= s["atol"], f"vit/{task}/{name} at batch {batch}: {diff}"


def seq2seq_grid(config, batch, seq, rng):
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    mask = (np.arange(seq) < lengths[:, None]).astype(np.int64)
    ids = rng.integers(3, VOCAB, size=(batch, seq))
    ids[mask == 0] = config.pad_token_id
    return ids, mask


@pytest.mark.parametrize("name", sorted(SEQ2SEQ))
@pytest.mark.parametrize("task", SEQ2SEQ_TASKS)
def test_seq2seq_matches_transformers_on_the_grid(name, task, exported):
    model_type = SEQ2SEQ[name][0]
    model, out = exported(name, task)
    cfg = model.config
    n_layers = cfg.num_layers if model_type == "t5" else cfg.decoder_layers
    s = spec(model_type, task, n_layers)
    past = s["use_past"]
    decoder_file = "decoder_model_merged.onnx" if past else "decoder_model.onnx"
    assert sorted(p.name for p in out.glob("*.onnx")) == sorted(["encoder_model.onnx", decoder_file])
    check_file(out / "encoder_model.onnx", s["inputs"], s["outputs"])
    check_file(out / decoder_file, s["decoder_inputs"], s["decoder_outputs"])
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["files"] == ["encoder_model.onnx", decoder_file] and meta["task"] == task
    assert (out / "generation_config.json").is_file()
    assert json.loads((out / "config.json").read_text())["model_type"] == model_type
    atol = s["atol"]
    encoder, decoder = session_for(out / "encoder_model.onnx"), session_for(out / decoder_file)
    dec_names = [o.name for o in decoder.get_outputs()]
    heads, head_dim = 4, 8
    rng = np.random.default_rng(0)
    for batch in GRID_BATCH:
        for seq in GRID_SEQUENCE:
            ids, mask = seq2seq_grid(cfg, batch, seq, rng)
            hidden = encoder.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            with torch.no_grad():
                want_hidden = model.get_encoder()(input_ids=torch.from_numpy(ids),
                                                  attention_mask=torch.from_numpy(mask)).last_hidden_state
            diff = np.abs(hidden - want_hidden.numpy()).max()
            assert diff <= atol, f"{name} encoder at {batch}x{seq}: {diff}"
            if seq not in (8, 33):
                continue  # the decoder on the shorter half of the grid (its cost grows with both lengths)
            dec_ids = rng.integers(3, VOCAB, size=(batch, 5))
            dec_ids[:, 0] = cfg.decoder_start_token_id
            step2 = rng.integers(3, VOCAB, size=(batch, 2))
            with torch.no_grad():
                want = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             decoder_input_ids=torch.from_numpy(np.concatenate([dec_ids, step2], 1))).logits.numpy()
            feeds = {"encoder_attention_mask": mask, "input_ids": dec_ids, "encoder_hidden_states": hidden}
            if past:
                # Optimum's first step: dummy past (any length: it is ignored), use_cache_branch false.
                for dummy in (0, 1):
                    empty = np.zeros((batch, heads, dummy, head_dim), np.float32)
                    first = feeds | {k: empty for k, _ in s["decoder_inputs"] if k.startswith("past_key_values")}
                    first["use_cache_branch"] = np.array([False])
                    got = dict(zip(dec_names, decoder.run(None, first)))
                    diff = np.abs(got["logits"] - want[:, :5]).max()
                    assert diff <= atol, f"{name} decoder step 1 (dummy past {dummy}) at {batch}x{seq}: {diff}"
                    assert got["present.0.decoder.key"].shape == (batch, heads, 5, head_dim)
                    assert got["present.0.encoder.key"].shape == (batch, heads, seq, head_dim)
                second = {"encoder_attention_mask": mask, "input_ids": step2, "encoder_hidden_states": hidden,
                          "use_cache_branch": np.array([True])}
                for k, _ in s["decoder_inputs"]:
                    if k.startswith("past_key_values"):
                        second[k] = got[k.replace("past_key_values", "present")]
                got2 = dict(zip(dec_names, decoder.run(None, second)))
                diff = np.abs(got2["logits"] - want[:, 5:]).max()
                assert diff <= atol, f"{name} decoder step 2 (cache branch) at {batch}x{seq}: {diff}"
                assert got2["present.1.decoder.value"].shape == (batch, heads, 7, head_dim)
                np.testing.assert_array_equal(got2["present.1.encoder.value"], got["present.1.encoder.value"])
            else:
                got = decoder.run(None, feeds)[0]
                diff = np.abs(got - want[:, :5]).max()
                assert diff <= atol, f"{name} decoder at {batch}x{seq}: {diff}"


def test_optimum_onnx_loads_the_folders(exported, tmp_path):
    """One child interpreter in optimum-onnx's venv: ORTModelForSeq2SeqLM (merged decoder with past, and
    decoder_model.onnx with use_cache=False) generates transformers' greedy ids; ORTModelForImageClassification
    gives transformers' logits."""
    assert VENV_PYTHON.is_file(), f"{VENV_PYTHON} is missing: run `make optimum-onnx-venv`"
    rng = np.random.default_rng(5)
    jobs, wants = [], []
    new = 10
    # Every family's merged decoder; decoder_model.onnx (use_cache=False) once: each load costs seconds.
    cases = [(n, "text2text-generation-with-past") for n in sorted(SEQ2SEQ)] + [("bart", "text2text-generation")]
    for name, task in cases:
        model, out = exported(name, task)
        ids, mask = seq2seq_grid(model.config, 3, 9, rng)
        with torch.no_grad():
            want = model.generate(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                  do_sample=False, num_beams=1, max_new_tokens=new, min_new_tokens=new)
        jobs.append({"kind": "seq2seq", "folder": str(out), "input_ids": ids.tolist(),
                     "attention_mask": mask.tolist(), "max_new_tokens": new,
                     "ort_kwargs": {} if task.endswith("-with-past") else {"use_cache": False}})
        wants.append(want.tolist())
    model, out = exported("vit", "image-classification")
    pixels = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    jobs.append({"kind": "image-classification", "folder": str(out), "pixel_values": pixels.tolist()})
    with torch.no_grad():
        wants.append(model(pixel_values=torch.from_numpy(pixels)).logits.numpy())
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"jobs": jobs}))
    proc = subprocess.run([str(VENV_PYTHON), str(CHILD), str(req)], capture_output=True, text=True, timeout=400,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])["results"]
    for job, got, want in zip(jobs, results, wants):
        if job["kind"] == "seq2seq":
            assert got["class"] == "ORTModelForSeq2SeqLM"
            assert got["merged"] == (job["ort_kwargs"] == {}), job["folder"]
            assert got["generated"] == want, job["folder"]
        else:
            assert got["class"] == "ORTModelForImageClassification"
            np.testing.assert_allclose(np.array(got["logits"]), want, atol=spec("vit", "image-classification")["atol"])


@pytest.mark.parametrize("args,message", [
    (["--task", "text2text-generation-with-past", "--opset", "10"], "lacks the operator 'Range'"),
    (["--task", "text-classification"], "task 'text-classification' is not supported for model_type 't5'"),
    (["--monolith"], "--monolith (one model.onnx) is not written yet for the encoder-decoder 't5'"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(args, message, exported, tmp_path):
    model, out = exported("t5", "text2text-generation-with-past")
    target = tmp_path / "bad"
    proc = cli("export", "--model", out.parent / "src", "--format", "onnx", *args, target, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert not target.exists() and not list(tmp_path.glob("bad.partial-*"))


def test_vit_task_it_lacks_is_a_clear_error(exported, tmp_path):
    _, out = exported("vit", "feature-extraction")
    proc = cli("export", "--model", out.parent / "src", "--format", "onnx", "--task", "fill-mask", tmp_path / "x",
               check=False)
    assert proc.returncode != 0 and "task 'fill-mask' is not supported for model_type 'vit'" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_default_task_is_the_merged_decoder(exported, tmp_path):
    _, out = exported("bart", "text2text-generation")
    proc = cli("export", "--model", out.parent / "src", "--format", "onnx", tmp_path / "auto")
    assert proc.returncode == 0
    assert json.loads((tmp_path / "auto" / "optimum_export.json").read_text())["task"] == \
        "text2text-generation-with-past"
    assert (tmp_path / "auto" / "decoder_model_merged.onnx").is_file()


@pytest.mark.parametrize("args", [["--dtype", "fp16"], ["--opset", "14"]])
def test_fp16_and_opset_14(args, exported, tmp_path):
    """fp16 (norms and softmax in fp32) and opset 14 (LayerNorm decomposed) merged decoders run and stay
    close to transformers (fp16: 1e-2)."""
    model, src = exported("bart", "text2text-generation")
    out = tmp_path / "out"
    cli("export", "--model", src.parent / "src", "--format", "onnx", *args, out)
    fp16 = "fp16" in args
    dtype = np.float16 if fp16 else np.float32
    for f in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        onnx.checker.check_model(str(out / f), full_check=True)
        ops = {n.op_type for n in onnx.load(str(out / f)).graph.node}
        assert ("LayerNormalization" in ops) == fp16, (f, args)
    rng = np.random.default_rng(2)
    ids, mask = seq2seq_grid(model.config, 3, 12, rng)
    hidden = session_for(out / "encoder_model.onnx").run(None, {"input_ids": ids, "attention_mask": mask})[0]
    assert hidden.dtype == dtype
    dec_ids = rng.integers(3, VOCAB, size=(3, 4))
    decoder = session_for(out / "decoder_model_merged.onnx")
    empty = np.zeros((3, 4, 0, 8), dtype)
    feeds = {i.name: empty for i in decoder.get_inputs() if i.name.startswith("past_key_values")}
    feeds |= {"encoder_attention_mask": mask, "input_ids": dec_ids, "encoder_hidden_states": hidden,
              "use_cache_branch": np.array([False])}
    logits = decoder.run(["logits"], feeds)[0]
    with torch.no_grad():
        want = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                     decoder_input_ids=torch.from_numpy(dec_ids)).logits.numpy()
    np.testing.assert_allclose(logits.astype(np.float32), want, atol=1e-2 if fp16 else 1e-4)
