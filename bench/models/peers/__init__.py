"""Peers of bench/models: one module per engine.

Each module has
  VARIANTS                      the precisions it has (subset of fp32, bf16, int8, plus
                                engine-specific graph levels such as fp32-O2)
  available() -> str | None     None when importable, else why not
  prepare(model_dir, work, variant) -> str
                                converts the checkpoint once (cached under work/), returns
                                the artifact path the worker loads (done in the coordinator,
                                so load time in the worker is pure load)
  load(artifact, variant, threads) -> run(input_ids, attention_mask) -> np.ndarray
                                the last hidden state [batch, seq, hidden] (f32 numpy)
"""

PEERS = ["ours", "torch", "ort", "openvino", "ctranslate2"]
MODULES = {p: f"{p}_peer" for p in PEERS}
