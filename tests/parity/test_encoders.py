"""optimum-cpp encoder models vs transformers fp32.

For every model_type x head (FAMILIES x HEADS below) a tiny random model is
built with transformers (seeded), saved with save_pretrained (safetensors) and
reloaded as the reference; each is built once per session (cached fixtures).
All 1-D parameters (biases, LayerNorm weights) are randomized too, since
transformers initializes them to 0 / 1.

* test_parity: all outputs of optimum_cpp vs transformers (torch.no_grad, fp32)
  on batch x seq in {1,3,5} x {8,33,96,154} with random right padding,
  compared at every position (padded ones included), max abs diff <= 1e-4.
* test_batch_vs_single: each item of a padded batch equals the item run alone,
  unpadded (optimum_cpp against itself).

Plus explicit position_ids and omitted attention_mask / token_type_ids checks.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import zlib
from typing import Any

import numpy as np
import pytest
import torch

ATOL = 1e-4  # the registry's fp32 ATOL for these tasks (DESIGN.md: Truth)

BATCH_SIZES = (1, 3, 5)
SEQ_LENGTHS = (8, 33, 96, 154)
MAX_SEQ = max(SEQ_LENGTHS)

# --------------------------------------------------------------------------
# Heads: name -> (transformers Auto class, optimum_cpp class, config overrides)
# --------------------------------------------------------------------------

HEADS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "base": ("AutoModel", "AutoModel", {}),
    "seq-cls-single": (
        "AutoModelForSequenceClassification",
        "AutoModelForSequenceClassification",
        {"num_labels": 3, "problem_type": "single_label_classification"},
    ),
    "seq-cls-multi": (
        "AutoModelForSequenceClassification",
        "AutoModelForSequenceClassification",
        {"num_labels": 4, "problem_type": "multi_label_classification"},
    ),
    "seq-cls-regression": (
        "AutoModelForSequenceClassification",
        "AutoModelForSequenceClassification",
        {"num_labels": 1, "problem_type": "regression"},
    ),
    "token-cls": (
        "AutoModelForTokenClassification",
        "AutoModelForTokenClassification",
        {"num_labels": 5},
    ),
    "qa": ("AutoModelForQuestionAnswering", "AutoModelForQuestionAnswering", {}),
    "mlm": ("AutoModelForMaskedLM", "AutoModelForMaskedLM", {}),
    "multiple-choice": ("AutoModelForMultipleChoice", "AutoModelForMultipleChoice", {}),
}

# Outputs whose second axis is the sequence (compared on the first len_i
# positions in the batch-vs-single check); every other output is per row.
TOKEN_LEVEL_OUTPUTS: dict[str, set[str]] = {
    "base": {"last_hidden_state"},
    "token-cls": {"logits"},
    "qa": {"start_logits", "end_logits"},
    "mlm": {"logits"},
}

# --------------------------------------------------------------------------
# Families: model_type -> tiny config + how inputs must be made
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Family:
    model_type: str
    config: dict[str, Any]
    # Per-head config overrides (activation / grouping variants).
    variants: dict[str, dict[str, Any]]
    # Families with a real token-type embedding (type_vocab_size >= 2).
    token_types: bool
    # roberta-like / mpnet: position ids derived from input_ids != pad.
    positions_from_pad: bool


_MPE = MAX_SEQ + 40  # >= 154 + pad offset (roberta-like positions start at pad_id + 1)

FAMILIES: dict[str, Family] = {
    "bert": Family(
        "bert",
        dict(
            vocab_size=131, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=_MPE, type_vocab_size=2,
            pad_token_id=0,
        ),
        variants={
            "token-cls": {"hidden_act": "relu"},
            "mlm": {"hidden_act": "gelu_new"},  # also used by the LM head transform
            "seq-cls-regression": {"layer_norm_eps": 1e-5},
        },
        token_types=True,
        positions_from_pad=False,
    ),
    "roberta": Family(
        "roberta",
        dict(
            vocab_size=250, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=MAX_SEQ + 2 + 8, type_vocab_size=1,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
        ),
        variants={"qa": {"hidden_act": "gelu_new"}},
        token_types=False,
        positions_from_pad=True,
    ),
    "xlm-roberta": Family(
        "xlm-roberta",
        dict(
            vocab_size=300, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=_MPE, type_vocab_size=1,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
        ),
        variants={"seq-cls-multi": {"hidden_act": "relu"}},
        token_types=False,
        positions_from_pad=True,
    ),
    "camembert": Family(
        "camembert",
        dict(
            vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=41, max_position_embeddings=_MPE, type_vocab_size=1,
            pad_token_id=1, bos_token_id=5, eos_token_id=6, layer_norm_eps=1e-5,
        ),
        variants={},
        token_types=False,
        positions_from_pad=True,
    ),
    "distilbert": Family(
        "distilbert",
        dict(
            vocab_size=150, dim=48, n_layers=2, n_heads=4, hidden_dim=37,
            max_position_embeddings=_MPE, pad_token_id=0,
        ),
        variants={
            "mlm": {"activation": "relu"},
            "seq-cls-single": {"activation": "relu"},
        },
        token_types=False,
        positions_from_pad=False,
    ),
    "electra": Family(
        "electra",
        dict(
            vocab_size=120, embedding_size=24, hidden_size=64, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=_MPE,
            type_vocab_size=2, pad_token_id=0,
        ),
        variants={"token-cls": {"hidden_act": "gelu_new"}},
        token_types=True,
        positions_from_pad=False,
    ),
    "albert": Family(
        "albert",
        dict(
            vocab_size=130, embedding_size=24, hidden_size=48, num_hidden_layers=3,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=_MPE,
            type_vocab_size=2, pad_token_id=0, bos_token_id=2, eos_token_id=3,
            num_hidden_groups=1, inner_group_num=1,  # hidden_act default: gelu_new
        ),
        variants={
            "seq-cls-single": {"num_hidden_groups": 2, "inner_group_num": 1},
            "seq-cls-multi": {"num_hidden_groups": 1, "inner_group_num": 2},
            "seq-cls-regression": {"num_hidden_groups": 2, "inner_group_num": 2},
            "token-cls": {"num_hidden_groups": 1, "inner_group_num": 2, "hidden_act": "gelu"},
            "qa": {"num_hidden_groups": 3, "inner_group_num": 1},
            "mlm": {"num_hidden_groups": 1, "inner_group_num": 1, "hidden_act": "gelu"},
            "multiple-choice": {"num_hidden_groups": 2, "inner_group_num": 2, "hidden_act": "relu"},
        },
        token_types=True,
        positions_from_pad=False,
    ),
    "mpnet": Family(
        "mpnet",
        dict(
            vocab_size=110, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=_MPE,
            pad_token_id=1, bos_token_id=0, eos_token_id=2,  # padding_idx is hard-coded 1
            relative_attention_num_buckets=32,
        ),
        variants={"token-cls": {"hidden_act": "relu"}},
        token_types=False,
        positions_from_pad=True,
    ),
}

# transformers' base models with a pooler (AutoModel returns pooler_output).
HAS_POOLER = {"bert", "roberta", "xlm-roberta", "camembert", "albert", "mpnet"}

ALL_CASES = [(mt, head) for mt in FAMILIES for head in HEADS]


def case_id(model_type: str, head: str) -> str:
    return f"{model_type}-{head}"


def stable_seed(*parts: Any) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode()) & 0x7FFFFFFF


# --------------------------------------------------------------------------
# Building the reference models
# --------------------------------------------------------------------------


@dataclasses.dataclass
class RefModel:
    model_type: str
    head: str
    folder: pathlib.Path
    config: Any
    model: torch.nn.Module  # transformers, reloaded from `folder`, fp32, eval
    family: Family

    @property
    def pad_id(self) -> int:
        return int(self.config.pad_token_id)

    @property
    def vocab_size(self) -> int:
        return int(self.config.vocab_size)

    @property
    def max_positions(self) -> int:
        return int(self.config.max_position_embeddings)

    @property
    def is_multiple_choice(self) -> bool:
        return self.head == "multiple-choice"

    @property
    def variant(self) -> str:
        v = self.family.variants.get(self.head, {})
        return ",".join(f"{k}={val}" for k, val in sorted(v.items()))


def _perturb(model: torch.nn.Module, gen: torch.Generator) -> None:
    """transformers inits biases to 0 and LayerNorm weights to 1; randomize all
    1-D parameters so that a weight-loading bug in any of them shows up."""
    with torch.no_grad():
        for _, p in model.named_parameters():  # shared (tied) parameters come once
            if p.ndim == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def build_reference(model_type: str, head: str, root: pathlib.Path) -> RefModel:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    family = FAMILIES[model_type]
    hf_auto, _, head_cfg = HEADS[head]
    cfg_kwargs = dict(family.config)
    cfg_kwargs.update(
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.08,
    )
    if model_type == "distilbert":
        for k in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            cfg_kwargs.pop(k)
        cfg_kwargs.update(dropout=0.0, attention_dropout=0.0)
    cfg_kwargs.update(head_cfg)
    cfg_kwargs.update(family.variants.get(head, {}))

    config = transformers.AutoConfig.for_model(model_type, **cfg_kwargs)
    torch.manual_seed(stable_seed("weights", model_type, head))
    auto_cls = getattr(transformers, hf_auto)
    model = auto_cls.from_config(config, attn_implementation="eager")
    _perturb(model, torch.Generator().manual_seed(stable_seed("perturb", model_type, head)))
    model.eval()

    folder = root / case_id(model_type, head)
    model.save_pretrained(folder, safe_serialization=True)
    assert (folder / "config.json").is_file()
    assert list(folder.glob("*.safetensors")), f"no safetensors written in {folder}"

    ref = auto_cls.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
    ref.eval()

    # The reloaded reference must be the model that was built (guards the
    # save/reload round trip the engine also relies on). Compared on the
    # parameters and buffers, bit for bit: comparing outputs would test
    # torch's GEMM, which is not bit-reproducible run to run on every CPU
    # (AVX2-only EPYC: a single-output head moved by 6e-8 between two calls).
    built, reloaded = model.state_dict(), ref.state_dict()
    assert built.keys() == reloaded.keys(), (
        f"{model_type}/{head}: reload changed the tensor names: "
        f"{sorted(built.keys() ^ reloaded.keys())}")
    for k, t in built.items():
        r = reloaded[k]
        assert t.dtype == r.dtype and t.shape == r.shape, (
            f"{model_type}/{head}: reload changed {k}: {t.dtype}{tuple(t.shape)} -> "
            f"{r.dtype}{tuple(r.shape)}")
        assert torch.equal(t, r), f"{model_type}/{head}: reload changed the values of {k}"

    return RefModel(model_type, head, folder, ref.config, ref, family)


class RefModelCache:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self._cache: dict[tuple[str, str], RefModel] = {}

    def get(self, model_type: str, head: str) -> RefModel:
        key = (model_type, head)
        if key not in self._cache:
            self._cache[key] = build_reference(model_type, head, self.root)
        return self._cache[key]


class EngineModelCache:
    """optimum_cpp models loaded from the saved folders (one load per case)."""

    def __init__(self, module: Any, refs: RefModelCache):
        self.module = module
        self.refs = refs
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, model_type: str, head: str) -> Any:
        key = (model_type, head)
        if key not in self._cache:
            ref = self.refs.get(model_type, head)
            cls_name = HEADS[head][1]
            cls = getattr(self.module, cls_name, None)
            if cls is None:
                raise AssertionError(f"optimum_cpp has no class {cls_name}")
            try:
                self._cache[key] = cls.from_pretrained(str(ref.folder))
            except Exception as e:  # remembered: the second test of the case fails the same way
                self._cache[key] = e
        got = self._cache[key]
        if isinstance(got, Exception):
            raise AssertionError(
                f"optimum_cpp.{HEADS[head][1]}.from_pretrained failed for {model_type}/{head}: "
                f"{type(got).__name__}: {got}"
            ) from got
        return got


@pytest.fixture(scope="session")
def ref_models(tmp_path_factory) -> RefModelCache:
    """Session cache: each model_type x head is built, saved and reloaded once."""
    return RefModelCache(tmp_path_factory.mktemp("parity_models"))


@pytest.fixture(scope="session")
def engine_models(optimum_cpp_module, ref_models) -> EngineModelCache:
    return EngineModelCache(optimum_cpp_module, ref_models)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def make_inputs(
    ref: RefModel,
    batch: int,
    seq: int,
    rng: np.random.Generator,
    num_choices: int | None = None,
    padding: bool = True,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Random right-padded inputs.  Returns (inputs, lengths[batch(, choices)])."""
    rows = batch * (num_choices or 1)
    if padding:
        lengths = rng.integers(1, seq + 1, size=rows)
        lengths[0] = seq  # first row full length
        if rows >= 3:
            lengths[-1] = 1  # and always one row with a single real token
    else:
        lengths = np.full(rows, seq)
    pos = np.arange(seq)[None, :]
    mask = (pos < lengths[:, None]).astype(np.int64)

    pad = ref.pad_id
    if ref.family.positions_from_pad:
        # never the pad id at a real position (position ids come from ids != pad)
        ids = rng.integers(0, ref.vocab_size - 1, size=(rows, seq))
        ids = ids + (ids >= pad)
    else:
        ids = rng.integers(0, ref.vocab_size, size=(rows, seq))
    ids = np.where(mask == 1, ids, pad).astype(np.int64)

    inputs: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": mask}
    if ref.family.token_types:
        assert int(ref.config.type_vocab_size) >= 2
        inputs["token_type_ids"] = (rng.integers(0, 2, size=(rows, seq)) * mask).astype(np.int64)

    shape = (batch, num_choices, seq) if num_choices else (batch, seq)
    inputs = {k: np.ascontiguousarray(v.reshape(shape)) for k, v in inputs.items()}
    lengths = lengths.reshape(shape[:-1])
    return inputs, lengths


