"""optimum-cpp's in-process pipeline on the serving benchmark's sentences (the test venv's python):
single-call latency (one sentence per call, p50/p99) and batched throughput (run_batch over the
sentences, batch_size=N, one forward per batch): the ceiling a server's dynamic batching aims at.
Prints one JSON object.

  python inprocess.py --model DIR --task text-embedding --threads 2 --batch-size 32 --seconds 5"""

import argparse
import json
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import optimum_cpp  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--sentences", default=str(pathlib.Path(__file__).with_name("sentences.txt")))
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    sentences = [s for s in pathlib.Path(args.sentences).read_text().splitlines() if s]
    optimum_cpp.set_num_threads(args.threads)
    pipe = optimum_cpp.pipeline(args.task, model=args.model, batch_size=args.batch_size, num_threads=args.threads)

    for s in sentences:  # warm up
        pipe(s)
    single = []
    deadline = time.perf_counter() + args.seconds
    i = 0
    while time.perf_counter() < deadline or len(single) < 50:
        s = sentences[i % len(sentences)]
        t0 = time.perf_counter()
        pipe(s)
        single.append(time.perf_counter() - t0)
        i += 1

    # Batched: the sentences repeated to 8 batches per call, batch_size per forward.
    items = [sentences[k % len(sentences)] for k in range(8 * args.batch_size)]
    pipe.run_batch(items)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds or done == 0:
        pipe.run_batch(items)
        done += len(items)
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "single_p50_us": statistics.median(single) * 1e6,
        "single_p99_us": pct(single, 99) * 1e6,
        "single_calls": len(single),
        "single_throughput": len(single) / sum(single),
        "batched_throughput": done / elapsed,
        "batched_items": done,
        "batch_size": args.batch_size,
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
