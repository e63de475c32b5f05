"""Serving benchmark: optimum-cpp `serve` vs TorchServe 0.12 vs the KServe 0.21 Python model server,
and optimum-cpp's in-process pipeline as the ceiling, on all-MiniLM-L6-v2 embeddings and a text
classifier on it (bench/serving/prepare_models.py builds them).

One client for every server: wrk (Debian) with bench/serving/client.lua, one thread, N keep-alive
connections (closed loop), single-sentence requests cycling through bench/serving/sentences.txt.
Each point: --warmup seconds (discarded), then --duration seconds measured. Rounds are interleaved
(every server at every point, the server order rotating per round); tables show medians over rounds.
Every server gets the same cores (--threads intra-op threads, one worker) and the same batching
(--batch-size, --max-batch-delay-ms); KServe's Python server has no dynamic batching.

Run with the test venv's python (make bench-serving). JSON + markdown in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "serving"))

import prepare_models  # noqa: E402
from server_util import ServerProcess  # noqa: E402

WORK = prepare_models.WORK
SENTENCES = HERE / "sentences.txt"
VENVS = ROOT / ".venv-bench"
ALL_SERVERS = ("ours", "torchserve", "kserve")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes, ctype: str, timeout: float = 30.0):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


class Proc:
    """A peer server process started by us, stopped by its own pid (process group)."""

    def __init__(self, name, args, workdir: pathlib.Path, env=None):
        self.name, self.workdir = name, workdir
        self.log_path = workdir / "server.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(a) for a in args], cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


class Server:
    name = ""
    fmt = "text"

    def path(self, model: str) -> str:
        raise NotImplementedError

    def url(self, model):
        return self.base + self.path(model)

    def body(self, text: str) -> bytes:
        return json.dumps({"instances": [text]}).encode() if self.fmt == "kserve-v1" else text.encode()

    def answer(self, model: str, text: str):
        status, data = post(self.url(model), self.body(text),
                            "application/json" if self.fmt == "kserve-v1" else "text/plain")
        if status != 200:
            raise RuntimeError(f"{self.name} {model}: HTTP {status}: {data[:200]!r}")
        out = json.loads(data)
        if self.fmt == "kserve-v1":
            out = out["predictions"][0]
        return out

    def wait_ready(self, models, timeout=300.0):
        deadline = time.time() + timeout
        for m in models:
            while True:
                if not self.proc.alive():
                    raise RuntimeError(f"{self.name} exited; log {self.proc.log_path}")
                try:
                    self.answer(m, "warm up")
                    break
                except Exception as e:  # noqa: BLE001 - not up yet
                    if time.time() > deadline:
                        raise RuntimeError(f"{self.name} not ready after {timeout} s ({e}); "
                                           f"log {self.proc.log_path}") from e
                    time.sleep(0.5)


class Ours(Server):
    name = "optimum-cpp serve"

    dtype = "fp32"

    def __init__(self, workdir, threads, models):
        store = prepare_models.ours_store(self.dtype)
        self.server = ServerProcess(workdir, store, [f"{m}={m}.mar" for m in models],
                                    properties={"number_of_netty_threads": threads})
        self.proc = self.server
        self.proc.log_path = workdir / "server.log"
        self.base = self.server.inference

    def path(self, model):
        return f"/predictions/{model}"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.server.metrics + "/metrics", timeout=10) as r:
            return r.read().decode()

    def stop(self):
        self.server.stop()


class TorchServe(Server):
    name = "TorchServe 0.12"

    def __init__(self, workdir, threads, models):
        venv = VENVS / "torchserve"
        ports = {k: free_port() for k in ("inf", "mgmt", "met", "grpc", "grpcm")}
        cfg = workdir / "config.properties"
        cfg.write_text("\n".join([
            f"inference_address=http://127.0.0.1:{ports['inf']}",
            f"management_address=http://127.0.0.1:{ports['mgmt']}",
            f"metrics_address=http://127.0.0.1:{ports['met']}",
            f"grpc_inference_port={ports['grpc']}",
            f"grpc_management_port={ports['grpcm']}",
            f"model_store={WORK / 'store' / 'torchserve'}",
            "default_workers_per_model=1",
            f"number_of_netty_threads={threads}",
            "disable_token_authorization=true",
            "disable_system_metrics=true",
            "install_py_dep_per_model=false",
            "job_queue_size=1000",
            "async_logging=true",
            "",
        ]))
        env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "OMP_NUM_THREADS": str(threads),
               "LOG_LOCATION": str(workdir / "logs"), "METRICS_LOCATION": str(workdir / "logs")}
        self.proc = Proc("torchserve", [venv / "bin" / "torchserve", "--start", "--foreground", "--ncs",
                                        "--ts-config", cfg, "--model-store", WORK / "store" / "torchserve",
                                        "--disable-token-auth", "--log-config", HERE / "torchserve" / "log4j2.xml", "--models", *[f"{m}={m}.mar" for m in models]],
                         workdir, env)
        self.base = f"http://127.0.0.1:{ports['inf']}"
        self.management = f"http://127.0.0.1:{ports['mgmt']}"

    def path(self, model):
        return f"/predictions/{model}"

    def describe(self, model):
        with urllib.request.urlopen(f"{self.management}/models/{model}", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.stop()


class KServe(Server):
    name = "KServe 0.21 (Python)"
    fmt = "kserve-v1"

    def __init__(self, workdir, threads, models):
        venv = VENVS / "kserve"
        port = free_port()
        specs = []
        for m in models:
            specs += ["--model", f"{m}={prepare_models.MODELS[m]}={prepare_models_hf()[m]}"]
        self.proc = Proc("kserve", [venv / "bin" / "python", HERE / "kserve" / "server.py", "--http-port", port,
                                    "--grpc-port", free_port(), "--threads", threads, *specs], workdir,
                         {"OMP_NUM_THREADS": str(threads)})
        self.base = f"http://127.0.0.1:{port}"

    def path(self, model):
        return f"/v1/models/{model}:predict"

    def stop(self):
        self.proc.stop()


def parse_prometheus(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def ours_stats(before: dict, after: dict, model: str) -> dict:
    """optimum-cpp's own view of one point from /metrics deltas: forwards, mean batch size, the
    batch-size histogram and the mean latency of each stage (queue/tokenize per input,
    compute/postprocess per batch)."""
    def delta(key):
        return after.get(key, 0.0) - before.get(key, 0.0)

    tag = f'model_name="{model}"'
    stats = {"stages_ms": {}, "batch_size_hist": {}}
    for key in after:
        if tag not in key:
            continue
        if key.startswith("optimum_batch_size_count"):
            stats["forwards"] = delta(key)
        elif key.startswith("optimum_batch_size_sum"):
            stats["inputs"] = delta(key)
        elif key.startswith("optimum_batch_size_bucket"):
            le = key.split('le="')[1].split('"')[0]
            stats["batch_size_hist"][le] = delta(key)
    if stats.get("forwards"):
        stats["mean_batch_size"] = stats["inputs"] / stats["forwards"]
    for stage in ("queue", "tokenize", "compute", "postprocess"):
        sums = [k for k in after if k.startswith("optimum_stage_latency_seconds_sum") and tag in k
                and f'stage="{stage}"' in k]
        counts = [k.replace("_sum", "_count", 1) for k in sums]
        n = sum(delta(k) for k in counts)
        if n:
            stats["stages_ms"][stage] = 1000 * sum(delta(k) for k in sums) / n
    return stats


def prepare_models_hf():
    return {"minilm": prepare_models.minilm_folder(), "minilm-clf": WORK / "hf" / "minilm-clf"}


def run_wrk(server: Server, model: str, clients: int, seconds: float, out: pathlib.Path) -> dict:
    env = {**os.environ, "BENCH_SENTENCES": str(SENTENCES), "BENCH_PATH": server.path(model),
           "BENCH_FORMAT": server.fmt, "BENCH_OUT": str(out)}
    if out.exists():
        out.unlink()
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, int(round(seconds)))}s", "--timeout", "60s",
           "-s", str(HERE / "client.lua"), server.base]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, timeout=seconds + 120)
    return json.loads(out.read_text())


def inprocess(model: str, threads: int, batch_size: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "inprocess.py"), "--model",
                          str(prepare_models.export_dir(model, Ours.dtype)),
                          "--task", prepare_models.MODELS[model], "--threads", str(threads),
                          "--batch-size", str(batch_size), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_answers(servers, models):
    """Every server computes the same thing: its answer to one sentence vs the in-process pipeline."""
    sys.path.insert(0, str(ROOT / "python"))
    import optimum_cpp

    text = "The new movie is awesome and everyone in the theater loved it."
    report = {}
    for m in models:
        # ours against the in-process pipeline on the same export; the peers (fp32) against fp32
        refs = {d: optimum_cpp.pipeline(prepare_models.MODELS[m], model=str(prepare_models.export_dir(m, d)))(text)
                for d in {"fp32", Ours.dtype}}
        for s in servers:
            ref = refs[Ours.dtype if isinstance(s, Ours) else "fp32"]
            got = s.answer(m, text)
            if prepare_models.MODELS[m] == "text-embedding":
                a = got if isinstance(got[0], float) else got[0]
                b = ref if isinstance(ref[0], float) else ref[0]
                diff = max(abs(x - y) for x, y in zip(a, b))
                ok = len(a) == len(b) and diff < 1e-3
                report[f"{s.name}/{m}"] = f"max |diff| {diff:.2e}"
            else:
                g = got[0] if isinstance(got, list) else got
                r = ref[0] if isinstance(ref, list) else ref
                ok = g["label"] == r["label"] and abs(g["score"] - r["score"]) < 1e-3
                report[f"{s.name}/{m}"] = f"{g['label']} {g['score']:.4f} vs {r['label']} {r['score']:.4f}"
            if not ok:
                raise RuntimeError(f"{s.name} {m}: answer differs from the in-process pipeline: {got!r} vs {ref!r}")
    return report


def wait_for_load(limit: float, max_wait: float) -> tuple[float, float]:
    t0 = time.time()
    load = os.getloadavg()[0]
    while load >= limit and time.time() - t0 < max_wait:
        print(f"load {load:.2f} >= {limit}: waiting ({int(time.time() - t0)} s of {int(max_wait)})", flush=True)
        time.sleep(30)
        load = os.getloadavg()[0]
    return load, time.time() - t0


def cpu_info() -> dict:
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    flags = info.get("Flags", "").split()
    simd = [f for f in flags if f.startswith(("avx", "amx", "fma", "vnni", "f16c")) or f in ("sse4_2",)]
    return {"model": info.get("Model name", platform.processor()), "cpus": os.cpu_count(),
            "simd_flags": " ".join(simd)}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(raw, inproc, servers, models, clients):
    rows = {}
    for m in models:
        for s in servers:
            for c in clients:
                pts = [p for p in raw if p["server"] == s and p["model"] == m and p["clients"] == c]
                if not pts:
                    continue
                rows[(m, s, c)] = {
                    "throughput": median([p["throughput"] for p in pts]),
                    "p50_ms": median([p["latency_us"]["p50"] / 1000 for p in pts]),
                    "p99_ms": median([p["latency_us"]["p99"] / 1000 for p in pts]),
                    "requests": sum(p["requests"] for p in pts),
                    "errors": sum(sum(p["errors"].values()) for p in pts),
                    "rounds": len(pts),
                }
    ip = {m: {"single_p50_ms": median([r["single_p50_us"] / 1000 for r in inproc[m]]),
              "single_p99_ms": median([r["single_p99_us"] / 1000 for r in inproc[m]]),
              "single_throughput": median([r["single_throughput"] for r in inproc[m]]),
              "batched_throughput": median([r["batched_throughput"] for r in inproc[m]])} for m in models}
    return rows, ip


def markdown(rows, ip, servers, models, clients, names, meta) -> str:
    out = []
    for m in models:
        out.append(f"**{m}** ({prepare_models.MODELS[m]}), medians of {meta['rounds']} rounds, "
                   f"{meta['duration']:g} s per point after {meta['warmup']:g} s warm-up\n")
        head = "| server | " + " | ".join(f"{c} client{'s' if c > 1 else ''} req/s · p50 · p99 (ms)" for c in clients)
        out.append(head + " | errors |")
        out.append("|---" * (len(clients) + 2) + "|")
        for s in servers:
            cells, errs = [], 0
            for c in clients:
                r = rows.get((m, s, c))
                if r is None:
                    cells.append("-")
                    continue
                cells.append(f"{r['throughput']:.0f} · {r['p50_ms']:.2f} · {r['p99_ms']:.2f}" if r["requests"]
                             else f"0 (no answer in {meta['duration']:g} s)")
                errs += r["errors"]
            out.append(f"| {names[s]} | " + " | ".join(cells) + f" | {errs} |")
        i = ip[m]
        out.append(f"| in-process pipeline | single call: {i['single_throughput']:.0f} · "
                   f"{i['single_p50_ms']:.2f} · {i['single_p99_ms']:.2f} | batched (batch_size="
                   f"{meta['batch_size']}): {i['batched_throughput']:.0f} req/s | | |"
                   if len(clients) == 3 else
                   f"| in-process pipeline | single p50 {i['single_p50_ms']:.2f} ms, batched "
                   f"{i['batched_throughput']:.0f}/s |")
        out.append("")
        top = max(clients)
        top_ts = rows.get((m, "torchserve", top))
        ours = rows.get((m, "ours", top))
        lines = []
        if ours:
            ts = top_ts
            if ts and ts["throughput"] > 0:
                lines.append(f"throughput at {top} clients vs TorchServe: {ours['throughput'] / ts['throughput']:.1f}x "
                             f"(target >= 5x)")
            elif ts:
                lines.append(f"throughput at {top} clients vs TorchServe: TorchServe answered nothing")
            lines.append(f"throughput at {top} clients vs the in-process batched pipeline: "
                         f"{100 * ours['throughput'] / i['batched_throughput']:.0f}% (target >= 80%)")
        one = rows.get((m, "ours", 1))
        if one:
            lines.append(f"p50 added by HTTP at 1 client: {one['p50_ms'] - i['single_p50_ms']:.3f} ms "
                         f"({one['p50_ms']:.3f} - {i['single_p50_ms']:.3f}; target <= 0.3 ms)")
        out += [f"- {x}" for x in lines]
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(ALL_SERVERS))
    ap.add_argument("--models", default="minilm,minilm-clf")
    ap.add_argument("--clients", default="1,16,64")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-batch-delay-ms", type=int, default=5)
    ap.add_argument("--inprocess-seconds", type=float, default=5.0)
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-min load to drop below this")
    ap.add_argument("--max-wait", type=float, default=900.0, help="wait at most this long for the load")
    ap.add_argument("--tag", default="")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"],
                    help="precision of our export, served and in-process (accuracy-guarded); peers stay fp32")
    args = ap.parse_args()
    Ours.dtype = args.dtype
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in ALL_SERVERS:
            ap.error(f"--servers: unknown server {s!r} (known: {', '.join(ALL_SERVERS)})")
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in prepare_models.MODELS:
            ap.error(f"--models: unknown model {m!r} (known: {', '.join(prepare_models.MODELS)})")
    clients = [int(c) for c in args.clients.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("wrk not found (Debian package wrk)")

    subprocess.run([sys.executable, str(HERE / "prepare_models.py"), "--batch-size", str(args.batch_size),
                    "--max-batch-delay-ms", str(args.max_batch_delay_ms), "--threads", str(args.threads),
                    "--dtype", args.dtype], check=True)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-serving-", dir=WORK))
    classes = {"ours": Ours, "torchserve": TorchServe, "kserve": KServe}
    running = {}
    try:
        for s in servers:
            (tmp / s).mkdir()
            print(f"starting {s} ...", flush=True)
            running[s] = classes[s](tmp / s, args.threads, models)
        for s in servers:
            running[s].wait_ready(models)
            print(f"{s} ready", flush=True)
        answers = check_answers([running[s] for s in servers], models)
        for k, v in answers.items():
            print(f"answer check {k}: {v}")
        ts_batch = {}
        if "torchserve" in running:
            for m in models:
                d = running["torchserve"].describe(m)[0]
                ts_batch[m] = {"batchSize": d.get("batchSize"), "maxBatchDelay": d.get("maxBatchDelay"),
                               "workers": len(d.get("workers", []))}
            print(f"TorchServe registration: {ts_batch}")

        load_before, waited = wait_for_load(args.max_load, args.max_wait)
        print(f"load before measuring: {load_before:.2f} (waited {waited:.0f} s)", flush=True)
        raw, inproc, loads = [], {m: [] for m in models}, []
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            loads.append(os.getloadavg()[0])
            for m in models:
                inproc[m].append(inprocess(m, args.threads, args.batch_size, args.inprocess_seconds))
                for c in clients:
                    for s in order:
                        srv = running[s]
                        out = tmp / f"wrk-{s}.json"
                        run_wrk(srv, m, c, args.warmup, out)
                        before = parse_prometheus(srv.metrics()) if s == "ours" else None
                        r = run_wrk(srv, m, c, args.duration, out)
                        if s == "ours":
                            r["ours_stats"] = ours_stats(before, parse_prometheus(srv.metrics()), m)
                        r.update(server=s, model=m, clients=c, round=rnd,
                                 throughput=r["requests"] / (r["duration_us"] / 1e6), load1=os.getloadavg()[0])
                        raw.append(r)
                        print(f"round {rnd} {m:10s} c={c:<3d} {s:10s} {r['throughput']:8.1f} req/s "
                              f"p50 {r['latency_us']['p50'] / 1000:8.2f} ms p99 {r['latency_us']['p99'] / 1000:8.2f} ms "
                              f"errors {sum(r['errors'].values())} load {r['load1']:.2f}"
                              + (f" | batch {r['ours_stats'].get('mean_batch_size', 0):.1f} stages ms "
                                 + " ".join(f"{k} {v:.2f}" for k, v in r["ours_stats"]["stages_ms"].items())
                                 if "ours_stats" in r else ""), flush=True)
        loads.append(os.getloadavg()[0])
        ours_metrics = running["ours"].metrics() if "ours" in running else ""
        for s in servers:
            if not running[s].proc.alive():
                raise RuntimeError(f"{s} died during the benchmark; log {running[s].proc.log_path}")
    finally:
        for s in running.values():
            s.stop()

    rows, ip = summarize(raw, inproc, servers, models, clients)
    names = {s: classes[s].name for s in servers}
    meta = {"ours_dtype": args.dtype, "rounds": args.rounds, "duration": args.duration, "warmup": args.warmup, "batch_size": args.batch_size,
            "max_batch_delay_ms": args.max_batch_delay_ms, "threads": args.threads,
            "load_before": load_before, "load_per_round": loads, "cpu": cpu_info(),
            "client": "wrk -t1 -cN (bench/serving/client.lua), keep-alive, closed loop",
            "torchserve_registration": ts_batch, "answer_check": answers}
    md = markdown(rows, ip, servers, models, clients, names, meta)
    md_head = (f"CPU: {meta['cpu']['model']} ({meta['cpu']['cpus']} CPUs; {meta['cpu']['simd_flags']}); "
               f"ours: {args.dtype} export; every server {args.threads} threads, one worker, batch_size {args.batch_size}, "
               f"max_batch_delay {args.max_batch_delay_ms} ms (KServe: no batching); "
               f"1-min load before: {load_before:.2f}, at each round start: "
               f"{', '.join(f'{x:.2f}' for x in loads)}\n\n")
    stamp = time.strftime("%Y%m%d-%H%M%S") + (f"-{args.tag}" if args.tag else "")
    res = ROOT / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / f"serving-{stamp}.json").write_text(json.dumps({
        "meta": meta, "raw": raw, "inprocess": inproc,
        "summary": [{"model": m, "server": s, "clients": c, **v} for (m, s, c), v in rows.items()],
        "inprocess_summary": ip,
        "ours_metrics": [line for line in ours_metrics.splitlines() if line.startswith(("ts_", "optimum_"))],
    }, indent=1))
    (res / f"serving-{stamp}.md").write_text(md_head + md)
    print()
    print(md_head + md)
    print(f"results: bench/results/serving-{stamp}.json, .md")


if __name__ == "__main__":
    main()
