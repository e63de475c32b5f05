"""Run inside optimum-onnx's virtualenv (.venv-bench/onnx) by test_optimum_onnx_load.py: loads an
optimum-cpp ONNX export folder with optimum-onnx's ORTModelFor<Task>, runs its transformers pipeline
(and for causal LMs greedy generate), and prints the results as one JSON object on stdout.

    python optimum_onnx_child.py REQUEST.json      {"folder", "task", "texts", "prompt_ids", "max_new_tokens"}
    python optimum_onnx_child.py --serve           one request per stdin line, one RESULT line each

--serve keeps one interpreter (torch, optimum-onnx and transformers imported once) for a whole
test module: each stdin line is a request as above, answered by one stdout line
`@@RESULT@@ {"ok": true, "result": {...}}` or `@@RESULT@@ {"ok": false, "error": "<traceback>"}`;
everything else the libraries print goes to stderr.
"""

import json
import sys

import numpy as np


def handle(req: dict) -> dict:
    """The results of one request (see the module docstring)."""
    import optimum.onnxruntime as O
    from transformers import AutoTokenizer, pipeline

    cls = {
        "feature-extraction": O.ORTModelForFeatureExtraction,
        "text-classification": O.ORTModelForSequenceClassification,
        "token-classification": O.ORTModelForTokenClassification,
        "question-answering": O.ORTModelForQuestionAnswering,
        "fill-mask": O.ORTModelForMaskedLM,
        "text-generation": O.ORTModelForCausalLM,
    }[req["task"]]
    model = cls.from_pretrained(req["folder"], **req.get("ort_kwargs", {}))
    out = {"class": type(model).__name__, "optimum_onnx": __import__("optimum.onnx").onnx.__version__
           if hasattr(__import__("optimum.onnx").onnx, "__version__") else "",
           "transformers": __import__("transformers").__version__}
    if req["task"] == "text-generation":
        import torch

        ids = torch.tensor([req["prompt_ids"]], dtype=torch.int64)
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=req["max_new_tokens"], min_new_tokens=req["max_new_tokens"])
        out["generated"] = gen[0].tolist()
        return out
    tok = AutoTokenizer.from_pretrained(req["folder"])

    def run(pipe):
        if req["task"] == "question-answering":
            res = [pipe(question=q, context=c) for q, c in req["texts"]]
        else:
            res = pipe(req["texts"])
        return json.loads(json.dumps(res, default=lambda x: np.asarray(x).tolist()))

    out["pipeline"] = run(pipeline(req["task"], model=model, tokenizer=tok))
    if req.get("source"):
        # The PyTorch reference in this venv's transformers (for pipelines transformers 5 removed).
        import transformers

        ref = getattr(transformers, req["reference_class"]).from_pretrained(req["source"]).eval()
        out["reference"] = run(pipeline(req["task"], model=ref, tokenizer=tok))
    return out


def serve():
    """Requests from stdin until it closes; results on the real stdout, library output on stderr."""
    import traceback

    import optimum.onnxruntime  # noqa: F401 (imported while the tests export their first model)
    import transformers  # noqa: F401

    import os

    # Only RESULT lines on the pipe: whatever else writes to fd 1 (Python or native code) goes to stderr.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {"ok": True, "result": handle(json.loads(line))}
        except Exception:  # reported to the test, which fails naming it
            reply = {"ok": False, "error": traceback.format_exc()}
        results.write("@@RESULT@@ " + json.dumps(reply) + "\n")
        results.flush()


def main():
    if sys.argv[1] == "--serve":
        serve()
        return
    print(json.dumps(handle(json.loads(open(sys.argv[1]).read()))))


if __name__ == "__main__":
    main()
