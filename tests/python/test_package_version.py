"""One version everywhere: project(optimum_cpp VERSION ...) in CMakeLists.txt is what
pyproject.toml's version provider reads (the wheel's metadata), what optimum_cpp.__version__
and `optimum-cpp --version` report. The installed wheel is checked the same way by
`make wheel-test` (tests/wheel/)."""

import pathlib
import re
import subprocess
import sys

import pytest

import optimum_cpp

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pyproject():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def cmake_version():
    """The version as pyproject.toml's regex provider extracts it from its input file."""
    entries = [e for e in pyproject()["tool"]["dynamic-metadata"] if e.get("field") == "version"]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["provider"] == "scikit_build_core.metadata.regex"
    m = re.search(entry["regex"], (ROOT / entry["input"]).read_text(), re.MULTILINE)
    assert m, f"{entry['regex']!r} not found in {entry['input']}"
    return m.group("value")


def test_version_is_dynamic_from_cmake():
    project = pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", cmake_version())


def test_python_version_matches_cmake():
    assert optimum_cpp.__version__ == cmake_version()
    assert optimum_cpp._C.__version__ == optimum_cpp.__version__


def test_cli_version_matches_cmake():
    cli = ROOT / "build" / "optimum-cpp"
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"optimum-cpp {cmake_version()}"


def test_console_script_entry_point():
    """The console script named in pyproject.toml exists and refuses clearly outside a wheel."""
    scripts = pyproject()["project"]["scripts"]
    assert scripts == {"optimum-cpp": "optimum_cpp._cli:main"}
    from optimum_cpp import _cli

    if pathlib.Path(_cli.binary_path()).exists():
        pytest.skip("optimum_cpp is an installed wheel here")
    r = subprocess.run([sys.executable, "-c", "from optimum_cpp._cli import main; main()", "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "binary is missing at" in r.stderr and "optimum_cpp/bin/optimum-cpp" in r.stderr
