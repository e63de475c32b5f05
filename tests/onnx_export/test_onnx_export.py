"""ONNX export (`optimum-cpp export --format onnx`, `optimum_cpp.export_onnx`): for every
encoder (model_type, task) of the registry's "onnx" rows, a tiny random transformers model
built here is exported, checked with onnx's full checker, and run in ONNX Runtime on
Optimum's validation grid (batch [1, 3, 5] x sequence [8, 33, 96, 154], random right padding)
against transformers at the registry's ATOL; names and dynamic axes are the registry's.
Also opset 14 (decomposed LayerNorm), fp16, static shapes, external data and bad input."""

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

# Positions for the grid's longest sequence (154) past RoBERTa's / MPNet's padding offset.
SMALL = dict(vocab_size=120, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=160)
CONFIGS = {
    "bert": lambda: T.BertConfig(hidden_size=32, **SMALL),
    "roberta": lambda: T.RobertaConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "xlm-roberta": lambda: T.XLMRobertaConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "camembert": lambda: T.CamembertConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "distilbert": lambda: T.DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                             max_position_embeddings=160),
    "electra": lambda: T.ElectraConfig(hidden_size=32, embedding_size=16, **SMALL),
    "albert": lambda: T.AlbertConfig(hidden_size=32, embedding_size=16, **SMALL),
    "mpnet": lambda: T.MPNetConfig(hidden_size=32, **SMALL),
}
HEADS = {
    "feature-extraction": T.AutoModel,
    "text-classification": T.AutoModelForSequenceClassification,
    "token-classification": T.AutoModelForTokenClassification,
    "question-answering": T.AutoModelForQuestionAnswering,
    "fill-mask": T.AutoModelForMaskedLM,
    "multiple-choice": T.AutoModelForMultipleChoice,
}
GRID_BATCH = [1, 3, 5]
GRID_SEQUENCE = [8, 33, 96, 154]
NUM_CHOICES = 2
ONNX_ROWS = sorted((m, t) for m, t, exporter in oc._C.registry_table() if exporter == "onnx")


def _text_encoder_row(model_type, task):
    # Text encoders only: ViT (pixel_values) and the encoder-decoders are tests/onnx_seq2seq's.
    spec = oc._C.export_config(model_type, task, 0, "onnx")
    return not (spec["is_decoder"] or spec["is_encoder_decoder"] or
                any(name == "pixel_values" for name, _ in spec["inputs"]))


ENCODER_ROWS = [(m, t) for m, t in ONNX_ROWS if _text_encoder_row(m, t)]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny models: one thread is faster than two on the shared CI cores (6x here).
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


def build(model_type, task, folder):
    torch.manual_seed(0)
    model = HEADS[task].from_config(CONFIGS[model_type]()).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """(model_type, task, *extra CLI args) -> (transformers model, export folder), built once."""
    cache = {}

    def get(model_type, task, *args):
        key = (model_type, task, *map(str, args))
        if key not in cache:
            root = tmp_path_factory.mktemp(f"{model_type}-{task}")
            model = build(model_type, task, root / "src")
            cli("export", "--model", root / "src", "--format", "onnx", "--task", task, *args, root / "out")
            cache[key] = (model, root / "out")
        return cache[key]

    return get


def grid_inputs(config, task, names, batch, seq, rng):
    """Random ids (never the pad id for real tokens), random right padding (each row keeps
    1..seq tokens), random token types."""
    shape = (batch, NUM_CHOICES, seq) if task == "multiple-choice" else (batch, seq)
    lengths = rng.integers(1, seq + 1, size=shape[:-1])
    lengths.flat[0] = seq  # one row unpadded
    mask = (np.arange(seq) < lengths[..., None]).astype(np.int64)
    pad = config.pad_token_id
    ids = rng.integers(0, config.vocab_size, size=shape)
    ids[ids == pad] = (pad + 1) % config.vocab_size
    ids[mask == 0] = pad
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = rng.integers(0, max(1, config.type_vocab_size), size=shape)
    return {k: v for k, v in feeds.items() if k in names}


def reference(model, feeds):
    with torch.no_grad():
        return model(**{k: torch.from_numpy(v) for k, v in feeds.items()})


