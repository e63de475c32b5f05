"""`optimum-cpp prepare`: TorchServe's Hugging Face example setup configs
(JSON and YAML) to a saved model and its archive in one step, for every
mode on tiny models; warnings and errors name the key."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from archive_helpers import run_cli, tiny, tiny_root, tiny_st, tree  # noqa: E402,F401


def prepare(cwd, config, name="setup_config.json", *extra, ok=True):
    path = cwd / name
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return run_cli("prepare", "--config", path, *extra, cwd=cwd, check=ok)


def check(archive, dest):
    return json.loads(run_cli("archive", "--check", archive, "--extract-to", dest).stdout)


def outputs(folder, task):
    p = run_cli("forward", "--model", folder, "--task", task, "--input-ids", "2,5,6,7,3", "--max-values", "-1")
    return [json.loads(line) for line in p.stdout.splitlines()]


def assert_close(a, b, atol):
    assert [o["output"] for o in a] == [o["output"] for o in b]
    for x, y in zip(a, b):
        assert x["shape"] == y["shape"]
        assert max(abs(u - v) for u, v in zip(x["values"], y["values"])) <= atol


def test_torchserve_example_json_pretrained(tmp_path, tiny):
    src = tiny("text-classification", ["neg", "pos"])
    # TorchServe's examples/Huggingface_Transformers/setup_config.json, numbers as strings included.
    p = prepare(tmp_path, {"model_name": str(src), "mode": "sequence_classification", "do_lower_case": True,
                           "num_labels": "2", "save_mode": "pretrained", "max_length": "150",
                           "captum_explanation": True, "embedding_name": "bert", "FasterTransformer": False,
                           "BetterTransformer": False, "model_parallel": False, "my_key": 1})
    for key in ("captum_explanation", "embedding_name", "FasterTransformer", "my_key"):
        assert f"'{key}'" in p.stderr, p.stderr
    assert "unknown key 'my_key'" in p.stderr
    assert "do_lower_case is true" in p.stderr  # the tiny tokenizer does not lowercase
    archive = tmp_path / "model_store" / (src.name + ".mar")
    assert p.stdout.strip() == str(pathlib.Path("model_store") / archive.name)
    saved = tmp_path / "Transformer_model"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        f.name for f in saved.iterdir()}
    got = check(archive, tmp_path / "x")
    assert got["manifest"]["model"]["handler"] == "text-classification"
    assert got["config"]["handler"] == {"max_length": 150}
    assert got["config"]["batchSize"] == 1 and got["config"]["maxBatchDelay"] == 100  # ModelConfig's defaults
    assert outputs(got["model_dir"], "text-classification") == outputs(src, "text-classification")


def test_yaml_native_token_classification_tgz(tmp_path, tiny):
    src = tiny("token-classification", ["O", "B-PER", "I-PER"])
    config = f"""# TorchServe setup config, as YAML
