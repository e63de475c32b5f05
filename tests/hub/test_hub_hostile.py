"""The optimum-cpp Hub client (hub_tool, and the Python package for module
folders) against a hostile Hub: the fake Hub of fake_hub.py, a separate
process on 127.0.0.1, in its hostile mode. For every case: the expected
clear error naming the header or value at fault, the client alive (it
prints its JSON) within a bounded time, and nothing written outside the
cache: each test records the files, folders and symlinks around the cache
(the test's HOME, with a .ssh/authorized_keys and a site-packages folder as
targets) before and after, and requires them unchanged.

Time-outs are short through HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

from hub_testlib import ROOT, FakeHub, Tool, clean_env

TOKEN = "hf_hostile_token"
SITE = ".local/lib/python3.11/site-packages"
# Seconds a hostile case may take: retries included, far below any hang.
BOUND_S = 25


def write(path: pathlib.Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def st_folder(folder: pathlib.Path, module_path: str) -> pathlib.Path:
    """A sentence-transformers folder whose Transformer module lives at `module_path`."""
    write(folder / "config.json", json.dumps({"model_type": "bert"}))
    write(folder / "modules.json", json.dumps([
        {"idx": 0, "name": "0", "path": module_path, "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    write(folder / "1_Pooling" / "config.json", json.dumps({"word_embedding_dimension": 16}))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    victim = base / "victim"  # targets of absolute paths sent by the Hub
    write(victim / ".ssh" / "authorized_keys", "ssh-ed25519 AAAA owner\n")
    (victim / SITE).mkdir(parents=True)
    small = base / "small"
    write(small / "config.json", json.dumps({"model_type": "bert"}))
    write(small / "README.md", "hello\n" * 100)
    lfs = base / "lfs"
    write(lfs / "model.safetensors", os.urandom(200_000))
    up = st_folder(base / "st-up", "../../../../" + SITE)
    absolute = st_folder(base / "st-abs", str(victim / ".ssh"))
    config = {"repos": [
        {"id": "org/small", "commits": [{"folder": str(small), "refs": ["main"]}]},
        {"id": "org/lfs", "commits": [{"folder": str(lfs), "refs": ["main"]}]},
        {"id": "org/st-up", "commits": [{"folder": str(up), "refs": ["main"]}]},
        {"id": "org/st-abs", "commits": [{"folder": str(absolute), "refs": ["main"]}]},
    ]}
    write(base / "hub.json", json.dumps(config))
    hub = FakeHub(base / "hub.json", base)
    try:
        yield {"hub": hub, "base": base, "victim": victim, "small": small, "lfs": lfs, "st-up": up,
               "st-abs": absolute}
    finally:
        hub.stop()


@pytest.fixture
def hub(world) -> FakeHub:
    hub = world["hub"]
    hub.hostile()
    hub.reset()
    yield hub
    hub.hostile()


@pytest.fixture
def home(tmp_path) -> pathlib.Path:
    home = tmp_path / "home"
    write(home / ".ssh" / "authorized_keys", "ssh-ed25519 AAAA owner\n")
    (home / SITE).mkdir(parents=True)
    return home


@pytest.fixture
def env(home, hub) -> dict:
    env = clean_env(home, hub.endpoint)
    env["HF_HUB_ETAG_TIMEOUT"] = "2"
    env["HF_HUB_DOWNLOAD_TIMEOUT"] = "1"
    return env


def cache_dir(env: dict) -> pathlib.Path:
    return pathlib.Path(env["HF_HOME"]) / "hub"


def tree(root: pathlib.Path, skip: pathlib.Path) -> dict:
    """Every entry below `root` but `skip`'s: kind, symlink target, size and mtime."""
    out = {}
    for folder, dirs, files in os.walk(root):
        here = pathlib.Path(folder)
        if here == skip or skip in here.parents:
            dirs[:] = []
            continue
        for name in dirs + files:
            path = here / name
            if path == skip or path in skip.parents:  # the cache and the folders that hold it
                continue
            st = path.lstat()
            if path.is_symlink():
                out[str(path)] = ("link", os.readlink(path))
            elif path.is_dir():
                out[str(path)] = ("dir",)
            else:
                out[str(path)] = ("file", st.st_size, st.st_mtime_ns)
    return out


