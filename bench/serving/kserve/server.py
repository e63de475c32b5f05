"""KServe 0.21 Python model server for the serving benchmark: a kserve.Model per model wrapping
transformers 5 (the all-MiniLM-L6-v2 sentence-transformers embedding by mean pooling + L2 norm,
and the sequence classifier), served on the KServe v1 REST route POST /v1/models/<name>:predict
with {"instances": [text, ...]}. One uvicorn worker; torch gets --threads intra-op threads.

  python server.py --http-port P --threads 2 --model minilm=text-embedding=DIR --model ...
"""

import argparse
import logging

import kserve
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer


class TransformersModel(kserve.Model):
    def __init__(self, name: str, task: str, folder: str):
        super().__init__(name)
        self.task, self.folder = task, folder
        self.load()

    def load(self) -> bool:
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        cls = AutoModelForSequenceClassification if self.task == "text-classification" else AutoModel
        self.model = cls.from_pretrained(self.folder).eval()
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        texts = [str(t) for t in payload["instances"]]
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(**enc)
            if self.task == "text-classification":
                scores, ids = out.logits.softmax(-1).max(-1)
                labels = self.model.config.id2label
                return {"predictions": [[{"label": labels[int(i)], "score": float(s)}] for s, i in zip(scores, ids)]}
            mask = enc["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return {"predictions": torch.nn.functional.normalize(pooled, p=2, dim=1).tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", action="append", required=True, help="name=task=folder")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = []
    for spec in args.model:
        name, task, folder = spec.split("=", 2)
        models.append(TransformersModel(name, task, folder))
    server = kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1,
                                enable_grpc=False, enable_latency_logging=False)
    logging.disable(logging.INFO)  # no per-request access/latency lines (as for TorchServe)
    server.start(models)


if __name__ == "__main__":
    main()
