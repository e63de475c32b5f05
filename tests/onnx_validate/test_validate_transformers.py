"""Validation of exports against transformers (issue 16, item 4): `optimum-cpp export --validate
transformers`, `optimum-cpp validate`, `python -m optimum_cpp.validate` and
`from_pretrained(..., export=True, validate="transformers")` compare the export with transformers on
Optimum's grid, hard-fail beyond the registry's ATOL naming the output and the difference, and record
the reference in optimum_export.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import transformers

from onnx_validate_common import ENCODERS, cli_env, record, run_cli

from optimum_cpp import _C

GRID = [1, 3, 5], [8, 33, 96, 154]


def check_record(out, model_type, task, runtime="optimum-cpp engine"):
    """The record names transformers as the reference, covers the whole grid for every compared
    output, and stays within the registry's ATOL."""
    v = record(out)["validation"]
    t = v["transformers"]
    assert t["passed"] is True
    assert t["not_compared"] == []  # every output of the export has a transformers counterpart
    assert t["reference"] == f"transformers {transformers.__version__}"
    assert t["transformers_version"] == transformers.__version__
    assert t["runtime"] == runtime
    assert t["atol"] == pytest.approx(_C.export_config(model_type, task)["atol"])
    assert (t["grid"]["batch_sizes"], t["grid"]["sequence_lengths"]) == GRID
    outputs = sorted(t["max_abs_diff_per_output"])
    assert outputs, t
    assert len(t["cases"]) == 12 * len(outputs)
    assert {(c["batch_size"], c["sequence_length"]) for c in t["cases"]} == {(b, s) for b in GRID[0] for s in GRID[1]}
    assert max(c["max_abs_diff"] for c in t["cases"]) == t["max_abs_diff"] <= t["atol"]
    assert v["references"][-1] == t["reference"]
    return t


EXPECTED_OUTPUTS = {"feature-extraction": {"last_hidden_state", "pooler_output"},
                    "question-answering": {"start_logits", "end_logits"}}


# Through the CLI (a child interpreter each): two families; the others in-process below.
@pytest.mark.parametrize("name", ["bert-feature-extraction", "roberta-question-answering"])
def test_cli_export_validates_against_transformers(name, encoder_sources, tmp_path):
    _, task, _ = ENCODERS[name]
    out = tmp_path / "out"
    proc = run_cli("export", "--model", encoder_sources[name], "--task", task, "--validate", "transformers", out)
    assert proc.returncode == 0, proc.stderr
    assert f"validated against transformers {transformers.__version__}" in proc.stderr + proc.stdout
    t = check_record(out, record(out)["model_type"], task)
    # The engine check export always runs stays in the record, first.
    assert record(out)["validation"]["references"] == ["engine", t["reference"]]
    # Every output the export has is compared (feature-extraction: last_hidden_state and pooler_output).
    assert set(t["max_abs_diff_per_output"]) == EXPECTED_OUTPUTS.get(task, {"logits"})


@pytest.mark.parametrize("name", ["bert-text-classification", "distilbert-token-classification",
                                  "bert-multiple-choice"])
def test_validate_export_in_process(name, encoder_sources, tmp_path):
    from optimum_cpp.validate import validate_export

    _, task, _ = ENCODERS[name]
    out = tmp_path / "out"
    _C.export_native(str(encoder_sources[name]), str(out), task=task)
    entry = validate_export(encoder_sources[name], out)
    assert entry == record(out)["validation"]["transformers"]
    t = check_record(out, record(out)["model_type"], task)
    assert set(t["max_abs_diff_per_output"]) == EXPECTED_OUTPUTS.get(task, {"logits"})


def test_cli_onnx_export_validates_in_onnxruntime(encoder_sources, tmp_path):
    """--format onnx: model.onnx runs in onnxruntime against transformers on the grid."""
    import onnxruntime

    out = tmp_path / "onnx"
    proc = run_cli("export", "--format", "onnx", "--model", encoder_sources["roberta-question-answering"], "--task",
                   "question-answering", "--validate", "transformers", out)
    assert proc.returncode == 0, proc.stderr
    t = check_record(out, "roberta", "question-answering", runtime=f"onnxruntime {onnxruntime.__version__}")
    assert t["onnxruntime_version"] == onnxruntime.__version__
    assert set(t["max_abs_diff_per_output"]) == {"start_logits", "end_logits"}


def test_python_export_onnx_validates_in_onnxruntime(encoder_sources, tmp_path):
    """optimum_cpp.export_onnx(..., validate="transformers"), as the CLI's --validate."""
    import onnxruntime

    import optimum_cpp

    out = tmp_path / "onnx-py"
    optimum_cpp.export_onnx(encoder_sources["bert-text-classification"], out, task="text-classification",
                            validate="transformers")
    t = check_record(out, "bert", "text-classification", runtime=f"onnxruntime {onnxruntime.__version__}")
    assert set(t["max_abs_diff_per_output"]) == {"logits"}
    with pytest.raises(ValueError, match="validate must be"):
        optimum_cpp.export_onnx(encoder_sources["bert-text-classification"], tmp_path / "x", validate="torch")


