"""Plumbing for the hub tests (test_hub.py): the hub_tool binary, the fake
Hub process, per-test environments, and huggingface_hub run in a subprocess
(it reads HF_* variables once, at import). A plain module, not a conftest, so
that it never clashes with the conftest of another test folder.

hub_tool is taken from $OPTIMUM_HUB_TOOL, else build/hub_tool, else
build-hub/hub_tool under the repository root; when none exists the tests
fail (build it: ninja -C build hub_tool).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent


def _find_hub_tool() -> pathlib.Path | None:
    explicit = os.environ.get("OPTIMUM_HUB_TOOL")
    if explicit:
        return pathlib.Path(explicit)
    for build in ("build", "build-hub"):
        candidate = ROOT / build / "hub_tool"
        if candidate.is_file():
            return candidate
    return None


def hub_tool_path() -> pathlib.Path:
    path = _find_hub_tool()
    if path is None or not path.is_file():
        pytest.fail("hub_tool not built: set OPTIMUM_HUB_TOOL or build it (ninja -C build hub_tool)")
    return path


class FakeHub:
    """A running tests/hub/fake_hub.py process."""

    def __init__(self, config: pathlib.Path, workdir: pathlib.Path):
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "fake_hub.py"), "--config", str(config)],
            stdout=subprocess.PIPE, stderr=open(workdir / "fake_hub.log", "w"), text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("fake hub did not start: " + (workdir / "fake_hub.log").read_text())
        info = json.loads(line)
        self.port = info["port"]
        self.endpoint = info["endpoint"]

    def _post(self, path: str, payload: dict) -> None:
        request = urllib.request.Request(self.endpoint + path, data=json.dumps(payload).encode(), method="POST")
        urllib.request.urlopen(request).read()

    def requests(self) -> list[dict]:
        """Every request the fake Hub saw since the last reset()."""
        with urllib.request.urlopen(self.endpoint + "/_fake/requests") as reply:
            return [r for r in json.load(reply) if not r["path"].startswith("/_fake/")]

    def reset(self) -> None:
        self._post("/_fake/reset", {})

    def corrupt(self, repo: str, path: str, mode: str | None) -> None:
        """Serve `path` of `repo` from the CDN flipped, truncated, or (None) intact."""
        self._post("/_fake/corrupt", {"repo": repo, "path": path, "mode": mode})

    def hostile(self, kind: str | None = None, **spec) -> None:
        """Misbehave from now on (fake_hub.py's hostile mode); no kind: behave again."""
        self._post("/_fake/hostile", {"kind": kind, **spec} if kind else {})

    def lfs(self, **settings) -> None:
        """LFS settings and misbehaviour of the upload side (fake_hub.py); none: the defaults."""
        self._post("/_fake/lfs", settings)

    def stop(self) -> None:
        """Stops the server process (by its pid)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def clean_env(home: pathlib.Path, endpoint: str | None) -> dict:
    """The process environment minus every Hub variable, with HOME and HF_HOME
    in the test's folder (no real token or cache can leak in)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_")) and k != "XDG_CACHE_HOME"}
    env["HOME"] = str(home)
    env["HF_HOME"] = str(home / "hf")
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    env["HF_HUB_DISABLE_UPDATE_CHECK"] = "1"
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    return env


class Tool:
    """Runs hub_tool and parses its JSON."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __call__(self, *args: str, env: dict, ok: bool = True) -> dict:
        result = subprocess.run([str(self.path), *args], env=env, capture_output=True, text=True, timeout=120)
        self.last_stderr = result.stderr
        try:
            out = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise AssertionError(f"hub_tool {args} printed no JSON (rc {result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        if ok and result.returncode != 0:
            raise AssertionError(f"hub_tool {args} failed: {out}")
        if not ok and result.returncode == 0:
            raise AssertionError(f"hub_tool {args} should have failed but gave {out}")
        return out


PY_RUNNER = r"""
import json, sys
args = json.loads(sys.argv[1])
try:
    import huggingface_hub as hh
    fn = getattr(hh, args["fn"])
    result = fn(*args.get("args", []), **args.get("kwargs", {}))
    print(json.dumps({"result": str(result)}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"""


def run_hf(fn: str, *args, env: dict, **kwargs) -> dict:
    """huggingface_hub.<fn>(*args, **kwargs) in a fresh interpreter with `env`."""
    result = subprocess.run([sys.executable, "-c", PY_RUNNER, json.dumps({"fn": fn, "args": args, "kwargs": kwargs})],
                            env=env, capture_output=True, text=True, timeout=120)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"huggingface_hub.{fn} printed nothing:\n{result.stderr}")
    return json.loads(lines[-1])
