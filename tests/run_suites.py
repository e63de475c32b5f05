"""Runs the Python test suites (`make python-test`): one pytest process per suite directory, JOBS of
them at a time, the longest-running suites first (a new directory starts as soon as a slot frees).

Much of the suites' time is spent single-threaded (interpreters starting, transformers' reference
runs at one torch thread, a server or a CLI child being waited for), so on two cores two suites at
once take well under the time of one after the other. Each suite gets its own pytest process and
--basetemp (<tmp>/pytest-suites-*/<dir>/, kept when the suite fails); a suite's output is printed whole when it ends, then a
table of every suite's result, wall time and test count. Exit status 1 when any suite failed.

    python tests/run_suites.py [-j JOBS] DIR... [-- PYTEST ARGS]

-j 1 runs the suites one at a time; `-j 0` runs them all in this one pytest process (as before).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Suites known to take longest (start them first so no long one starts last); any other directory
# comes after these, in the order given. Order only: every suite given runs, listed here or not.
LONGEST_FIRST = ["serving", "speech", "onnx_seq2seq", "onnx_validate", "decoders", "precision", "hub", "python", "generation", "seq2seq",
                 "pipelines", "sentence_transformers", "onnx_export", "exports_honest", "tokenizers",
                 "gguf_tokenizer", "gguf", "cli", "vision", "parity"]


def order(dirs):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    return sorted(dirs, key=lambda d: rank.get(Path(d).name, len(rank)))


def summary_line(text):
    """pytest's final line ("== 12 passed, 1 skipped in 30.1s =="), or ''."""
    lines = [ln for ln in text.splitlines() if re.search(r"\b(passed|failed|error|errors|skipped|deselected)\b", ln)
             and " in " in ln]
    return lines[-1].strip("= ") if lines else ""


def main(argv):
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    else:
        extra = []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--jobs", type=int, default=2, help="suites at a time (0: one pytest process)")
    parser.add_argument("dirs", nargs="+", help="suite directories (tests/<name>)")
    args = parser.parse_args(argv)
    for d in args.dirs:
        if not Path(d).is_dir():
            parser.error(f"suite directory {d} does not exist")
    base = [sys.executable, "-m", "pytest", "-q", *extra]
    if args.jobs <= 0:
        return subprocess.call(base + args.dirs)

    temp_root = Path(tempfile.mkdtemp(prefix="pytest-suites-"))
    queue = order(args.dirs)
    lock = threading.Lock()
    results = {}
    start = time.monotonic()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                suite = queue.pop(0)
            basetemp = temp_root / str(suite).strip("/").replace("/", "-")
            shutil.rmtree(basetemp, ignore_errors=True)
            basetemp.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            with lock:
                print(f"----- {suite}: started (at {t0 - start:.0f} s)", flush=True)
            with lock:
                if stopping:
                    return
                child = subprocess.Popen(base + [f"--basetemp={basetemp}", suite], stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, errors="replace")
                running.add(child)
            out, _ = child.communicate()
            with lock:
                running.discard(child)
            proc = subprocess.CompletedProcess(child.args, child.returncode, out)
            wall = time.monotonic() - t0
            with lock:
                results[suite] = (proc.returncode, wall, summary_line(proc.stdout))
                print(f"\n===== {suite}: exit {proc.returncode} after {wall:.0f} s "
                      f"(at {time.monotonic() - start:.0f} s) =====", flush=True)
                print(proc.stdout, end="" if proc.stdout.endswith("\n") else "\n", flush=True)
            if proc.returncode == 0:
                shutil.rmtree(basetemp, ignore_errors=True)

    running = set()
    stopping = []

    def stop(signum, frame):
        """Interrupted (Ctrl-C, a CI timeout): the running suites stop too, not left behind."""
        with lock:
            stopping.append(signum)
            queue.clear()
            for child in running:
                child.terminate()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(args.jobs, len(args.dirs)))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.5)

    total = time.monotonic() - start
    if not any(rc for rc, _, _ in results.values()):
        shutil.rmtree(temp_root, ignore_errors=True)
    print(f"\n===== Python suites ({args.jobs} at a time): {total:.0f} s wall =====")
    failed = []
    for suite in args.dirs:
        rc, wall, line = results[suite]
        print(f"{'ok  ' if rc == 0 else 'FAIL'} {suite:32s} {wall:7.0f} s  {line}")
        if rc != 0:
            failed.append(suite)
    if failed:
        print(f"FAILED suites: {' '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
