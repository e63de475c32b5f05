"""Our ONNX exports load in optimum-onnx (issue 16): `optimum-cpp export --format onnx` writes a folder
that optimum-onnx's ORTModelFor<Task> loads as if Optimum had written it; its transformers pipeline
gives transformers' results on the source checkpoint, and ORTModelForCausalLM's greedy generation
equals transformers'. optimum-onnx pins transformers < 4.58, so it runs in its own virtualenv
(.venv-bench/onnx, `make optimum-onnx-venv`) as a subprocess; transformers (the reference) runs here."""

from __future__ import annotations

import json
import select
import subprocess
import time

import numpy as np
import pytest
import torch
import transformers as T

from onnx_validate_common import MAX_POSITIONS, ROOT, make_llama, minilm_dir, run_cli

VENV_PYTHON = ROOT / ".venv-bench" / "onnx" / "bin" / "python"
CHILD = ROOT / "tests" / "onnx_validate" / "optimum_onnx_child.py"
TEXTS = ["A man is eating food.", "The girl is carrying a baby in the park near the river.", "Hi"]
MASKED = ["A man is [MASK] food.", "The girl is carrying a [MASK] in the park."]
QA = [["Who is eating?", "A man is eating food in the kitchen."],
      ["Where is the baby?", "The girl is carrying a baby in the park near the river."]]

TASKS = {
    "feature-extraction": T.BertModel,
    "text-classification": T.BertForSequenceClassification,
    "token-classification": T.BertForTokenClassification,
    "question-answering": T.BertForQuestionAnswering,
    "fill-mask": T.BertForMaskedLM,
}


class ChildWorker:
    """One optimum_onnx_child.py --serve interpreter in optimum-onnx's venv for the whole module
    (torch, optimum-onnx and transformers imported once, not once per test): a request per line
    in, a `@@RESULT@@` line per request out; its stderr goes to a file (a pipe nobody reads
    could fill and block it)."""

    def __init__(self, log):
        assert VENV_PYTHON.is_file(), (f"{VENV_PYTHON} is missing: run `make optimum-onnx-venv` (optimum-onnx's "
                                       "own virtualenv, bench/requirements-optimum-onnx.txt)")
        self.log_path = log
        self.log = open(log, "w+")
        self.proc = subprocess.Popen([str(VENV_PYTHON), str(CHILD), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})

    def stderr_tail(self):
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def request(self, request: dict, timeout=300) -> dict:
        assert self.proc.poll() is None, f"the optimum-onnx child exited ({self.proc.returncode}):\n" \
                                         f"{self.stderr_tail()}"
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.close()
                raise AssertionError(f"the optimum-onnx child gave no result in {timeout} s:\n"
                                     f"{self.stderr_tail()}")
            line = self.proc.stdout.readline()
            assert line, f"the optimum-onnx child exited ({self.proc.wait()}):\n{self.stderr_tail()}"
            if line.startswith("@@RESULT@@ "):
                reply = json.loads(line[len("@@RESULT@@ "):])
                assert reply["ok"], reply["error"][-4000:]
                return reply["result"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    worker = ChildWorker(tmp_path_factory.mktemp("ort-child") / "stderr.txt")
    yield worker
    worker.close()


def run_child(request: dict, child) -> dict:
    """optimum-onnx's results on one request (optimum_onnx_child.py); a failed worker is restarted."""
    if child.proc.poll() is not None:
        child.__init__(child.log_path.with_name(f"stderr-{time.monotonic_ns()}.txt"))
    return child.request(request)


def export_onnx(src, out, task):
    proc = run_cli("export", "--format", "onnx", "--model", src, "--task", task, out)
    assert proc.returncode == 0, proc.stderr
    assert (out / "model.onnx").is_file()


@pytest.fixture(scope="module")
def bert_sources(tmp_path_factory):
    """A tiny random BERT per task with the all-MiniLM-L6-v2 tokenizer (its vocabulary)."""
    root = tmp_path_factory.mktemp("ort-src")
    tok = T.AutoTokenizer.from_pretrained(str(minilm_dir()))
    out = {}
    for i, (task, cls) in enumerate(TASKS.items()):
        labels = {"id2label": {0: "NEG", 1: "NEU", 2: "POS"}, "label2id": {"NEG": 0, "NEU": 1, "POS": 2}} \
            if task in ("text-classification", "token-classification") else {}
        cfg = T.BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, max_position_embeddings=MAX_POSITIONS, **labels)
        torch.manual_seed(10 + i)
        folder = root / task
        cls(cfg).eval().save_pretrained(folder)
        tok.save_pretrained(folder)
        out[task] = folder
    return out


def close(a, b, atol=1e-4):
    """Pipeline results equal: strings / ints exactly, floats within atol, nested alike."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), (a, b)
        for k in a:
            close(a[k], b[k], atol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), (len(a), len(b))
        for x, y in zip(a, b):
            close(x, y, atol)
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(float(a) - float(b)) <= atol, (a, b)
    else:
        assert a == b, (a, b)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_ort_model_pipeline_matches_transformers(task, child, bert_sources, tmp_path):
    src = bert_sources[task]
    out = tmp_path / "onnx"
    export_onnx(src, out, task)
    texts = {"question-answering": QA, "fill-mask": MASKED}.get(task, TEXTS)
    request = {"folder": str(out), "task": task, "texts": texts}
    if task == "question-answering":
        # transformers 5 removed the question-answering pipeline: the reference is transformers 4.57's
        # pipeline on the PyTorch source, in optimum-onnx's venv.
        request.update(source=str(src), reference_class=TASKS[task].__name__)
    got = run_child(request, child)
    expected_class = {"feature-extraction": "ORTModelForFeatureExtraction",
                      "text-classification": "ORTModelForSequenceClassification",
                      "token-classification": "ORTModelForTokenClassification",
                      "question-answering": "ORTModelForQuestionAnswering",
                      "fill-mask": "ORTModelForMaskedLM"}[task]
    assert got["class"] == expected_class
    if task == "question-answering":
        want = got["reference"]
        assert len(want) == len(QA), want
    else:
        pipe = T.pipeline(task, model=TASKS[task].from_pretrained(src).eval(),
                          tokenizer=T.AutoTokenizer.from_pretrained(src))
        want = pipe(texts)
    close(json.loads(json.dumps(want, default=lambda x: np.asarray(x).tolist())), got["pipeline"])


@pytest.mark.parametrize("task", ["text-generation-with-past", "text-generation"])
def test_ort_causal_lm_greedy_matches_transformers(task, child, tmp_path):
    """The merged decoder (with past: Optimum's default for causal LMs) and the one without past
    (ORTModelForCausalLM with use_cache=False) generate transformers' greedy tokens."""
    src = make_llama(tmp_path / "llama")
    out = tmp_path / "onnx"
    proc = run_cli("export", "--format", "onnx", "--model", src, "--task", task, out)
    assert proc.returncode == 0, proc.stderr
    prompt = [1, 17, 42, 9, 63, 5, 28]
    got = run_child({"folder": str(out), "task": "text-generation", "prompt_ids": prompt, "max_new_tokens": 12,
                     "ort_kwargs": {} if task.endswith("-with-past") else {"use_cache": False}}, child)
    assert got["class"] == "ORTModelForCausalLM"
    ref = T.LlamaForCausalLM.from_pretrained(src).eval()
    ids = torch.tensor([prompt])
    want = ref.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                        min_new_tokens=12)[0].tolist()
    assert got["generated"] == want
