"""Legacy PyTorch weights (pytorch_model.bin) read by optimum-cpp's own zip
reader and restricted unpickler, against torch.load on checkpoints that torch
writes at test time: every dtype, strided and shared storages, sharded
folders, zip64, and hostile pickles that must be refused without running.

The C++ side is the `torch_bin_dump` tool (src/io/tools/torch_bin_dump.cc),
found in $OPTIMUM_BUILD_DIR (default: build/, where `make build` puts it). It
prints one JSON line per tensor and writes them all to a safetensors file,
which safetensors.torch reads back for an exact comparison.
"""

import json
import os
import pickletools
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import transformers as T
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
DUMP_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int8: "I8",
}


def dump(tool: Path, src: Path, out: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [str(tool), str(src)] + ([str(out)] if out else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def read_with_tool(tool: Path, src: Path, tmp_path: Path) -> tuple[dict, dict]:
    """(tensors as torch.Tensors, {name: JSON line}) as optimum-cpp reads `src`."""
    out = tmp_path / "dumped.safetensors"
    res = dump(tool, src, out)
    assert res.returncode == 0, f"torch_bin_dump failed on {src}: {res.stderr}"
    lines = {}
    for line in res.stdout.splitlines():
        row = json.loads(line)
        lines[row["name"]] = row
    return load_file(out), lines


def assert_same(ours: dict, ref: dict) -> None:
    assert sorted(ours) == sorted(ref)
    for name, want in ref.items():
        got = ours[name]
        want = want.to(torch.float32) if want.dtype == torch.float64 else want
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        assert torch.equal(got, want.contiguous()), name


def tiny_bert() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64)
    return T.BertModel(cfg).eval()


def save_pretrained_bin(model: torch.nn.Module, folder: Path, max_shard_size: str = "10GB") -> None:
    """What save_pretrained(..., safe_serialization=False) wrote in transformers 4.x
    (transformers 5 always writes safetensors): torch.save of each shard, named by
    huggingface_hub's splitter, plus pytorch_model.bin.index.json when sharded."""
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


def test_state_dict_with_every_dtype_and_layout(dump_tool, tmp_path):
    state = dict(tiny_bert().state_dict())
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    shared = torch.arange(40, dtype=torch.float32)
    state.update({
        "extra.f16": torch.randn(3, 5).half(),
        "extra.bf16": torch.randn(7, 2).bfloat16(),
        "extra.f64": torch.randn(4, dtype=torch.float64),
        "extra.i64": torch.tensor([-(2**63), -1, 0, 2**63 - 1]),
        "extra.i32": torch.tensor([[-(2**31), 5], [7, 2**31 - 1]], dtype=torch.int32),
        "extra.i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "extra.transposed": base.t(),                  # non-contiguous view
        "extra.every_other": base[:, ::2],             # strided columns
        "extra.base": base,                            # same storage as the two above
        "extra.slice_a": shared[3:11].view(2, 4),      # views into one storage at offsets
        "extra.slice_b": shared[20:],
        "extra.scalar": torch.tensor(2.5),
        "extra.empty": torch.zeros(0, 3),
        "extra.param": torch.nn.Parameter(torch.randn(2, 2)),
        "extra.half_t": torch.randn(3, 4).half().t(),
    })
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)

    ours, lines = read_with_tool(dump_tool, path, tmp_path)
    ref = torch.load(path, weights_only=True)
    assert_same(ours, ref)
    for name, t in ref.items():
        row = lines[name]
        assert row["dtype"] == DUMP_DTYPES.get(t.dtype, "F32"), name
        assert row["shape"] == list(t.shape), name
        assert row["stride"] == list(t.stride()), name
        if t.numel() > 0:
            assert row["zero_copy"] == (t.is_contiguous() and t.dtype != torch.float64), name
    assert lines["extra.f64"]["storage_type"] == "DoubleStorage"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol(dump_tool, tmp_path, protocol):
    # torch.save uses protocol 2; callers may pick another (4 adds FRAME,
    # SHORT_BINUNICODE, MEMOIZE; 5 adds nothing torch emits).
    state = {"a": torch.randn(3, 4), "b": torch.arange(5), "long name " * 30: torch.randn(2).half().t()}
    path = tmp_path / "p.bin"
    torch.save(state, path, pickle_protocol=protocol)
    ours, _ = read_with_tool(dump_tool, path, tmp_path)
    # torch's own weights-only loader has no FRAME opcode; this file is ours, so load it fully.
    assert_same(ours, torch.load(path, weights_only=protocol < 4))


