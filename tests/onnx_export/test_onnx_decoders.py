"""ONNX export of the causal decoders as Optimum's merged decoder: one model.onnx with
position_ids and past_key_values.{i}.key/value inputs and present.{i}.key/value outputs.
For every decoder model_type of the registry's "onnx" rows, a tiny random transformers model
built here is exported with the CLI and run in ONNX Runtime against transformers: logits of a
left-padded prefill (empty past) and of decode steps fed with the returned presents."""

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

LLAMA_LIKE = dict(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def _gemma3():
    return T.Gemma3TextConfig(**{
        **LLAMA_LIKE, "num_hidden_layers": 4, "head_dim": 24, "sliding_window": 5,
        "layer_types": ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        "query_pre_attn_scalar": 20, "attn_logit_softcapping": 3.0, "final_logit_softcapping": 2.5,
        "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}})


# One tiny config per decoder model_type; sliding windows shorter than the sequences.
CONFIGS = {
    "llama": lambda: T.LlamaConfig(**LLAMA_LIKE, rope_parameters={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16, "rope_theta": 10000.0}),
    "mistral": lambda: T.MistralConfig(**{**LLAMA_LIKE, "sliding_window": 5}),
    "qwen2": lambda: T.Qwen2Config(**{**LLAMA_LIKE, "use_sliding_window": True, "sliding_window": 6,
                                      "max_window_layers": 1}),
    "qwen3": lambda: T.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24}),
    "phi3": lambda: T.Phi3Config(**{**LLAMA_LIKE, "partial_rotary_factor": 0.5, "sliding_window": 7}),
    "gemma": lambda: T.GemmaConfig(**{**LLAMA_LIKE, "head_dim": 24, "attention_bias": True}),
    "gemma3_text": _gemma3,
    "gpt2": lambda: T.GPT2Config(vocab_size=96, n_embd=64, n_layer=3, n_head=4, n_positions=64, bos_token_id=1,
                                 eos_token_id=2, pad_token_id=0, scale_attn_by_inverse_layer_idx=True),
}
ROWS = sorted((m, t) for m, t, e in oc._C.registry_table() if e == "onnx" and m in oc._C.decoder_model_types())


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(*args, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def decoder(tmp_path_factory):
    """model_type -> (transformers model, checkpoint folder), built once."""
    cache = {}

    def get(model_type):
        if model_type not in cache:
            torch.manual_seed(0)
            model = T.AutoModelForCausalLM.from_config(CONFIGS[model_type]()).to(torch.float32).eval()
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if "norm" in name or ".ln_" in name:
                        p.normal_(1.0, 0.2)  # the +1 / per-head norms matter
            folder = tmp_path_factory.mktemp(model_type) / "src"
            model.save_pretrained(folder)
            cache[model_type] = (model, folder)
        return cache[model_type]

    return get


def session_for(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def kv_shape(config):
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    return kv, getattr(config, "head_dim", None) or config.hidden_size // heads


def left_padded(rng, config, batch, seq):
    ids = rng.integers(3, config.vocab_size, size=(batch, seq))
    mask = np.ones((batch, seq), dtype=np.int64)
    for r in range(1, batch):
        mask[r, : min(2 * r, seq - 1)] = 0
    ids[mask == 0] = 0
    positions = np.cumsum(mask, axis=1) - 1
    positions[mask == 0] = 1
    return ids, mask, positions


def check_names(path, model_type, task, n_layers):
    spec = oc._C.export_config(model_type, task, n_layers, "onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == [n for n, _ in spec["inputs"]]
    assert [o.name for o in graph.output] == [n for n, _ in spec["outputs"]]
    declared = dict(spec["inputs"]) | dict(spec["outputs"])
    for value in list(graph.input) + list(graph.output):
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_param"):
                assert dim.dim_param == declared[value.name].get(i), (value.name, i, dim.dim_param)


@pytest.mark.parametrize("model_type", sorted(CONFIGS))
def test_merged_decoder_matches_transformers_with_and_without_past(model_type, decoder, tmp_path):
    model, src = decoder(model_type)
    out = tmp_path / "out"
    cli("export", "--model", src, "--format", "onnx", out)  # auto: text-generation-with-past, as Optimum
    path = out / "model.onnx"
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == "text-generation-with-past"
    assert json.loads((out / "config.json").read_text())["use_cache"] is True
    onnx.checker.check_model(str(path), full_check=True)
    config = model.config
    n_layers = config.num_hidden_layers
    check_names(path, model_type, "text-generation-with-past", n_layers)
    atol = oc._C.export_config(model_type, "text-generation-with-past", 0, "onnx")["atol"]
    session = session_for(path)
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    kv, head_dim = kv_shape(config)
    rng = np.random.default_rng(0)
    for batch, seq in [(1, 8), (3, 12)]:
        ids, mask, positions = left_padded(rng, config, batch, seq)
        feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
        for i in range(n_layers):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{i}.{kind}"] = np.zeros((batch, kv, 0, head_dim), np.float32)
        got = dict(zip(outputs, session.run(None, {k: v for k, v in feeds.items() if k in names})))
        with torch.no_grad():
            ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        position_ids=torch.from_numpy(positions), use_cache=True)
        real = mask.astype(bool)
        diff = np.abs(got["logits"][real] - ref.logits.numpy()[real]).max()
        assert diff <= atol, f"{model_type} prefill {batch}x{seq}: {diff}"
        past = ref.past_key_values
        # Two decode steps fed with the presents ONNX Runtime returned.
        for _ in range(2):
            step_ids = rng.integers(3, config.vocab_size, size=(batch, 1))
            mask = np.concatenate([mask, np.ones((batch, 1), np.int64)], axis=1)
            positions = positions[:, -1:] + 1
            feeds = {"input_ids": step_ids, "attention_mask": mask, "position_ids": positions}
            for i in range(n_layers):
                for kind in ("key", "value"):
                    feeds[f"past_key_values.{i}.{kind}"] = got[f"present.{i}.{kind}"]
            got = dict(zip(outputs, session.run(None, {k: v for k, v in feeds.items() if k in names})))
            with torch.no_grad():
                ref = model(input_ids=torch.from_numpy(step_ids), attention_mask=torch.from_numpy(mask),
                            position_ids=torch.from_numpy(positions), past_key_values=past, use_cache=True)
            past = ref.past_key_values
            diff = np.abs(got["logits"] - ref.logits.numpy()).max()
            assert diff <= atol, f"{model_type} decode step: {diff}"
            assert got["present.0.key"].shape == (batch, kv, mask.shape[1], head_dim)


def test_every_decoder_model_type_is_covered():
    assert {m for m, _ in ROWS} == set(CONFIGS)
    for model_type in CONFIGS:
        assert {t for m, t in ROWS if m == model_type} == {
            "feature-extraction", "feature-extraction-with-past", "text-generation", "text-generation-with-past"}


def test_without_past_and_base_model(decoder, tmp_path):
    model, src = decoder("qwen3")
    rng = np.random.default_rng(1)
    ids, mask, positions = left_padded(rng, model.config, 3, 9)
    feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    with torch.no_grad():
        ref = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}, output_hidden_states=True)
    real = mask.astype(bool)
    out = tmp_path / "lm"
    cli("export", "--model", src, "--format", "onnx", "--task", "text-generation", out)
    check_names(out / "model.onnx", "qwen3", "text-generation", 0)
    logits = session_for(out / "model.onnx").run(["logits"], feeds)[0]
    np.testing.assert_allclose(logits[real], ref.logits.numpy()[real], atol=1e-4)
    base = tmp_path / "base"
    cli("export", "--model", src, "--format", "onnx", "--task", "feature-extraction", base)
    onnx.checker.check_model(str(base / "model.onnx"), full_check=True)
    hidden = session_for(base / "model.onnx").run(["last_hidden_state"], feeds)[0]
    np.testing.assert_allclose(hidden[real], ref.hidden_states[-1].numpy()[real], atol=1e-4)


def test_unsupported_decoder_task_is_a_clear_error(decoder, tmp_path):
    _, src = decoder("llama")
    proc = cli("export", "--model", src, "--format", "onnx", "--task", "text-classification", tmp_path / "out",
               check=False)
    assert proc.returncode != 0 and "task 'text-classification' is not supported for model_type 'llama'" in proc.stderr
    assert not (tmp_path / "out").exists()