class Untouched:
    """Asserts that nothing around the cache changed while the block ran."""

    def __init__(self, env: dict, *roots: pathlib.Path):
        self.cache = cache_dir(env)
        self.roots = roots

    def __enter__(self):
        self.before = [tree(r, self.cache) for r in self.roots]
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.start
        if exc[0] is None:
            after = [tree(r, self.cache) for r in self.roots]
            for before, now in zip(self.before, after):
                changed = sorted(set(before.items()) ^ set(now.items()))
                assert not changed, f"written outside the cache {self.cache}: {changed}"
            assert self.seconds < BOUND_S, f"took {self.seconds:.1f} s"
        return False


@pytest.fixture
def watch(env, tmp_path, world):
    """Untouched() over the test's folder (HOME, cache's parents) and the shared victim folder."""
    return lambda: Untouched(env, tmp_path, world["victim"], world["base"] / "small")


def fails(tool: Tool, env: dict, *args: str) -> dict:
    return tool(*args, env=env, ok=False)


# ----------------------------------------------------------------------------- commits


def commit_values(world) -> list[str]:
    return ["../../../../.ssh", "../../../../" + SITE, str(world["victim"] / ".ssh"),
            str(world["victim"] / SITE), "0123456789ABCDEF0123456789ABCDEF01234567", "0" * 39,
            "%2e%2e%2f%2e%2e", "0" * 39 + "\x00"]


@pytest.mark.parametrize("case", range(8))
def test_commit_header_that_is_not_a_hash_is_refused(tool, env, hub, world, watch, case):
    value = commit_values(world)[case]
    hub.hostile("commit", value=value)
    shown = value.replace("\x00", "\\x00")
    with watch():
        out = fails(tool, env, "download", "org/small", "config.json")
    if "\x00" in value:  # libcurl refuses a header with a NUL byte before we see it
        assert out["error"] == "NetworkError" and "Nul byte in header" in out["message"], out
    else:
        assert out["error"] == "FormatError", out
        assert "X-Repo-Commit" in out["message"] and f"'{shown}'" in out["message"], out
    with watch():
        out = fails(tool, env, "snapshot-download", "org/lfs")
    assert out["error"] == "FormatError", out
    assert '"sha"' in out["message"] and f"'{shown}'" in out["message"], out
    assert not (cache_dir(env) / "models--org--small" / "snapshots").exists()


@pytest.mark.parametrize("value", ["../../../../.ssh/authorized_keys", "..", "/abs/.ssh/authorized_keys"])
@pytest.mark.parametrize("repo, name", [("org/small", "config.json"), ("org/lfs", "model.safetensors")])
def test_etag_that_cannot_name_a_blob_is_refused(tool, env, hub, world, watch, value, repo, name):
    value = value.replace("/abs", str(world["victim"]))
    hub.hostile("etag", value=value)
    with watch():
        out = fails(tool, env, "download", repo, name)
    assert out["error"] == "FormatError" and f"ETag '{value}' cannot name a blob file" in out["message"], out


# ----------------------------------------------------------------------------- revisions


@pytest.mark.parametrize("revision", ["../../x", "../../../../.ssh", "/abs/.ssh", "%2e%2e/%2e%2e/x", "a%2fb",
                                      "main\nx", "refs/../../x", "..", "main\x7f"])
def test_revision_that_leaves_the_cache_is_refused_before_any_request(tool, env, hub, watch, home, revision):
    if revision.startswith("/abs"):
        revision = str(home / ".ssh")
    for command in (["download", "org/small", "config.json"], ["snapshot-download", "org/small"],
                    ["exists", "org/small", "config.json"]):
        with watch():
            out = fails(tool, env, *command, "--revision", revision)
        assert out["error"] == "InvalidArgument" and "invalid revision" in out["message"], out
    assert hub.requests() == []