@pytest.mark.parametrize("fmt", ["native", "onnx"])
def test_cli_export_validates_decoder(fmt, llama_source, tmp_path):
    """A causal LM's logits (ONNX: the merged decoder with empty past) against transformers."""
    import onnxruntime

    out = tmp_path / "llama-out"
    task = "text-generation-with-past" if fmt == "onnx" else "text-generation"
    proc = run_cli("export", "--format", fmt, "--model", llama_source, "--task", task, "--validate", "transformers",
                   out)
    assert proc.returncode == 0, proc.stderr
    t = check_record(out, "llama", "text-generation",
                     runtime=f"onnxruntime {onnxruntime.__version__}" if fmt == "onnx" else "optimum-cpp engine")
    assert set(t["max_abs_diff_per_output"]) == {"logits"}


def test_python_api_validate_transformers(encoder_sources, tmp_path):
    from optimum_cpp import AutoModelForSequenceClassification

    src = encoder_sources["bert-text-classification"]
    model = AutoModelForSequenceClassification.from_pretrained(src, export=True, validate="transformers",
                                                               export_cache_dir=tmp_path / "cache")
    assert model.exported_now
    from pathlib import Path

    check_record(Path(model.path), "bert", "text-classification")
    with pytest.raises(ValueError, match="export=True"):
        AutoModelForSequenceClassification.from_pretrained(src, validate="transformers")
    with pytest.raises(ValueError, match="'engine', 'transformers' or 'auto'"):
        AutoModelForSequenceClassification.from_pretrained(src, export=True, validate="torch")


def corrupt_native_weights(out, delta=0.5):
    """Adds noise of scale `delta` to 64 elements of the largest float matrix of the exported native weights,
    keeping the file otherwise intact (the header and every other byte)."""
    meta = record(out)
    path = out / meta["weights"]["file"]
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    # The largest encoder-layer matrix: its first row feeds every token (an embedding row may be unused).
    name, info = max(((k, v) for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32"
                      and "embed" not in k and len(v["shape"]) == 2),
                     key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
    start = 8 + n + info["data_offsets"][0]
    values = np.frombuffer(bytes(raw[start:start + 4 * 64]), dtype=np.float32).copy()
    # Not a constant shift: a LayerNorm'd input sums to ~0, so a constant row offset would cancel.
    values += delta * np.random.default_rng(0).standard_normal(values.size).astype(np.float32)
    raw[start:start + values.nbytes] = values.tobytes()
    path.write_bytes(bytes(raw))
    return name


def test_corrupted_export_fails_naming_output_and_diff(encoder_sources, tmp_path):
    src = encoder_sources["bert-feature-extraction"]
    out = tmp_path / "out"
    proc = run_cli("export", "--model", src, out)
    assert proc.returncode == 0, proc.stderr
    assert "transformers" not in record(out)["validation"]  # default: the engine check only
    tensor = corrupt_native_weights(out)
    proc = run_cli("validate", "--model", src, out)
    assert proc.returncode != 0, f"a corrupted {tensor} passed validation: {proc.stderr}"
    assert "export validation against transformers" in proc.stderr, proc.stderr
    assert "output 'last_hidden_state' differs by" in proc.stderr or "output 'pooler_output' differs by" in \
        proc.stderr, proc.stderr
    assert "> atol 0.0001" in proc.stderr, proc.stderr
    t = record(out)["validation"]["transformers"]
    assert t["passed"] is False and t["failure"]["max_abs_diff"] > t["atol"]
    assert t["failure"]["output"] in proc.stderr


def test_missing_interpreter_is_a_clear_error(encoder_sources, tmp_path):
    src = encoder_sources["bert-feature-extraction"]
    out = tmp_path / "out"
    proc = run_cli("export", "--model", src, "--validate", "transformers", out,
                   env=cli_env(OPTIMUM_CPP_PYTHON=str(tmp_path / "no-python")))
    assert proc.returncode != 0
    assert "OPTIMUM_CPP_PYTHON" in proc.stderr and "no-python" in proc.stderr, proc.stderr
    assert not out.exists(), "a failed validation left the export behind"
    # auto: the export stands, and the record says why transformers was not used.
    proc = run_cli("export", "--model", src, "--validate", "auto", out,
                   env=cli_env(OPTIMUM_CPP_PYTHON=str(tmp_path / "no-python")))
    assert proc.returncode == 0, proc.stderr
    v = record(out)["validation"]
    assert "no-python" in v["transformers"]["skipped"] and v["references"] == ["engine"]


def test_missing_torch_is_a_clear_error(encoder_sources, tmp_path):
    """An interpreter where torch cannot be imported: --validate transformers fails saying so;
    auto validates against the engine and records why."""
    blocker = tmp_path / "no-torch"
    (blocker / "torch").mkdir(parents=True)
    (blocker / "torch" / "__init__.py").write_text("raise ImportError('torch is blocked for this test')\n")
    env = cli_env(PYTHONPATH=str(blocker))
    src = encoder_sources["bert-feature-extraction"]
    out = tmp_path / "out"
    proc = run_cli("export", "--model", src, "--validate", "transformers", out, env=env)
    assert proc.returncode != 0
    assert "torch is not importable" in proc.stderr and "blocked for this test" in proc.stderr, proc.stderr
    assert not out.exists()
    proc = run_cli("export", "--model", src, "--validate", "auto", out, env=env)
    assert proc.returncode == 0, proc.stderr
    v = record(out)["validation"]
    assert "torch is not importable" in v["transformers"]["skipped"]
    assert v["references"] == ["engine"] and v["reference"] == "source"


def test_gguf_source_refuses_transformers_validation(tmp_path):
    proc = run_cli("export", "--model", tmp_path / "model.gguf", "--native", "--validate", "transformers",
                   tmp_path / "out")
    assert proc.returncode != 0 and "GGUF source is validated against the engine only" in proc.stderr, proc.stderr
