"""Export round trips keep the sentence-transformers modules; bad folders
give messages naming the module, file or field; the CLI commands."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from st_helpers import CLI, SENTENCES, build_st, compare, minilm_dir, st_minilm, tiny_base  # noqa: F401 (fixtures)

import optimum_cpp as oc


def cli(*args, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def tiny_st(tiny_base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-st") / "st"
    st = build_st(tiny_base, folder, pooling_mode="cls", dense=[(16, torch.nn.Tanh(), True)], normalize=True,
                  prompts={"query": "query: "}, similarity_fn_name="dot")
    return st, folder


@pytest.fixture()
def export_cache(tmp_path, monkeypatch):
    cache = tmp_path / "export-cache"
    monkeypatch.setenv("OPTIMUM_CPP_CACHE", str(cache))
    return cache


def test_cli_export_keeps_the_modules(tiny_st, tmp_path):
    st, src = tiny_st
    out = tmp_path / "exported"
    cli("export", "--model", src, out)
    for f in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
              "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "3_Normalize/config.json"):
        assert (out / f).read_bytes() == (src / f).read_bytes(), f
    assert (out / "optimum_export.json").is_file()
    ours = oc.SentenceTransformer(str(out))
    assert ours.module_names == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert ours.similarity_fn_name == "dot" and ours.prompts["query"] == "query: "
    cos, diff = compare(ours.encode(SENTENCES), st.encode(SENTENCES))
    assert cos >= 0.99999 and diff <= 1e-5


def test_export_true_caches_the_transformer(tiny_st, export_cache):
    st, src = tiny_st
    first = oc.SentenceTransformer(str(src), export=True)
    assert first._native.exported_now and str(export_cache) in first._native.model_path
    second = oc.SentenceTransformer(str(src), export=True)
    assert not second._native.exported_now and second._native.model_path == first._native.model_path
    ref = st.encode(SENTENCES, prompt_name="query")
    for ours in (first, second):
        cos, diff = compare(ours.encode(SENTENCES, prompt_name="query"), ref)
        assert cos >= 0.99999 and diff <= 1e-5


def test_real_minilm_export_round_trip(minilm_dir, st_minilm, tmp_path):
    out = tmp_path / "minilm"
    cli("export", "--model", minilm_dir, out)
    ours = oc.SentenceTransformer(str(out))
    assert ours.module_names == ["Transformer", "Pooling", "Normalize"]
    cos, diff = compare(ours.encode(SENTENCES), st_minilm.encode(SENTENCES))
    assert cos >= 0.99999 and diff <= 1e-5


def copy_st(tiny_st, tmp_path):
    dst = tmp_path / "broken"
    shutil.copytree(tiny_st[1], dst)
    return dst


def test_unknown_module_type(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    modules = json.loads((d / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "lstm", "path": "2_LSTM", "type": "sentence_transformers.models.LSTM"})
    (d / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match=r"module 'lstm'.*sentence_transformers\.models\.LSTM.*not support"):
        oc.SentenceTransformer(str(d))


def test_foreign_module_type(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    modules = json.loads((d / "modules.json").read_text())
    modules[1]["type"] = "my_package.MyPooling"
    (d / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match=r"my_package\.MyPooling"):
        oc.SentenceTransformer(str(d))


def test_missing_pooling_config(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    (d / "1_Pooling" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"pooling config .*1_Pooling.*config\.json not found"):
        oc.SentenceTransformer(str(d))


def test_bad_pooling_mode(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 32, "pooling_mode": "median"}))
    with pytest.raises(ValueError, match=r"1_Pooling.*config\.json.*'median'"):
        oc.SentenceTransformer(str(d))


def test_pooling_dimension_mismatch(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 48, "pooling_mode": "mean"}))
    with pytest.raises(ValueError, match=r"embedding_dimension 48 differs from the model's hidden_size 32"):
        oc.SentenceTransformer(str(d))


def test_missing_dense_weights(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    (d / "2_Dense" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"Dense module: neither model\.safetensors nor pytorch_model\.bin"):
        oc.SentenceTransformer(str(d))


def test_unsupported_activation(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    cfg = json.loads((d / "2_Dense" / "config.json").read_text())
    cfg["activation_function"] = "torch.nn.modules.activation.Softsign"
    (d / "2_Dense" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"2_Dense.*Softsign"):
        oc.SentenceTransformer(str(d))


def test_malformed_modules_json(tiny_st, tmp_path):
    d = copy_st(tiny_st, tmp_path)
    (d / "modules.json").write_text("[{")
    with pytest.raises(ValueError, match=r"modules\.json"):
        oc.SentenceTransformer(str(d))


@pytest.mark.parametrize("file, edit, message", [
    ("sentence_bert_config.json", {"do_lower_case": "yes"}, r"sentence_bert_config\.json: .*type must be boolean"),
    ("sentence_bert_config.json", {"transformer_task": 3}, r"sentence_bert_config\.json: .*type must be string"),
    ("sentence_bert_config.json", {"max_seq_length": -4}, r"sentence_bert_config\.json: 'max_seq_length' must be positive"),
    ("2_Dense/config.json", {"bias": "no"}, r"2_Dense.config\.json: .*type must be boolean"),
    ("2_Dense/config.json", {"use_residual": 1}, r"2_Dense.config\.json: .*type must be boolean"),
])
def test_wrong_json_types_name_the_file(tiny_st, tmp_path, file, edit, message):
    # Before: nlohmann's type_error escaped as a bare RuntimeError without the file.
    d = copy_st(tiny_st, tmp_path)
    cfg = json.loads((d / file).read_text())
    cfg.update(edit)
    (d / file).write_text(json.dumps(cfg))
    with pytest.raises(oc.FormatError, match=message):
        oc.SentenceTransformer(str(d))


def write_modules(d, edit):
    modules = json.loads((d / "modules.json").read_text())
    text = edit(modules)
    (d / "modules.json").write_text(text if isinstance(text, str) else json.dumps(modules))


@pytest.mark.parametrize("edit, message", [
    # Before: a non-string path or name silently became "" (the root folder) or the index.
    (lambda m: m[1].update(path=1), r"modules\.json: /1/path: type must be string, but is number"),
    (lambda m: m[1].update(name=["x"]), r"modules\.json: /1/name: type must be string, but is array"),
    (lambda m: m[0].update(type=5), r"modules\.json: /0/type: type must be string, but is number"),
    (lambda m: m[0].pop("type") and None, r"modules\.json: /0: key 'type' not found"),
    (lambda m: m.__setitem__(1, "1_Pooling"), r"modules\.json: /1: expected an object, got string"),
    (lambda m: json.dumps(m).replace('"1_Pooling"', "1e400"), r"modules\.json: /1/path: type must be string"),
])
def test_modules_json_wrong_types_name_the_file_and_path(tiny_st, tmp_path, edit, message):
    d = copy_st(tiny_st, tmp_path)
    write_modules(d, edit)
    with pytest.raises(oc.FormatError, match=message):
        oc.SentenceTransformer(str(d))


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_modules_json_that_is_not_a_regular_file(tiny_st, tmp_path, kind):
    d = copy_st(tiny_st, tmp_path)
    (d / "modules.json").unlink()
    if kind == "fifo":
        os.mkfifo(d / "modules.json")  # no writer: a blocking read would hang
    else:
        (d / "modules.json").symlink_to("/dev/zero")
    with pytest.raises(oc.IoError, match=r"modules\.json: not a regular file"):
        oc.SentenceTransformer(str(d))


def test_bad_encode_arguments(tiny_st):
    ours = oc.SentenceTransformer(str(tiny_st[1]))
    with pytest.raises(ValueError, match="batch_size"):
        ours.encode(SENTENCES, batch_size=0)
    with pytest.raises(TypeError):
        ours.encode([1, 2])
    with pytest.raises(ValueError, match="similarity_fn_name 'bogus'"):
        ours.similarity_fn_name = "bogus"


def test_cli_similarity_matches_sentence_transformers(minilm_dir, st_minilm):
    sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]
    proc = cli("similarity", "--model", minilm_dir, "--json", *sentences)
    got = json.loads(proc.stdout)
    emb = st_minilm.encode(sentences)
    ref = st_minilm.similarity(emb, emb).numpy()
    assert got["dimension"] == 384 and got["similarity_fn"] == "cosine"
    np.testing.assert_allclose(np.array(got["similarity"]), ref, atol=1e-5)
    table = cli("similarity", "--model", minilm_dir, *sentences).stdout
    assert "cosine similarity of 3 sentences" in table and "most similar: [0]" in table
    lines = cli("embed", "--model", minilm_dir, "--max-values", "-1", *sentences).stdout.splitlines()
    assert len(lines) == 3
    np.testing.assert_allclose(np.array([json.loads(x)["embedding"] for x in lines]), emb, atol=1e-5)


def test_cli_errors_are_clear(tmp_path):
    proc = cli("similarity", "--model", tmp_path / "nowhere", "a", "b", check=False)
    assert proc.returncode != 0 and "nowhere" in proc.stderr
