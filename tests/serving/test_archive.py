"""`optimum-cpp archive`: TorchServe-compatible model archives (manifest
shape against torch-model-archiver 0.12, every format, --force), the
archive read back and run, and hostile archives refused with nothing
written (zip-slip, absolute paths, links, special files, oversize entries,
zip bombs, too many entries, missing manifest, truncated files)."""

from __future__ import annotations

import io
import json
import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from archive_helpers import ROOT, minilm, run_cli, tiny, tiny_root, tiny_st, tree  # noqa: E402,F401

ARCHIVER = pathlib.Path(sys.executable).parent / "torch-model-archiver"


def check(archive, dest, *limits, ok=True):
    p = run_cli("archive", "--check", archive, "--extract-to", dest, *limits, check=ok)
    return json.loads(p.stdout) if ok else p


def forward(folder, task="feature-extraction"):
    return run_cli("forward", "--model", folder, "--task", task, "--input-ids", "2,5,6,7,3", "--max-values", "-1").stdout


def shape(value):
    """The keys and value types of a JSON document, recursively."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


# ---- writing -------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_mar(minilm, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm_mar")
    (out / "model-config.yaml").write_text("batchSize: 8\nmaxBatchDelay: 5\nhandler:\n  normalize: true\n")
    run_cli("archive", "--model-name", "minilm", "--version", "2.0", "--model", minilm,
            "--config-file", out / "model-config.yaml", "--export-path", out)
    return out / "minilm.mar"


def test_minilm_round_trip_loads_and_runs(minilm, minilm_mar, tmp_path):
    with zipfile.ZipFile(minilm_mar) as z:
        names = set(z.namelist())
    # The whole folder, sub-folders and every preprocessor included.
    expected = {"model/" + str(p.relative_to(minilm)) for p in minilm.rglob("*") if p.is_file()}
    assert expected <= names
    assert {"model/1_Pooling/config.json", "model/tokenizer.json", "model/modules.json",
            "MAR-INF/MANIFEST.json", "model-config.yaml"} <= names
    got = check(minilm_mar, tmp_path / "x")
    m = got["manifest"]["model"]
    assert m == {"modelName": "minilm", "modelVersion": "2.0", "handler": "text-embedding",
                 "serializedFile": "model", "configFile": "model-config.yaml"}
    assert got["config"]["batchSize"] == 8 and got["config"]["maxBatchDelay"] == 5
    assert got["config"]["handler"] == {"normalize": True}
    model_dir = pathlib.Path(got["model_dir"])
    assert model_dir == tmp_path / "x" / "model"
    for p in minilm.rglob("*"):
        if p.is_file():
            assert (model_dir / p.relative_to(minilm)).read_bytes() == p.read_bytes(), p
    a = run_cli("embed", "--model", model_dir, "--max-values", "-1", "a sentence to embed").stdout
    b = run_cli("embed", "--model", minilm, "--max-values", "-1", "a sentence to embed").stdout
    assert a == b and json.loads(a)["dimension"] == 384


def test_manifest_matches_torch_model_archiver(tmp_path, tiny):
    assert ARCHIVER.exists(), f"{ARCHIVER} missing (torch-model-archiver==0.12.0 in the venv)"
    folder = tiny("text-classification", ["neg", "pos"])
    cfg = tmp_path / "model-config.yaml"
    cfg.write_text("batchSize: 2\n")
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")
    extra = tmp_path / "extra.txt"
    extra.write_text("extra\n")
    ts, ours = tmp_path / "ts", tmp_path / "ours"
    ts.mkdir()
    ours.mkdir()
    subprocess.run([str(ARCHIVER), "--model-name", "m", "--version", "1.0", "--serialized-file",
                    str(folder / "model.safetensors"), "--handler", "text_classifier", "--extra-files",
                    f"{extra},{folder / 'config.json'}",
                    "--config-file", str(cfg), "-r", str(req), "--export-path", str(ts)], check=True, timeout=120)
    run_cli("archive", "--model-name", "m", "--version", "1.0", "--model", folder, "--extra-files", extra,
            "--config-file", cfg, "-r", req, "--export-path", ours)
    with zipfile.ZipFile(ts / "m.mar") as z:
        theirs = json.loads(z.read("MAR-INF/MANIFEST.json"))
    with zipfile.ZipFile(ours / "m.mar") as z:
        mine_text = z.read("MAR-INF/MANIFEST.json").decode()
        names = set(z.namelist())
    mine = json.loads(mine_text)
    assert shape(mine) == shape(theirs)
    assert list(mine) == list(theirs) and list(mine["model"]) == list(theirs["model"])  # key order too
    assert mine["runtime"] == theirs["runtime"] == "python"
    assert mine["model"]["handler"] == "text-classification"
    assert len(mine["createdOn"]) == len(theirs["createdOn"]) == 19  # dd/MM/yyyy HH:mm:ss
    assert {"extra.txt", "requirements.txt", "model-config.yaml", "model/config.json"} <= names
    # torch-model-archiver's own archive reads back through open_archive (interoperability).
    got = check(ts / "m.mar", tmp_path / "x")
    assert got["manifest"]["model"]["serializedFile"] == "model.safetensors"
    assert got["config"]["batchSize"] == 2
    assert (tmp_path / "x" / "extra.txt").read_text() == "extra\n"
    # Its serializedFile is a file: the model folder is the root, and it runs.
    assert got["model_dir"] == str(tmp_path / "x")
    assert forward(got["model_dir"], "text-classification") == forward(folder, "text-classification")


@pytest.mark.parametrize("fmt", ["default", "tgz", "no-archive", "zip-store"])
def test_every_format_round_trips(fmt, tmp_path, tiny):
    folder = tiny("text-classification", ["neg", "pos"])
    p = run_cli("archive", "--model-name", "cls", "--model", folder, "--archive-format", fmt,
                "--export-path", tmp_path / "store")
    target = pathlib.Path(p.stdout.strip())
    assert target == tmp_path / "store" / {"tgz": "cls.tar.gz", "no-archive": "cls"}.get(fmt, "cls.mar")
    if fmt == "tgz":
        with tarfile.open(target) as t:
            assert all(n.startswith("cls/") for n in t.getnames())  # TorchServe's tgz layout
            assert "cls/MAR-INF/MANIFEST.json" in t.getnames()
    if fmt == "zip-store":
        with zipfile.ZipFile(target) as z:
            assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    got = check(target, tmp_path / "x")
    assert got["manifest"]["model"]["handler"] == "text-classification"  # from config.json's architectures
    model_dir = pathlib.Path(got["model_dir"])
    if fmt == "no-archive":
        assert model_dir == target / "model" and not (tmp_path / "x").exists()  # used in place
    assert forward(model_dir, "text-classification") == forward(folder, "text-classification")
    pipe = ["run", "--task", got["manifest"]["model"]["handler"], "my name is john", "--model"]
    assert run_cli(*pipe, model_dir).stdout == run_cli(*pipe, folder).stdout != ""
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(".")]  # no temporary left


def test_force(tmp_path, tiny):
    folder = tiny("text-classification", ["neg", "pos"])
    args = ["archive", "--model-name", "cls", "--model", folder, "--export-path", tmp_path]
    run_cli(*args)
    first = (tmp_path / "cls.mar").read_bytes()
    p = run_cli(*args, "--version", "3.0", check=False)
    assert p.returncode != 0 and "already exists" in p.stderr and "--force" in p.stderr
    assert (tmp_path / "cls.mar").read_bytes() == first
    run_cli(*args, "--version", "3.0", "-f")
    assert check(tmp_path / "cls.mar", tmp_path / "x")["manifest"]["model"]["modelVersion"] == "3.0"
    run_cli(*args, "--archive-format", "no-archive")
    run_cli(*args, "--archive-format", "no-archive", "--force", "--handler", "feature-extraction")
    assert json.loads((tmp_path / "cls" / "MAR-INF" / "MANIFEST.json").read_text())["model"]["handler"] == \
        "feature-extraction"


def test_handler_defaults_and_errors(tmp_path, tiny, tiny_st):
    store = tmp_path / "s"
    run_cli("archive", "--model-name", "st", "--model", tiny_st, "--export-path", store)
    assert check(store / "st.mar", tmp_path / "x")["manifest"]["model"]["handler"] == "text-embedding"
    # An exported folder: the task recorded in optimum_export.json.
    exp = tmp_path / "exp"
    run_cli("export", "--model", tiny("token-classification", ["O", "B-PER", "I-PER"]), exp)
    run_cli("archive", "--model-name", "tok", "--model", exp, "--export-path", store)
    assert check(store / "tok.mar", tmp_path / "y")["manifest"]["model"]["handler"] == "token-classification"
    # Synonyms canonicalized; unknown handlers, bad names and bad configs refused, nothing written.
    run_cli("archive", "--model-name", "syn", "--model", exp, "--handler", "sequence-classification",
            "--export-path", store)
    assert check(store / "syn.mar", tmp_path / "z")["manifest"]["model"]["handler"] == "text-classification"
    before = tree(store)
    p = run_cli("archive", "--model-name", "bad", "--model", exp, "--handler", "image-to-text", "--export-path",
                store, check=False)
    assert p.returncode == 1 and "image-to-text" in p.stderr
    p = run_cli("archive", "--model-name", "../evil", "--model", exp, "--export-path", store, check=False)
    assert p.returncode == 1 and "--model-name" in p.stderr
    bad_cfg = tmp_path / "model-config.yaml"
    bad_cfg.write_text("batchSize: lots\n")
    p = run_cli("archive", "--model-name", "bad", "--model", exp, "--config-file", bad_cfg, "--export-path", store,
                check=False)
    assert p.returncode == 1 and "batchSize" in p.stderr and "model-config.yaml" in p.stderr
    assert tree(store) == before


# ---- hostile archives ------------------------------------------------------------

MANIFEST = json.dumps({"createdOn": "01/01/2026 00:00:00", "runtime": "python",
                       "model": {"modelName": "evil", "serializedFile": "model", "handler": "text-classification",
                                 "modelVersion": "1.0"}, "archiverVersion": "0.12.0"})


def make_zip(path, entries, manifest=MANIFEST, compression=zipfile.ZIP_DEFLATED):
    """entries: (name or ZipInfo, bytes) pairs; a manifest first unless manifest is None."""
    with zipfile.ZipFile(path, "w", compression) as z:
        if manifest is not None:
            z.writestr("MAR-INF/MANIFEST.json", manifest)
        for name, data in entries:
            z.writestr(name, data)
    return path


def symlink_info(name, mode=0o120777):
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = mode << 16
    return info


def make_tgz(path, members, manifest=MANIFEST, top="evil"):
    """members: tarfile.TarInfo (+ data) pairs, under `top/` like TorchServe's tgz."""
    with tarfile.open(path, "w:gz") as t:
        if manifest is not None:
            info = tarfile.TarInfo(f"{top}/MAR-INF/MANIFEST.json")
            info.size = len(manifest)
            t.addfile(info, io.BytesIO(manifest.encode()))
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def tar_special(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


OK = [("model/config.json", b"{}")]
EVIL_ABS = "/tmp/optimum_cpp_test_archive_evil"


def lying_size_zip(path):
    """A valid-looking zip whose last entry declares 10 bytes but inflates to 4096."""
    make_zip(path, OK + [("model/w.bin", b"\0" * 4096)])
    raw = bytearray(path.read_bytes())
    name = b"model/w.bin"
    # Uncompressed size: at +22 of a local header, at +24 of a central one.
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while True:
            i = raw.find(sig, start)
            if i < 0:
                break
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + len(name)] == name:
                raw[i + off:i + off + 4] = (10).to_bytes(4, "little")
            start = i + 4
    path.write_bytes(bytes(raw))
    return path


