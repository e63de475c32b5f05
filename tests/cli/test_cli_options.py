"""How `optimum-cpp` reads its command line and what its errors say
(subprocesses on build/optimum-cpp, tiny checkpoints built with transformers
and the real all-MiniLM-L6-v2): full vectors by default, options after
positional arguments, unknown options named with the closest one, export
validation shapes from --batch-size/--sequence-length, typo'd local paths,
missing heads, and `run --input` lines that fail without stopping the rest."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cli_testlib import cli, minilm_dir, tiny_classifier, tiny_masked_lm  # noqa: E402

SENTENCES = ["A man is eating food.", "A man is riding a horse.", "The new movie is awesome."]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("options")
    return {"classifier": tiny_classifier(base / "classifier"), "mlm": tiny_masked_lm(base / "mlm")}


def json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_embed_prints_full_vectors_equal_to_sentence_transformers():
    from sentence_transformers import SentenceTransformer
    want = SentenceTransformer(str(minilm_dir()), device="cpu").encode(SENTENCES)
    rows = json_lines(cli("embed", "--model", minilm_dir(), *SENTENCES).stdout)
    got = np.array([r["embedding"] for r in rows])
    assert got.shape == want.shape == (3, 384)
    assert not any(r["truncated"] for r in rows)
    np.testing.assert_allclose(got, want, atol=1e-4)
    summary = json_lines(cli("embed", "--model", minilm_dir(), "--summarize", *SENTENCES).stdout)
    assert [len(r["embedding"]) for r in summary] == [8, 8, 8] and all(r["truncated"] for r in summary)
    np.testing.assert_allclose([r["l2_norm"] for r in summary], np.linalg.norm(want, axis=1), rtol=1e-4)


def test_forward_prints_full_outputs_equal_to_transformers(models):
    import torch
    import transformers as T
    ids = [101, 7592, 2088, 102]
    ref = T.AutoModelForSequenceClassification.from_pretrained(models["classifier"]).eval()
    with torch.no_grad():
        want = ref(input_ids=torch.tensor([ids])).logits.numpy()
    (row,) = json_lines(cli("forward", "--model", models["classifier"], "--task", "text-classification",
                            "--input-ids", ",".join(map(str, ids))).stdout)
    assert row["shape"] == list(want.shape) and not row["truncated"]
    np.testing.assert_allclose(np.array(row["values"]).reshape(want.shape), want, atol=1e-5)
    base = T.AutoModel.from_pretrained(models["classifier"]).eval()
    with torch.no_grad():
        hidden = base(input_ids=torch.tensor([ids])).last_hidden_state.numpy()
    rows = json_lines(cli("forward", "--model", models["classifier"], "--input-ids", ",".join(map(str, ids))).stdout)
    got = {r["output"]: r for r in rows}
    np.testing.assert_allclose(np.array(got["last_hidden_state"]["values"]).reshape(hidden.shape), hidden, atol=1e-5)
    (short, *_) = json_lines(cli("forward", "--model", models["classifier"], "--input-ids", "101,102",
                                 "--summarize").stdout)
    assert len(short["values"]) == 8 and short["truncated"] and short["summary"]["numel"] == 2 * 16


def test_options_before_and_after_positional_arguments(models, tmp_path):
    cli("export", tmp_path / "a", "-m", models["classifier"], "--dtype", "fp32", "--batch-size", "2")
    cli("export", "-m", models["classifier"], tmp_path / "b", "--dtype", "fp32", "--batch-size", "2")
    meta = [json.loads((tmp_path / d / "optimum_export.json").read_text()) for d in ("a", "b")]
    assert meta[0]["validation"] == meta[1]["validation"]
    # A repeatable option takes one value per occurrence: the texts after it stay texts.
    r = cli("run", "--model", models["classifier"], "--task", "text-classification", "--option", "top_k=2",
            "first text", "second text", "--quiet")
    rows = json_lines(r.stdout)
    assert len(rows) == 2 and all(len(row) == 2 for row in rows)
    assert r.stderr == ""


def test_unknown_options_are_named_with_the_closest_one(models, tmp_path):
    r = cli("export", "-m", models["classifier"], tmp_path / "x", "--dtyp", "int8", check=False)
    assert r.returncode != 0
    assert "unknown option '--dtyp'" in r.stderr and "did you mean '--dtype'?" in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()
    r = cli("embed", "--model", minilm_dir(), "--normalise", "hello", check=False)
    assert r.returncode != 0 and "did you mean '--normalize'?" in r.stderr, r.stderr
    r = cli("tasks", "--quite", check=False)
    assert r.returncode != 0 and "did you mean '--quiet'?" in r.stderr, r.stderr


def test_export_batch_size_and_sequence_length_drive_validation(models, tmp_path):
    cli("export", "-m", models["classifier"], tmp_path / "shaped", "--batch-size", "2", "--sequence-length", "7")
    cases = json.loads((tmp_path / "shaped" / "optimum_export.json").read_text())["validation"]["cases"]
    assert cases and {(c["batch_size"], c["sequence_length"]) for c in cases} == {(2, 7)}
    cli("export", "-m", models["classifier"], tmp_path / "default")
    cases = json.loads((tmp_path / "default" / "optimum_export.json").read_text())["validation"]["cases"]
    assert {(c["batch_size"], c["sequence_length"]) for c in cases} == {(1, 8), (1, 33), (3, 8), (3, 33)}
    # Past the model's 40 positions: refused, naming the value; nothing written.
    r = cli("export", "-m", models["classifier"], tmp_path / "long", "--sequence-length", "500", check=False)
    assert r.returncode != 0 and "sequence_length 500" in r.stderr and "1..40" in r.stderr, r.stderr
    assert not (tmp_path / "long").exists()
    r = cli("export", "-m", models["classifier"], tmp_path / "zero", "--batch-size", "0", check=False)
    assert r.returncode != 0 and "--batch-size" in r.stderr, r.stderr


@pytest.mark.parametrize("command", [["info"], ["export", "OUT"], ["embed", "hello"],
                                     ["run", "--task", "text-classification", "hello"],
                                     ["forward", "--input-ids", "1,2"]])
def test_a_typo_in_a_local_path_says_no_such_folder(command, tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    args = [a if a != "OUT" else str(tmp_path / "out") for a in command]
    r = cli(*args[:1], "--model", "./modle", *args[1:], check=False)
    assert r.returncode != 0
    assert "no such folder or file './modle'" in r.stderr and "did you mean './model'?" in r.stderr, r.stderr
    assert "127.0.0.1:9" not in r.stderr  # the Hub was never asked


def test_a_base_model_asked_for_a_head_names_the_heads_it_has(models):
    r = cli("run", "--model", models["mlm"], "--task", "text-classification", "hello", check=False)
    assert r.returncode != 0
    assert "has no text-classification head" in r.stderr, r.stderr
    assert "its weights have heads for: feature-extraction, fill-mask" in r.stderr, r.stderr
    r = cli("forward", "--model", models["mlm"], "--task", "question-answering", "--input-ids", "1,2",
            check=False)
    assert r.returncode != 0 and "has no question-answering head" in r.stderr and "fill-mask" in r.stderr


def test_run_input_over_long_line_names_the_line_and_the_rest_still_runs(models, tmp_path):
    import transformers as T
    texts = ["a short first line", " ".join(["word"] * 80), "the third line", "and the last one"]
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    r = cli("run", "--model", models["classifier"], "--task", "text-classification", "--input", inputs,
            check=False)
    assert r.returncode == 1
    assert f"{inputs}:2" in r.stderr and "--truncation" in r.stderr, r.stderr
    assert "1 of 4 inputs failed" in r.stderr, r.stderr
    rows = json_lines(r.stdout)
    assert len(rows) == 4 and rows[1]["input"] == f"{inputs}:2" and "--truncation" in rows[1]["error"]
    ref = T.pipeline("text-classification", model=str(models["classifier"]))
    for i in (0, 2, 3):
        (want,) = ref(texts[i])
        assert rows[i][0]["label"] == want["label"]
        assert rows[i][0]["score"] == pytest.approx(want["score"], abs=1e-5)
    # With --truncation every line gives a result, as transformers' truncation=True does.
    ok = cli("run", "--model", models["classifier"], "--task", "text-classification", "--input", inputs,
             "--truncation")
    (want,) = ref(texts[1], truncation=True)
    assert json_lines(ok.stdout)[1][0]["label"] == want["label"]
    assert json_lines(ok.stdout)[1][0]["score"] == pytest.approx(want["score"], abs=1e-5)
