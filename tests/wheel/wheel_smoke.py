"""Runs INSIDE the fresh virtualenv the wheel is installed into (tests/wheel/run_wheel_test.py
starts it from an empty temporary folder): imports optimum_cpp from the installed wheel,
never from the source tree, and embeds sentences with it. Prints one JSON object.

    python wheel_smoke.py --repo REPO --model MODEL_DIR SENTENCE...
"""

import argparse
import json
import os
import sys


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True, help="the source checkout, whose python/ folder the package must NOT come from")
    p.add_argument("--model", required=True, help="a sentence-transformers folder (all-MiniLM-L6-v2)")
    p.add_argument("sentences", nargs="+")
    a = p.parse_args()

    import numpy as np
    import optimum_cpp
    from optimum_cpp import _C

    pkg = os.path.realpath(os.path.dirname(optimum_cpp.__file__))
    prefix = os.path.realpath(sys.prefix)
    repo = os.path.realpath(a.repo)
    if not pkg.startswith(prefix + os.sep):
        sys.exit(f"optimum_cpp imported from {pkg}, not from the virtualenv {prefix}")
    source = os.path.join(repo, "python")
    if pkg.startswith(source + os.sep) or any(os.path.realpath(p or ".") == source for p in sys.path):
        sys.exit(f"optimum_cpp imported from (or with on sys.path) the source tree {source}: {pkg}")
    if not os.path.realpath(_C.__file__).startswith(pkg + os.sep):
        sys.exit(f"optimum_cpp._C loaded from {_C.__file__}, outside the installed package {pkg}")

    model = optimum_cpp.SentenceTransformer(a.model)
    emb = np.asarray(model.encode(a.sentences), dtype=np.float64)
    print(json.dumps({
        "file": optimum_cpp.__file__,
        "extension": _C.__file__,
        "version": optimum_cpp.__version__,
        "cpu_isa": optimum_cpp.cpu_isa(),
        "dimension": model.get_sentence_embedding_dimension(),
        "embeddings": emb.tolist(),
    }))


if __name__ == "__main__":
    main()
