"""Validation of an export against the source framework (transformers), as Optimum validates
its ONNX exports: the exported folder and the source checkpoint run on Optimum's grid (batch
sizes 1, 3, 5 x sequence lengths 8, 33, 96, 154, clamped to the model's positions) with random
right padding, and every output of the export must be within the registry's ATOL of
transformers' output of the same name (token-level outputs compared on real tokens).

The export runs where it would run for a user: a native folder in the optimum-cpp engine, an
ONNX folder (``model.onnx``) in ONNX Runtime when ``onnxruntime`` is importable. The result is
recorded in the folder's ``optimum_export.json`` under ``validation.transformers`` (the
transformers / torch / onnxruntime versions, ATOL, the max abs diff per output and per case),
and ``validation.references`` lists every reference the export was checked against
(``"engine"`` for the engine-vs-engine check export always runs).

Python::

    from optimum_cpp.validate import validate_export
    validate_export("path/to/checkpoint", "path/to/export")       # raises ValidationError

    AutoModel.from_pretrained("path/to/checkpoint", export=True, validate="transformers")

Command line (what ``optimum-cpp export --validate transformers`` and ``optimum-cpp validate`` run)::

    python -m optimum_cpp.validate --model path/to/checkpoint path/to/export

Exit status: 0 passed, 1 validation failed (the message names the output and the difference),
3 the reference is unavailable (torch / transformers not importable; with ``--reference auto``
the record says so and the status is 0), 2 any other error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

GRID_BATCH_SIZES = (1, 3, 5)
GRID_SEQUENCE_LENGTHS = (8, 33, 96, 154)
NUM_CHOICES = 4
RECORD = "optimum_export.json"
EXIT_FAILED, EXIT_ERROR, EXIT_UNAVAILABLE = 1, 2, 3

# Families whose positions start past the padding index (RoBERTa's create_position_ids_from_input_ids).
_POSITIONS_FROM_PADDING = {"roberta", "xlm-roberta", "camembert", "data2vec-text", "xlm-roberta-xl", "longformer",
                           "mpnet", "ernie_m", "luke", "markuplm"}

# transformers Auto class per task (Optimum's TasksManager names).
_AUTO_CLASS = {
    "feature-extraction": "AutoModel",
    "sentence-similarity": "AutoModel",
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "fill-mask": "AutoModelForMaskedLM",
    "multiple-choice": "AutoModelForMultipleChoice",
    "text-generation": "AutoModelForCausalLM",
}


class ReferenceUnavailable(RuntimeError):
    """torch / transformers (the reference) cannot be imported."""


def _validation_error(message: str) -> Exception:
    try:
        from ._C import ValidationError
    except ImportError:  # the package without its extension: still a clear error
        return RuntimeError(message)
    return ValidationError(message)


def reference_versions() -> dict[str, str]:
    """Versions of the reference packages; ReferenceUnavailable names what is missing."""
    versions = {}
    for name in ("torch", "transformers"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception as e:  # ImportError, or a broken install raising anything else
            raise ReferenceUnavailable(
                f"{name} is not importable by {sys.executable} ({type(e).__name__}: {e}): "
                "validation against transformers needs torch and transformers") from e
    return versions


def onnxruntime_version() -> str | None:
    try:
        import onnxruntime
    except Exception:
        return None
    return onnxruntime.__version__


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _canonical_task(task: str) -> str:
    task = task.replace("-with-past", "")
    synonyms = {"default": "feature-extraction", "sequence-classification": "text-classification",
                "causal-lm": "text-generation", "masked-lm": "fill-mask"}
    return synonyms.get(task, task)


def grid_lengths(config: dict, model_type: str, lengths=GRID_SEQUENCE_LENGTHS) -> list[int]:
    """The grid's sequence lengths clamped to the model's positions (RoBERTa-style positions
    start past the padding index)."""
    limit = int(config.get("max_position_embeddings") or config.get("n_positions") or 1 << 20)
    if model_type in _POSITIONS_FROM_PADDING:
        limit -= int(config.get("pad_token_id") or 0) + 1
    out = []
    for n in lengths:
        n = max(1, min(int(n), limit))
        if n not in out:
            out.append(n)
    return out


def make_inputs(config: dict, task: str, input_names, batch: int, seq: int, rng: np.random.Generator,
                decoder: bool) -> dict[str, np.ndarray]:
    """Random ids with random right padding (the first row unpadded), as Optimum's dummy inputs
    with padding: real tokens avoid the pad id, padding holds it."""
    vocab = int(config["vocab_size"])
    pad = config.get("pad_token_id")
    pad = 0 if pad is None else int(pad)
    shape = (batch, NUM_CHOICES, seq) if task == "multiple-choice" else (batch, seq)
    ids = rng.integers(0, vocab, size=shape, dtype=np.int64)
    ids[ids == pad] = (pad + 1) % vocab
    lengths = rng.integers(1, seq + 1, size=shape[:-1])
    lengths.reshape(-1)[0] = seq
    mask = (np.arange(seq) < lengths[..., None]).astype(np.int64)
    ids = np.where(mask == 1, ids, pad)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in input_names:
        types = int(config.get("type_vocab_size") or 1)
        inputs["token_type_ids"] = np.where(mask == 1, rng.integers(0, types, size=shape), 0).astype(np.int64)
    if decoder and "position_ids" in input_names:
        inputs["position_ids"] = np.clip(np.cumsum(mask, axis=-1) - 1, 0, None).astype(np.int64)
    return inputs


class _Reference:
    """The source checkpoint in transformers (fp32, eval, eager attention)."""

    def __init__(self, model: str, task: str, revision: str | None, subfolder: str):
        import torch
        import transformers

        self.torch = torch
        cls = getattr(transformers, _AUTO_CLASS[task])
        kwargs = {"revision": revision} if revision else {}
        if subfolder:
            kwargs["subfolder"] = subfolder
        try:
            self.model = cls.from_pretrained(model, dtype=torch.float32, attn_implementation="eager", **kwargs).eval()
        except TypeError:  # older transformers: torch_dtype
            self.model = cls.from_pretrained(model, torch_dtype=torch.float32, **kwargs).eval()

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
        with torch.no_grad():
            out = self.model(**feed, return_dict=True, **({"use_cache": False} if "position_ids" in feed else {}))
        return {k: v.float().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}


class _Native:
    """A native optimum-cpp export in the engine."""

    runtime = "optimum-cpp engine"

    def __init__(self, export_dir: Path, task: str, decoder: bool):
        import optimum_cpp

        if decoder:
            self.model = optimum_cpp.AutoModelForCausalLM.from_pretrained(str(export_dir))
        else:
            cls = {
                "text-classification": optimum_cpp.AutoModelForSequenceClassification,
                "token-classification": optimum_cpp.AutoModelForTokenClassification,
                "question-answering": optimum_cpp.AutoModelForQuestionAnswering,
                "fill-mask": optimum_cpp.AutoModelForMaskedLM,
                "multiple-choice": optimum_cpp.AutoModelForMultipleChoice,
            }.get(task, optimum_cpp.AutoModel)
            self.model = cls.from_pretrained(str(export_dir))
        self.decoder = decoder
        self.input_names = (["input_ids", "attention_mask", "position_ids"] if decoder
                            else list(self.model.input_names))

    def __call__(self, inputs):
        if self.decoder:
            return dict(self.model(inputs["input_ids"], inputs["attention_mask"]))
        return dict(self.model(**{k: v for k, v in inputs.items() if k in self.input_names}))


class _Onnx:
    """model.onnx in ONNX Runtime (CPU); a decoder's past inputs are empty (past length 0)."""

    def __init__(self, export_dir: Path, config: dict):
        import onnxruntime as ort

        self.runtime = f"onnxruntime {ort.__version__}"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(export_dir / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.input_names = [i.name for i in self.inputs]
        heads = int(config.get("num_attention_heads") or config.get("n_head") or 1)
        self.kv_heads = int(config.get("num_key_value_heads") or heads)
        hidden = int(config.get("hidden_size") or config.get("n_embd") or 0)
        self.head_dim = int(config.get("head_dim") or (hidden // heads if heads else 0))

    def __call__(self, inputs):
        batch = inputs["input_ids"].shape[0]
        feed = {}
        for i in self.inputs:
            if i.name in inputs:
                feed[i.name] = inputs[i.name]
            elif i.name.startswith("past_key_values."):
                dtype = np.float16 if "float16" in i.type else np.float32
                dims = [d if isinstance(d, int) else None for d in i.shape]
                kv = dims[1] if len(dims) > 1 and dims[1] is not None else self.kv_heads
                hd = dims[3] if len(dims) > 3 and dims[3] is not None else self.head_dim
                feed[i.name] = np.zeros((batch, kv, 0, hd), dtype=dtype)
            else:
                raise _validation_error(f"model.onnx input '{i.name}' has no validation value (inputs given: "
                                        f"{sorted(inputs)})")
        names = [o.name for o in self.session.get_outputs()]
        outs = self.session.run(None, feed)
        return {n: np.asarray(v, dtype=np.float32) for n, v in zip(names, outs) if not n.startswith("present.")}


def _max_diff(ref: np.ndarray, got: np.ndarray, mask: np.ndarray, name: str, where: str) -> float:
    if ref.shape != got.shape:
        raise _validation_error(f"export validation against transformers failed: output '{name}' has shape "
                                f"{list(got.shape)} in the export but {list(ref.shape)} in transformers ({where})")
    if not np.all(np.isfinite(got)):
        raise _validation_error(f"export validation against transformers failed: output '{name}' of the export "
                                f"contains NaN or inf ({where})")
    diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
    # Token-level outputs: real tokens only (padding positions are free in every runtime).
    if diff.ndim >= mask.ndim and diff.shape[:mask.ndim] == mask.shape:
        diff = diff[mask.astype(bool)]
    return float(diff.max()) if diff.size else 0.0


def validate_export(model, export_dir, *, task: str | None = None, atol: float | None = None,
                    reference: str = "transformers", batch_sizes=GRID_BATCH_SIZES,
                    sequence_lengths=GRID_SEQUENCE_LENGTHS, revision: str | None = None, subfolder: str = "",
                    seed: int = 0, write_record: bool = True) -> dict[str, Any]:
    """Compare the export in ``export_dir`` with transformers running ``model`` (the source folder
    or Hub id) on the grid; returns the record written under ``validation.transformers``.

    ``reference``: "transformers" (ReferenceUnavailable when torch / transformers are missing) or
    "auto" (then the record says why and the engine check stays the only reference). Raises
    ``optimum_cpp.ValidationError`` naming the output, the case and the difference beyond ``atol``
    (default: the registry's ATOL for the model type); the failure is recorded too."""
    if reference not in ("transformers", "auto"):
        raise ValueError(f"reference must be 'transformers' or 'auto', got {reference!r}")
    export_dir = Path(export_dir)
    record_path = export_dir / RECORD
    meta = _read_json(record_path)
    config = _read_json(export_dir / "config.json")
    if not config:
        raise FileNotFoundError(f"{export_dir / 'config.json'} is missing: not an export folder")
    model_type = meta.get("model_type") or config.get("model_type", "")
    onnx = (export_dir / "model.onnx").is_file()
    task = _canonical_task(task or meta.get("task") or "feature-extraction")
    if task not in _AUTO_CLASS:
        raise ValueError(f"validation against transformers does not cover task '{task}' "
                         f"(covered: {sorted(_AUTO_CLASS)})")
    decoder = task == "text-generation"

    def record(entry: dict) -> dict:
        if write_record:
            validation = meta.setdefault("validation", {})
            validation["transformers"] = entry
            refs = [r for r in validation.get("references", []) if not r.startswith(("transformers", "onnxruntime"))]
            if not onnx and "reference" in validation and "engine" not in refs:
                refs.insert(0, "engine")
            if "reference" in entry:
                refs.append(entry["reference"])
            validation["references"] = refs
            tmp = record_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
            os.replace(tmp, record_path)
        return entry

    try:
        versions = reference_versions()
    except ReferenceUnavailable as e:
        if reference == "transformers":
            raise
        return record({"skipped": str(e), "passed": None,
                       "note": "validated against the engine only" if not onnx else "not validated"})
    if onnx:
        ort = onnxruntime_version()
        if ort is None:
            if reference == "transformers":
                raise ReferenceUnavailable(f"{export_dir / 'model.onnx'} needs onnxruntime to run: "
                                           f"onnxruntime is not importable by {sys.executable}")
            return record({"skipped": "onnxruntime is not importable: model.onnx not run", "passed": None})
    if atol is None:
        from ._C import export_config

        atol = float(export_config(model_type, task)["atol"])  # the registry's ATOL (Optimum's ATOL_FOR_VALIDATION)
    ref = _Reference(str(model), task, revision, subfolder)
    cand = _Onnx(export_dir, config) if onnx else _Native(export_dir, task, decoder)
    entry = {
        "reference": f"transformers {versions['transformers']}",
        "transformers_version": versions["transformers"],
        "torch_version": versions["torch"],
        "runtime": cand.runtime,
        "grid": {"batch_sizes": list(batch_sizes), "sequence_lengths": grid_lengths(config, model_type, sequence_lengths),
                 "padding": "random right padding; token-level outputs compared on real tokens"},
        "atol": atol,
        "max_abs_diff": 0.0,
        "max_abs_diff_per_output": {},
        "cases": [],
        "not_compared": [],
        "passed": True,
    }
    if onnx:
        entry["onnxruntime_version"] = cand.runtime.split()[-1]
    rng = np.random.default_rng(seed)
    for batch in entry["grid"]["batch_sizes"]:
        for seq in entry["grid"]["sequence_lengths"]:
            inputs = make_inputs(config, task, cand.input_names, batch, seq, rng, decoder)
            want = ref(inputs)
            got = cand(inputs)
            where = f"batch {batch} x sequence {seq}"
            compared = [n for n in got if n in want]
            # Outputs transformers' Auto class does not produce (recorded, not compared).
            entry["not_compared"] = sorted(set(entry.get("not_compared", [])) | (set(got) - set(want)))
            if not compared:
                raise _validation_error(f"export validation against transformers: none of the export's outputs "
                                        f"{sorted(got)} is an output of transformers' {_AUTO_CLASS[task]} "
                                        f"({sorted(want)})")
            for name in compared:
                d = _max_diff(want[name], got[name], inputs["attention_mask"], name, where)
                entry["cases"].append({"batch_size": batch, "sequence_length": seq, "output": name, "max_abs_diff": d})
                per = entry["max_abs_diff_per_output"]
                per[name] = max(per.get(name, 0.0), d)
                entry["max_abs_diff"] = max(entry["max_abs_diff"], d)
                if not d <= atol:
                    entry["passed"] = False
                    entry["failure"] = {"output": name, "batch_size": batch, "sequence_length": seq,
                                        "max_abs_diff": d}
                    record(entry)
                    raise _validation_error(
                        f"export validation against {entry['reference']} failed: output '{name}' differs by "
                        f"{d:.6g} > atol {atol:g} at {where} ({cand.runtime} on {export_dir})")
    return record(entry)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m optimum_cpp.validate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="source checkpoint: local folder or Hub id")
    p.add_argument("--task", default=None, help="task (default: the export record's)")
    p.add_argument("--atol", type=float, default=None, help="tolerance (default: the registry's ATOL)")
    p.add_argument("--reference", default="transformers", choices=["transformers", "auto"])
    p.add_argument("--revision", default=None)
    p.add_argument("--subfolder", default="")
    p.add_argument("--batch-sizes", default=",".join(map(str, GRID_BATCH_SIZES)))
    p.add_argument("--sequence-lengths", default=",".join(map(str, GRID_SEQUENCE_LENGTHS)))
    p.add_argument("export_dir")
    a = p.parse_args(argv)
    try:
        entry = validate_export(a.model, a.export_dir, task=a.task, atol=a.atol, reference=a.reference,
                                batch_sizes=[int(x) for x in a.batch_sizes.split(",")],
                                sequence_lengths=[int(x) for x in a.sequence_lengths.split(",")],
                                revision=a.revision, subfolder=a.subfolder)
    except ReferenceUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except Exception as e:
        failed = type(e).__name__ == "ValidationError"
        print(f"error: {e}" if failed else f"error: validation against transformers: {type(e).__name__}: {e}",
              file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_ERROR
    if entry.get("passed"):
        per = ", ".join(f"{k} {v:.3g}" for k, v in entry["max_abs_diff_per_output"].items())
        print(f"validated against {entry['reference']} ({entry['runtime']}): max abs diff {per} <= atol "
              f"{entry['atol']:g} on {len(entry['cases'])} cases")
    else:
        print(f"not validated against transformers: {entry.get('skipped')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
