"""Export of decoders: the registry's entries against Optimum's rules, the
dummy-input generators (fed to transformers), native export fp32 / bf16 /
int8 reloaded and compared with transformers, the accuracy guard's record,
tampered exports, and the real SmolLM2 GGUF exported to int8.

optimum / optimum-onnx are not installed in the venv, so the expected names
are derived in `_optimum_spec` from the rules of optimum-onnx's
TextDecoderOnnxConfig / TextDecoderWithPositionIdsOnnxConfig,
OnnxConfigWithPast.outputs / add_past_key_values and the
register_tasks_manager_onnx lines of model_configs.py (read from its source).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tokenizers
import torch
import transformers
from safetensors.numpy import load_file, save_file

from optimum_cpp import _C
from decoder_common import VOCAB

ATOL = 1e-4
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "refcache"))
import gguf_reference  # noqa: E402  (transformers' GGUF loading, converted once and cached on disk)

# optimum-onnx model_configs.py: COMMON_TEXT_GENERATION_TASKS (+ "text-classification").
_OPTIMUM_TASKS = {
    "gemma": ("text-classification",), "gemma3_text": (), "gpt2": ("text-classification",),
    "llama": ("text-classification",), "mistral": ("text-classification",), "phi3": ("text-classification",),
    "qwen2": ("text-classification",), "qwen3": ("text-classification",),
}
_COMMON = ["feature-extraction", "feature-extraction-with-past", "text-generation", "text-generation-with-past"]
_WITH_POSITION_IDS = {"gpt2", "llama", "mistral", "phi3", "qwen2", "qwen3"}  # not gemma / gemma3_text


def _optimum_spec(model_type, task, n_layers):
    """(inputs, outputs) as [(name, {axis: name})] by optimum-onnx's rules (use_past_in_inputs for -with-past)."""
    past = task.endswith("-with-past")
    base = task[: -len("-with-past")] if past else task
    bs = {0: "batch_size", 1: "sequence_length"}
    inputs = [("input_ids", bs)]
    if past:
        inputs.append(("attention_mask", {0: "batch_size", 1: "past_sequence_length + sequence_length"}))
        for i in range(n_layers):
            for kv in ("key", "value"):
                inputs.append((f"past_key_values.{i}.{kv}", {0: "batch_size", 2: "past_sequence_length"}))
    else:
        inputs.append(("attention_mask", bs))
    if model_type in _WITH_POSITION_IDS and base in ("text-generation", "feature-extraction"):
        inputs.append(("position_ids", bs))
    if base == "text-classification":
        outputs = [("logits", {0: "batch_size"})]
    elif base == "feature-extraction":
        outputs = [("last_hidden_state", {0: "batch_size"} if past else bs)]
    else:
        outputs = [("logits", bs)]
    if past:
        for i in range(n_layers):
            for kv in ("key", "value"):
                outputs.append((f"present.{i}.{kv}", {0: "batch_size", 2: "past_sequence_length + sequence_length"}))
    return inputs, outputs


def test_registry_matches_optimum():
    types = _C.decoder_model_types()
    assert types == sorted(_OPTIMUM_TASKS)
    assert types == _C.engine_decoder_model_types()  # the tasks layer's list equals the engine's families
    table = _C.registry_table()
    for model_type in types:
        expected = _COMMON + list(_OPTIMUM_TASKS[model_type])
        assert sorted(_C.supported_tasks(model_type)) == sorted(expected)
        for task in expected:
            assert (model_type, task, "native") in table
            got = _C.export_config(model_type, task, 3)
            want_in, want_out = _optimum_spec(model_type, task, 3)
            assert got["inputs"] == want_in, (model_type, task)
            assert got["outputs"] == want_out, (model_type, task)
            assert got["is_decoder"] and got["use_past"] == task.endswith("-with-past")
    # Optimum's synonyms resolve to the same entries.
    assert _C.export_config("llama", "causal-lm-with-past")["task"] == "text-generation-with-past"
    with pytest.raises(Exception, match="supported"):
        _C.export_config("gemma3_text", "text-classification")


def _llama_cache(cfg, inputs, n_layers):
    cache = transformers.DynamicCache()
    for i in range(n_layers):
        cache.update(torch.from_numpy(inputs[f"past_key_values.{i}.key"].copy()),
                     torch.from_numpy(inputs[f"past_key_values.{i}.value"].copy()), i)
    return cache


