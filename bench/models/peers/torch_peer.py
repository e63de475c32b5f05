"""PyTorch eager through transformers (AutoModel), torch.set_num_threads(threads).

bf16: the model cast to bfloat16; int8: torch.ao.quantization.quantize_dynamic on the
Linear layers (qint8 weights, dynamic u8 activations)."""

from __future__ import annotations

import pathlib

import numpy as np

VARIANTS = ["fp32", "bf16", "int8"]
MISSING: dict[str, str] = {}


def available():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:  # pragma: no cover
        return str(e)
    return None


def prepare(model_dir: str, work: pathlib.Path, variant: str) -> str:
    return model_dir


def imports() -> None:
    import torch  # noqa: F401
    import transformers  # noqa: F401


def load(artifact: str, variant: str, threads: int):
    import torch
    import transformers

    torch.set_num_threads(threads)
    model = transformers.AutoModel.from_pretrained(artifact).eval()
    if variant == "bf16":
        model = model.to(torch.bfloat16)
    elif variant == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        return out.last_hidden_state.float().numpy()

    return run
