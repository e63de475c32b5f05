"""Peers of bench/generation: one runner per engine, each run in the interpreter that holds it.

Every peer has
  VARIANTS[peer]           its precisions: {variant: precision class (fp32, bf16, int8, int4)}
  VENV[peer]               the virtualenv (relative to the repository root) whose interpreter
                           runs its prepare and worker (.venv: the engine's, with torch 2.13 /
                           transformers 5.23; .venv-bench/gen: bench/generation/requirements.txt
                           + llama-cpp-python built from source; .venv-bench/genai:
                           requirements-ortgenai.txt, whose builder needs transformers 5)
  prepare_<peer>(model_dir, work, variant) -> artifact
                           converts the Hugging Face folder once (cached under work/; a file
                           or folder the worker loads); runs before the worker starts
  load_<peer>(artifact, variant, threads) -> generate(ids, n_new) -> np.ndarray [batch, n]
                           greedy generation of n_new tokens after the prompt rows `ids`
                           ([batch, seq] int64, every row the same length, no padding); the
                           end-of-sequence token is suppressed where the engine allows it, so
                           every peer decodes the same number of tokens (the worker reports
                           the count it got)

prepare/load raise Unavailable when the variant cannot run here (the engine lacks it); the
report lists it as "not available" with the reason.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN_VENV = ".venv-bench/gen"
LLAMA_CPP_SRC = ROOT / GEN_VENV / "src" / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp"

PEERS = ["ours", "torch", "llama.cpp", "ctranslate2", "ort-genai", "optimum-ort"]
VARIANTS = {
    "ours": {"fp32": "fp32", "bf16": "bf16", "int8": "int8"},
    "torch": {"fp32": "fp32", "bf16": "bf16"},
    "llama.cpp": {"F32": "fp32", "Q8_0": "int8", "Q4_1": "int4"},
    "ctranslate2": {"fp32": "fp32", "int8": "int8"},
    "ort-genai": {"fp32": "fp32", "int4": "int4"},
    "optimum-ort": {"fp32": "fp32"},
}
VENV = {"ours": ".venv", "torch": ".venv", "llama.cpp": GEN_VENV, "ctranslate2": GEN_VENV, "ort-genai": ".venv-bench/genai",
        "optimum-ort": GEN_VENV}


class Unavailable(RuntimeError):
    """This (peer, variant) cannot run here; the message says why."""


def _run(cmd: list[str], what: str, **kw) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr + "\n" + r.stdout).strip().splitlines() if ln.strip()]
        tail = "\n".join(lines[-15:])
        raise RuntimeError(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}\n{tail}")


def _fresh(out: pathlib.Path, model_dir: str) -> bool:
    """The cached conversion `out` (its .done stamp) is newer than every file of the source folder."""
    stamp = out.parent / (out.name + ".done")
    if not stamp.exists():
        return False
    t = stamp.stat().st_mtime
    return not any(p.is_file() and p.stat().st_mtime > t for p in pathlib.Path(model_dir).iterdir())


def _done(out: pathlib.Path) -> str:
    (out.parent / (out.name + ".done")).touch()
    return str(out)


# ----------------------------------------------------------------------------- ours (optimum_cpp)


def prepare_ours(model_dir: str, work: pathlib.Path, variant: str) -> str:
    return model_dir


def load_ours(artifact: str, variant: str, threads: int):
    try:
        import optimum_cpp
    except ImportError as e:
        raise Unavailable(f"optimum_cpp not importable ({e}); build the _C target") from None
    if not hasattr(optimum_cpp, "AutoModelForCausalLM") or not (
            hasattr(optimum_cpp.AutoModelForCausalLM, "generate") or hasattr(optimum_cpp._C, "generate")):
        raise Unavailable("optimum_cpp has no AutoModelForCausalLM yet (the decoder engine is not in this build)")
    optimum_cpp.set_num_threads(threads)
    try:
        model = optimum_cpp.AutoModelForCausalLM.from_pretrained(artifact, dtype=variant)
    except Exception as e:  # noqa: BLE001 - a precision the engine lacks yet is "not available"
        if variant == "fp32":
            raise
        raise Unavailable(f"AutoModelForCausalLM.from_pretrained(dtype={variant!r}): {e}") from None

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        rows = [list(map(int, r)) for r in ids]
        if hasattr(model, "generate"):
            out = [list(r) for r in model.generate(rows, max_new_tokens=n_new, do_sample=False)]
            # Either the new tokens or prompt + new tokens per row.
            return np.array([r[ids.shape[1]:] if len(r) > n_new else r for r in out], dtype=np.int64)
        # The generation layer's entry point: one list of sequences ({"tokens": new ids, ...}) per prompt.
        out = optimum_cpp._C.generate(model, rows, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False)
        return np.array([list(seqs[0]["tokens"]) for seqs in out], dtype=np.int64)

    return generate


# ----------------------------------------------------------------------------- transformers + torch


def prepare_torch(model_dir: str, work: pathlib.Path, variant: str) -> str:
    return model_dir


def load_torch(artifact: str, variant: str, threads: int):
    import torch
    import transformers

    torch.set_num_threads(threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[variant]
    model = transformers.AutoModelForCausalLM.from_pretrained(artifact, dtype=dtype).eval()

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        x = torch.from_numpy(ids)
        with torch.inference_mode():
            y = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n_new, min_new_tokens=n_new,
                               do_sample=False, pad_token_id=0)
        return y[:, ids.shape[1]:].numpy()

    return generate


# ----------------------------------------------------------------------------- llama.cpp


def prepare_llama_cpp(model_dir: str, work: pathlib.Path, variant: str) -> str:
    """F32 and Q8_0 by the sdist's convert_hf_to_gguf.py; Q4_1 by llama_model_quantize of the F32 file."""
    out = work / f"llama-cpp-{variant}.gguf"
    if _fresh(out, model_dir) and out.exists():
        return str(out)
    script = LLAMA_CPP_SRC / "convert_hf_to_gguf.py"
    if variant in ("F32", "Q8_0"):
        if not script.exists():
            raise Unavailable(f"{script} missing (make bench-generation unpacks the llama-cpp-python sdist there)")
        _run([sys.executable, str(script), model_dir, "--outfile", str(out), "--outtype", variant.lower()],
             f"convert_hf_to_gguf.py --outtype {variant.lower()}")
    else:
        import llama_cpp

        f32 = prepare_llama_cpp(model_dir, work, "F32")
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1
        params.nthread = int(os.environ.get("OMP_NUM_THREADS", "2"))
        rc = llama_cpp.llama_model_quantize(f32.encode(), str(out).encode(), params)
        if rc != 0:
            raise RuntimeError(f"llama_model_quantize({f32} -> Q4_1) returned {rc}")
    return _done(out)


