"""The wheel's CI test (`make wheel-test`): install the built wheel into a fresh virtualenv
outside the checkout and smoke-test it there against the real libraries.

Run with the main venv's python (the oracle: sentence-transformers):

    python tests/wheel/run_wheel_test.py --wheel build/dist/optimum_cpp-*.whl --venv build/wheel-venv \
        --model <all-MiniLM-L6-v2 folder> --numpy numpy==2.4.6

Checks, each against something real:
  * the virtualenv is new (deleted first), the wheel and a pinned numpy come from pip;
  * the smoke script (wheel_smoke.py) runs from an empty temporary folder with a clean
    environment (no PYTHONPATH, LD_LIBRARY_PATH empty) and imports optimum_cpp from the
    virtualenv, not from the source tree;
  * optimum_cpp.__version__ and `optimum-cpp --version` equal project(... VERSION) of
    CMakeLists.txt;
  * two sentences embedded by the wheel match sentence-transformers (cosine > 0.9999 each),
    and `optimum-cpp similarity --json` gives sentence-transformers' cosine of the pair;
  * the installed extension and CLI binary resolve oneDNN and every other non-system library
    from the wheel's own optimum_cpp.libs/ (what auditwheel bundled), never from the build
    tree, and their RUNPATHs name no folder outside the installed package.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SENTENCES = ["A man is eating food.", "A man is eating a piece of bread."]
# The libraries every manylinux policy lets a wheel take from the system (auditwheel's
# lib_whitelist); everything else must come from the wheel.
SYSTEM_LIBS = {
    "linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libmvec.so.1", "libdl.so.2",
    "librt.so.1", "libpthread.so.0", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1", "libresolv.so.2",
    "libutil.so.1", "libnsl.so.1", "libanl.so.1", "libatomic.so.1", "libexpat.so.1",
}


def fail(msg: str) -> None:
    sys.exit(f"wheel-test FAILED: {msg}")


def run(cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def project_version() -> str:
    text = open(os.path.join(REPO, "CMakeLists.txt")).read()
    m = re.search(r"project\(optimum_cpp VERSION ([0-9]+\.[0-9]+\.[0-9]+)", text)
    if not m:
        fail("no project(optimum_cpp VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def check_bundled(elf: str, venv: str, env: dict) -> None:
    """Every non-system library of `elf` resolves inside the virtualenv; oneDNN among them."""
    ldd = run(["ldd", elf], env=env).stdout
    venv_real = os.path.realpath(venv)
    seen = {}
    for line in ldd.splitlines():
        parts = line.split()
        if not parts:
            continue
        name = os.path.basename(parts[0])
        if "not found" in line:
            fail(f"{elf}: {name} not found (ldd)\n{ldd}")
        path = parts[2] if len(parts) > 2 and parts[1] == "=>" else parts[0]
        seen[name] = path
        if name in SYSTEM_LIBS:
            continue
        if not os.path.realpath(path).startswith(venv_real + os.sep):
            fail(f"{elf}: {name} resolves to {path}, outside the installed wheel (not bundled)")
    if not any(n.startswith("libdnnl") for n in seen):
        fail(f"{elf}: no oneDNN among its libraries:\n{ldd}")
    dyn = run(["readelf", "-d", elf], env=env).stdout
    for m in re.finditer(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]", dyn):
        for entry in m.group(1).split(":"):
            if entry and not entry.startswith("$ORIGIN"):
                fail(f"{elf}: RUNPATH entry {entry} outside the package")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", required=True, help="the wheel file, or a folder holding exactly one")
    p.add_argument("--venv", required=True, help="where to create the fresh virtualenv (deleted first)")
    p.add_argument("--model", required=True, help="all-MiniLM-L6-v2 sentence-transformers folder")
    p.add_argument("--numpy", default="numpy", help="the numpy requirement installed beside the wheel")
    p.add_argument("--python", default=getattr(sys, "_base_executable", sys.executable),
                   help="the interpreter that creates the virtualenv")
    a = p.parse_args()
    t0 = time.time()

    wheel = a.wheel
    if os.path.isdir(wheel):
        found = glob.glob(os.path.join(wheel, "optimum_cpp-*.whl"))
        if len(found) != 1:
            fail(f"expected one optimum_cpp wheel in {wheel}, found {found}")
        wheel = found[0]
    wheel = os.path.abspath(wheel)
    model = os.path.abspath(a.model)
    if not os.path.isfile(os.path.join(model, "modules.json")):
        fail(f"{model} is not a sentence-transformers folder (no modules.json)")
    version = project_version()
    print(f"wheel: {os.path.basename(wheel)} ({os.path.getsize(wheel) / 2**20:.1f} MiB)", flush=True)

    venv = os.path.abspath(a.venv)
    shutil.rmtree(venv, ignore_errors=True)
    run([a.python, "-m", "venv", venv])
    vpy = os.path.join(venv, "bin", "python")
    run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, a.numpy])
    print(f"installed into fresh venv {venv} ({time.time() - t0:.1f} s)", flush=True)

    with tempfile.TemporaryDirectory(prefix="optimum-cpp-wheel-test-") as tmp:
        env = {
            "PATH": os.path.join(venv, "bin") + ":/usr/bin:/bin",
            "HOME": os.environ.get("HOME", tmp),
            "LANG": "C.UTF-8",
            "LD_LIBRARY_PATH": "",
            "HF_HOME": os.path.join(tmp, "hf"),
            "XDG_CACHE_HOME": os.path.join(tmp, "cache"),
            "HF_HUB_OFFLINE": "1",
        }
        # The ISA stand-ins (AVX2 runs of the suite) reach the installed engine too.
        for k in ("OPTIMUM_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "OPTIMUM_NUM_THREADS", "OMP_NUM_THREADS"):
            if k in os.environ:
                env[k] = os.environ[k]
        smoke = shutil.copy(os.path.join(HERE, "wheel_smoke.py"), tmp)
        out = run([vpy, smoke, "--repo", REPO, "--model", model, *SENTENCES], cwd=tmp, env=env).stdout
        got = json.loads(out.strip().splitlines()[-1])
        print(f"imported from {got['file']} (cpu_isa {got['cpu_isa']})")
        if got["version"] != version:
            fail(f"optimum_cpp.__version__ is {got['version']!r}, CMakeLists.txt says {version!r}")

        cli = os.path.join(venv, "bin", "optimum-cpp")
        v = run([cli, "--version"], cwd=tmp, env=env).stdout.strip()
        if v != f"optimum-cpp {version}":
            fail(f"`optimum-cpp --version` printed {v!r}, expected 'optimum-cpp {version}'")
        sim = json.loads(run([cli, "similarity", "--json", "--model", model, *SENTENCES], cwd=tmp, env=env).stdout)

        pkg = os.path.dirname(got["file"])
        check_bundled(got["extension"], venv, env)
        check_bundled(os.path.join(pkg, "bin", "optimum-cpp"), venv, env)

    # The oracle: sentence-transformers in this (main) venv on the same folder and sentences.
    import numpy as np
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()

    ref = SentenceTransformer(model, device="cpu").encode(SENTENCES, convert_to_numpy=True).astype(np.float64)
    emb = np.asarray(got["embeddings"], dtype=np.float64)
    if emb.shape != ref.shape:
        fail(f"embedding shape {emb.shape} != sentence-transformers' {ref.shape}")
    cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    if not (cos > 0.9999).all():
        fail(f"cosine with sentence-transformers {cos.tolist()} (need > 0.9999 each)")
    ref_sim = float(ref[0] @ ref[1] / (np.linalg.norm(ref[0]) * np.linalg.norm(ref[1])))
    cli_sim = sim["similarity"][0][1]
    if abs(cli_sim - ref_sim) > 1e-4:
        fail(f"`optimum-cpp similarity` gives {cli_sim}, sentence-transformers' cosine is {ref_sim}")
    print(f"version {version}: __version__ and `optimum-cpp --version` agree")
    print(f"embeddings vs sentence-transformers: cosine {', '.join(f'{c:.7f}' for c in cos)}")
    print(f"`optimum-cpp similarity`: {cli_sim:.6f} (sentence-transformers {ref_sim:.6f})")
    print(f"libraries: oneDNN and every non-system library come from the wheel")
    print(f"wheel-test passed in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
