"""Decode tokens/s of a SmolLM2-135M-shaped random llama (hidden 576, 30
layers, 9/3 heads, intermediate 1536, vocab 49152, tied embeddings) exported
natively in fp32, bf16 and int8, batch 1, 1 thread by default. Writes JSON.

  PYTHONPATH=python .venv/bin/python bench/export/decode_speed.py [--threads 1] [--tokens 64] [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from optimum_cpp import _C


def cpu_name():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    _C.set_num_threads(args.threads)
    cfg = transformers.LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                                   num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                                   tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    results = {"cpu": cpu_name(), "isa": _C.cpu_isa(), "threads": args.threads, "tokens": args.tokens, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        model.save_pretrained(src)
        del model
        prompt = np.arange(3, 3 + args.prompt, dtype=np.int64)
        for dtype in ("fp32", "bf16", "int8"):
            out = Path(tmp) / dtype
            # A loose guard: random weights give near-uniform logits (the guard is tested elsewhere).
            _C.export_native(str(src), str(out), dtype=dtype, min_cosine=1e-6, min_agreement=1e-6)
            lm = _C.DecoderLM(str(out))
            best = 0.0
            for _ in range(args.repeats):
                cache = lm.new_cache(1, args.prompt + args.tokens)
                logits = lm.step(cache, [(0, prompt)], False)
                token = int(logits[0].argmax())
                t = time.perf_counter()
                for _ in range(args.tokens):
                    token = int(lm.step(cache, [(0, [token])], False)[0].argmax())
                best = max(best, args.tokens / (time.perf_counter() - t))
            results["runs"][dtype] = {"decode_tokens_per_s": round(best, 2)}
            print(dtype, results["runs"][dtype], flush=True)
            del lm
            import shutil
            shutil.rmtree(out)
    print(json.dumps(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
