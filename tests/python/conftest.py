"""Fixtures shared by the tests in tests/python."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dump_tool() -> Path:
    """build/torch_bin_dump (src/io/tools/torch_bin_dump.cc): reads a weights file with the io layer."""
    build = Path(os.environ.get("OPTIMUM_BUILD_DIR", REPO / "build"))
    tool = build / "torch_bin_dump"
    assert tool.is_file(), f"{tool} is missing: build it (make build, or ninja -C {build} torch_bin_dump)"
    return tool
