"""Peers of bench/models: one module per engine.

Each module has
  VARIANTS                      the precisions it has (subset of fp32, bf16, int8, plus
                                engine-specific variants such as fp32-O2 or fp32-unpadded)
  MISSING                       {variant: why} for precisions the peer does not have
  VENV (optional)               the virtualenv (relative to the repository root) whose
                                interpreter runs this peer's prepare and worker; absent: the
                                interpreter running bench_models.py (.venv)
  available() -> str | None     None when usable, else why not (runs in the coordinator; it
                                must not import the peer's library when VENV is set)
  prepare(model_dir, work, variant) -> str
                                converts the checkpoint once (cached under work/), returns
                                the artifact path the worker loads (run before the worker
                                starts, in the peer's interpreter, so load time is pure load)
  load(artifact, variant, threads) -> run(input_ids, attention_mask) -> np.ndarray
                                the last hidden state [batch, seq, hidden] (f32 numpy;
                                None for a reference, which has no accuracy check)

prepare/load raise Unavailable when the variant cannot run on this build or machine (e.g. the
engine has no bf16 path yet); the report lists it as "not available", not as a failure.
"""

PEERS = ["ours", "torch", "ort", "openvino", "ctranslate2", "onednn", "base"]
# Timed like the peers, interleaved with them, but a reference rather than an engine: not in
# the ratio tables nor the "fastest peer" of the targets (onednn: the linear layers as raw GEMMs;
# base: optimum-cpp built from another checkout, OPTIMUM_BENCH_BASE, for an A/B of two builds).
REFERENCES = {"onednn", "base"}
MODULES = {p: f"{p}_peer" for p in PEERS}


class Unavailable(RuntimeError):
    """This (peer, variant) cannot run here; the message says why."""
