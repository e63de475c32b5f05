"""The optimum-cpp CLI for the precision tests (a module of its own: test
modules import it by a name no other suite's helper has, unlike `conftest`)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"


def cli(*args, check=True, env=None):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"optimum-cpp {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc
