"""`optimum-cpp run` (subprocess on build/optimum-cpp) vs transformers, and the
errors pipeline() gives for tasks and models it cannot serve."""

from __future__ import annotations

import json
import subprocess

import pytest

from pipe_check import ROOT, assert_same
from pipe_zoo import NER_LABELS, TC_LABELS

CLI = ROOT / "build" / "optimum-cpp"


def run_cli(*args, check=True):
    assert CLI.exists(), f"{CLI} is not built (ninja -C build optimum-cpp)"
    p = subprocess.run([str(CLI), "run", "--no-progress", *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
        return [json.loads(line) for line in p.stdout.splitlines()]
    return p


def test_text_classification_args(zoo):
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    hf = zoo.hf("text-classification", folder)
    texts = ["Paris is the capital of France.", "The movie was bad."]
    assert_same([hf(t) for t in texts], run_cli("--model", folder, "--task", "text-classification", *texts),
                "cli text-classification")
    assert_same([hf(t, top_k=None) for t in texts],
                run_cli("--model", folder, "--task", "sentiment-analysis", "--all-labels", *texts),
                "cli text-classification")
    assert_same([hf(t, top_k=2, function_to_apply="sigmoid") for t in texts],
                run_cli("--model", folder, "--task", "text-classification", "--top-k", "2",
                        "--function-to-apply", "sigmoid", *texts), "cli text-classification")


def test_input_jsonl(zoo, tmp_path):
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    hf = zoo.hf("text-classification", folder)
    rows = [{"text": "Paris is the capital of France."}, {"text": "Where does John live?", "text_pair": "In London."},
            {"text": "Zoë 東京 😀"}]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    expected = [hf(r["text"] if "text_pair" not in r else r, top_k=None) for r in rows]
    assert_same(expected, run_cli("--model", folder, "--task", "text-classification", "--option", "top_k=null",
                                  "--input", f), "cli text-classification")


def test_token_classification_and_fill_mask(zoo, tmp_path):
    folder = zoo.folder("bert", "token-classification", NER_LABELS)
    hf = zoo.hf("token-classification", folder)
    texts = ["Mary works at Google in New York.", "Zoë visited 東京 😀 🚀"]
    assert_same([hf(t, aggregation_strategy="simple", ignore_labels=[]) for t in texts],
                run_cli("--model", folder, "--task", "ner", "--aggregation-strategy", "simple",
                        "--options", '{"ignore_labels": []}', *texts), "cli token-classification")
    fm = zoo.folder("bert", "fill-mask")
    hf = zoo.hf("fill-mask", fm)
    texts = ["Paris is the [MASK] of France."]
    assert_same([hf(t, top_k=3) for t in texts],
                run_cli("--model", fm, "--task", "fill-mask", "--top-k", "3", *texts), "cli fill-mask")


def test_question_answering_jsonl(zoo, tmp_path):
    from test_question_answering import CONTEXT, LONG_CONTEXT, reference_qa
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    folder = zoo.folder("bert", "question-answering")
    model = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    rows = [{"question": "Where does John live?", "context": CONTEXT},
            {"question": "Who plays tennis?", "context": LONG_CONTEXT}]
    f = tmp_path / "qa.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    expected = [reference_qa(model, tok, r["question"], r["context"], top_k=2, max_seq_len=64, doc_stride=20)
                for r in rows]
    assert_same(expected, run_cli("--model", folder, "--task", "question-answering", "--top-k", "2",
                                  "--max-seq-len", "64", "--doc-stride", "20", "--input", f), "cli question-answering")


def test_cli_errors(zoo, tmp_path):
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": "typo"}\n')
    p = run_cli("--model", folder, "--task", "text-classification", "--input", bad, check=False)
    assert p.returncode != 0 and f"{bad}:2" in p.stderr and "'text'" in p.stderr
    p = run_cli("--model", folder, "--task", "text-to-audio", "hi", check=False)
    assert p.returncode != 0 and "unknown pipeline task 'text-to-audio'" in p.stderr
    # translation is a task of the encoder-decoders: a bert folder is refused naming its model_type.
    p = run_cli("--model", folder, "--task", "translation", "hi", check=False)
    assert p.returncode != 0 and "'bert' is not a supported encoder-decoder" in p.stderr
    p = run_cli("--model", folder, "--task", "text-classification", check=False)
    assert p.returncode != 0 and "no input" in p.stderr


def test_unknown_task(zoo, oc):
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    with pytest.raises(oc.InvalidArgumentError, match="unknown pipeline task 'summarize'.*text-classification"):
        oc.pipeline("summarize", model=str(folder))


def test_task_the_model_cannot_do(zoo, oc):
    # A sequence-classification checkpoint has no masked-LM head: the error names the task, the model and the head.
    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    with pytest.raises(oc.NotFoundError, match=r"pipeline 'fill-mask': model '.*' cannot be loaded with the fill-mask head"):
        oc.pipeline("fill-mask", model=str(folder))


def test_unsupported_model_type(tmp_path, oc):
    from transformers import OPTConfig, OPTForSequenceClassification

    OPTForSequenceClassification(OPTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, ffn_dim=64,
                                           vocab_size=64, word_embed_proj_dim=32)).save_pretrained(str(tmp_path))
    with pytest.raises(oc.UnsupportedError, match="'opt'"):
        oc.pipeline("text-classification", model=str(tmp_path))


def test_missing_tokenizer(zoo, tmp_path, oc):
    import shutil

    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(folder / name, tmp_path / name)
    with pytest.raises(oc.NotFoundError, match="no tokenizer"):
        oc.pipeline("text-classification", model=str(tmp_path))


def test_progress_bar_only_on_a_terminal(zoo, tmp_path):
    import os
    import pty

    folder = zoo.folder("bert", "text-classification", TC_LABELS)
    f = tmp_path / "many.jsonl"
    f.write_text("\n".join(json.dumps({"text": f"text number {i}"}) for i in range(25)))
    args = [str(CLI), "run", "--model", str(folder), "--task", "text-classification", "--input", str(f)]
    # stderr a terminal: a progress bar ending at 25/25; stdout still one JSON line per input
    master, slave = pty.openpty()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, timeout=300)
    os.close(slave)
    tty_err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty_err += chunk
    os.close(master)
    assert p.returncode == 0
    assert len(p.stdout.decode().splitlines()) == 25
    assert b"25/25" in tty_err
    # stderr a pipe: no bar
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "25/25" not in p.stderr