def truncated_zip(path):
    data = make_zip(path, OK + [("model/w.bin", bytes(range(256)) * 64)]).read_bytes()
    path.write_bytes(data[:-300])
    return path


def truncated_tgz(path):
    import random

    noise = random.Random(0).randbytes(100_000)  # incompressible: the cut lands inside the entry's data
    data = make_tgz(path, [tar_file("evil/model/config.json"), tar_file("evil/model/w.bin", noise)]).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def not_an_archive(path):
    path.write_bytes(b"hello, not an archive")
    return path


HOSTILE = {
    "zip_slip": (lambda p: make_zip(p, OK + [("../x", b"pwned")]), "../x"),
    "zip_slip_nested": (lambda p: make_zip(p, OK + [("model/../../x", b"pwned")]), "model/../../x"),
    "absolute": (lambda p: make_zip(p, OK + [(EVIL_ABS, b"pwned")]), EVIL_ABS),
    "backslash": (lambda p: make_zip(p, OK + [("..\\x", b"pwned")]), "..\\x"),
    "symlink": (lambda p: make_zip(p, OK + [(symlink_info("model/link"), b"/etc/passwd")]), "model/link"),
    "fifo": (lambda p: make_zip(p, OK + [(symlink_info("model/fifo", 0o010644), b"")]), "model/fifo"),
    # libzip refuses duplicate names when it opens the archive, before any entry is listed.
    "duplicate": (lambda p: make_zip(p, OK + [("model/config.json", b"{}")]), "duplicate names"),
    "tgz_duplicate": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"), tar_file("evil/model/config.json")]),
                      "evil/model/config.json"),
    "file_and_folder": (lambda p: make_zip(p, OK + [("model/config.json/x", b"{}")]), "model/config.json"),
    "oversize": (lambda p: make_zip(p, OK + [("model/big.bin", b"\1" * 3000)]), "model/big.bin"),
    "zip_bomb": (lambda p: make_zip(p, OK + [("model/bomb.bin", b"\0" * (64 << 20))]), "model/bomb.bin"),
    "too_many": (lambda p: make_zip(p, [(f"model/f{i}", b"") for i in range(10001)]), "10002 entries, above the limit of 10000"),
    "no_manifest": (lambda p: make_zip(p, OK, manifest=None), "MAR-INF/MANIFEST.json"),
    "bad_manifest": (lambda p: make_zip(p, OK, manifest="{not json"), "MANIFEST.json"),
    "manifest_escape": (lambda p: make_zip(p, OK, manifest=MANIFEST.replace('"model",', '"../model",')),
                        "serializedFile"),
    "missing_model": (lambda p: make_zip(p, [("other/config.json", b"{}")]), "model"),
    "bad_name": (lambda p: make_zip(p, OK, manifest=MANIFEST.replace('"evil"', '"../evil"')), "modelName"),
    "bad_config": (lambda p: make_zip(p, OK + [("model-config.yaml", b"maxWorkers: many\n")],
                                      manifest=MANIFEST.replace('"modelVersion"', '"configFile": "model-config.yaml",'
                                                                '"modelVersion"')), "maxWorkers"),
    "truncated": (truncated_zip, "not a valid zip"),
    "lying_size": (lying_size_zip, "model/w.bin"),
    "not_an_archive": (not_an_archive, "not a model archive"),
    "tgz_slip": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"), tar_file("evil/../x")]), "../x"),
    "tgz_absolute": (lambda p: make_tgz(p, [tar_file(EVIL_ABS)], top="evil"), EVIL_ABS),
    "tgz_symlink": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"),
                                            tar_special("evil/model/l", tarfile.SYMTYPE, "/etc/passwd")]), "evil/model/l"),
    "tgz_hardlink": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"),
                                             tar_special("evil/model/h", tarfile.LNKTYPE, "evil/model/config.json")]),
                     "evil/model/h"),
    "tgz_device": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"),
                                           tar_special("evil/model/d", tarfile.CHRTYPE)]), "evil/model/d"),
    "tgz_too_many": (lambda p: make_tgz(p, [tar_file(f"evil/model/f{i}", b"") for i in range(10001)]), "evil/model/f"),
    "tgz_truncated": (truncated_tgz, "truncated"),
    "tgz_bomb": (lambda p: make_tgz(p, [tar_file("evil/model/config.json"),
                                         tar_file("evil/model/bomb.bin", b"\0" * (64 << 20))]), "evil/model/bomb.bin"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_refused_nothing_written(case, tmp_path):
    make, needle = HOSTILE[case]
    src = tmp_path / "in"
    src.mkdir()
    archive = make(src / ("evil.tar.gz" if case.startswith("tgz") else "evil.mar"))
    store = tmp_path / "store"
    store.mkdir()
    (store / "keep.txt").write_text("untouched")
    before_store, before_in = tree(store), tree(src)
    limits = ["--max-entry-bytes", "2000"] if case == "oversize" else []
    p = check(archive, store / "dest", *limits, ok=False)
    assert p.returncode == 1, p.stdout
    assert p.stderr.startswith("error: ") and str(archive) in p.stderr, p.stderr
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and "terminate" not in p.stderr
    assert not (store / "dest").exists()
    assert tree(store) == before_store and tree(src) == before_in
    assert not (tmp_path / "x").exists() and not pathlib.Path(EVIL_ABS).exists()


def test_limits_apply_and_defaults_accept_real_models(minilm_mar, tmp_path):
    # MiniLM (90 MB of weights) passes the default limits; tighter ones refuse it, naming the entry.
    p = check(minilm_mar, tmp_path / "x", "--max-total-bytes", str(50 << 20), ok=False)
    assert p.returncode == 1 and "total uncompressed size" in p.stderr and not (tmp_path / "x").exists()
    p = check(minilm_mar, tmp_path / "x", "--max-entries", "5", ok=False)
    assert p.returncode == 1 and "entries" in p.stderr and not (tmp_path / "x").exists()
    # An existing destination is never written into.
    (tmp_path / "y").mkdir()
    p = check(minilm_mar, tmp_path / "y", ok=False)
    assert p.returncode == 1 and "already exists" in p.stderr and list((tmp_path / "y").iterdir()) == []


def test_folder_archive_symlink_escape_refused(tmp_path, tiny):
    folder = tiny("text-classification", ["neg", "pos"])
    run_cli("archive", "--model-name", "f", "--model", folder, "--archive-format", "no-archive", "--export-path",
            tmp_path)
    assert check(tmp_path / "f", tmp_path / "unused")["model_dir"] == str(tmp_path / "f" / "model")
    (tmp_path / "f" / "model" / "inside").symlink_to(tmp_path / "f" / "model" / "config.json")
    check(tmp_path / "f", tmp_path / "unused")  # a link that stays inside is fine
    (tmp_path / "f" / "model" / "passwd").symlink_to("/etc/passwd")
    p = check(tmp_path / "f", tmp_path / "unused", ok=False)
    assert p.returncode == 1 and "model/passwd" in p.stderr and "outside" in p.stderr
    shutil.rmtree(tmp_path / "f")