def load_llama_cpp(artifact: str, variant: str, threads: int):
    """The C API through llama_cpp's ctypes bindings: one llama_batch holds every row of the
    prompt (seq ids 0..B-1), then one token per row and step; greedy = argmax of the logits."""
    import llama_cpp as L

    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(artifact.encode(), mp)
    if not model:
        raise RuntimeError(f"llama_model_load_from_file({artifact}) failed")
    max_batch, max_tokens = 8, 1024
    cp = L.llama_context_default_params()
    cp.n_ctx = max_batch * max_tokens
    cp.n_batch = cp.n_ubatch = 512
    cp.n_seq_max = max_batch
    cp.n_threads = cp.n_threads_batch = threads
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        raise RuntimeError("llama_init_from_model failed")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(512, 0, max_batch)

    def clear():
        if hasattr(L, "llama_memory_clear"):
            L.llama_memory_clear(L.llama_get_memory(ctx), True)
        else:
            L.llama_kv_self_clear(ctx)

    def decode(items):
        """items: (token, pos, seq, want_logits); in chunks of 512; returns argmax per wanted item."""
        picks = []
        for s in range(0, len(items), 512):
            chunk = items[s:s + 512]
            batch.n_tokens = len(chunk)
            wanted = []
            for i, (tok, pos, seq, want) in enumerate(chunk):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, pos, 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 1 if want else 0
                if want:
                    wanted.append(i)
            rc = L.llama_decode(ctx, batch)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            for i in wanted:
                logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, i), shape=(n_vocab,))
                picks.append(int(np.argmax(logits)))
        return picks

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        b, t = ids.shape
        if b > max_batch or t + n_new > max_tokens:
            raise ValueError(f"llama.cpp runner sized for {max_batch} rows of {max_tokens} tokens")
        clear()
        items = [(int(ids[r, p]), p, r, p == t - 1) for r in range(b) for p in range(t)]
        nxt = decode(items)
        out = [nxt]
        for step in range(1, n_new):
            nxt = decode([(nxt[r], t + step - 1, r, True) for r in range(b)])
            out.append(nxt)
        return np.array(out, dtype=np.int64).T

    return generate


# ----------------------------------------------------------------------------- CTranslate2


