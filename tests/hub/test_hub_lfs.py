"""Hub uploads through the LFS protocol, as the real Hub wants them: the C++
client (the optimum-cpp CLI `push`, optimum_cpp.push_folder_to_hub and
hub_tool) and huggingface_hub's own upload_folder against the fake Hub
(fake_hub.py, a separate process on 127.0.0.1), which classifies files on
preupload, serves the LFS batch API with basic and multipart transfers and
verify, and refuses inline binaries and inline files of 10 MiB or more as the
Hub does. What was pushed is downloaded back with huggingface_hub and
compared byte for byte.

huggingface_hub runs with HF_HUB_DISABLE_XET=1: with hf_xet installed it
would otherwise upload through Xet storage, which the fake Hub does not serve.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from safetensors.numpy import save_file

import optimum_cpp as oc
from hub_testlib import FakeHub, clean_env, run_hf

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("OPTIMUM_BUILD_DIR", ROOT / "build")) / "optimum-cpp"
TOKEN = "hf_writer"
MiB = 1024 * 1024


def tree_bytes(folder: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def export_folder(folder: pathlib.Path, seed: int, mb: int = 30) -> pathlib.Path:
    """An export-shaped folder: `mb` MB of safetensors weights (random, so that
    each seed makes a new LFS object) and the small text files an export has."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    save_file({"embeddings.weight": rng.standard_normal(mb * MiB // 4, dtype=np.float32).reshape(-1, 256)},
              str(folder / "model.optimum-cpp.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 256}))
    (folder / "optimum_export.json").write_text(json.dumps({"format": "optimum-cpp", "seed": seed}))
    (folder / "README.md").write_text("# An optimum-cpp export\n")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return folder


@pytest.fixture(scope="module")
def lfs_hub(tmp_path_factory):
    base = tmp_path_factory.mktemp("lfs-hub")
    (base / "hub.json").write_text(json.dumps({"repos": []}))
    hub = FakeHub(base / "hub.json", base)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def hub(lfs_hub) -> FakeHub:
    lfs_hub.reset()
    lfs_hub.lfs()
    lfs_hub.hostile()
    yield lfs_hub
    lfs_hub.lfs()
    lfs_hub.hostile()


@pytest.fixture
def env(tmp_path, hub) -> dict:
    return {**clean_env(tmp_path / "home", hub.endpoint), "HF_HUB_DISABLE_XET": "1"}


def upload_log(hub: FakeHub) -> list[tuple[str, str]]:
    """(method, route) of each upload-side request, in order."""
    out = []
    for r in hub.requests():
        path = r["path"].split("?")[0]
        for marker, name in (("/preupload/", "preupload"), ("/info/lfs/objects/batch", "batch"),
                             ("/info/lfs/objects/verify", "verify"), ("/_lfs/put/", "put"),
                             ("/_lfs/part/", "part"), ("/_lfs/complete/", "complete"), ("/commit/", "commit"),
                             ("/api/repos/create", "create")):
            if marker in path:
                out.append((r["method"], name))
                break
    return out


def commit_of(hub: FakeHub) -> dict:
    commits = [r for r in hub.requests() if "/commit/" in r["path"] and r["method"] == "POST"]
    assert len(commits) == 1, commits
    return commits[0]


def assert_went_through_lfs(hub: FakeHub, folder: pathlib.Path, big: str, parts: int = 0) -> None:
    """The request log of one push of `folder`: preupload, batch, the PUTs of
    `big` (one, or `parts` parts and a completion) on the storage host without
    the token, verify, and a commit that points at `big` (lfsFile) and carries
    only the small files inline."""
    transfer = [("PUT", "put")] if not parts else [("PUT", "part")] * parts + [("POST", "complete")]
    assert upload_log(hub) == [("POST", "create"), ("POST", "preupload"), ("POST", "batch"), *transfer,
                               ("POST", "verify"), ("POST", "commit")]
    size = (folder / big).stat().st_size
    puts = [r for r in hub.requests() if r["method"] == "PUT"]
    assert sum(int(r["length"]) for r in puts) == size
    assert all(r["authorization"] is None and r["host"].startswith("localhost:") for r in puts), \
        "storage URLs are on another host: no token goes there"
    commit = commit_of(hub)
    files = sorted(tree_bytes(folder))
    assert sorted(commit["ops"][1:]) == sorted([["lfsFile", big]] + [["file", f] for f in files if f != big])
    assert int(commit["length"]) < 64 * 1024, "no large file inline in the commit"


def hf_download_all(repo: str, env: dict, tmp_path: pathlib.Path, big: str) -> dict[str, bytes]:
    """The repository through huggingface_hub: snapshot_download, and hf_hub_download of `big`."""
    snapshot = run_hf("snapshot_download", repo, cache_dir=str(tmp_path / "hf-snap"), env=env)
    single = run_hf("hf_hub_download", repo, big, cache_dir=str(tmp_path / "hf-one"), env=env)
    assert "result" in snapshot and "result" in single, (snapshot, single)
    files = tree_bytes(pathlib.Path(snapshot["result"]))
    assert pathlib.Path(single["result"]).read_bytes() == files[big]
    files.pop(".gitattributes")
    return files


# ----------------------------------------------------------------------------- C++ pushes


def test_cli_push_of_a_30mb_export_goes_through_lfs(hub, env, tmp_path):
    folder = export_folder(tmp_path / "export", seed=1)
    big = "model.optimum-cpp.safetensors"
    assert (folder / big).stat().st_size > 30 * 10**6
    proc = subprocess.run([str(CLI), "push", str(folder), "user/export30", "--token", TOKEN], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["files"]) == sorted(tree_bytes(folder))
    assert_went_through_lfs(hub, folder, big)
    assert hf_download_all("user/export30", {**env, "HF_TOKEN": TOKEN}, tmp_path, big) == tree_bytes(folder)


def test_python_push_multipart_when_the_hub_asks(hub, env, tmp_path, monkeypatch):
    folder = export_folder(tmp_path / "export", seed=2)
    big = "model.optimum-cpp.safetensors"
    hub.lfs(chunk_size=8 * MiB)  # the Hub answers with a multipart action of 8 MiB parts
    for name, value in env.items():
        if name.startswith("HF_"):
            monkeypatch.setenv(name, value)
    info = oc.push_folder_to_hub(folder, "user/export30-mp", token=TOKEN, commit_message="multipart")
    assert sorted(info["files"]) == sorted(tree_bytes(folder))
    parts = -(-(folder / big).stat().st_size // (8 * MiB))
    assert parts == 4
    assert_went_through_lfs(hub, folder, big, parts=parts)
    lengths = [int(r["length"]) for r in hub.requests() if r["method"] == "PUT"]
    assert lengths[:-1] == [8 * MiB] * (parts - 1)
    assert hf_download_all("user/export30-mp", {**env, "HF_TOKEN": TOKEN}, tmp_path, big) == tree_bytes(folder)


def test_present_object_is_not_uploaded_again(hub, env, tmp_path, tool):
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(300_000))
    (folder / "notes.txt").write_text("text stays inline")
    writer = {**env, "HF_TOKEN": TOKEN}
    tool("upload", "user/first", str(folder), env=writer)
    assert ("PUT", "put") in upload_log(hub)
    hub.reset()
    pushed = tool("upload", "user/second", str(folder), env=writer)
    assert pushed["files"] == ["notes.txt", "weights.bin"]
    assert upload_log(hub) == [("POST", "create"), ("POST", "preupload"), ("POST", "batch"), ("POST", "commit")]
    assert sorted(commit_of(hub)["ops"][1:]) == [["file", "notes.txt"], ["lfsFile", "weights.bin"]]
    got = run_hf("snapshot_download", "user/second", cache_dir=str(tmp_path / "hf"), env=writer)
    files = tree_bytes(pathlib.Path(got["result"]))
    files.pop(".gitattributes")
    assert files == tree_bytes(folder)


def test_gitignore_and_empty_files(hub, env, tmp_path, tool):
    folder = tmp_path / "ignoring"
    folder.mkdir()
    (folder / ".gitignore").write_text("*.tmp\n")
    (folder / "scratch.tmp").write_bytes(os.urandom(1000))
    (folder / "empty.bin").write_bytes(b"")  # empty: inline even though binary by name
    (folder / "kept.txt").write_text("kept")
    pushed = tool("upload", "user/ignoring", str(folder), env={**env, "HF_TOKEN": TOKEN})
    assert pushed["files"] == [".gitignore", "empty.bin", "kept.txt"]
    assert ("POST", "batch") not in upload_log(hub)
    got = run_hf("snapshot_download", "user/ignoring", cache_dir=str(tmp_path / "hf"), env=env)
    files = tree_bytes(pathlib.Path(got["result"]))
    assert files["empty.bin"] == b"" and "scratch.tmp" not in files


# ----------------------------------------------------------------------------- the fake Hub enforces the protocol


def post_commit(hub: FakeHub, repo: str, ops: list[dict]) -> tuple[int, str]:
    """An NDJSON commit as the old inline-only client sent it."""
    body = "".join(json.dumps(op) + "\n" for op in [{"key": "header", "value": {"summary": "inline"}}, *ops])
    request = urllib.request.Request(f"{hub.endpoint}/api/models/{repo}/commit/main", data=body.encode(),
                                     headers={"Content-Type": "application/x-ndjson",
                                              "Authorization": f"Bearer {TOKEN}"}, method="POST")
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("X-Error-Message", "")


def inline(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def test_inline_only_upload_is_refused_for_large_and_binary_files(hub, env, tmp_path, tool):
    folder = tmp_path / "seed"
    folder.mkdir()
    (folder / "README.md").write_text("seed")
    tool("upload", "user/inline", str(folder), env={**env, "HF_TOKEN": TOKEN})
    large_text = b"0123456789abcdef\n" * (11 * MiB // 17)
    status, message = post_commit(hub, "user/inline", [inline("big.txt", large_text)])
    assert status == 400 and "larger than 10 MiB" in message
    status, message = post_commit(hub, "user/inline", [inline("weights.bin", os.urandom(5000))])
    assert status == 400 and "binary" in message
    status, message = post_commit(hub, "user/inline", [{"key": "lfsFile", "value": {
        "path": "w.bin", "algo": "sha256", "oid": hashlib.sha256(b"never uploaded").hexdigest(), "size": 14}}])
    assert status == 422 and "never uploaded" in message
    assert post_commit(hub, "user/inline", [inline("small.txt", b"small text")])[0] == 200


# ----------------------------------------------------------------------------- huggingface_hub against the fake Hub


@pytest.mark.parametrize("chunk_size", [None, 4 * MiB], ids=["basic", "multipart"])
def test_huggingface_hub_upload_folder_speaks_the_same_protocol(hub, env, tmp_path, tool, chunk_size):
    folder = export_folder(tmp_path / "hf-export", seed=10 + bool(chunk_size), mb=12)
    big = "model.optimum-cpp.safetensors"
    if chunk_size:
        hub.lfs(chunk_size=chunk_size)
    writer = {**env, "HF_TOKEN": TOKEN}
    repo = f"user/from-hf-{'mp' if chunk_size else 'basic'}"
    assert "result" in run_hf("create_repo", repo, env=writer)
    out = run_hf("upload_folder", repo_id=repo, folder_path=str(folder), env=writer)
    assert "result" in out, out
    parts = -(-(folder / big).stat().st_size // chunk_size) if chunk_size else 0
    assert_went_through_lfs(hub, folder, big, parts=parts)
    # The C++ client downloads what huggingface_hub pushed.
    snapshot = tool("snapshot-download", repo, env=writer)
    files = tree_bytes(pathlib.Path(snapshot["folder"]))
    files.pop(".gitattributes")
    assert files == tree_bytes(folder)


# ----------------------------------------------------------------------------- hostile answers

HOSTILE = {
    "batch not JSON": (dict(batch_body="<html>"), "LFS batch"),
    "batch without objects": (dict(batch_body='{"objects": 5}'), 'no "objects" list'),
    "object size negative": (dict(object={"size": -1}), "'-1', not 300000"),
    "object size huge": (dict(object={"size": 2**70}), '"size"'),
    "object not asked for": (dict(object={"oid": "0" * 64}), "was not asked for"),
    "object refused": (dict(object={"error": {"code": 422, "message": "quota exceeded"}, "actions": None}),
                       "quota exceeded"),
    "href missing": (dict(upload={"href": None}), 'no "href" string'),
    "href file scheme": (dict(upload={"href": "file:///etc/passwd"}), "only http and https"),
    "href ftp scheme": (dict(upload={"href": "ftp://127.0.0.1/x"}), "only http and https"),
    "part url scheme": (dict(chunk_size=100_000, header={"1": "gopher://x/"}), "only http and https"),
    "chunk_size zero": (dict(header={"chunk_size": "0"}), "not a positive integer"),
    "chunk_size negative": (dict(header={"chunk_size": "-5"}), "not a positive integer"),
    "chunk_size tiny": (dict(header={"chunk_size": "1"}), "more than the limit of 10000"),
    "parts missing": (dict(header={"chunk_size": "100000"}), "0 part URLs for 3 parts"),
    "part without etag": (dict(chunk_size=100_000, no_etag=True), "without an ETag"),
    "storage 403": (dict(put_status=403), "HTTP 403"),
    "storage 500 retried": (dict(put_status=500), "HTTP 500"),
    "storage hangs": (dict(put_sleep=30), "HF_HUB_DOWNLOAD_TIMEOUT"),
    "verify fails": (dict(verify_status=500), "verify"),
    "preupload mode unknown": (dict(preupload_body='{"files": [{"path": "weights.bin", "uploadMode": "xet"},'
                                                   ' {"path": "config.json", "uploadMode": "regular"}]}'),
                               "uploadMode"),
    "preupload forgets a file": (dict(preupload_body='{"files": []}'), "does not classify"),
    "preupload says inline for a binary": (
        dict(preupload_body='{"files": [{"path": "weights.bin", "uploadMode": "regular", "shouldIgnore": false},'
                            ' {"path": "config.json", "uploadMode": "regular", "shouldIgnore": false}]}'),
        "binary"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_lfs_answers_fail_clearly(hub, env, tmp_path, tool, case):
    settings, expected = HOSTILE[case]
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(300_000))
    (folder / "config.json").write_text("{}")
    hub.lfs(**settings)
    fast = {**env, "HF_TOKEN": TOKEN, "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HF_HUB_ETAG_TIMEOUT": "2"}
    start = time.monotonic()
    out = tool("upload", "user/hostile-" + case.replace(" ", "-"), str(folder), env=fast, ok=False)
    assert time.monotonic() - start < 30
    assert out["error"] == "NetworkError", out
    assert expected in out["message"] and "weights.bin" in out["message"], out["message"]
    assert "sig=" not in out["message"], "signed URLs are not shown"
    log = upload_log(hub)
    if case != "preupload says inline for a binary":  # that one reaches the commit, which the fake Hub refuses
        assert ("POST", "commit") not in log
    if case == "storage 500 retried":
        assert log.count(("PUT", "put")) == 3


def test_redirected_upload_is_not_followed(hub, env, tmp_path, tool):
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    hub.hostile("redirect", location="loop", method="PUT")
    out = tool("upload", "user/redirected", str(folder), env={**env, "HF_TOKEN": TOKEN}, ok=False)
    assert "HTTP 302" in out["message"] and "weights.bin" in out["message"]
    assert upload_log(hub).count(("PUT", "put")) == 1


def test_token_stays_on_the_endpoint_host(hub, env, tmp_path, tool):
    """A verify URL on another host gets no token (huggingface_hub would send it):
    the fake Hub's verify then answers 401, and the upload fails naming verify."""
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    hub.lfs(verify={"href": f"http://localhost:{hub.port}/user/elsewhere.git/info/lfs/objects/verify"})
    out = tool("upload", "user/elsewhere", str(folder), env={**env, "HF_TOKEN": TOKEN}, ok=False)
    assert "verify" in out["message"] and "HTTP 401" in out["message"] and "weights.bin" in out["message"]
    other_host = [r for r in hub.requests() if r["host"].startswith("localhost:")]
    assert [r["method"] for r in other_host] == ["PUT", "POST"]
    assert all(r["authorization"] is None for r in other_host)
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in hub.requests() if r["host"].startswith("127.0.0.1:"))