@pytest.mark.parametrize("left", [False, True])
def test_dummy_inputs_valid_and_accepted_by_transformers(tiny_models, left):
    folder, ref = tiny_models.get("llama")
    c = ref.config
    head_dim = c.hidden_size // c.num_attention_heads
    b, s, p = 3, 5, 4
    inputs = _C.decoder_dummy_inputs("llama", "text-generation-with-past", VOCAB, c.pad_token_id,
                                     c.num_hidden_layers, c.num_key_value_heads, head_dim, batch_size=b,
                                     sequence_length=s, past_sequence_length=p, seed=3, left_padding=left)
    spec, _ = _optimum_spec("llama", "text-generation-with-past", c.num_hidden_layers)
    assert sorted(inputs) == sorted(name for name, _ in spec)
    ids, mask, pos = inputs["input_ids"], inputs["attention_mask"], inputs["position_ids"]
    assert ids.shape == (b, s) and mask.shape == (b, p + s) and pos.shape == (b, s)
    assert ids.dtype == np.int64 and ((ids >= 0) & (ids < VOCAB)).all()
    assert set(np.unique(mask)) <= {0, 1}
    for r in range(b):
        real = np.flatnonzero(mask[r])
        assert len(real) == p + s - min(r, p + s - 1)
        # Padding on one side only.
        assert (real == (np.arange(len(real)) + (p + s - len(real) if left else 0))).all()
        assert (ids[r][mask[r, p:] == 1] != c.pad_token_id).all()
    # Positions as transformers' generate() derives them from the mask.
    want_pos = mask.cumsum(-1) - 1
    want_pos[mask == 0] = 1
    np.testing.assert_array_equal(pos, want_pos[:, p:])
    for i in range(c.num_hidden_layers):
        for kv in ("key", "value"):
            t = inputs[f"past_key_values.{i}.{kv}"]
            assert t.shape == (b, c.num_key_value_heads, p, head_dim) and t.dtype == np.float32
            assert np.isfinite(t).all() and t.std() > 0.5
    # transformers runs them, and its present tensors have the registry's shapes.
    with torch.no_grad():
        out = ref(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                  position_ids=torch.from_numpy(pos), past_key_values=_llama_cache(c, inputs, c.num_hidden_layers),
                  use_cache=True)
    assert out.logits.shape == (b, s, VOCAB) and torch.isfinite(out.logits).all()
    assert tuple(out.past_key_values.layers[0].keys.shape) == (b, c.num_key_value_heads, p + s, head_dim)


def _meta(folder):
    return json.loads((Path(folder) / "optimum_export.json").read_text())