def prepare_ctranslate2(model_dir: str, work: pathlib.Path, variant: str) -> str:
    out = work / f"ctranslate2-{variant}"
    if _fresh(out, model_dir) and out.exists():
        return str(out)
    shutil.rmtree(out, ignore_errors=True)
    conv = pathlib.Path(sys.executable).parent / "ct2-transformers-converter"
    cmd = [str(conv), "--model", model_dir, "--output_dir", str(out)]
    if variant != "fp32":
        cmd += ["--quantization", variant]
    _run(cmd, "ct2-transformers-converter")
    return _done(out)


def load_ctranslate2(artifact: str, variant: str, threads: int):
    import ctranslate2

    compute = {"fp32": "float32", "int8": "int8_float32"}[variant]
    gen = ctranslate2.Generator(artifact, device="cpu", compute_type=compute, intra_threads=threads, inter_threads=1)
    vocab_file = pathlib.Path(artifact) / "vocabulary.json"
    vocab = json.loads(vocab_file.read_text()) if vocab_file.exists() else \
        (pathlib.Path(artifact) / "vocabulary.txt").read_text().split("\n")
    index = {tok: i for i, tok in enumerate(vocab)}

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        prompts = [[vocab[int(i)] for i in row] for row in ids]
        res = gen.generate_batch(prompts, max_length=n_new, min_length=n_new, sampling_topk=1, beam_size=1,
                                 include_prompt_in_result=False)
        return np.array([[index[tok] for tok in r.sequences[0]] for r in res], dtype=np.int64)

    return generate


# ----------------------------------------------------------------------------- ONNX Runtime GenAI


def prepare_ort_genai(model_dir: str, work: pathlib.Path, variant: str) -> str:
    out = work / f"ort-genai-{variant}"
    if _fresh(out, model_dir) and out.exists():
        return str(out)
    shutil.rmtree(out, ignore_errors=True)
    cache = work / "ort-genai-cache"
    _run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", model_dir, "-o", str(out), "-p", variant,
          "-e", "cpu", "-c", str(cache)], f"onnxruntime_genai.models.builder -p {variant}")
    shutil.rmtree(cache, ignore_errors=True)
    return _done(out)


def load_ort_genai(artifact: str, variant: str, threads: int):
    import onnxruntime_genai as og

    cfg_path = pathlib.Path(artifact) / "genai_config.json"
    cfg = json.loads(cfg_path.read_text())
    so = cfg["model"]["decoder"].setdefault("session_options", {})
    if so.get("intra_op_num_threads") != threads:
        so["intra_op_num_threads"], so["inter_op_num_threads"] = threads, 1
        cfg_path.write_text(json.dumps(cfg, indent=4))
    model = og.Model(artifact)

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        b, t = ids.shape
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=t + n_new, min_length=t + n_new, do_sample=False, batch_size=b)
        g = og.Generator(model, params)
        g.append_tokens(ids.astype(np.int32))
        while not g.is_done():
            g.generate_next_token()
        return np.array([np.asarray(g.get_sequence(r))[t:] for r in range(b)], dtype=np.int64)

    return generate


# ----------------------------------------------------------------------------- Optimum ORTModelForCausalLM


def prepare_optimum_ort(model_dir: str, work: pathlib.Path, variant: str) -> str:
    out = work / f"optimum-ort-{variant}"
    if _fresh(out, model_dir) and out.exists():
        return str(out)
    shutil.rmtree(out, ignore_errors=True)
    from optimum.onnxruntime import ORTModelForCausalLM

    ORTModelForCausalLM.from_pretrained(model_dir, export=True).save_pretrained(str(out))
    return _done(out)


def load_optimum_ort(artifact: str, variant: str, threads: int):
    import onnxruntime
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM

    torch.set_num_threads(threads)
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    model = ORTModelForCausalLM.from_pretrained(artifact, session_options=so, provider="CPUExecutionProvider")

    def generate(ids: np.ndarray, n_new: int) -> np.ndarray:
        x = torch.from_numpy(ids)
        y = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n_new, min_new_tokens=n_new,
                           do_sample=False, pad_token_id=0)
        return y[:, ids.shape[1]:].numpy()

    return generate


def _fn(kind: str, peer: str):
    return globals()[f"{kind}_{peer.replace('.', '_').replace('-', '_')}"]


def prepare(peer: str, model_dir: str, work: pathlib.Path, variant: str) -> str:
    return _fn("prepare", peer)(model_dir, work, variant)


def load(peer: str, artifact: str, variant: str, threads: int):
    return _fn("load", peer)(artifact, variant, threads)