def test_save_pretrained_bin_single_file(dump_tool, tmp_path):
    model = tiny_bert()
    folder = tmp_path / "bert-bin"
    save_pretrained_bin(model, folder)
    assert (folder / "pytorch_model.bin").is_file()
    assert not (folder / "pytorch_model.bin.index.json").exists()
    # transformers still loads the folder: the layout is the real one.
    reloaded = T.BertModel.from_pretrained(folder)
    ours, _ = read_with_tool(dump_tool, folder, tmp_path)
    assert_same(ours, reloaded.state_dict())


def test_save_pretrained_bin_sharded(dump_tool, tmp_path):
    model = tiny_bert()
    folder = tmp_path / "bert-sharded"
    save_pretrained_bin(model, folder, max_shard_size="20KB")
    shards = sorted(folder.glob("pytorch_model-*.bin"))
    assert len(shards) > 2, shards
    assert (folder / "pytorch_model.bin.index.json").is_file()
    reloaded = T.BertModel.from_pretrained(folder)
    ours, _ = read_with_tool(dump_tool, folder, tmp_path)
    assert_same(ours, reloaded.state_dict())
    # The index file itself can be given too.
    again, _ = read_with_tool(dump_tool, folder / "pytorch_model.bin.index.json", tmp_path)
    assert sorted(again) == sorted(ours)


def test_zip64_checkpoint_with_more_than_65535_records(dump_tool, tmp_path):
    # Past 65535 records torch's zip writer switches to zip64 end records,
    # as it does for checkpoints past 4 GB.
    n = 65540
    path = tmp_path / "many.bin"
    torch.save({f"t{i}": torch.tensor([float(i)]) for i in range(n)}, path)
    tail = path.read_bytes()[-200:]
    assert b"PK\x06\x06" in tail and b"PK\x06\x07" in tail, "torch did not write zip64 records"
    ours, lines = read_with_tool(dump_tool, path, tmp_path)
    assert len(ours) == n and len(lines) == n
    for i in (0, 1, 65535, n - 1):
        assert ours[f"t{i}"].item() == float(i)


