"""TorchServe 0.12 handler for the serving benchmark, written for transformers 5 (TorchServe's
Hugging Face example handler targets transformers 4 APIs). One forward per TorchServe batch.

model-config.yaml `handler:` section: task (text-embedding | text-classification), threads.
text-embedding answers the sentence-transformers embedding of all-MiniLM-L6-v2 (mean pooling
over the attention mask, L2-normalized); text-classification answers [{"label", "score"}] (top 1),
the shapes optimum-cpp's pipelines answer."""

import json

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer


class BenchHandler:
    def __init__(self):
        self.initialized = False

    def initialize(self, context):
        model_dir = context.system_properties["model_dir"]
        cfg = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
        self.task = cfg.get("task", "text-embedding")
        torch.set_num_threads(int(cfg.get("threads", 1)))
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        cls = AutoModelForSequenceClassification if self.task == "text-classification" else AutoModel
        self.model = cls.from_pretrained(model_dir).eval()
        self.initialized = True

    @staticmethod
    def _text(row):
        body = row.get("data") if row.get("data") is not None else row.get("body")
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if isinstance(body, dict):
            body = body.get("text") or body.get("inputs")
        return str(body)

    def handle(self, data, context):
        texts = [self._text(row) for row in data]
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(**enc)
            if self.task == "text-classification":
                probs = out.logits.softmax(-1)
                scores, ids = probs.max(-1)
                labels = self.model.config.id2label
                return [[{"label": labels[int(i)], "score": float(s)}] for s, i in zip(scores, ids)]
            mask = enc["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return [json.dumps(v) for v in pooled.tolist()]


_service = BenchHandler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
