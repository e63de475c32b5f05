#!/usr/bin/env python3
"""Decoder generation speed of optimum-cpp against its peers, side by side in one run.

Peers (bench/generation/peers.py), each (peer, variant) in its own worker process, in the
interpreter that holds it:
  ours         optimum_cpp.AutoModelForCausalLM (fp32, bf16, int8)                    .venv
               ("not available" while the build has no AutoModelForCausalLM)
  torch        transformers 5.23 + torch 2.13 generate (fp32, bf16)                   .venv
  llama.cpp    llama-cpp-python 0.3.36 built from source, its C API (F32, Q8_0, Q4_1) .venv-bench/gen
  ctranslate2  CTranslate2 Generator (fp32, int8)                                     .venv-bench/gen
  ort-genai    ONNX Runtime GenAI, its model builder (fp32, int4)                     .venv-bench/genai
  optimum-ort  Optimum's ORTModelForCausalLM, export=True (fp32)                      .venv-bench/gen

Models: SmolLM2-135M-Instruct as a Hugging Face folder dequantized by transformers from
.models/SmolLM2-135M-Instruct.Q4_1.gguf, and a random llama-shape model of ~0.47B parameters
(hidden 1024, 24 layers, 16 heads / 4 kv heads, intermediate 4096, untied 49152 vocab, seeded;
SmolLM2's tokenizer). Both saved once under build/bench/generation/models/; every conversion
is cached under build/bench/generation/<model>/ (redone when the source folder is newer).

Cases (the same token ids for every peer; greedy; end-of-sequence suppressed):
  b1 / b8        batch 1 / 8 rows of a fixed short prompt, N new tokens (--new-tokens, 64)
  b1-1 / b8-1    the same prompts, 1 new token (prefill + first token)
  prompt         1 row of --prompt-len (512) tokens, 1 new token
Reported: decode tokens/s = rows * (N - 1) / (t(bX) - t(bX-1)) (prompt and first token
subtracted), prompt latency = t(prompt), end-to-end b1 tokens/s = N / t(b1); medians over
--repeats interleaved rounds (each round calls every resident worker once per case, in a
rotated order) after one warm-up round. Workers stay resident in groups that fit
--max-resident-gb (estimated from the weight files), so the 0.5B model runs in a few groups.
Memory read bandwidth: numpy copy of a 1 GiB array (bytes read per second; 1 thread, and
--threads threads on halves) measured in the same run; the fp32 bound = bandwidth / fp32 weight
bytes read per token (every linear weight + the lm_head matrix). Greedy agreement: the length of
the common prefix of each peer's batch-1 tokens with transformers fp32's.

Writes bench/results/generation-<timestamp>.json and .md and prints the markdown.

    .venv/bin/python bench/generation/bench_generation.py [--quick] [--models smollm2,llama-0.5b]
        [--peers ours,torch,llama.cpp,ctranslate2,ort-genai,optimum-ort] [--variants fp32,Q8_0]
        [--repeats 3] [--threads 2] [--new-tokens 64] [--prompt-len 512] [--max-resident-gb 8]
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
import threading
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORK = ROOT / "build" / "bench" / "generation"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(HERE))

import peers as P  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SETTLE_S = 0.2  # pause between calls so the previous worker's spinning threads settle
PROMPT = ("<|im_start|>user\nWrite a short story about a robot who learns to paint, in the style of a fairy "
          "tale.<|im_end|>\n<|im_start|>assistant\n")
REFERENCE = ("torch", "fp32")


# ----------------------------------------------------------------------------- models


def models_dir() -> pathlib.Path:
    local = ROOT / ".models"
    return local if (local / GGUF).exists() else pathlib.Path("/work/main/.models")


def _compat(folder: pathlib.Path) -> None:
    """Makes a folder transformers 5 wrote readable by the peers' transformers 4.57 and by the
    converters: top-level rope_theta (5.x keeps it in rope_parameters only; 4.x would fall back to
    10000), torch_dtype next to dtype, and a tokenizer class 4.x knows."""
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    rope = cfg.get("rope_parameters") or {}
    if "rope_theta" not in cfg and "rope_theta" in rope:
        cfg["rope_theta"] = rope["rope_theta"]
    if "dtype" in cfg and "torch_dtype" not in cfg:
        cfg["torch_dtype"] = cfg["dtype"]
    cfg_path.write_text(json.dumps(cfg, indent=2))
    tc_path = folder / "tokenizer_config.json"
    if tc_path.exists():
        tc = json.loads(tc_path.read_text())
        if tc.get("tokenizer_class") not in ("GPT2Tokenizer", "GPT2TokenizerFast", "PreTrainedTokenizerFast"):
            tc["tokenizer_class"] = "GPT2Tokenizer"
            tc_path.write_text(json.dumps(tc, indent=2))


def smollm2_dir() -> pathlib.Path:
    out = WORK / "models" / "smollm2-135m-instruct"
    src = models_dir() / GGUF
    if not (out / "model.safetensors").exists() or (out / "model.safetensors").stat().st_mtime < src.stat().st_mtime:
        import torch
        import transformers

        transformers.utils.logging.disable_progress_bar()
        print(f"[setup] dequantizing {src} into {out}", file=sys.stderr, flush=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name,
                                                                  dtype=torch.float32)
        tok = transformers.AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        # The weights are dequantized to fp32 already; only the GGUF quantizer marker blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
        tok.save_pretrained(str(out))
        _compat(out)
    return out


def llama_05b_dir() -> pathlib.Path:
    out = WORK / "models" / "llama-0.5b-random"
    if not (out / "model.safetensors").exists():
        import torch
        import transformers

        print(f"[setup] writing a random llama-shape model into {out}", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        tok_src = smollm2_dir()
        cfg = transformers.LlamaConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                       num_key_value_heads=4, intermediate_size=4096, vocab_size=49152,
                                       max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False,
                                       bos_token_id=1, eos_token_id=2, rope_theta=100000.0)
        model = transformers.LlamaForCausalLM(cfg).to(torch.float32).eval()
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
        transformers.AutoTokenizer.from_pretrained(str(tok_src)).save_pretrained(str(out))
        _compat(out)
    return out


MODELS = {"smollm2": smollm2_dir, "llama-0.5b": llama_05b_dir}


def weight_bytes_per_token(folder: pathlib.Path) -> dict:
    """fp32 bytes a decode step reads: every parameter but the input embedding (one row is read),
    plus the lm_head matrix (the embedding itself when tied)."""
    from safetensors import safe_open

    cfg = json.loads((folder / "config.json").read_text())
    total, embed = 0, 0
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        for name in f.keys():
            n = int(np.prod(f.get_slice(name).get_shape()))
            total += n
            if name.endswith("embed_tokens.weight"):
                embed = n
    tied = bool(cfg.get("tie_word_embeddings", True))
    params = total
    per_token = total - embed + (embed if tied else 0)
    return {"params": params, "fp32_bytes_per_token": 4 * per_token, "tied_embeddings": bool(tied)}


def make_inputs(folder: pathlib.Path, prompt_len: int) -> dict[str, np.ndarray]:
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    ids = np.array(tok(PROMPT, add_special_tokens=False)["input_ids"], dtype=np.int64)
    rows = np.stack([np.roll(ids, -r) for r in range(8)])  # 8 rows, the same length, other contents
    text = ("The history of computing is a story of machines that grew smaller, faster and cheaper, "
            "while the programs they ran grew larger. ") * 64
    long = np.array(tok(text, add_special_tokens=False)["input_ids"][:prompt_len], dtype=np.int64)
    if len(long) < prompt_len:
        raise RuntimeError(f"prompt text gives {len(long)} tokens, fewer than --prompt-len {prompt_len}")
    return {"b1": rows[:1], "b8": rows, "prompt": long[None, :]}


# ----------------------------------------------------------------------------- bandwidth


def bandwidth(threads: int, repeats: int) -> dict:
    """numpy copy of a 1 GiB float32 array: bytes read per second, 1 thread and `threads` threads
    (each copying its share; numpy releases the GIL in copyto)."""
    n = (1 << 30) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)

    def timed(k: int) -> float:
        parts = np.array_split(np.arange(n), k)
        bounds = [(p[0], p[-1] + 1) for p in parts]
        ts = []
        for _ in range(repeats):
            jobs = [threading.Thread(target=np.copyto, args=(dst[a:b], src[a:b])) for a, b in bounds]
            t0 = time.perf_counter()
            for j in jobs:
                j.start()
            for j in jobs:
                j.join()
            ts.append(time.perf_counter() - t0)
        return (1 << 30) / statistics.median(ts) / 1e9

    out = {"copy_1t_gbs": timed(1), f"copy_{threads}t_gbs": timed(threads), "array_gib": 1, "repeats": repeats}
    out["gbs"] = max(out["copy_1t_gbs"], out[f"copy_{threads}t_gbs"])
    del src, dst
    return out


# ----------------------------------------------------------------------------- worker side


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def worker_main(spec: dict) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr
    inputs = dict(np.load(spec["inputs"]))
    t0 = time.perf_counter()
    try:
        gen = P.load(spec["peer"], spec["artifact"], spec["variant"], spec["threads"])
    except P.Unavailable as e:
        out.write(json.dumps({"unavailable": str(e)}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"load_s": time.perf_counter() - t0, "rss_loaded_mb": rss_mb()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            out.write(json.dumps({"peak_rss_mb": rss_mb("VmHWM")}) + "\n")
            out.flush()
            return
        ids = inputs[cmd["input"]]
        t0 = time.perf_counter()
        y = np.asarray(gen(ids, cmd["n"]))
        dt = time.perf_counter() - t0
        out.write(json.dumps({"t": dt, "new": int(y.shape[1]) if y.ndim == 2 else 0,
                              "tokens": y[0].tolist() if y.ndim == 2 else []}) + "\n")
        out.flush()


def prepare_main(spec: dict) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        reply = {"artifact": P.prepare(spec["peer"], spec["model_dir"], pathlib.Path(spec["work"]), spec["variant"])}
    except P.Unavailable as e:
        reply = {"unavailable": str(e)}
    out.write(json.dumps(reply) + "\n")
    out.flush()


# ----------------------------------------------------------------------------- coordinator


def peer_python(peer: str) -> str:
    return str(ROOT / P.VENV[peer] / "bin" / "python")


def peer_env(threads: int) -> dict:
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "python") + os.pathsep +
                os.environ.get("PYTHONPATH", ""), TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error",
                HF_HUB_OFFLINE="1", TRANSFORMERS_NO_ADVISORY_WARNINGS="1", TQDM_DISABLE="1")


def last_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def prepare(peer: str, variant: str, model_dir: str, work: pathlib.Path, threads: int) -> str:
    python = peer_python(peer)
    if not pathlib.Path(python).exists():
        raise P.Unavailable(f"{P.VENV[peer]} missing (make bench-generation creates it)")
    spec = {"peer": peer, "variant": variant, "model_dir": model_dir, "work": str(work)}
    t0 = time.perf_counter()
    r = subprocess.run([python, __file__, "--prepare", json.dumps(spec)], capture_output=True, text=True,
                       env=peer_env(threads))
    lines = r.stdout.strip().splitlines()
    log = work / "logs" / f"prepare-{peer}-{variant}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(r.stdout + "\n" + r.stderr)
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"prepare failed ({log}): {last_lines(r.stderr)}")
    reply = json.loads(lines[-1])
    if "unavailable" in reply:
        raise P.Unavailable(reply["unavailable"])
    if time.perf_counter() - t0 > 5:
        print(f"[prepare] {peer}:{variant} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return reply["artifact"]


def artifact_gb(artifact: str) -> float:
    p = pathlib.Path(artifact)
    files = [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file() and q.stat().st_size > (1 << 20)]
    return sum(q.stat().st_size for q in files) / 1e9


class Worker:
    def __init__(self, peer: str, variant: str, artifact: str, inputs: str, threads: int, log: pathlib.Path):
        self.name = f"{peer}:{variant}"
        spec = {"peer": peer, "variant": variant, "artifact": artifact, "inputs": inputs, "threads": threads}
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.log_file = open(log, "w")
        self.proc = subprocess.Popen([peer_python(peer), __file__, "--worker", json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log_file, text=True, env=peer_env(threads))
        self.info = self._read()
        if "unavailable" in self.info:
            self.proc.wait(timeout=60)
            raise P.Unavailable(self.info["unavailable"])

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=60)
            self.log_file.flush()
            raise RuntimeError(f"worker died ({self.log}): {last_lines(self.log.read_text())}")
        return json.loads(line)

    def call(self, inp: str, n: int) -> dict:
        self.proc.stdin.write(json.dumps({"op": "run", "input": inp, "n": n}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> float:
        self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.proc.stdin.flush()
        peak = self._read()["peak_rss_mb"]
        self.proc.wait(timeout=60)
        return peak

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def groups_by_memory(items: list[tuple[str, str, str, float]], budget_gb: float) -> list[list]:
    groups, cur, used = [], [], 0.0
    for it in items:
        need = it[3] + 0.4
        if cur and used + need > budget_gb:
            groups.append(cur)
            cur, used = [], 0.0
        cur.append(it)
        used += need
    if cur:
        groups.append(cur)
    return groups


def bench_model(model: str, args, result: dict, selected: list[tuple[str, str]]) -> None:
    src = MODELS[model]()
    work = WORK / model
    work.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(src, args.prompt_len)
    inputs_path = work / "inputs.npz"
    np.savez(inputs_path, **inputs)
    wb = weight_bytes_per_token(src)
    bw = result["bandwidth"]["gbs"]
    mres = result["models"].setdefault(model, {
        "source": str(src), **wb, "fp32_bound_tok_s": bw * 1e9 / wb["fp32_bytes_per_token"],
        "prompt_tokens": int(inputs["b1"].shape[1]), "long_prompt_tokens": int(inputs["prompt"].shape[1]),
        "results": {}, "unavailable": {}, "failed": {}})
    N = args.new_tokens
    cases = [("b1", "b1", N), ("b1-1", "b1", 1), ("b8", "b8", N), ("b8-1", "b8", 1), ("prompt", "prompt", 1)]

    ready = []
    for peer, variant in selected:
        name = f"{peer}:{variant}"
        try:
            art = prepare(peer, variant, str(src), work, args.threads)
        except P.Unavailable as e:
            mres["unavailable"][name] = str(e)
            continue
        except Exception as e:  # noqa: BLE001 - reported per peer, the run goes on
            mres["failed"][name] = str(e)
            print(f"[prepare] {name} FAILED: {e}", file=sys.stderr, flush=True)
            continue
        gb = artifact_gb(art) * (0.5 if P.VARIANTS[peer][variant] == "bf16" else 1.0)
        ready.append((peer, variant, art, gb))

    for group in groups_by_memory(ready, args.max_resident_gb):
        workers = []
        for peer, variant, art, _ in group:
            name = f"{peer}:{variant}"
            try:
                w = Worker(peer, variant, art, str(inputs_path), args.threads, work / "logs" / f"worker-{peer}-{variant}.log")
                workers.append(w)
                mres["results"][name] = {"precision": P.VARIANTS[peer][variant], "load_s": w.info["load_s"],
                                         "rss_loaded_mb": w.info["rss_loaded_mb"], "weights_gb": artifact_gb(art),
                                         "times": {c[0]: [] for c in cases}, "new_tokens": {}}
            except P.Unavailable as e:
                mres["unavailable"][name] = str(e)
            except Exception as e:  # noqa: BLE001
                mres["failed"][name] = str(e)
                print(f"[load] {name} FAILED: {e}", file=sys.stderr, flush=True)
        print(f"[{model}] group: {', '.join(w.name for w in workers)}", file=sys.stderr, flush=True)
        for rnd in range(args.warmup + args.repeats):
            for case, inp, n in cases:
                order = workers[rnd % len(workers):] + workers[:rnd % len(workers)] if workers else []
                for w in list(order):
                    try:
                        time.sleep(SETTLE_S)
                        r = w.call(inp, n)
                    except Exception as e:  # noqa: BLE001
                        mres["failed"][w.name] = f"{case}: {e}"
                        mres["results"].pop(w.name, None)
                        print(f"[run] {w.name} FAILED: {e}", file=sys.stderr, flush=True)
                        w.kill()
                        workers.remove(w)
                        continue
                    res = mres["results"][w.name]
                    res["new_tokens"][case] = r["new"]
                    if case == "b1":
                        res["b1_tokens"] = r["tokens"]
                    if rnd >= args.warmup:
                        res["times"][case].append(r["t"])
            print(f"[{model}] round {rnd + 1}/{args.warmup + args.repeats} done", file=sys.stderr, flush=True)
        for w in workers:
            try:
                mres["results"][w.name]["peak_rss_mb"] = w.close()
            except Exception:  # noqa: BLE001
                w.kill()

    for name, res in mres["results"].items():
        med = {c: statistics.median(ts) for c, ts in res["times"].items() if ts}
        res["median_s"] = med
        got = res["new_tokens"].get("b1", N)
        if "b1" in med and "b1-1" in med and med["b1"] > med["b1-1"]:
            res["decode_b1_tok_s"] = (got - 1) / (med["b1"] - med["b1-1"])
            res["e2e_b1_tok_s"] = got / med["b1"]
        got8 = res["new_tokens"].get("b8", N)
        if "b8" in med and "b8-1" in med and med["b8"] > med["b8-1"]:
            res["decode_b8_tok_s"] = 8 * (got8 - 1) / (med["b8"] - med["b8-1"])
        if "prompt" in med:
            res["prompt_ms"] = med["prompt"] * 1e3
            res["prompt_tok_s"] = mres["long_prompt_tokens"] / med["prompt"]
    ref = mres["results"].get(":".join(REFERENCE), {}).get("b1_tokens")
    for res in mres["results"].values():
        if ref and res.get("b1_tokens") is not None:
            k = 0
            for a, b in zip(ref, res["b1_tokens"]):
                if a != b:
                    break
                k += 1
            res["agree_with_torch_fp32"] = k


# ----------------------------------------------------------------------------- report


def fmt(x, spec=".1f") -> str:
    return "-" if x is None else format(x, spec)


def markdown(result: dict) -> str:
    o = []
    a = result["args"]
    o.append(f"## Generation benchmark ({result['when']})\n")
    o.append(f"CPU: {result['cpu']} ({', '.join(result['cpu_flags'])}), {a['threads']} threads; "
             f"{a['new_tokens']} greedy new tokens, prompt {a['prompt_len']} tokens; medians of {a['repeats']} "
             f"interleaved rounds{' (--quick)' if a['quick'] else ''}.  ")
    bw = result["bandwidth"]
    o.append(f"Memory read bandwidth (numpy copy of 1 GiB): {bw['copy_1t_gbs']:.1f} GB/s 1 thread, "
             f"{bw['copy_%dt_gbs' % a['threads']]:.1f} GB/s "
             f"{a['threads']} threads; the bound uses {bw['gbs']:.1f} GB/s.\n")
    for model, m in result["models"].items():
        o.append(f"### {model}: {m['params'] / 1e6:.0f}M parameters, {m['fp32_bytes_per_token'] / 1e9:.2f} GB fp32 "
                 f"read per token, fp32 bound {m['fp32_bound_tok_s']:.1f} tok/s (batch 1); "
                 f"short prompt {m['prompt_tokens']} tokens\n")
        o.append("| peer:variant | prec | decode b1 tok/s | % fp32 bound | decode b8 tok/s | prompt ms | "
                 "prompt tok/s | e2e b1 tok/s | load s | weights GB | peak RSS MB | = torch fp32 |")
        o.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in m["results"].items():
            d1 = r.get("decode_b1_tok_s")
            o.append(f"| {name} | {r['precision']} | {fmt(d1)} | "
                     f"{fmt(d1 and 100 * d1 / m['fp32_bound_tok_s'], '.0f')} | {fmt(r.get('decode_b8_tok_s'))} | "
                     f"{fmt(r.get('prompt_ms'), '.0f')} | {fmt(r.get('prompt_tok_s'), '.0f')} | "
                     f"{fmt(r.get('e2e_b1_tok_s'))} | {fmt(r.get('load_s'), '.2f')} | {fmt(r.get('weights_gb'), '.2f')} | "
                     f"{fmt(r.get('peak_rss_mb'), '.0f')} | {r.get('agree_with_torch_fp32', '-')}/"
                     f"{r.get('new_tokens', {}).get('b1', '-')} |")
        ours = {r["precision"]: (n, r) for n, r in m["results"].items() if n.startswith("ours:")}
        if ours:
            o.append("\nours / peer (same precision class; int4 peers against ours int8):\n")
            o.append("| ours | peer | decode b1 | decode b8 | prompt (time peer/ours) |")
            o.append("|---|---|---:|---:|---:|")
            for name, r in m["results"].items():
                if name.startswith("ours:"):
                    continue
                cls = "int8" if r["precision"] == "int4" else r["precision"]
                if cls not in ours:
                    continue
                on, orr = ours[cls]

                def ratio(key, inverse=False):
                    x, y = orr.get(key), r.get(key)
                    if not x or not y:
                        return "-"
                    return f"{(y / x if inverse else x / y):.2f}x"
                o.append(f"| {on} | {name} | {ratio('decode_b1_tok_s')} | {ratio('decode_b8_tok_s')} | "
                         f"{ratio('prompt_ms', inverse=True)} |")
        for kind in ("unavailable", "failed"):
            for name, why in m[kind].items():
                o.append(f"\n- {name}: {kind}: {why.strip().splitlines()[0] if why.strip() else why}")
                extra = why.strip().splitlines()[1:]
                if extra:
                    o.append("\n  ```\n  " + "\n  ".join(extra[-6:]) + "\n  ```")
        o.append("")
    return "\n".join(o)


def cpu_name() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cpu_flags() -> list[str]:
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"] if f in have]
    return []


def versions() -> dict:
    code = ("import importlib.metadata as m, json, sys\nv = {}\nfor n in sys.argv[1:]:\n"
            "    try: v[n] = m.version(n)\n    except Exception: pass\nprint(json.dumps(v))\n")
    pk = ["torch", "transformers", "llama_cpp_python", "ctranslate2", "onnxruntime", "onnxruntime-genai", "optimum",
          "optimum-onnx", "gguf", "numpy"]
    out = {}
    for venv in dict.fromkeys(P.VENV.values()):
        py = ROOT / venv / "bin" / "python"
        try:
            r = subprocess.run([str(py), "-c", code, *pk], capture_output=True, text=True, timeout=120)
            out[venv] = json.loads(r.stdout)
        except Exception as e:  # noqa: BLE001
            out[venv] = {"error": str(e)}
    out["git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: smollm2, 16 new tokens, prompt 128, 1 round")
    ap.add_argument("--models", default=None)
    ap.add_argument("--peers", default=",".join(P.PEERS))
    ap.add_argument("--variants", default=None, help="only these variants (e.g. fp32,Q8_0)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--prompt-len", type=int, default=None)
    ap.add_argument("--max-resident-gb", type=float, default=8.0)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--note", default="")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.worker:
        return worker_main(json.loads(args.worker))
    if args.prepare:
        return prepare_main(json.loads(args.prepare))
    args.models = args.models or ("smollm2" if args.quick else "smollm2,llama-0.5b")
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.new_tokens = args.new_tokens or (16 if args.quick else 64)
    args.prompt_len = args.prompt_len or (128 if args.quick else 512)
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in P.VARIANTS:
            ap.error(f"--peers: unknown peer {p!r} (known: {', '.join(P.PEERS)})")
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            ap.error(f"--models: unknown model {m!r} (known: {', '.join(MODELS)})")
    variants = set(args.variants.split(",")) if args.variants else None
    selected = [(p, v) for p in peers for v in P.VARIANTS[p] if variants is None or v in variants]

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    result = {"when": stamp, "cpu": cpu_name(), "cpu_flags": cpu_flags(), "nproc": os.cpu_count(),
              "args": {k: getattr(args, k) for k in ("quick", "models", "peers", "repeats", "warmup", "threads",
                                                     "new_tokens", "prompt_len", "max_resident_gb", "note")},
              "versions": versions(), "models": {}}
    print("[bandwidth] numpy copy of 1 GiB ...", file=sys.stderr, flush=True)
    result["bandwidth"] = bandwidth(args.threads, 3 if args.quick else 5)
    t0 = time.time()
    for m in models:
        bench_model(m, args, result, selected)
    result["wall_s"] = time.time() - t0
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"generation-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    md = markdown(result)
    (pathlib.Path(args.markdown) if args.markdown else RESULTS / f"generation-{stamp}.md").write_text(md)
    print(md)
    print(f"\n[written] {path} ({result['wall_s']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