def test_branch_tag_and_pr_revisions_keep_working(tool, env, hub, watch):
    """refs/pr/1 goes out URL-encoded (refs%2Fpr%2F1) and is cached under refs/refs/pr/1."""
    with watch():
        out = fails(tool, env, "download", "org/small", "config.json", "--revision", "refs/pr/1")
    assert out["error"] == "RevisionNotFound" and "'refs/pr/1'" in out["message"], out
    assert any("/resolve/refs%2Fpr%2F1/" in r["path"] for r in hub.requests())


# ----------------------------------------------------------------------------- redirects


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that must never be connected to."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def assert_no_connection(sock: socket.socket) -> None:
    try:
        conn, _ = sock.accept()
    except socket.timeout:
        return
    conn.close()
    raise AssertionError("the client connected to the port a non-http redirect named")


@pytest.mark.parametrize("scheme", ["file", "gopher", "ftp", "dict"])
@pytest.mark.parametrize("route", ["api", "resolve"])
def test_redirect_to_another_scheme_is_refused(tool, env, hub, watch, listener, scheme, route):
    port = listener.getsockname()[1]
    location = "file:///etc/passwd" if scheme == "file" else f"{scheme}://127.0.0.1:{port}/_payload"
    hub.hostile("redirect", location=location, route=route)
    command = ["snapshot-download", "org/small"] if route == "api" else ["download", "org/lfs", "model.safetensors"]
    with watch():
        out = fails(tool, env, *command)
    assert out["error"] == "NetworkError", out
    assert f"'{location}' is refused: only http and https" in out["message"], out
    assert "root:" not in out["message"], out  # /etc/passwd was not read into the message
    assert_no_connection(listener)


def test_redirect_to_another_host_gets_no_token(tool, env, hub, watch):
    env["HF_TOKEN"] = TOKEN
    port = hub.port
    hub.hostile("redirect", route="api", host="127.0.0.1",
                location=f"http://localhost:{port}/api/models/org/small/revision/main")
    with watch():
        out = tool("snapshot-download", "org/small", env=env)
    assert sorted(out["files"]) == ["README.md", "config.json"]
    seen = hub.requests()
    moved = [r for r in seen if r["host"].startswith("localhost")]
    assert moved and all(r["authorization"] is None for r in moved), seen
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in seen if r["host"].startswith("127.0.0.1"))


@pytest.mark.parametrize("route", ["api", "resolve"])
def test_redirect_loop_stops(tool, env, hub, watch, route):
    hub.hostile("redirect", location="loop", route=route)
    command = ["snapshot-download", "org/small"] if route == "api" else ["download", "org/small", "config.json"]
    with watch():
        out = fails(tool, env, *command)
    assert out["error"] == "NetworkError" and "too many redirects" in out["message"], out


# ----------------------------------------------------------------------------- slow and lying bodies


@pytest.mark.parametrize("route", ["api", "resolve", "cdn"])
def test_slow_body_fails_in_bounded_time(tool, env, hub, watch, route):
    hub.hostile("slow", route=route, rate=2)
    command = {"api": ["snapshot-download", "org/small"], "resolve": ["download", "org/small", "README.md"],
               "cdn": ["download", "org/lfs", "model.safetensors"]}[route]
    with watch() as w:
        out = fails(tool, env, *command)
    assert out["error"] == "NetworkError", out
    assert "HF_HUB_DOWNLOAD_TIMEOUT" in out["message"] and "bytes/s" in out["message"], out
    assert w.seconds < 15
    finished = [p for p in cache_dir(env).glob("models--*/blobs/*") if not p.name.endswith(".incomplete")]
    assert finished == [], "no blob made of a trickle"


@pytest.mark.parametrize("mode", ["announced", "chunked"])
@pytest.mark.parametrize("route", ["resolve", "cdn"])
def test_body_longer_than_the_listed_size_is_refused(tool, env, hub, watch, mode, route):
    hub.hostile("long_body", mode=mode, route=route, extra=5_000_000)
    repo, name, size = ("org/small", "README.md", 600) if route == "resolve" else \
        ("org/lfs", "model.safetensors", 200_000)
    with watch():
        out = fails(tool, env, "download", repo, name)
    assert out["error"] == "CorruptDownload", out
    assert f"{size} bytes the Hub listed" in out["message"] and f"'{name}'" in out["message"], out
    blobs = cache_dir(env) / f"models--{repo.replace('/', '--')}" / "blobs"
    assert not blobs.exists() or list(blobs.iterdir()) == [], "nothing kept"