def check_names_and_axes(path, model_type, task, dynamic=True):
    spec = oc._C.export_config(model_type, task, 0, "onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == [name for name, _ in spec["inputs"]]
    assert [o.name for o in graph.output] == [name for name, _ in spec["outputs"]]
    declared = dict(spec["inputs"]) | dict(spec["outputs"])
    for value in list(graph.input) + list(graph.output):
        axes = declared[value.name]
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_param"):
                assert dynamic and dim.dim_param == axes.get(i), (value.name, i, dim.dim_param, axes)
            else:
                assert dim.HasField("dim_value") and (not dynamic or i not in axes), (value.name, i)


@pytest.mark.parametrize("model_type,task", ENCODER_ROWS)
def test_encoder_matches_transformers_on_the_grid(model_type, task, exported):
    model, out = exported(model_type, task)
    path = out / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    check_names_and_axes(path, model_type, task)
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["format"] == "onnx" and meta["opset"] == 17 and meta["task"] == task
    assert json.loads((out / "config.json").read_text())["model_type"] == model.config.model_type
    atol = oc._C.export_config(model_type, task, 0, "onnx")["atol"]
    session = session_for(str(path))
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(0)
    for batch in GRID_BATCH:
        for seq in GRID_SEQUENCE:
            feeds = grid_inputs(model.config, task, names, batch, seq, rng)
            got = dict(zip(outputs, session.run(None, feeds)))
            want = reference(model, feeds)
            for name in outputs:
                diff = np.abs(got[name] - want[name].numpy()).max()
                assert diff <= atol, f"{model_type}/{task}/{name} at {batch}x{seq}: {diff} > {atol}"


def test_every_encoder_model_type_is_covered():
    # A new encoder in the registry needs a tiny config here, never a silent skip.
    assert {m for m, _ in ENCODER_ROWS} == set(CONFIGS)
    assert {t for _, t in ENCODER_ROWS} <= set(HEADS)


def test_opset_14_decomposes_layer_norm(exported):
    model, out = exported("bert", "token-classification", "--opset", "14")
    path = out / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [14]
    ops = {n.op_type for n in proto.graph.node}
    assert "LayerNormalization" not in ops and "ReduceMean" in ops
    _, out17 = exported("bert", "token-classification")
    assert "LayerNormalization" in {n.op_type for n in onnx.load(str(out17 / "model.onnx")).graph.node}
    session = session_for(str(path))
    rng = np.random.default_rng(1)
    for batch, seq in [(1, 8), (3, 33)]:
        feeds = grid_inputs(model.config, "token-classification", [i.name for i in session.get_inputs()],
                            batch, seq, rng)
        got = session.run(["logits"], feeds)[0]
        np.testing.assert_allclose(got, reference(model, feeds).logits.numpy(), atol=1e-4)


def test_fp16_keeps_norm_and_softmax_in_fp32(exported):
    model, out = exported("roberta", "feature-extraction", "--dtype", "fp16")
    path = out / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(proto.graph.value_info) + list(proto.graph.input) + list(proto.graph.output)}
    f16, f32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    matmul_weights = {n.input[1] for n in proto.graph.node if n.op_type == "MatMul"}
    inits = {t.name: t.data_type for t in proto.graph.initializer}
    assert all(inits[w] == f16 for w in matmul_weights if w in inits)
    for n in proto.graph.node:
        if n.op_type in ("LayerNormalization", "Softmax"):
            assert types[n.input[0]] == f32, (n.name, n.op_type)
    assert types["last_hidden_state"] == f16
    session = session_for(str(path))
    rng = np.random.default_rng(2)
    for batch, seq in [(1, 8), (3, 33)]:
        feeds = grid_inputs(model.config, "feature-extraction", [i.name for i in session.get_inputs()],
                            batch, seq, rng)
        got = session.run(None, feeds)
        want = reference(model, feeds)
        # fp16 weights and activations: ~1e-3 relative error on unit-scale hidden states.
        np.testing.assert_allclose(got[0].astype(np.float32), want.last_hidden_state.numpy(), atol=2e-2)
        np.testing.assert_allclose(got[1].astype(np.float32), want.pooler_output.numpy(), atol=2e-2)