model_name: {src}
mode: token_classification
do_lower_case: false
num_labels: 3
save_mode: native
max_length: 64
"""
    prepare(tmp_path, config, "setup_config.yaml", "--model-name", "ner", "--archive-format", "tgz", "--batch-size",
            "8", "--max-batch-delay", "5", "--output", tmp_path / "store", "--save-dir", tmp_path / "exported")
    assert (tmp_path / "exported" / "optimum_export.json").exists()
    got = check(tmp_path / "store" / "ner.tar.gz", tmp_path / "x")
    assert got["manifest"]["model"]["handler"] == "token-classification"
    assert got["config"]["batchSize"] == 8 and got["config"]["maxBatchDelay"] == 5
    assert got["config"]["handler"] == {"max_length": 64}
    assert (pathlib.Path(got["model_dir"]) / "optimum_export.json").exists()
    assert_close(outputs(got["model_dir"], "token-classification"), outputs(src, "token-classification"), 1e-4)
    # The served pipeline gives transformers' labels from the archived export.
    a, b = (json.loads(run_cli("run", "--task", "token-classification", "--model", m, "my name is john",
                                "--ignore-labels", "NONE").stdout)
            for m in (got["model_dir"], src))
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k != "score"} == {k: v for k, v in y.items() if k != "score"}
        assert abs(x["score"] - y["score"]) < 1e-4


def test_question_answering_native_no_archive(tmp_path, tiny):
    src = tiny("question-answering")
    prepare(tmp_path, {"model_name": str(src), "mode": "question_answering", "save_mode": "native"}, "s.json",
            "--model-name", "qa", "--archive-format", "no-archive")
    got = check(tmp_path / "model_store" / "qa", tmp_path / "unused")
    assert got["manifest"]["model"]["handler"] == "question-answering"
    assert got["config"]["handler"] == {}
    assert_close(outputs(got["model_dir"], "question-answering"), outputs(src, "question-answering"), 1e-4)


@pytest.mark.parametrize("mode,handler", [("feature_extraction", "feature-extraction"),
                                          ("text_embedding", "text-embedding")])
def test_embedding_modes(mode, handler, tmp_path, tiny_st):
    prepare(tmp_path, {"model_name": str(tiny_st), "mode": mode, "save_mode": "pretrained", "do_lower_case": False},
            "s.json", "--model-name", "emb")
    got = check(tmp_path / "model_store" / "emb.mar", tmp_path / "x")
    assert got["manifest"]["model"]["handler"] == handler
    model_dir = pathlib.Path(got["model_dir"])
    assert (model_dir / "modules.json").exists() and (model_dir / "1_Pooling" / "config.json").exists()
    a = run_cli("embed", "--model", model_dir, "--max-values", "-1", "hello world").stdout
    assert a == run_cli("embed", "--model", tiny_st, "--max-values", "-1", "hello world").stdout


@pytest.mark.parametrize("config,needle", [
    ({"mode": "text_generation", "save_mode": "native"}, "text_generation"),
    ({"save_mode": "onnx"}, "save_mode 'onnx'"),
    ({"save_mode": "torchscript"}, "torchscript"),
    ({"save_mode": "fast"}, "key 'save_mode'"),
    ({"mode": "transliteration"}, "key 'mode'"),
    ({"num_labels": [2]}, "key 'num_labels'"),
    ({"num_labels": "two"}, "key 'num_labels'"),
    ({"max_length": -5}, "key 'max_length'"),
    ({"do_lower_case": "maybe"}, "key 'do_lower_case'"),
    ({"model_name": 7}, "key 'model_name'"),
    ({"model_name": None}, "key 'model_name'"),
    ({"num_labels": 5}, "num_labels 5"),
    ({"dtype": "int8"}, "key 'dtype'"),
    ({"model_name": "/no/such/folder"}, "/no/such/folder"),
])
def test_errors_name_the_key_and_write_nothing(config, needle, tmp_path, tiny):
    base = {"model_name": str(tiny("text-classification", ["neg", "pos"])), "mode": "sequence_classification",
            "save_mode": "pretrained"}
    base.update(config)
    base = {k: v for k, v in base.items() if v is not None}
    p = prepare(tmp_path, base, ok=False)
    assert p.returncode == 1 and p.stderr.count("error: ") == 1 and needle in p.stderr, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["setup_config.json"]


def test_bad_yaml_and_existing_archive(tmp_path, tiny):
    p = prepare(tmp_path, "model_name: [unclosed\n", "setup_config.yaml", ok=False)
    assert p.returncode == 1 and "setup_config.yaml" in p.stderr and "invalid YAML" in p.stderr
    config = {"model_name": str(tiny("text-classification", ["neg", "pos"])), "mode": "sequence_classification"}
    prepare(tmp_path, config, "s.json", "--model-name", "cls")
    before = tree(tmp_path / "model_store")
    p = prepare(tmp_path, config, "s.json", "--model-name", "cls", ok=False)
    assert p.returncode == 1 and "already exists" in p.stderr and "--force" in p.stderr
    assert tree(tmp_path / "model_store") == before
    prepare(tmp_path, dict(config, max_length=32), "s.json", "--model-name", "cls", "--force")
    assert check(tmp_path / "model_store" / "cls.mar", tmp_path / "x")["config"]["handler"] == {"max_length": 32}