def _steps_match(folder, ref, prompt_len=9, decode=6):
    lm = _C.DecoderLM(str(folder))
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(3, VOCAB, (1, prompt_len), generator=g)
    cache = lm.new_cache(1, prompt_len + decode)
    with torch.no_grad():
        out = ref(ids, use_cache=True)
    np.testing.assert_allclose(lm.step(cache, [(0, ids[0].numpy())], True), out.logits[0].numpy(), atol=ATOL, rtol=0)
    past, token = out.past_key_values, int(out.logits[0, -1].argmax())
    for _ in range(decode):
        with torch.no_grad():
            out = ref(torch.tensor([[token]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        np.testing.assert_allclose(lm.step(cache, [(0, [token])], False)[0], out.logits[0, -1].numpy(), atol=ATOL,
                                   rtol=0)
        token = int(out.logits[0, -1].argmax())


@pytest.mark.parametrize("name,task", [("llama", "text-generation-with-past"), ("qwen3", "text-generation"),
                                       ("llama_bias_tied", "text-generation-with-past")])
def test_fp32_export_reloads_equal_to_transformers(tiny_models, tmp_path, name, task):
    folder, ref = tiny_models.get(name)
    out = tmp_path / "export"
    r = _C.export_native(str(folder), str(out), task=task)
    assert r["dtype"] == "fp32" and r["task"] == task and r["max_abs_diff"] <= ATOL
    meta = _meta(out)
    assert meta["task"] == task and meta["dtype"] == "fp32" and meta["validation"]["passed"]
    assert all(v == "fp32" for v in meta["linear_precisions"].values())
    assert [i["name"] for i in meta["inputs"]] == [n for n, _ in _optimum_spec(ref.config.model_type, task,
                                                                               ref.config.num_hidden_layers)[0]]
    assert {c["sequence_length"] for c in meta["validation"]["cases"]} == {5, 11}  # not the export's 16
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == ref.config.model_type
    assert (out / "generation_config.json").exists()
    _steps_match(out, ref)


def test_fp32_export_gpt2(tmp_path):
    cfg = transformers.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                                  bos_token_id=1, eos_token_id=2)
    torch.manual_seed(3)
    ref = transformers.GPT2LMHeadModel(cfg).eval()
    ref.save_pretrained(tmp_path / "gpt2")
    r = _C.export_native(str(tmp_path / "gpt2"), str(tmp_path / "out"))  # task inferred: text-generation
    assert r["task"] == "text-generation"
    _steps_match(tmp_path / "out", ref)


def test_feature_extraction_export_drops_the_head(tiny_models, tmp_path):
    folder, ref = tiny_models.get("qwen2")
    _C.export_native(str(folder), str(tmp_path / "fe"), task="feature-extraction")
    assert "lm_head" not in _meta(tmp_path / "fe")["linear_precisions"]
    lm = _C.DecoderLM(str(tmp_path / "fe"))
    ids = torch.randint(3, VOCAB, (1, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = ref.model(ids).last_hidden_state[0].numpy()
    np.testing.assert_allclose(lm.hidden_states(lm.new_cache(1, 10), [(0, ids[0].numpy())]), want, atol=ATOL, rtol=0)


CALIBRATION = [
    "the quick brown fox jumps over the lazy dog",
    "a model that is exported to int8 keeps its next token",
    "we measure the cosine of the logits at every position",
    "numbers like 12 and 345 appear in text too",
    "short one",
    "another sentence about weights scales and channels of a linear layer",
    "tokens per second on a loaded machine",
    "left padding and right padding give the same result",
]


def _with_tokenizer(src, dst):
    """A copy of a tiny model with a BPE tokenizer (ids < VOCAB) trained on CALIBRATION."""
    shutil.copytree(src, dst)
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                             limit_alphabet=40)
    tok.train_from_iterator(CALIBRATION, trainer)
    assert tok.get_vocab_size() <= VOCAB
    tok.save(str(dst / "tokenizer.json"))
    return tok


@pytest.mark.parametrize("name", ["llama", "qwen3"])
@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_low_precision_export_guard_record(tiny_models, tmp_path, name, dtype):
    folder, ref = tiny_models.get(name)
    src = tmp_path / "src"
    tok = _with_tokenizer(folder, src)
    out = tmp_path / dtype
    r = _C.export_native(str(src), str(out), dtype=dtype, calibration_texts=CALIBRATION)
    acc = json.loads(r["accuracy_json"])
    assert acc == _meta(out)["accuracy"] and acc["passed"] and acc["dtype"] == dtype
    assert acc["samples"] == len(CALIBRATION) and "tokenizer" in acc["calibration"]
    final = acc["exported"]
    assert final["min_cosine"] >= acc["thresholds"]["min_cosine"]
    assert final["next_token_agreement"] >= acc["thresholds"]["min_next_token_agreement"]
    precisions = _meta(out)["linear_precisions"]
    assert set(precisions.values()) <= {dtype, "bf16", "fp32"}
    assert sum(v == dtype for v in precisions.values()) + len(acc["fallback_linears"]) == acc["layer_linears"]
    # The reloaded export against transformers fp32 on the same calibration texts: the recorded figures hold.
    lm = _C.DecoderLM(str(out))
    cosines, same, total = [], 0, 0
    for text in CALIBRATION:
        ids = np.array(tok.encode(text).ids, dtype=np.int64)
        got = lm.step(lm.new_cache(1, len(ids)), [(0, ids)], True)
        with torch.no_grad():
            want = ref(torch.from_numpy(ids)[None]).logits[0].numpy()
        cos = (got * want).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
        cosines.append(cos.mean())
        same += int((got.argmax(-1) == want.argmax(-1)).sum())
        total += len(ids)
    assert min(cosines) >= final["min_cosine"] - 1e-5
    assert total == final["top1_decisions"]
    assert abs(same / total - final["next_token_agreement"]) <= 2 / total  # fp32 ties aside


def test_strict_guard_fails_with_metric_named(tiny_models, tmp_path):
    folder, _ = tiny_models.get("llama")
    with pytest.raises(Exception, match="accuracy guard failed for --dtype int8: logit cosine"):
        _C.export_native(str(folder), str(tmp_path / "x"), dtype="int8", strict_accuracy=True, min_cosine=0.999999999)
    assert not (tmp_path / "x").exists()


def _tamper(src, dst, fn):
    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.optimum-cpp.safetensors")
    fn(tensors)
    save_file(tensors, dst / "model.optimum-cpp.safetensors")


def test_tampered_export_is_refused(tiny_models, tmp_path):
    folder, _ = tiny_models.get("llama")
    good = tmp_path / "good"
    _C.export_native(str(folder), str(good), dtype="int8")
    _C.DecoderLM(str(good))
    # A weight of the wrong shape.
    _tamper(good, tmp_path / "shape", lambda t: t.__setitem__("layers.1.qkv.weight", t["layers.1.qkv.weight"][:-1]))
    with pytest.raises(Exception, match=r"layers\.1\.qkv\.weight.*has shape \[127, 64\], expected \[128, 64\]"):
        _C.DecoderLM(str(tmp_path / "shape"))
    # An int8 weight replaced by f32 values: the layout says int8.
    _tamper(good, tmp_path / "dtype",
            lambda t: t.__setitem__("layers.0.down.weight", t["layers.0.down.weight"].astype(np.float32)))
    with pytest.raises(Exception, match=r"layers\.0\.down\.weight.*dtype F32, expected I8"):
        _C.DecoderLM(str(tmp_path / "dtype"))
    # A missing scale.
    _tamper(good, tmp_path / "scale", lambda t: t.pop("layers.2.o.weight_scale"))
    with pytest.raises(Exception, match=r"layers\.2\.o\.weight_scale.*missing"):
        _C.DecoderLM(str(tmp_path / "scale"))
    # A layout naming an unknown precision.
    shutil.copytree(good, tmp_path / "layout")
    meta = _meta(good)
    meta["layout"]["linear_dtypes"]["layers.0.qkv"] = "int4"
    (tmp_path / "layout" / "optimum_export.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match=r"linear_dtypes\.layers\.0\.qkv is 'int4'"):
        _C.DecoderLM(str(tmp_path / "layout"))
    # A layout naming a Linear the config does not have.
    meta = _meta(good)
    meta["layout"]["linear_dtypes"]["layers.7.qkv"] = "int8"
    (tmp_path / "layout" / "optimum_export.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match=r"names 'layers\.7\.qkv', which is not a Linear"):
        _C.DecoderLM(str(tmp_path / "layout"))


def test_base_model_refused_for_text_generation(tiny_models, tmp_path):
    folder, ref = tiny_models.get("llama")
    ref.model.save_pretrained(tmp_path / "base")
    with pytest.raises(Exception, match="without an lm_head"):
        _C.export_native(str(tmp_path / "base"), str(tmp_path / "x"), task="text-generation")


def _smollm2():
    for root in (ROOT, Path("/work/main")):
        p = root / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if p.exists():
            return p
    pytest.fail("SmolLM2-135M-Instruct.Q4_1.gguf not found under .models (run make setup)")


def test_smollm2_gguf_int8_export(tmp_path):
    gguf = _smollm2()
    out = tmp_path / "smollm2-int8"
    calibration = tmp_path / "calibration.txt"
    calibration.write_text("\n".join(CALIBRATION) + "\n")
    cli = ROOT / "build" / "optimum-cpp"
    assert cli.exists(), f"{cli} is not built (cmake --build build --target optimum-cpp)"
    proc = subprocess.run([str(cli), "export", "--native", "--model", str(gguf), "--dtype", "int8",
                           "--calibration-file", str(calibration), str(out)], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "next-token agreement" in proc.stderr
    acc = _meta(out)["accuracy"]
    print("SmolLM2 int8 guard:", json.dumps({k: acc[k] for k in ("all_layers", "exported", "fallback_linears",
                                                                  "fallback_dtype", "layer_linears", "cpu_isa")}))
    assert acc["passed"] and acc["exported"]["next_token_agreement"] >= acc["thresholds"]["min_next_token_agreement"]
    meta = _meta(out)
    assert meta["model_type"] == "llama" and meta["task"] == "text-generation" and meta["validation"]["passed"]
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"):
        assert (out / f).exists(), f
    # The export loads as a language model (tokenizer, chat template) and agrees with the GGUF in fp32.
    tok = transformers.AutoTokenizer.from_pretrained(out)
    ids = np.array(tok("The capital of France is")["input_ids"], dtype=np.int64)
    lm8 = _C.DecoderLM(str(out))
    ref = gguf_reference.load_model(gguf)
    with torch.no_grad():
        want = ref(torch.from_numpy(ids)[None]).logits[0].numpy()
    got = lm8.step(lm8.new_cache(1, len(ids)), [(0, ids)], True)
    cos = (got * want).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
    assert cos.min() >= acc["thresholds"]["min_cosine"], cos
    # The text-generation pipeline (LanguageModel: tokenizer, generation_config) loads the export.
    import optimum_cpp
    pipe = optimum_cpp.pipeline("text-generation", model=str(out))
    text = pipe("The capital of France is", max_new_tokens=4, do_sample=False)[0]["generated_text"]
    assert text.startswith("The capital of France is") and len(text) > len("The capital of France is")