def test_static_shapes(exported):
    model, out = exported("distilbert", "question-answering", "--no-dynamic-axes", "--batch-size", "3",
                          "--sequence-length", "10")
    path = out / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    check_names_and_axes(path, "distilbert", "question-answering", dynamic=False)
    graph = onnx.load(str(path)).graph
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [3, 10]
    session = session_for(str(path))
    feeds = grid_inputs(model.config, "question-answering", ["input_ids", "attention_mask"], 3, 10,
                        np.random.default_rng(3))
    start, end = session.run(["start_logits", "end_logits"], feeds)
    want = reference(model, feeds)
    np.testing.assert_allclose(start, want.start_logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(end, want.end_logits.numpy(), atol=1e-4)


def test_external_data_and_python_entry_point(exported, tmp_path):
    model, out = exported("mpnet", "fill-mask")
    src = out.parent / "src"
    ext = tmp_path / "ext"
    summary = oc.export_onnx(src, ext, task="fill-mask", external_data=True)
    assert summary["external_data"] and summary["outputs"] == ["logits"]
    assert (ext / "model.onnx_data").stat().st_size > (ext / "model.onnx").stat().st_size
    onnx.checker.check_model(str(ext / "model.onnx"), full_check=True)
    assert json.loads((ext / "optimum_export.json").read_text())["files"] == ["model.onnx", "model.onnx_data"]
    feeds = grid_inputs(model.config, "fill-mask", ["input_ids", "attention_mask"], 3, 33,
                        np.random.default_rng(4))
    a = session_for(str(ext / "model.onnx")).run(None, feeds)[0]
    b = session_for(str(out / "model.onnx")).run(None, feeds)[0]
    np.testing.assert_array_equal(a, b)
    # The Python entry point writes the CLI's graph.
    same = tmp_path / "same"
    oc.export_onnx(src, same, task="fill-mask")
    assert (same / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()


def test_preprocessors_are_saved_alongside(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    build("bert", "text-classification", src)
    (src / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128}))
    (src / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    cli("export", "--model", src, "--format", "onnx", out)  # task inferred from architectures
    for name in ("tokenizer_config.json", "vocab.txt"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == "text-classification" and "vocab.txt" in meta["preprocessors"]


def _leftovers(parent, name):
    return [p.name for p in parent.iterdir() if p.name.startswith(name)]


@pytest.mark.parametrize("args,message", [
    (["--opset", "9"], "opset 9 lacks the operator 'Range'"),
    (["--opset", "10"], "opset 10 lacks the operator 'Range'"),
    (["--opset", "18"], "--opset 18 is out of range"),
    (["--task", "text-generation"], "task 'text-generation' is not supported for model_type 'bert'"),
    (["--dtype", "bf16"], "--dtype 'bf16' is not an ONNX export precision"),
    (["--atol", "1e-3"], "--atol is not an option of --format onnx"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(exported, tmp_path, args, message):
    _, done = exported("bert", "feature-extraction")
    out = tmp_path / "out"
    proc = cli("export", "--model", done.parent / "src", "--format", "onnx", *args, out, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert _leftovers(tmp_path, "out") == []


def test_existing_output_folder_is_refused(exported, tmp_path):
    _, done = exported("bert", "feature-extraction")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = cli("export", "--model", done.parent / "src", "--format", "onnx", out, check=False)
    assert proc.returncode != 0 and "exists and is not empty" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and _leftovers(tmp_path, "out") == ["out"]
    # An empty folder is fine (replaced by the export).
    empty = tmp_path / "empty"
    empty.mkdir()
    cli("export", "--model", done.parent / "src", "--format", "onnx", empty)
    assert (empty / "model.onnx").is_file()


def test_native_only_options_and_onnx_only_options_do_not_mix(exported, tmp_path):
    _, done = exported("bert", "feature-extraction")
    proc = cli("export", "--model", done.parent / "src", "--opset", "14", tmp_path / "out", check=False)
    assert proc.returncode != 0 and "options of --format onnx" in proc.stderr
    with pytest.raises(oc.InvalidArgumentError, match="export_onnx"):
        oc.AutoModel.from_pretrained(done.parent / "src", export="onnx")


def test_mpnet_relative_bias_does_not_grow_with_the_position_table(tmp_path):
    # Regression: the bucket table was [max_positions, max_positions] (1.6 GB here).
    src, out = tmp_path / "src", tmp_path / "out"
    torch.manual_seed(0)
    config = T.MPNetConfig(hidden_size=32, **{**SMALL, "max_position_embeddings": 20000})
    model = T.AutoModel.from_config(config).eval()
    model.save_pretrained(src)
    cli("export", "--model", src, "--format", "onnx", out)
    table = 20000 * 32 * 4
    assert (out / "model.onnx").stat().st_size < table + 1_000_000
    feeds = grid_inputs(model.config, "feature-extraction", ["input_ids", "attention_mask"], 2, 300,
                        np.random.default_rng(5))
    got = session_for(out / "model.onnx").run(["last_hidden_state"], feeds)[0]
    np.testing.assert_allclose(got, reference(model, feeds).last_hidden_state.numpy(), atol=1e-4)


def test_loading_an_onnx_folder_in_the_engine_says_what_it_is(exported):
    _, out = exported("bert", "feature-extraction")
    with pytest.raises(Exception, match="is an ONNX export") as err:
        oc.AutoModel.from_pretrained(out)
    assert "ONNX Runtime" in str(err.value) and "optimum_export.json" in str(err.value)
