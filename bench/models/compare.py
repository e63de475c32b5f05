#!/usr/bin/env python3
"""Diff two bench_models.py result files: per model, case and peer the median time in A
and B and the change (B / A; < 1 means B is faster), plus load time and peak RSS.

    .venv/bin/python bench/models/compare.py A.json B.json [--peers ours] [--threshold 0.05]

Rows whose change is beyond --threshold (relative) are marked with '*'.

--split-base: A/B of two builds timed in one run (peer `base`, OPTIMUM_BENCH_BASE): A is the
`base` peer of file A, renamed `ours`, B the `ours` peer of file B (give the same file twice)."""

from __future__ import annotations

import argparse
import json
import pathlib


def only_peer(result: dict, peer: str) -> dict:
    """`result` with only `peer`'s entries (cases and load), renamed to `ours`."""
    out = dict(result)
    out["models"] = {}
    for model, m in result["models"].items():
        keep = lambda d: {"ours" + k[len(peer):]: v for k, v in d.items() if k.split(":")[0] == peer}  # noqa: E731
        cases = {c: dict(v, peers=keep(v.get("peers", {}))) for c, v in m.get("cases", {}).items()}
        out["models"][model] = dict(m, cases=cases, load=keep(m.get("load", {})))
    return out


def rows(a: dict, b: dict, peers: list[str]):
    for model in a["models"].keys() | b["models"].keys():
        ca = a["models"].get(model, {}).get("cases", {})
        cb = b["models"].get(model, {}).get("cases", {})
        for case in list(ca) + [c for c in cb if c not in ca]:
            pa = ca.get(case, {}).get("peers", {})
            pb = cb.get(case, {}).get("peers", {})
            for name in sorted(pa.keys() | pb.keys()):
                if peers and name.split(":")[0] not in peers:
                    continue
                ta = pa.get(name, {}).get("median_ms")
                tb = pb.get(name, {}).get("median_ms")
                yield model, case, name, ta, tb
        la = a["models"].get(model, {}).get("load", {})
        lb = b["models"].get(model, {}).get("load", {})
        for name in sorted(la.keys() | lb.keys()):
            if peers and name.split(":")[0] not in peers:
                continue
            for key, scale, label in (("load_s", 1000.0, "load"), ("peak_rss_mb", 1.0, "peak RSS MiB")):
                va, vb = la.get(name, {}).get(key), lb.get(name, {}).get(key)
                yield model, label, name, None if va is None else va * scale, None if vb is None else vb * scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--peers", default="", help="comma-separated peer names (ours, torch, ort, ...)")
    ap.add_argument("--threshold", type=float, default=0.05)
    ap.add_argument("--split-base", action="store_true", help="A = file A's `base` peer, B = file B's `ours`")
    args = ap.parse_args()
    a = json.loads(pathlib.Path(args.a).read_text())
    b = json.loads(pathlib.Path(args.b).read_text())
    if args.split_base:
        a, b = only_peer(a, "base"), only_peer(b, "ours")
    peers = [p for p in args.peers.split(",") if p]
    print(f"A: {args.a} ({a.get('date')}, {a.get('threads')} threads, {a.get('versions', {}).get('optimum_cpp_git')})")
    print(f"B: {args.b} ({b.get('date')}, {b.get('threads')} threads, {b.get('versions', {}).get('optimum_cpp_git')})")
    print(f"{'model':<10} {'case':<14} {'peer':<20} {'A':>10} {'B':>10} {'B/A':>7}")
    for model, case, name, ta, tb in rows(a, b, peers):
        fa = "—" if ta is None else f"{ta:.2f}"
        fb = "—" if tb is None else f"{tb:.2f}"
        if ta and tb:
            ratio = tb / ta
            mark = " *" if abs(ratio - 1) > args.threshold else ""
            fr = f"{ratio:.3f}{mark}"
        else:
            fr = "—"
        print(f"{model:<10} {case:<14} {name:<20} {fa:>10} {fb:>10} {fr:>7}")


if __name__ == "__main__":
    main()
