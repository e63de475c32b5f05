"""The optimum-cpp Hub client (through hub_tool) against a fake Hub served by a
separate process on 127.0.0.1, and its cache shared both ways with
huggingface_hub.

Repositories of the fake Hub:
  org/tiny     a tiny BERT saved by transformers; tag v1.0 (README "v1"),
               main (README "v2", sub/ holds a second copy), branch dev
  solo         one-segment id, same files as v1.0
  org/private  private, token hf_secret
  org/corrupt  its CDN can be told to serve wrong bytes
  org/big      one 3 MB LFS file, for resumed downloads
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import urllib.request

import pytest

from hub_testlib import FakeHub, clean_env, run_hf

PRIVATE_TOKEN = "hf_secret"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: pathlib.Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The repositories' folders, the running fake Hub and the commit of each ref."""
    base = tmp_path_factory.mktemp("hub")
    bert = base / "bert"
    code = ("import sys, transformers as T\n"
            "cfg = T.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,"
            " intermediate_size=20, max_position_embeddings=32)\n"
            "T.BertModel(cfg).save_pretrained(sys.argv[1])\n")
    subprocess.run([sys.executable, "-c", code, str(bert)], check=True, capture_output=True)
    assert (bert / "config.json").is_file() and (bert / "model.safetensors").is_file()

    def folder(name: str, files: dict) -> pathlib.Path:
        out = base / name
        shutil.copytree(bert, out)
        for path, data in files.items():
            write(out / path, data)
        return out

    v1 = folder("v1", {"README.md": "v1"})
    v2 = folder("v2", {"README.md": "v2", "sub/config.json": (bert / "config.json").read_bytes(),
                       "sub/model.safetensors": (bert / "model.safetensors").read_bytes()})
    dev = folder("dev", {"README.md": "dev"})
    private = base / "private"
    write(private / "config.json", '{"model_type": "bert"}')
    write(private / "weights.safetensors", os.urandom(50_000))
    corrupt = base / "corrupt"
    write(corrupt / "config.json", '{"model_type": "bert"}')
    write(corrupt / "model.safetensors", os.urandom(300_000))
    write(corrupt / "weights.bin", os.urandom(200_000))
    big = base / "big"
    write(big / "model.safetensors", os.urandom(3 * 1024 * 1024))

    config = {"repos": [
        {"id": "org/tiny", "commits": [{"folder": str(v1), "refs": ["v1.0"]},
                                       {"folder": str(v2), "refs": ["main"]},
                                       {"folder": str(dev), "refs": ["dev"]}]},
        {"id": "solo", "commits": [{"folder": str(v1), "refs": ["main"]}]},
        {"id": "org/private", "private": True, "token": PRIVATE_TOKEN,
         "commits": [{"folder": str(private), "refs": ["main"]}]},
        {"id": "org/corrupt", "commits": [{"folder": str(corrupt), "refs": ["main"]}]},
        {"id": "org/big", "commits": [{"folder": str(big), "refs": ["main"]}]},
    ]}
    write(base / "hub.json", json.dumps(config))
    hub = FakeHub(base / "hub.json", base)

    def commit(repo: str, rev: str) -> str:
        with urllib.request.urlopen(f"{hub.endpoint}/api/models/{repo}/revision/{rev}") as reply:
            return json.load(reply)["sha"]

    shas = {rev: commit("org/tiny", rev) for rev in ("v1.0", "main", "dev")}
    try:
        yield {"hub": hub, "base": base, "bert": bert, "v1": v1, "v2": v2, "corrupt": corrupt, "big": big,
               "private": private, "sha": shas}
    finally:
        hub.stop()


@pytest.fixture
def hub(world) -> FakeHub:
    world["hub"].reset()
    return world["hub"]


@pytest.fixture
def env(tmp_path, hub) -> dict:
    """A fresh HOME / HF_HOME (hence cache) pointed at the fake Hub."""
    return clean_env(tmp_path, hub.endpoint)


def cache_root(env: dict) -> pathlib.Path:
    return pathlib.Path(env["HF_HOME"]) / "hub"


def storage(env: dict, repo: str) -> pathlib.Path:
    return cache_root(env) / ("models--" + repo.replace("/", "--"))


