"""Load from a second process (tests/serving/load_client.py, asyncio keep-alive
clients): 64 concurrent clients for 60 s against the exported all-MiniLM-L6-v2
(the PyPI copy) archived with dynamic batching — zero errors, every request
answered once; then overload at 4x the clients with a short queue — 429s with
Retry-After, and every accepted request answered exactly once (the client's
counts equal the server's per-status counters)."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import pytest
import requests

import server_util

HERE = pathlib.Path(__file__).parent


@pytest.fixture(scope="module")
def load_store(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    out = root / "store"
    out.mkdir()
    cfg = root / "model-config.yaml"
    cfg.write_text("minWorkers: 1\nmaxWorkers: 1\nbatchSize: 32\nmaxBatchDelay: 5\nresponseTimeout: 60\n")
    subprocess.run([str(server_util.CLI), "archive", "--model-name", "minilm", "--version", "1.0", "--model",
                    str(store / "minilm"), "--handler", "text-embedding", "--config-file", str(cfg),
                    "--export-path", str(out)], check=True, capture_output=True)
    assert (out / "minilm.mar").exists()
    body = root / "sentence.txt"
    body.write_text("A man is eating a piece of bread.")
    return out, body


def run_client(url, body, clients, seconds):
    out = subprocess.run([sys.executable, str(HERE / "load_client.py"), url, "--clients", str(clients),
                          "--seconds", str(seconds), "--body-file", str(body)],
                         capture_output=True, text=True, timeout=seconds + 120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def server_counts(server, model="minilm"):
    text = requests.get(server.metrics + "/metrics?name[]=optimum_responses_total", timeout=10).text
    counts = {}
    for m in re.finditer(r'optimum_responses_total\{model_name="' + model + r'"[^}]*code="(\d+)"\} (\d+)', text):
        counts[m.group(1)] = int(m.group(2))
    return counts


def test_64_clients_60_seconds(load_store, tmp_path):
    store, body = load_store
    with server_util.ServerProcess(tmp_path, store, models=["minilm.mar"]) as s:
        r = run_client(f"{s.inference}/predictions/minilm", body, clients=64, seconds=60)
        server_util.SUMMARY.append(f"64 clients x 60 s (MiniLM embeddings, batchSize 32): {r['ok']} answered, "
                                   f"{r['throughput']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                                   f"{r['errors']} errors")
        assert r["errors"] == 0, r["error_samples"]
        assert r["status"] == {"200": r["ok"]} and r["ok"] > 0
        assert r["unsolicited_bytes"] == 0
        assert server_counts(s) == {"200": r["ok"]}
        hist = requests.get(s.metrics + "/metrics?name[]=optimum_batch_size", timeout=10).text
        # Dynamic batching put several single-sentence requests in one forward.
        count = float(re.search(r"optimum_batch_size_count\{[^}]*\} (\S+)", hist).group(1))
        assert count < r["ok"], "no request was batched with another"
        assert s.alive()


def test_overload_4x_gets_429_and_loses_nothing(load_store, tmp_path):
    store, body = load_store
    with server_util.ServerProcess(tmp_path, store, models=["minilm.mar"],
                                   properties={"job_queue_size": 64}) as s:
        r = run_client(f"{s.inference}/predictions/minilm", body, clients=256, seconds=15)
        server_util.SUMMARY.append(f"overload, 256 clients x 15 s, job_queue_size 64: statuses {r['status']}, "
                                   f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (200s only)")
        assert r["errors"] == 0, r["error_samples"]
        assert set(r["status"]) == {"200", "429"}, r["status"]
        assert r["retry_after_missing"] == 0
        assert r["unsolicited_bytes"] == 0
        # Every accepted request was answered once: the server's counts equal the client's.
        assert server_counts(s) == r["status"]
        ok = requests.post(f"{s.inference}/predictions/minilm", data="still serving", timeout=30)
        assert ok.status_code == 200