def num_choices_for(ref: RefModel, index: int) -> int | None:
    return (2 if index % 2 == 0 else 3) if ref.is_multiple_choice else None


# --------------------------------------------------------------------------
# Running both sides
# --------------------------------------------------------------------------


def run_reference(ref: RefModel, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = ref.model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    return {k: v.detach().cpu().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}


def run_engine(model: Any, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    out = model(**inputs)
    return dict(out.items()) if hasattr(out, "items") else dict(out)


def expected_output_names(ref: RefModel) -> set[str]:
    if ref.head == "base":
        return {"last_hidden_state", "pooler_output"} if ref.model_type in HAS_POOLER else {"last_hidden_state"}
    if ref.head == "qa":
        return {"start_logits", "end_logits"}
    return {"logits"}


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    if not np.all(np.isfinite(d)):
        return float("nan")
    return float(d.max())


def worse(d: float, current: float) -> bool:
    return math.isnan(d) or (not math.isnan(current) and d > current)


def compare_outputs(
    ref_out: dict[str, np.ndarray], got: dict[str, Any], expected: set[str], tag: str
) -> tuple[list[tuple[str, float]], list[str]]:
    """Returns ([(output, diff)], [problems])."""
    diffs: list[tuple[str, float]] = []
    problems: list[str] = []
    if set(ref_out) != expected:
        problems.append(f"{tag}: transformers returned {sorted(ref_out)}, suite expected {sorted(expected)}")
    for name in sorted(expected):
        if name not in got:
            problems.append(f"{tag}: output {name!r} missing (got {sorted(got)})")
            continue
        g = got[name]
        if not isinstance(g, np.ndarray):
            problems.append(f"{tag}: {name} is {type(g).__name__}, not a numpy array")
            g = np.asarray(g)
        if g.dtype != np.float32:
            problems.append(f"{tag}: {name} dtype {g.dtype}, expected float32")
        r = ref_out[name]
        if g.shape != r.shape:
            problems.append(f"{tag}: {name} shape {g.shape}, transformers {r.shape}")
            continue
        diffs.append((name, max_abs_diff(g, r)))
    extra = sorted(set(got) - expected)
    if extra:
        problems.append(f"{tag}: unexpected outputs {extra} (transformers has {sorted(expected)})")
    return diffs, problems


def shape_tag(inputs: dict[str, np.ndarray]) -> str:
    return "x".join(str(s) for s in inputs["input_ids"].shape)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

CASE_IDS = [case_id(mt, h) for mt, h in ALL_CASES]


@pytest.mark.parametrize("model_type,head", ALL_CASES, ids=CASE_IDS)
def test_parity(model_type, head, ref_models, engine_models, parity_results):
    parity_results.atol = ATOL
    m = parity_results.measure(model_type, head, "vs-transformers")
    m.status = "error"
    ref = ref_models.get(model_type, head)
    parity_results.note(model_type, head, ref.variant)
    try:
        model = engine_models.get(model_type, head)
    except Exception as e:
        m.status = f"load error: {type(e).__name__}"
        raise

    expected = expected_output_names(ref)
    worst, where = 0.0, ""
    problems: list[str] = []
    over: list[str] = []
    index = 0
    for batch in BATCH_SIZES:
        for seq in SEQ_LENGTHS:
            rng = np.random.default_rng(stable_seed("inputs", model_type, head, batch, seq))
            inputs, _ = make_inputs(ref, batch, seq, rng, num_choices_for(ref, index))
            index += 1
            tag = shape_tag(inputs)
            ref_out = run_reference(ref, inputs)
            try:
                got = run_engine(model, inputs)
            except Exception as e:
                m.status = f"run error @ {tag}: {type(e).__name__}"
                m.diff = worst if where else None
                raise AssertionError(
                    f"{model_type}/{head}: optimum_cpp raised on inputs {tag}: {type(e).__name__}: {e}"
                ) from e
            diffs, probs = compare_outputs(ref_out, got, expected, tag)
            problems += probs
            for name, d in diffs:
                if worse(d, worst) or not where:
                    worst, where = d, f"{name} @ {tag}"
                if not (d <= ATOL):
                    over.append(f"{name} @ {tag}: max|diff| {d:.3e}")
            m.diff, m.where = worst, where

    m.diff, m.where = worst, where
    m.status = "ok" if not (problems or over) else ("FAIL" if over else "FAIL (outputs)")
    msg = [f"{model_type}/{head}: {len(over)} output(s) over atol {ATOL:g}"] + over + problems
    assert not over and not problems, "\n".join(msg)


@pytest.mark.parametrize("model_type,head", ALL_CASES, ids=CASE_IDS)
def test_batch_vs_single(model_type, head, ref_models, engine_models, parity_results):
    """Item i of a padded batch == item i run alone with no padding."""
    m = parity_results.measure(model_type, head, "batch-vs-single")
    m.status = "error"
    ref = ref_models.get(model_type, head)
    parity_results.note(model_type, head, ref.variant)
    try:
        model = engine_models.get(model_type, head)
    except Exception as e:
        m.status = f"load error: {type(e).__name__}"
        raise

    token_level = TOKEN_LEVEL_OUTPUTS.get(head, set())
    expected = expected_output_names(ref)
    worst, where = 0.0, ""
    over: list[str] = []
    problems: list[str] = []
    for index, (batch, seq) in enumerate(((5, 96), (3, 154), (5, 33))):
        rng = np.random.default_rng(stable_seed("batch-vs-single", model_type, head, batch, seq))
        inputs, lengths = make_inputs(ref, batch, seq, rng, num_choices_for(ref, index + 1))
        batch_out = run_engine(model, inputs)
        missing = expected - set(batch_out)
        if missing:
            problems.append(f"batch {shape_tag(inputs)}: outputs {sorted(missing)} missing")
            continue
        for i in range(batch):
            n = int(np.max(lengths[i]))  # multiple choice: longest choice of the item
            if ref.is_multiple_choice:
                single_in = {k: np.ascontiguousarray(v[i : i + 1, :, :n]) for k, v in inputs.items()}
            else:
                single_in = {k: np.ascontiguousarray(v[i : i + 1, :n]) for k, v in inputs.items()}
            single_out = run_engine(model, single_in)
            for name in sorted(expected):
                if name not in single_out:
                    problems.append(f"single item {i}: output {name!r} missing")
                    continue
                b = np.asarray(batch_out[name])[i : i + 1]
                s = np.asarray(single_out[name])
                if name in token_level:
                    b = b[:, :n]
                if b.shape != s.shape:
                    problems.append(f"{name} item {i}: batch slice {b.shape} vs single {s.shape}")
                    continue
                d = max_abs_diff(b, s)
                tag = f"{name} @ item {i} (len {n}) of {shape_tag(inputs)}"
                if worse(d, worst) or not where:
                    worst, where = d, tag
                if not (d <= ATOL):
                    over.append(f"{tag}: max|diff| {d:.3e}")
        m.diff, m.where = worst, where

    m.diff, m.where = worst, where
    m.status = "ok" if not (over or problems) else "FAIL batch-vs-single"
    assert not over and not problems, "\n".join(
        [f"{model_type}/{head}: batch item != item alone"] + over + problems
    )


def _check_extra(ref, model, cases, measure, label):
    """cases: list of input dicts; compares all outputs vs transformers."""
    expected = expected_output_names(ref)
    worst, where = 0.0, ""
    over: list[str] = []
    problems: list[str] = []
    measure.status = "error"
    for inputs in cases:
        tag = shape_tag(inputs)
        ref_out = run_reference(ref, inputs)
        try:
            got = run_engine(model, inputs)
        except Exception as e:
            measure.status = f"run error: {type(e).__name__}"
            raise AssertionError(
                f"{ref.model_type}/{ref.head} [{label}]: optimum_cpp raised on {sorted(inputs)} {tag}: "
                f"{type(e).__name__}: {e}"
            ) from e
        diffs, probs = compare_outputs(ref_out, got, expected, tag)
        problems += probs
        for name, d in diffs:
            if worse(d, worst) or not where:
                worst, where = d, f"{name} @ {tag}"
            if not (d <= ATOL):
                over.append(f"{name} @ {tag}: max|diff| {d:.3e}")
        measure.diff, measure.where = worst, where
    measure.status = "ok" if not (over or problems) else "FAIL"
    assert not over and not problems, "\n".join(
        [f"{ref.model_type}/{ref.head} [{label}] vs transformers"] + over + problems
    )


POSITION_CASES = [
    ("bert", "base"),
    ("bert", "seq-cls-single"),
    ("roberta", "base"),
    ("distilbert", "base"),
    ("electra", "token-cls"),
    ("mpnet", "base"),
]


@pytest.mark.parametrize("model_type,head", POSITION_CASES, ids=[case_id(*c) for c in POSITION_CASES])
def test_explicit_position_ids(model_type, head, ref_models, engine_models, parity_results):
    """position_ids given explicitly (shifted ranges and arbitrary ids), with padding."""
    ref = ref_models.get(model_type, head)
    measure = parity_results.extra(model_type, head, "explicit position_ids")
    measure.status = "load error"
    model = engine_models.get(model_type, head)
    cases = []
    for batch, seq in ((1, 8), (3, 33), (5, 96), (2, 154)):
        rng = np.random.default_rng(stable_seed("position_ids", model_type, head, batch, seq))
        inputs, _ = make_inputs(ref, batch, seq, rng)
        hi = ref.max_positions
        start = rng.integers(0, hi - seq + 1, size=(batch, 1))
        shifted = start + np.arange(seq)[None, :]
        cases.append({**inputs, "position_ids": np.ascontiguousarray(shifted.astype(np.int64))})
        arbitrary = rng.integers(0, hi, size=(batch, seq))
        cases.append({**inputs, "position_ids": np.ascontiguousarray(arbitrary.astype(np.int64))})
    _check_extra(ref, model, cases, measure, "explicit position_ids")


NO_MASK_CASES = [(mt, "base") for mt in FAMILIES] + [("bert", "seq-cls-single"), ("albert", "qa")]


@pytest.mark.parametrize("model_type,head", NO_MASK_CASES, ids=[case_id(*c) for c in NO_MASK_CASES])
def test_input_ids_only(model_type, head, ref_models, engine_models, parity_results):
    """attention_mask and token_type_ids omitted (transformers: all ones / all zeros)."""
    ref = ref_models.get(model_type, head)
    measure = parity_results.extra(model_type, head, "input_ids only")
    measure.status = "load error"
    model = engine_models.get(model_type, head)
    cases = []
    for batch, seq in ((1, 8), (3, 33), (2, 154)):
        rng = np.random.default_rng(stable_seed("input_ids_only", model_type, head, batch, seq))
        inputs, _ = make_inputs(ref, batch, seq, rng, padding=False)
        cases.append({"input_ids": inputs["input_ids"]})
    _check_extra(ref, model, cases, measure, "input_ids only")


def test_suite_covers_every_case():
    """The grid is what the design asks for: 8 families x 8 heads."""
    assert set(FAMILIES) == {
        "bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "albert", "mpnet",
    }
    assert len(ALL_CASES) == 64