def offline(env: dict) -> dict:
    """`env` with HF_HUB_OFFLINE=1 and an endpoint nothing listens on."""
    return {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}


def tree_bytes(folder: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- downloads and the cache layout


def test_snapshot_layout_matches_huggingface_hub(tool, env, world):
    out = tool("snapshot-download", "org/tiny", env=env)
    sha = world["sha"]["main"]
    root = storage(env, "org/tiny")
    assert out["commit"] == sha and out["repo_id"] == "org/tiny" and not out["is_local"]
    assert pathlib.Path(out["folder"]) == root / "snapshots" / sha
    assert (root / "refs" / "main").read_text() == sha
    assert out["files"] == sorted(tree_bytes(world["v2"]))
    assert tree_bytes(pathlib.Path(out["folder"])) == tree_bytes(world["v2"])
    link = root / "snapshots" / sha / "sub" / "model.safetensors"
    weights = (world["bert"] / "model.safetensors").read_bytes()
    assert link.is_symlink() and os.readlink(link) == f"../../../blobs/{sha256(weights)}"
    assert (root / "blobs" / sha256(weights)).read_bytes() == weights
    assert os.readlink(root / "snapshots" / sha / "README.md").startswith("../../blobs/")
    assert not list((root / "blobs").glob("*.incomplete"))
    assert (cache_root(env) / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert tool.last_stderr == "", "no progress bar (or anything) on stderr when it is not a terminal"


def test_progress_bar_only_on_a_terminal(tool, env):
    import pty

    master, slave = pty.openpty()
    try:
        result = subprocess.run([str(tool.path), "download", "org/big", "model.safetensors"], env=env,
                                stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
    assert result.returncode == 0
    assert b"model.safetensors" in drawn and b"100%" in drawn and b"\r" in drawn, drawn[-300:]


def test_concurrent_downloads_share_one_blob(tool, env, world):
    data = (world["big"] / "model.safetensors").read_bytes()
    command = [str(tool.path), "download", "org/big", "model.safetensors"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    paths = set()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        paths.add(json.loads(out)["path"])
    assert len(paths) == 1 and pathlib.Path(paths.pop()).read_bytes() == data
    assert [p.name for p in (storage(env, "org/big") / "blobs").iterdir()] == [sha256(data)]


def test_python_fills_cache_cpp_reads_it_offline(tool, env, world, hub):
    main = run_hf("snapshot_download", "org/tiny", env=env)
    tagged = run_hf("snapshot_download", "org/tiny", revision="v1.0", env=env)
    config = run_hf("hf_hub_download", "org/tiny", "config.json", env=env)
    assert "error" not in main and "error" not in tagged, (main, tagged)
    hub.reset()
    out = tool("snapshot-download", "org/tiny", env=offline(env))
    assert out["folder"] == main["result"] and out["commit"] == world["sha"]["main"]
    assert out["files"] == sorted(tree_bytes(world["v2"]))
    out = tool("snapshot-download", "org/tiny", "--revision", "v1.0", env=offline(env))
    assert out["folder"] == tagged["result"] and out["commit"] == world["sha"]["v1.0"]
    assert tool("download", "org/tiny", "config.json", env=offline(env))["path"] == config["result"]
    assert tool("exists", "org/tiny", "README.md", env=offline(env))["exists"] is True
    # local_files_only without HF_HUB_OFFLINE: no request either.
    out = tool("snapshot-download", "org/tiny", "--local-files-only", env=env)
    assert out["folder"] == main["result"]
    assert hub.requests() == []


def test_cpp_fills_cache_python_reads_it_offline(tool, env, world):
    out = tool("snapshot-download", "org/tiny", env=env)
    tool("snapshot-download", "org/tiny", "--revision", "v1.0", env=env)
    off = offline(env)
    assert run_hf("snapshot_download", "org/tiny", env=off) == {"result": out["folder"]}
    assert run_hf("snapshot_download", "org/tiny", revision="v1.0", env=off) == {
        "result": str(storage(env, "org/tiny") / "snapshots" / world["sha"]["v1.0"])}
    assert run_hf("hf_hub_download", "org/tiny", "sub/model.safetensors", local_files_only=True, env=env) == {
        "result": out["folder"] + "/sub/model.safetensors"}
    # transformers itself loads the config from the cache we filled.
    code = "import transformers as T; print(T.AutoConfig.from_pretrained('org/tiny').model_type)"
    result = subprocess.run([sys.executable, "-c", code], env=off, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "bert", result.stderr


def test_python_partial_snapshot_is_incomplete_for_cpp(tool, env):
    partial = run_hf("snapshot_download", "org/tiny", allow_patterns=["*.json"], env=env)
    assert "error" not in partial
    # huggingface_hub cached the full tree listing: the snapshot lacks files.
    out = tool("snapshot-download", "org/tiny", env=offline(env), ok=False)
    assert out["error"] == "OfflineCacheMiss" and "incomplete" in out["message"]
    assert "HF_HUB_OFFLINE" in out["message"]
    out = tool("snapshot-download", "org/tiny", "--allow", "*.json", env=offline(env))
    assert out["files"] == ["config.json", "sub/config.json"]


def test_single_segment_repo_id(tool, env, world):
    out = tool("snapshot-download", "solo", env=env)
    assert pathlib.Path(out["folder"]).parent.parent.name == "models--solo"
    assert tree_bytes(pathlib.Path(out["folder"])) == tree_bytes(world["v1"])
    assert run_hf("snapshot_download", "solo", env=offline(env)) == {"result": out["folder"]}


def test_local_folder(tool, env, world):
    out = tool("snapshot-download", str(world["v2"]), env=env)
    assert out["is_local"] and out["folder"] == str(world["v2"]) and out["commit"] == ""
    assert "sub/config.json" in out["files"]
    out = tool("snapshot-download", str(world["v2"]), "--subfolder", "sub", env=env)
    assert out["files"] == ["config.json", "model.safetensors"]
    assert tool("download", str(world["v2"]), "README.md", env=env)["path"] == str(world["v2"] / "README.md")


# ----------------------------------------------------------------------------- revisions and subfolders


def test_revision_by_branch_tag_and_commit(tool, env, world):
    root = storage(env, "org/tiny")
    for rev, readme in (("dev", "dev"), ("v1.0", "v1"), (world["sha"]["v1.0"], "v1")):
        out = tool("snapshot-download", "org/tiny", "--revision", rev, env=env)
        assert (pathlib.Path(out["folder"]) / "README.md").read_text() == readme
    assert (root / "refs" / "dev").read_text() == world["sha"]["dev"]
    assert (root / "refs" / "v1.0").read_text() == world["sha"]["v1.0"]
    assert sorted(p.name for p in (root / "refs").iterdir()) == ["dev", "v1.0"], "no ref for a commit hash"
    path = tool("download", "org/tiny", "README.md", "--revision", "dev", env=env)["path"]
    assert pathlib.Path(path).read_text() == "dev" and world["sha"]["dev"] in path


def test_commit_revision_cached_needs_no_network(tool, env, world, hub):
    sha = world["sha"]["v1.0"]
    tool("download", "org/tiny", "config.json", "--revision", sha, env=env)
    hub.reset()
    path = tool("download", "org/tiny", "config.json", "--revision", sha, env=env)["path"]
    assert sha in path and hub.requests() == []


def test_deprecated_at_revision_form(tool, env, world):
    out = tool("snapshot-download", "org/tiny@v1.0", env=env)
    assert out["commit"] == world["sha"]["v1.0"]
    assert "deprecated" in tool.last_stderr and "org/tiny@v1.0" in tool.last_stderr
    out = tool("snapshot-download", "org/tiny@v1.0", "--revision", "dev", env=env, ok=False)
    assert out["error"] == "InvalidArgument" and "'v1.0'" in out["message"] and "'dev'" in out["message"]


def test_subfolder(tool, env, world, hub):
    out = tool("snapshot-download", "org/tiny", "--subfolder", "sub", env=env)
    assert out["folder"].endswith(f"/snapshots/{world['sha']['main']}/sub")
    assert out["files"] == ["config.json", "model.safetensors"]
    assert not any("README.md" in r["path"] for r in hub.requests()), "only the subfolder is fetched"
    path = tool("download", "org/tiny", "config.json", "--subfolder", "sub", env=env)["path"]
    assert path.endswith("/sub/config.json")
    out = tool("snapshot-download", "org/tiny", "--subfolder", "sub", env=offline(env))
    assert out["files"] == ["config.json", "model.safetensors"]
    out = tool("snapshot-download", "org/tiny", "--subfolder", "nope", env=env, ok=False)
    assert "'nope'" in out["message"] and "'org/tiny'" in out["message"]


def test_allow_patterns(tool, env):
    out = tool("snapshot-download", "org/tiny", "--allow", "*.json", env=env)
    assert out["files"] == ["config.json", "sub/config.json"]


# ----------------------------------------------------------------------------- tokens and private repositories


def test_private_repo_without_token(tool, env):
    out = tool("snapshot-download", "org/private", env=env, ok=False)
    assert out["error"] == "AccessDenied"
    assert "repository 'org/private' is private or gated: pass a token (HF_TOKEN)" in out["message"]
    out = tool("download", "org/private", "config.json", env=env, ok=False)
    assert out["error"] == "AccessDenied" and "'org/private'" in out["message"]
    out = tool("snapshot-download", "org/private", env={**env, "HF_TOKEN": "hf_wrong"}, ok=False)
    assert out["error"] == "AccessDenied" and "refused" in out["message"]


def test_token_from_env_is_not_sent_to_the_cdn(tool, env, world, hub):
    out = tool("snapshot-download", "org/private", env={**env, "HF_TOKEN": PRIVATE_TOKEN})
    assert tree_bytes(pathlib.Path(out["folder"])) == tree_bytes(world["private"])
    requests = hub.requests()
    hub_side = [r for r in requests if not r["path"].startswith("/cdn/")]
    cdn_side = [r for r in requests if r["path"].startswith("/cdn/")]
    assert hub_side and all(r["authorization"] == f"Bearer {PRIVATE_TOKEN}" for r in hub_side)
    assert cdn_side and all(r["authorization"] is None and r["host"].startswith("localhost:") for r in cdn_side)


def test_token_from_token_file(tool, env, world):
    write(pathlib.Path(env["HF_HOME"]) / "token", PRIVATE_TOKEN + "\n")
    out = tool("download", "org/private", "weights.safetensors", env=env)
    assert pathlib.Path(out["path"]).read_bytes() == (world["private"] / "weights.safetensors").read_bytes()
    # Python reads the private repository from that cache offline.
    assert run_hf("hf_hub_download", "org/private", "weights.safetensors", env=offline(env)) == {
        "result": out["path"]}
    # An explicit --token wins over the file; --no-token sends none.
    assert tool("exists", "org/private", "config.json", "--token", "hf_wrong", env=env, ok=False)["error"] == \
        "AccessDenied"
    assert tool("exists", "org/private", "config.json", "--no-token", env=env, ok=False)["error"] == "AccessDenied"


# ----------------------------------------------------------------------------- errors


def test_not_found_messages_name_what_is_missing(tool, env, world):
    out = tool("snapshot-download", "org/nope", env=env, ok=False)
    assert out["error"] == "RepositoryNotFound" and "'org/nope'" in out["message"]
    out = tool("download", "org/nope", "config.json", env=env, ok=False)
    assert out["error"] == "RepositoryNotFound" and "'org/nope'" in out["message"]
    out = tool("snapshot-download", "org/tiny", "--revision", "v9", env=env, ok=False)
    assert out["error"] == "RevisionNotFound" and "'v9'" in out["message"] and "'org/tiny'" in out["message"]
    out = tool("download", "org/tiny", "missing.json", env=env, ok=False)
    assert out["error"] == "EntryNotFound"
    assert all(s in out["message"] for s in ("'missing.json'", "'org/tiny'", "'main'"))
    marker = storage(env, "org/tiny") / ".no_exist" / world["sha"]["main"] / "missing.json"
    assert marker.is_file(), "404 with X-Repo-Commit is recorded as huggingface_hub does"
    assert tool("exists", "org/tiny", "missing.json", env=env)["exists"] is False
    assert tool("exists", "org/tiny", "config.json", env=env)["exists"] is True
    # huggingface_hub reads our .no_exist marker.
    cached = run_hf("try_to_load_from_cache", "org/tiny", "missing.json", env=env)
    assert cached["result"].startswith("<object object"), cached
    out = tool("snapshot-download", "bad id!", env=env, ok=False)
    assert out["error"] == "InvalidArgument" and "'bad id!'" in out["message"]


def test_offline_with_empty_cache_names_hf_hub_offline(tool, env):
    for args in (("snapshot-download", "org/tiny"), ("download", "org/tiny", "config.json")):
        out = tool(*args, env=offline(env), ok=False)
        assert out["error"] == "OfflineCacheMiss", out
        assert "HF_HUB_OFFLINE" in out["message"] and "'org/tiny'" in out["message"]
    out = tool("snapshot-download", "org/tiny", "--local-files-only", env=env, ok=False)
    assert out["error"] == "OfflineCacheMiss" and "local_files_only" in out["message"]


def test_unreachable_hub_falls_back_to_the_cache(tool, env, world):
    tool("snapshot-download", "org/tiny", env=env)
    down = {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}
    out = tool("snapshot-download", "org/tiny", env=down)
    assert out["commit"] == world["sha"]["main"] and "using the cached snapshot" in tool.last_stderr
    out = tool("snapshot-download", "org/big", env=down, ok=False)
    assert out["error"] == "NetworkError" and "127.0.0.1:9" in out["message"]


def test_corrupt_download_fails_and_leaves_nothing(tool, env, world, hub):
    data = (world["corrupt"] / "model.safetensors").read_bytes()
    flipped = bytes([data[0] ^ 0xFF]) + data[1:]
    root = storage(env, "org/corrupt")
    hub.corrupt("org/corrupt", "model.safetensors", "flip")
    hub.corrupt("org/corrupt", "weights.bin", "truncate")
    try:
        out = tool("download", "org/corrupt", "model.safetensors", env=env, ok=False)
        assert out["error"] == "CorruptDownload"
        assert all(s in out["message"] for s in ("'model.safetensors'", sha256(data), sha256(flipped)))
        out = tool("download", "org/corrupt", "weights.bin", env=env, ok=False)
        size = (world["corrupt"] / "weights.bin").stat().st_size
        assert out["error"] == "CorruptDownload"
        assert all(s in out["message"] for s in ("'weights.bin'", str(size), str(size // 2)))
        out = tool("snapshot-download", "org/corrupt", env=env, ok=False)
        assert out["error"] == "CorruptDownload"
        weights_sha = sha256((world["corrupt"] / "weights.bin").read_bytes())
        leftovers = [p.name for p in (root / "blobs").iterdir()]
        assert not any(name.startswith((sha256(data), weights_sha)) for name in leftovers), leftovers
        snapshot = root / "snapshots"
        assert not any(p.name in ("model.safetensors", "weights.bin") for p in snapshot.rglob("*"))
    finally:
        hub.corrupt("org/corrupt", "model.safetensors", None)
        hub.corrupt("org/corrupt", "weights.bin", None)
    out = tool("snapshot-download", "org/corrupt", env=env)
    assert tree_bytes(pathlib.Path(out["folder"])) == tree_bytes(world["corrupt"])


def test_resumed_download_sends_range(tool, env, world, hub):
    data = (world["big"] / "model.safetensors").read_bytes()
    blobs = storage(env, "org/big") / "blobs"
    half = 1024 * 1024
    write(blobs / f"{sha256(data)}.incomplete", data[:half])
    path = tool("download", "org/big", "model.safetensors", env=env)["path"]
    assert pathlib.Path(path).read_bytes() == data
    cdn = [r for r in hub.requests() if r["path"].startswith("/cdn/")]
    assert [r["range"] for r in cdn] == [f"bytes={half}-"]
    assert not list(blobs.glob("*.incomplete"))
    # huggingface_hub sees a complete file.
    assert run_hf("hf_hub_download", "org/big", "model.safetensors", env=offline(env)) == {"result": path}


def test_resume_over_wrong_bytes_is_caught(tool, env, world):
    data = (world["big"] / "model.safetensors").read_bytes()
    blobs = storage(env, "org/big") / "blobs"
    write(blobs / f"{sha256(data)}.incomplete", b"\0" * 1000)
    out = tool("download", "org/big", "model.safetensors", env=env, ok=False)
    assert out["error"] == "CorruptDownload" and sha256(data) in out["message"]
    assert not list(blobs.glob("*"))
    path = tool("download", "org/big", "model.safetensors", env=env)["path"]
    assert pathlib.Path(path).read_bytes() == data


def test_force_download_fetches_again(tool, env, hub):
    tool("download", "org/tiny", "config.json", env=env)
    hub.reset()
    tool("download", "org/tiny", "config.json", env=env)
    assert [r["method"] for r in hub.requests()] == ["HEAD"]
    hub.reset()
    tool("download", "org/tiny", "config.json", "--force-download", env=env)
    assert [r["method"] for r in hub.requests()] == ["HEAD", "GET"]


# ----------------------------------------------------------------------------- push


def test_push_with_subfolders_then_download(tool, env, tmp_path, world, hub):
    folder = tmp_path / "to_push"
    files = {"config.json": '{"model_type": "bert"}', "a/b/c.txt": "deep", "onnx/model.onnx": os.urandom(70_000),
             ".git/HEAD": "ignored", ".cache/huggingface/x": "ignored"}
    for path, data in files.items():
        write(folder / path, data)
    out = tool("upload", "org/pushed", str(folder), "--commit-message", "first push", env=env, ok=False)
    assert out["error"] == "AccessDenied" and "HF_TOKEN" in out["message"]
    writer = {**env, "HF_TOKEN": "hf_writer"}
    pushed = tool("upload", "org/pushed", str(folder), "--commit-message", "first push", env=writer)
    assert pushed["files"] == ["a/b/c.txt", "config.json", "onnx/model.onnx"]
    commits = [r for r in hub.requests() if r["method"] == "POST"]
    # The binary onnx file goes through LFS (test_hub_lfs.py covers the protocol).
    assert [r["path"] for r in commits] == ["/api/repos/create", "/api/models/org/pushed/preupload/main",
                                            "/org/pushed.git/info/lfs/objects/batch",
                                            "/org/pushed.git/info/lfs/objects/verify",
                                            "/api/models/org/pushed/commit/main"]
    assert all(r["authorization"] == "Bearer hf_writer" for r in commits)
    assert [r["authorization"] for r in hub.requests() if r["method"] == "PUT"] == [None]

    out = tool("snapshot-download", "org/pushed", env=writer)
    assert out["commit"] == pushed["commit"]
    assert out["files"] == [".gitattributes", "a/b/c.txt", "config.json", "onnx/model.onnx"]
    got = tree_bytes(pathlib.Path(out["folder"]))
    for path in pushed["files"]:
        assert got[path] == (folder / path).read_bytes()

    # A second push into a folder of the repository makes a new commit on main.
    again = tool("upload", "org/pushed", str(folder / "a"), "--path-in-repo", "nested/dir", env=writer)
    assert again["files"] == ["nested/dir/b/c.txt"] and again["commit"] != pushed["commit"]
    out = tool("snapshot-download", "org/pushed", env=writer)
    assert out["commit"] == again["commit"] and "nested/dir/b/c.txt" in out["files"]
    # huggingface_hub downloads what we pushed.
    python_side = run_hf("snapshot_download", "org/pushed", cache_dir=str(tmp_path / "py-cache"), env=writer)
    assert tree_bytes(pathlib.Path(python_side["result"])) == tree_bytes(pathlib.Path(out["folder"]))


def test_push_private_repo(tool, env, tmp_path):
    write(tmp_path / "p" / "config.json", "{}")
    owner = {**env, "HF_TOKEN": "hf_owner"}
    tool("upload", "org/pushed-private", str(tmp_path / "p"), "--private", env=owner)
    out = tool("download", "org/pushed-private", "config.json", env=env, ok=False)
    assert out["error"] == "AccessDenied"
    assert tool("download", "org/pushed-private", "config.json", env=owner)["path"].endswith("config.json")
