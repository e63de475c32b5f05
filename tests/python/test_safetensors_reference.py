"""Hostile safetensors files: the reference `safetensors` library and optimum-cpp both refuse them.

Each file is built by hand (8-byte little-endian header length, JSON header,
data). The test asserts that `safetensors` (run here, at test time) refuses it,
then that optimum-cpp's reader (io::WeightStore through the torch_bin_dump
tool) refuses it with a FormatError naming the file, within bounded time and
memory. A well-formed control file is accepted by both.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
from pathlib import Path

import pytest
from safetensors import safe_open


def st_bytes(header: str | bytes, data: bytes = b"") -> bytes:
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h)) + h + data


def entry(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def reference_reads(path: Path) -> list[str]:
    with safe_open(str(path), framework="numpy") as f:
        names = list(f.keys())
        for n in names:
            f.get_tensor(n)
    return names


def ours(tool: Path, path: Path) -> subprocess.CompletedProcess:
    def limit_memory():  # 2 GiB: the nested-array header once took 3.7 GB
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=60,
                          preexec_fn=limit_memory)


CONTROL = st_bytes(json.dumps({"a": entry("I8", [2], 0, 2), "b": entry("F32", [1], 2, 6)}) + "    ", b"\x01" * 6)

HOSTILE = {
    # nlohmann stopped at the first NUL as if the header ended there.
    "nul padding after the header": st_bytes(json.dumps({"a": entry("I8", [2], 0, 2)}).encode() + b"\0" * 6,
                                             b"\x01" * 2),
    "hole between tensors": st_bytes(json.dumps({"a": entry("I8", [2], 0, 2), "b": entry("I8", [2], 4, 6)}),
                                     b"\x01" * 6),
    "hole before the first tensor": st_bytes(json.dumps({"a": entry("I8", [2], 2, 4)}), b"\x01" * 4),
    "bytes after the last tensor": st_bytes(json.dumps({"a": entry("I8", [2], 0, 2)}), b"\x01" * 5),
    "empty tensor inside another": st_bytes(
        json.dumps({"a": entry("I8", [2], 0, 2), "e": entry("F32", [0], 1, 1)}), b"\x01" * 2),
    # 50 MB of nested arrays (the 100 MB case cost 3.7 GB and 2 minutes).
    "deeply nested header": st_bytes('{"a": {"dtype": "I8", "shape": [0], "data_offsets": [0, 0], "x": '
                                     + "[" * 25_000_000 + "]" * 25_000_000 + "}}"),
    "number beyond double's range": st_bytes('{"a": {"dtype": "I8", "shape": [1e400], "data_offsets": [0, 1]}}',
                                             b"\x01"),
}


def test_control_file_is_read_by_both(dump_tool, tmp_path):
    p = tmp_path / "model.safetensors"
    p.write_bytes(CONTROL)
    assert sorted(reference_reads(p)) == ["a", "b"]
    res = ours(dump_tool, p)
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(line)["name"] for line in res.stdout.splitlines()) == ["a", "b"]


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_refused_like_the_reference(dump_tool, tmp_path, case):
    p = tmp_path / "model.safetensors"
    p.write_bytes(HOSTILE[case])
    with pytest.raises(Exception):
        reference_reads(p)
    res = ours(dump_tool, p)
    assert res.returncode == 2, f"{case}: exit {res.returncode}, stdout {res.stdout[:200]!r}, stderr {res.stderr[-500:]!r}"
    assert res.stderr.startswith("FormatError: ") and str(p) in res.stderr, res.stderr


@pytest.mark.parametrize("levels,accepted", [(127, True), (128, False)])
def test_header_depth_limit_matches_the_reference(dump_tool, tmp_path, levels, accepted):
    inner = levels - 2  # the header object and the tensor entry are two levels
    p = tmp_path / "model.safetensors"
    p.write_bytes(st_bytes('{"a": {"dtype": "I8", "shape": [0], "data_offsets": [0, 0], "x": '
                           + "[" * inner + "]" * inner + "}}"))
    res = ours(dump_tool, p)
    if accepted:
        assert reference_reads(p) == ["a"]
        assert res.returncode == 0, res.stderr
    else:
        with pytest.raises(Exception, match="recursion limit"):
            reference_reads(p)
        assert res.returncode == 2 and "nested deeper than 127" in res.stderr, res.stderr
