"""Run inside optimum-onnx's virtualenv (.venv-bench/onnx) by test_onnx_seq2seq.py: loads optimum-cpp ONNX
export folders with optimum-onnx's ORTModelForSeq2SeqLM (greedy generate) and ORTModelForImageClassification
(logits), all jobs in one interpreter (importing torch costs ~20 s), and prints one JSON object on stdout.

    python ort_seq2seq_child.py REQUEST.json
    REQUEST: {"jobs": [{"kind": "seq2seq", "folder", "input_ids", "attention_mask", "max_new_tokens",
                        "ort_kwargs"} | {"kind": "image-classification", "folder", "pixel_values"}]}
"""

import json
import sys


def main():
    req = json.loads(open(sys.argv[1]).read())
    import optimum.onnxruntime as O
    import torch

    results = []
    for job in req["jobs"]:
        if job["kind"] == "seq2seq":
            model = O.ORTModelForSeq2SeqLM.from_pretrained(job["folder"], **job.get("ort_kwargs", {}))
            ids = torch.tensor(job["input_ids"], dtype=torch.int64)
            mask = torch.tensor(job["attention_mask"], dtype=torch.int64)
            n = job["max_new_tokens"]
            gen = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=n, min_new_tokens=n)
            results.append({"class": type(model).__name__, "merged": bool(getattr(model.decoder, "is_merged", False)),
                            "generated": gen.tolist()})
        else:
            model = O.ORTModelForImageClassification.from_pretrained(job["folder"])
            out = model(pixel_values=torch.tensor(job["pixel_values"], dtype=torch.float32))
            results.append({"class": type(model).__name__, "logits": out.logits.tolist()})
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