@pytest.mark.parametrize("route", ["resolve", "cdn"])
def test_bytes_past_the_content_length_never_reach_the_cache(tool, env, hub, world, watch, route):
    hub.hostile("long_body", mode="excess", route=route, extra=1_000_000)
    repo, name, folder = ("org/small", "README.md", "small") if route == "resolve" else \
        ("org/lfs", "model.safetensors", "lfs")
    with watch():
        out = tool("download", repo, name, env=env)
    assert pathlib.Path(out["path"]).read_bytes() == (world[folder] / name).read_bytes()


def test_huge_listing_is_refused(tool, env, hub, watch):
    hub.hostile("huge_listing", route="api", files=150_000)
    with watch():
        out = fails(tool, env, "snapshot-download", "org/small")
    assert out["error"] == "FormatError" and "lists 150000 files, more than the limit of 100000" in out["message"]


def test_endless_listing_body_is_cut(tool, env, hub, watch):
    hub.hostile("huge_json", route="api")
    with watch():
        out = fails(tool, env, "snapshot-download", "org/small")
    assert out["error"] == "NetworkError" and "larger than the limit of 33554432 bytes" in out["message"], out


def test_total_deadline_stops_a_trickle_above_the_low_speed_limit(tool, env, hub, watch):
    """2 KB/s passes the low-speed limit (1 KiB/s) but not the listing's total limit, 6 x HF_HUB_ETAG_TIMEOUT."""
    env["HF_HUB_ETAG_TIMEOUT"] = "1"
    hub.hostile("huge_json", route="api", rate=2000)
    with watch() as w:
        out = fails(tool, env, "snapshot-download", "org/small")
    assert out["error"] == "NetworkError" and "6 s in all" in out["message"], out
    assert 5 < w.seconds < 12


def test_huge_headers_are_refused(tool, env, hub, watch):
    hub.hostile("huge_headers", count=1000)
    with watch():
        out = fails(tool, env, "download", "org/small", "config.json")
    assert out["error"] == "NetworkError" and "headers" in out["message"] and "262144" in out["message"], out


def test_server_error_text_is_escaped(tool, env, hub, watch):
    """Whatever bytes a server puts in its error, the message stays printable ASCII (valid UTF-8)."""
    hub.hostile("error", route="api", status=500, body='{"error": "bad \xff\x01 bytes"}')
    with watch():
        out = fails(tool, env, "snapshot-download", "org/small")
    assert out["error"] == "NetworkError" and "HTTP 500" in out["message"], out
    assert "'bad \\xff\\x01 bytes'" in out["message"], out


# ----------------------------------------------------------------------------- module folders


PY_LOAD = r"""
import json, sys
import optimum_cpp as oc
try:
    oc.SentenceTransformer(sys.argv[1])
    print(json.dumps({"loaded": True}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"""


def load_st(model: str, env: dict) -> dict:
    env = dict(env, PYTHONPATH=str(ROOT / "python"))
    result = subprocess.run([sys.executable, "-c", PY_LOAD, model], env=env, capture_output=True, text=True,
                            timeout=120)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the loader died (rc {result.returncode}):\n{result.stderr}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("repo", ["org/st-up", "org/st-abs"])
def test_module_path_outside_the_snapshot_is_refused(env, hub, world, watch, tmp_path, repo):
    module_path = json.loads((world[repo.split("/")[1]] / "modules.json").read_text())[0]["path"]
    with watch():
        out = load_st(repo, env)
    assert "error" in out and "module path" in out["message"] and f"'{module_path}'" in out["message"], out
    # Nothing of the module folder was asked for.
    assert not any(module_path.strip("./") in r["path"] for r in hub.requests() if "/resolve/" in r["path"])
    # The same folder loaded locally: the loader refuses it too.
    local = tmp_path / "local" / "model"
    shutil.copytree(world[repo.split("/")[1]], local)
    with watch():
        out = load_st(str(local), env)
    assert "error" in out and "module path" in out["message"] and f"'{module_path}'" in out["message"], out
