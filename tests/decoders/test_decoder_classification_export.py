"""Native export of decoder ForSequenceClassification checkpoints (llama,
qwen2, qwen3, mistral, phi3, gemma, gpt2): `_C.export_native` and
`optimum-cpp export --task text-classification`, reloaded through
AutoModelForSequenceClassification and compared with transformers' logits
(last non-pad token) on padded batches; bf16 / int8 with the accuracy guard
judged as the encoders' classifiers are (hidden-state cosine, label
agreement at each text's last token), the record checked against the
reloaded export and transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tokenizers
import torch
import transformers

import optimum_cpp
from optimum_cpp import _C
from decoder_common import LLAMA_LIKE, PAD, VOCAB

ATOL = 1e-4
ROOT = Path(__file__).resolve().parents[2]
LABELS = 3

CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(**LLAMA_LIKE),
    "qwen2": lambda: transformers.Qwen2Config(**LLAMA_LIKE),
    "qwen3": lambda: transformers.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24}),
    "mistral": lambda: transformers.MistralConfig(**{**LLAMA_LIKE, "sliding_window": 6}),
    "phi3": lambda: transformers.Phi3Config(**{**LLAMA_LIKE, "pad_token_id": PAD}),
    "gemma": lambda: transformers.GemmaConfig(**{**LLAMA_LIKE, "head_dim": 16}),
    "gpt2": lambda: transformers.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                                            bos_token_id=1, eos_token_id=2, pad_token_id=PAD),
}

CALIBRATION = [
    "the quick brown fox jumps over the lazy dog",
    "a classifier exported to int8 keeps its labels",
    "we measure the cosine of the hidden states at every position",
    "numbers like 12 and 345 appear in text too",
    "short one",
    "another sentence about weights scales and channels of a linear layer",
    "tokens per second on a loaded machine",
    "left padding and right padding give the same label",
]


def make_classifier(folder: Path, name: str, seed: int = 0):
    """A tiny random <Family>ForSequenceClassification saved by transformers (weights scaled up so the
    layers matter), and the model itself as the oracle."""
    torch.manual_seed(seed + sum(map(ord, name)))
    config = CONFIGS[name]()
    config.num_labels = LABELS
    model = transformers.AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    model = model.to(torch.float32).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.15)
            elif "norm" in n or "ln" in n:
                p.uniform_(0.8, 1.2) if "bias" not in n else p.normal_(0, 0.05)
            else:
                p.normal_(0, 0.05)
    model.save_pretrained(folder)
    return model


def padded(lengths, left, seed):
    g = torch.Generator().manual_seed(seed)
    seq = max(lengths)
    ids = torch.full((len(lengths), seq), PAD, dtype=torch.long)
    mask = torch.zeros((len(lengths), seq), dtype=torch.long)
    for r, n in enumerate(lengths):
        cols = slice(seq - n, seq) if left else slice(0, n)
        ids[r, cols] = torch.randint(3, VOCAB, (n,), generator=g)
        mask[r, cols] = 1
    return ids, mask


def reference_logits(ref, ids, mask, left):
    kwargs = {}
    if left and ref.config.model_type == "gpt2":
        # Learned absolute positions: transformers counts them from the first column unless told.
        kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return ref(ids, attention_mask=mask, **kwargs).logits.numpy()


def meta(folder):
    return json.loads((Path(folder) / "optimum_export.json").read_text())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fp32_export_reloads_equal_to_transformers(tmp_path, name):
    ref = make_classifier(tmp_path / "src", name)
    out = tmp_path / "out"
    r = _C.export_native(str(tmp_path / "src"), str(out))  # task inferred from architectures
    assert r["task"] == "text-classification" and r["dtype"] == "fp32" and r["max_abs_diff"] <= ATOL
    m = meta(out)
    assert m["task"] == "text-classification" and m["validation"]["passed"]
    assert [o["name"] for o in m["outputs"]] == ["logits"]
    assert {c["batch_size"] for c in m["validation"]["cases"]} == {1, 3}
    assert "lm_head" not in m["linear_precisions"]
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(out)
    assert isinstance(ours, optimum_cpp.DecoderForSequenceClassification)
    assert ours.num_labels == LABELS and ours.pad_token_id == PAD
    for left in (False, True):
        ids, mask = padded([9, 3, 6, 9], left=left, seed=7)
        want = reference_logits(ref, ids, mask, left)
        got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
        assert got.shape == want.shape == (4, LABELS)
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


def test_without_pad_token_validates_single_rows(tmp_path):
    ref = make_classifier(tmp_path / "src", "llama")
    cfg = json.loads((tmp_path / "src" / "config.json").read_text())
    cfg["pad_token_id"] = None
    (tmp_path / "src" / "config.json").write_text(json.dumps(cfg))
    _C.export_native(str(tmp_path / "src"), str(tmp_path / "out"), task="text-classification")
    assert {c["batch_size"] for c in meta(tmp_path / "out")["validation"]["cases"]} == {1}
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(tmp_path / "out")
    ids = torch.randint(3, VOCAB, (1, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ref(ids).logits.numpy()
    np.testing.assert_allclose(ours(ids.numpy()).logits, want, atol=ATOL, rtol=0)


def test_errors_name_the_task_and_weight(tmp_path):
    # A causal-LM checkpoint has no score: text-classification names the missing weight.
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA_LIKE)).save_pretrained(tmp_path / "lm")
    with pytest.raises(Exception, match="score.weight"):
        _C.export_native(str(tmp_path / "lm"), str(tmp_path / "x"), task="text-classification")
    assert not (tmp_path / "x").exists()
    # gemma3_text has no text-classification entry (as in Optimum).
    cfg = transformers.Gemma3TextConfig(**{**LLAMA_LIKE, "head_dim": 16})
    cfg.num_labels = 2
    transformers.AutoModelForSequenceClassification.from_config(cfg).save_pretrained(tmp_path / "g3")
    with pytest.raises(Exception, match="text-classification"):
        _C.export_native(str(tmp_path / "g3"), str(tmp_path / "y"), task="text-classification")


def with_tokenizer(folder: Path):
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                             limit_alphabet=40)
    tok.train_from_iterator(CALIBRATION, trainer)
    assert tok.get_vocab_size() <= VOCAB
    tok.save(str(folder / "tokenizer.json"))
    return tok


@pytest.mark.parametrize("name,dtype", [("llama", "bf16"), ("llama", "int8"), ("qwen2", "int8")])
def test_low_precision_export_guard(tmp_path, name, dtype):
    ref = make_classifier(tmp_path / "src", name)
    tok = with_tokenizer(tmp_path / "src")
    out = tmp_path / dtype
    r = _C.export_native(str(tmp_path / "src"), str(out), dtype=dtype, calibration_texts=CALIBRATION)
    acc = json.loads(r["accuracy_json"])
    assert acc == meta(out)["accuracy"] and acc["passed"] and acc["dtype"] == dtype
    assert "metrics" not in acc, "judged as a causal LM"
    # The encoders' classifier thresholds, one label decision per text.
    assert acc["thresholds"]["min_cosine"] == 0.995 and acc["thresholds"]["min_top1_agreement"] == 0.99
    final = acc["exported"]
    assert final["top1_decisions"] == len(CALIBRATION) == acc["samples"]
    assert final["min_cosine"] >= 0.995 and final["top1_agreement"] >= 0.99
    precisions = meta(out)["linear_precisions"]
    assert sum(v == dtype for v in precisions.values()) + len(acc["fallback_linears"]) == acc["layer_linears"]
    # The reloaded export against transformers fp32 on the calibration texts: the figures the
    # record holds (hidden-state cosine per text, label agreement) hold.
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(out)
    base = optimum_cpp.AutoModel.from_pretrained(out)  # the same folder's base model (score ignored)
    same, cosines = 0, []
    for text in CALIBRATION:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        with torch.no_grad():
            want = ref(torch.from_numpy(ids), output_hidden_states=True)
        same += int(ours(ids).logits[0].argmax() == want.logits[0].numpy().argmax())
        got_h, want_h = base(ids).last_hidden_state[0], want.hidden_states[-1][0].numpy()
        cos = (got_h * want_h).sum(-1) / np.linalg.norm(got_h, axis=-1) / np.linalg.norm(want_h, axis=-1)
        cosines.append(cos.mean())
    assert min(cosines) >= final["min_cosine"] - 1e-5
    assert abs(same / len(CALIBRATION) - final["top1_agreement"]) <= 1 / len(CALIBRATION)  # fp32 ties aside


def test_strict_guard_names_the_classifier_metric(tmp_path):
    make_classifier(tmp_path / "src", "llama")
    with pytest.raises(Exception, match="accuracy guard failed for --dtype int8: embedding cosine"):
        _C.export_native(str(tmp_path / "src"), str(tmp_path / "x"), dtype="int8", strict_accuracy=True,
                         min_cosine=0.999999999)
    assert not (tmp_path / "x").exists()


def test_cli_export_text_classification(tmp_path):
    ref = make_classifier(tmp_path / "src", "qwen3")
    cli = ROOT / "build" / "optimum-cpp"
    assert cli.exists(), f"{cli} is not built (cmake --build build --target optimum-cpp)"
    out = tmp_path / "out"
    proc = subprocess.run([str(cli), "export", "--model", str(tmp_path / "src"), "--task", "text-classification",
                           "--dtype", "int8", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(text-classification)" in proc.stderr and "top-1 agreement" in proc.stderr
    assert meta(out)["task"] == "text-classification" and meta(out)["dtype"] == "int8"
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(out)
    ids, mask = padded([7, 4], left=False, seed=3)
    want = reference_logits(ref, ids, mask, False)
    got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
    assert (got.argmax(-1) == want.argmax(-1)).all()
    # fp32 through the CLI: equal to transformers.
    proc = subprocess.run([str(cli), "export", "--model", str(tmp_path / "src"), "--task", "text-classification",
                           str(tmp_path / "fp32")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(tmp_path / "fp32")(
        ids.numpy(), attention_mask=mask.numpy()).logits
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
