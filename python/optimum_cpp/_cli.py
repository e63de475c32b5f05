"""The `optimum-cpp` console script of the wheel: runs the C++ CLI shipped in the package.

The wheel carries the native binary at optimum_cpp/bin/optimum-cpp (its shared
libraries beside it in optimum_cpp.libs/ after auditwheel). This entry point
replaces the Python process with it (os.execv), so signals, exit codes, stdin
and `serve`'s threads behave exactly as when the binary is run directly.
"""

from __future__ import annotations

import os
import sys


def binary_path() -> str:
    """The CLI binary inside the installed package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "optimum-cpp")


def main() -> None:
    path = binary_path()
    if not os.access(path, os.X_OK):
        sys.stderr.write(
            f"error: the optimum-cpp binary is missing at {path}: this optimum_cpp is not an installed "
            "wheel (from a source checkout, run build/optimum-cpp after `make build`, "
            "or `pip install .` to install the package)\n"
        )
        sys.exit(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(path, ["optimum-cpp", *sys.argv[1:]])


if __name__ == "__main__":
    main()
