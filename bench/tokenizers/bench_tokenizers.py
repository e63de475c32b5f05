#!/usr/bin/env python3
"""Encode throughput of optimum_cpp.Tokenizer vs Hugging Face `tokenizers`, side by side.

For a WordPiece (all-MiniLM-L6-v2) and a byte-level BPE (gpt2) tokenizer.json,
encode_batch of a batch of 10,000 sentences, with 1 thread and with all
threads. Each thread setting runs in its own subprocess, because `tokenizers`
reads RAYON_NUM_THREADS once, at import; optimum_cpp gets the same number via
optimum_cpp.set_num_threads(n). Inside a subprocess the two libraries run
interleaved (A B B A ...), repeated, and the median is reported. The CPU time
of each run is measured too (cpu_util = process CPU seconds / wall seconds),
so a "1 thread" number that secretly used more cores shows up.

Also measured: encode() one sentence at a time from Python (per-call overhead).

Writes JSON (default bench/results/tokenizers.json) and prints a table with
optimum_cpp / tokenizers ratios (target: >= 1.5x single-threaded).

    .venv/bin/python bench/tokenizers/bench_tokenizers.py [--repeats 7] [--sentences 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import random
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(os.environ.get("OPTIMUM_TOKENIZER_FIXTURES", "/work/shared/fixtures/tokenizers"))
TOKENIZERS = {
    "wordpiece (all-MiniLM-L6-v2)": FIXTURES / "all-MiniLM-L6-v2" / "tokenizer.json",
    "byte-level BPE (gpt2)": FIXTURES / "gpt2" / "tokenizer.json",
}
TARGET_RATIO_1T = 1.5


def sentences(n: int, seed: int = 1234) -> list[str]:
    """n deterministic sentences, mostly English prose with some multilingual text,
    numbers, punctuation and code, 5-60 words each (built from tests/tokenizers/corpus.py)."""
    sys.path.insert(0, str(ROOT / "tests" / "tokenizers"))
    import corpus

    rng = random.Random(seed)
    prose_words = [w for s in corpus.PROSE for w in s.split()]
    other_words = [w for s in corpus.CJK + corpus.RTL + corpus.NUMBERS + corpus.URLS + corpus.CODE + corpus.ACCENTS + corpus.EMOJI for w in s.split()]
    out = []
    for _ in range(n):
        k = rng.randint(5, 60)
        words = [rng.choice(prose_words) if rng.random() < 0.85 else rng.choice(other_words) for _ in range(k)]
        out.append(" ".join(words))
    return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker(args) -> dict:
    """Runs in a subprocess with RAYON_NUM_THREADS already set."""
    import tokenizers

    sys.path.append(str(ROOT / "python"))
    import optimum_cpp

    optimum_cpp.set_num_threads(args.threads)
    texts = sentences(args.sentences)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    one_by_one = texts[: args.one_by_one]
    out = {}
    for name, path in TOKENIZERS.items():
        libs = {
            "tokenizers": tokenizers.Tokenizer.from_file(str(path)),
            "optimum_cpp": optimum_cpp.Tokenizer.from_file(str(path)),
        }
        for t in libs.values():
            t.no_truncation()
            t.no_padding()
        n_tokens = sum(len(e.ids) for e in libs["tokenizers"].encode_batch(texts))
        n_tokens_oc = sum(len(e.ids) for e in libs["optimum_cpp"].encode_batch(texts))
        for lib in libs.values():  # warm-up
            lib.encode_batch(texts[:2000])
        times = {k: [] for k in libs}
        cpus = {k: [] for k in libs}
        times_1 = {k: [] for k in libs}
        order = list(libs)
        for rep in range(args.repeats):
            for k in order if rep % 2 == 0 else order[::-1]:  # interleaved A B, B A, ...
                c0, t0 = _cpu(), time.perf_counter()
                libs[k].encode_batch(texts)
                t1, c1 = time.perf_counter(), _cpu()
                times[k].append(t1 - t0)
                cpus[k].append((c1 - c0) / (t1 - t0))
                t0 = time.perf_counter()
                for s in one_by_one:
                    libs[k].encode(s)
                times_1[k].append(time.perf_counter() - t0)
        res = {}
        for k in libs:
            med = statistics.median(times[k])
            med1 = statistics.median(times_1[k])
            res[k] = {
                "encode_batch_s_median": med,
                "encode_batch_s_all": times[k],
                "sentences_per_s": len(texts) / med,
                "mb_per_s": n_bytes / med / 1e6,
                "tokens_per_s": (n_tokens if k == "tokenizers" else n_tokens_oc) / med,
                "cpu_util_median": statistics.median(cpus[k]),
                "encode_one_by_one_sentences_per_s": len(one_by_one) / med1,
            }
        res["ratio_encode_batch"] = res["tokenizers"]["encode_batch_s_median"] / res["optimum_cpp"]["encode_batch_s_median"]
        res["ratio_encode_one_by_one"] = (
            res["optimum_cpp"]["encode_one_by_one_sentences_per_s"] / res["tokenizers"]["encode_one_by_one_sentences_per_s"]
        )
        res["same_token_count"] = n_tokens == n_tokens_oc
        res["n_tokens"] = {"tokenizers": n_tokens, "optimum_cpp": n_tokens_oc}
        out[name] = res
    return {"threads": args.threads, "sentences": len(texts), "bytes": n_bytes, "results": out}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentences", type=int, default=10_000, help="batch size (default 10000)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved repetitions per library (median reported)")
    p.add_argument("--one-by-one", type=int, default=2000, help="sentences for the encode()-per-call measurement")
    p.add_argument("--threads", type=str, default="", help="comma-separated thread counts (default: 1,<all cores>)")
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "tokenizers.json")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        args.threads = int(args.threads)
        print(json.dumps(worker(args)))
        return 0

    n_cores = os.cpu_count() or 1
    thread_counts = [int(x) for x in args.threads.split(",")] if args.threads else sorted({1, n_cores})
    runs = []
    for n in thread_counts:
        env = dict(os.environ, RAYON_NUM_THREADS=str(n), TOKENIZERS_PARALLELISM="true", OMP_NUM_THREADS=str(n))
        cmd = [sys.executable, __file__, "--worker", "--threads", str(n), "--sentences", str(args.sentences),
               "--repeats", str(args.repeats), "--one-by-one", str(args.one_by_one)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    import tokenizers

    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": n_cores,
        "python": platform.python_version(),
        "tokenizers_version": tokenizers.__version__,
        "repeats": args.repeats,
        "load_average_at_start": os.getloadavg(),
        "note": "1-thread rows: tokenizers with RAYON_NUM_THREADS=1 vs optimum_cpp.set_num_threads(1), both encode_batch",
    }
    result = {"meta": meta, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    print(f"encode_batch of {runs[0]['sentences']} sentences ({runs[0]['bytes'] / 1e6:.2f} MB), median of {args.repeats}; "
          f"{meta['cpu']}, {n_cores} cores, load {meta['load_average_at_start'][0]:.2f}")
    hdr = f"{'tokenizer':30s} {'thr':>3s} {'library':12s} {'sent/s':>10s} {'MB/s':>8s} {'Mtok/s':>7s} {'cpu':>5s} {'1-by-1 sent/s':>14s}  ratio"
    print(hdr)
    print("-" * len(hdr))
    ok = True
    for run in runs:
        for name, res in run["results"].items():
            for lib in ("tokenizers", "optimum_cpp"):
                r = res[lib]
                ratio = ""
                if lib == "optimum_cpp":
                    ratio = f"{res['ratio_encode_batch']:.2f}x (1-by-1 {res['ratio_encode_one_by_one']:.2f}x)"
                    if run["threads"] == 1 and res["ratio_encode_batch"] < TARGET_RATIO_1T:
                        ratio += f"  < target {TARGET_RATIO_1T}x"
                        ok = False
                print(f"{name:30s} {run['threads']:>3d} {lib:12s} {r['sentences_per_s']:>10.0f} {r['mb_per_s']:>8.2f} "
                      f"{r['tokens_per_s'] / 1e6:>7.2f} {r['cpu_util_median']:>5.2f} {r['encode_one_by_one_sentences_per_s']:>14.0f}  {ratio}")
            if not res["same_token_count"]:
                print(f"  note: token counts differ {res['n_tokens']} (see tests/tokenizers)")
    print(f"wrote {args.out}")
    if not ok:
        print(f"below the {TARGET_RATIO_1T}x single-thread target")
    return 0  # a benchmark reports; it does not fail


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