class Payload:
    """Unpickling this runs `func(*args)`: the classic malicious checkpoint."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("make", [
    lambda marker: Payload(os.system, f"touch {marker}"),
    lambda marker: Payload(subprocess.Popen, ["touch", str(marker)]),
    lambda marker: Payload(eval, f"open({str(marker)!r}, 'w').close()"),
    lambda marker: Payload(exec, f"open({str(marker)!r}, 'w').close()"),
], ids=["os.system", "subprocess.Popen", "builtins.eval", "builtins.exec"])
def test_malicious_pickle_is_refused_without_running(dump_tool, tmp_path, make):
    marker = tmp_path / "pwned"
    path = tmp_path / "pytorch_model.bin"
    torch.save({"weight": torch.ones(2), "evil": make(marker)}, path)
    assert not marker.exists()
    # The global as the pickle spells it (os.system is posix.system, eval is
    # __builtin__.eval at protocol 2).
    with zipfile.ZipFile(path) as z:
        pickle_bytes = z.read("pytorch_model/data.pkl")
    names = [arg.replace(" ", ".") for op, arg, _ in pickletools.genops(pickle_bytes) if op.name == "GLOBAL"]
    foreign = [n for n in names if not n.startswith(("torch", "collections."))]
    assert len(foreign) == 1, names
    global_name = foreign[0]

    res = dump(dump_tool, path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith("Unsupported:"), res.stderr
    assert f"'{global_name}'" in res.stderr, res.stderr
    assert str(path) in res.stderr, res.stderr
    assert res.stdout == ""
    assert not marker.exists(), "the payload ran"
    # torch's own safe loader agrees.
    with pytest.raises(Exception, match=global_name.split(".")[-1]):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_compressed_and_legacy_files_are_refused(dump_tool, tmp_path):
    src = tmp_path / "plain.bin"
    torch.save({"w": torch.randn(64, 64)}, src)
    packed = tmp_path / "deflated.bin"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    assert torch.equal(torch.load(packed, weights_only=True)["w"], torch.load(src, weights_only=True)["w"])
    res = dump(dump_tool, packed)
    assert res.returncode == 2 and res.stderr.startswith("Unsupported:"), res.stderr
    assert "compressed (deflate)" in res.stderr and "'plain/" in res.stderr, res.stderr

    legacy = tmp_path / "legacy.bin"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    res = dump(dump_tool, legacy)
    assert res.returncode == 2 and "legacy (pre-1.6, non-zip)" in res.stderr, res.stderr


def test_truncated_checkpoint_names_the_file(dump_tool, tmp_path):
    src = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.randn(32, 32)}, src)
    data = src.read_bytes()
    cut = tmp_path / "cut.bin"
    for size in (0, 10, len(data) // 2, len(data) - 1):
        cut.write_bytes(data[:size])
        res = dump(dump_tool, cut)
        assert res.returncode == 2, (size, res.stdout)
        assert res.stderr.startswith("FormatError:") and str(cut) in res.stderr, (size, res.stderr)


# ----------------------------------------------------------------------------- models from .bin folders


def _outputs(model, ids, mask) -> dict:
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
    return {k: v.numpy() for k, v in out.items()}


@pytest.mark.parametrize("max_shard_size", ["10GB", "12KB"], ids=["single", "sharded"])
def test_from_pretrained_and_export_of_bin_checkpoints(tmp_path, monkeypatch, max_shard_size):
    import numpy as np

    import optimum_cpp as oc

    monkeypatch.setenv("OPTIMUM_CPP_CACHE", str(tmp_path / "exports"))
    torch.manual_seed(3)
    cfg = T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64, num_labels=3)
    model = T.BertForSequenceClassification(cfg).eval()
    src = tmp_path / "src"
    save_pretrained_bin(model, src, max_shard_size=max_shard_size)
    sharded = (src / "pytorch_model.bin.index.json").is_file()
    assert sharded == (max_shard_size != "10GB")
    assert not list(src.glob("*.safetensors"))
    ids = np.array([[2, 5, 9, 30, 3], [2, 7, 3, 0, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=np.int64)
    # transformers itself reads the folder and agrees with the model that wrote it.
    want = _outputs(T.AutoModelForSequenceClassification.from_pretrained(src).eval(), ids, mask)
    np.testing.assert_array_equal(want["logits"], _outputs(model, ids, mask)["logits"])

    direct = oc.AutoModelForSequenceClassification.from_pretrained(src)
    np.testing.assert_allclose(direct(input_ids=ids, attention_mask=mask).logits, want["logits"], atol=1e-5)
    exported = oc.AutoModelForSequenceClassification.from_pretrained(src, export=True)
    assert exported.exported_now
    assert (Path(exported.path) / "model.optimum-cpp.safetensors").is_file()
    np.testing.assert_allclose(exported(input_ids=ids, attention_mask=mask).logits, want["logits"], atol=1e-5)
    out = tmp_path / "out"
    res = subprocess.run([str(REPO / "build" / "optimum-cpp"), "export", "--model", str(src), str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    again = oc.AutoModelForSequenceClassification.from_pretrained(out)
    np.testing.assert_allclose(again(input_ids=ids, attention_mask=mask).logits, want["logits"], atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda marker: Payload(os.system, f"touch {marker}"),
    lambda marker: Payload(eval, f"open({str(marker)!r}, 'w').close()"),
], ids=["os.system", "builtins.eval"])
def test_from_pretrained_refuses_a_hostile_bin(tmp_path, make):
    import optimum_cpp as oc

    torch.manual_seed(0)
    model = tiny_bert()
    src = tmp_path / "src"
    save_pretrained_bin(model, src)
    marker = tmp_path / "pwned"
    state = dict(model.state_dict())
    state["evil"] = make(marker)
    torch.save(state, src / "pytorch_model.bin")
    assert not marker.exists()
    with zipfile.ZipFile(src / "pytorch_model.bin") as z:
        pickle_bytes = z.read("pytorch_model/data.pkl")
    names = [arg.replace(" ", ".") for op, arg, _ in pickletools.genops(pickle_bytes) if op.name == "GLOBAL"]
    global_name = [n for n in names if not n.startswith(("torch", "collections."))][0]
    for export in (False, True):
        with pytest.raises(oc.UnsupportedError) as raised:
            oc.AutoModel.from_pretrained(src, export=export)
        assert f"'{global_name}'" in str(raised.value) and "pytorch_model.bin" in str(raised.value)
        assert not marker.exists(), "the payload ran"
    res = subprocess.run([str(REPO / "build" / "optimum-cpp"), "export", "--model", str(src), "--task", "feature-extraction",
                          str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and f"'{global_name}'" in res.stderr, res.stderr
    assert not marker.exists() and not (tmp_path / "o").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
