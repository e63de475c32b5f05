"""ONNX export shared by the ONNX Runtime and OpenVINO peers.

optimum-onnx 0.1.0 (the optimum ONNX exporter) needs transformers < 4.58, so the export is
torch.onnx (TorchScript exporter, opset 17) of transformers' AutoModel with eager
attention, dynamic batch and sequence axes, output last_hidden_state."""

from __future__ import annotations

import pathlib


def export(model_dir: str, work: pathlib.Path) -> pathlib.Path:
    out = work / "onnx" / "model.onnx"
    if out.exists():
        return out
    import torch
    import transformers

    out.parent.mkdir(parents=True, exist_ok=True)
    model = transformers.AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    ids = torch.ones(2, 16, dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tmp = out.with_suffix(".tmp.onnx")
    with torch.inference_mode():
        torch.onnx.export(
            Wrap(model),
            (ids, mask),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"},
            },
            opset_version=17,
            dynamo=False,
        )
    tmp.rename(out)
    return out


def hidden_and_heads(model_dir: str) -> tuple[int, int]:
    import json

    cfg = json.loads((pathlib.Path(model_dir) / "config.json").read_text())
    return int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
