"""Tiny seeded transformers models exported in bf16 / int8: label agreement of a
trained text classifier and token classifier with transformers fp32, the
accuracy guard's fallback and strict failure on a model made sensitive on
purpose, and the errors bad input gets."""

import json
import shutil

import numpy as np
import pytest
import torch
import transformers as T
from safetensors.numpy import load_file, save_file

import optimum_cpp as oc

from precision_cli import cli

VOCAB = 100
SMALL = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             max_position_embeddings=64)
MIN_AGREEMENT = 0.99  # the guard's threshold
MIN_COSINE = 0.995


def random_batch(rng, n, lo=5, hi=20):
    lens = rng.integers(lo, hi + 1, size=n)
    seq = int(lens.max())
    ids = rng.integers(1, VOCAB, size=(n, seq))
    mask = (np.arange(seq)[None] < lens[:, None]).astype(np.int64)
    ids[mask == 0] = 0
    return ids, mask


def sequence_label(ids, mask):  # 1 when most real tokens are in the lower half of the vocabulary
    return (((ids < VOCAB // 2) & (mask == 1)).sum(1) * 2 > mask.sum(1)).astype(np.int64)


def token_label(ids):  # a per-token rule
    return ids % 3


def train(model, make_labels, steps, seed):
    """A short training run, so that the labels are decided with real margins (a
    random-init head's logits are near-ties that any rounding flips)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        ids, mask = random_batch(rng, 32)
        out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                    labels=torch.tensor(make_labels(ids, mask)))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-trained")
    torch.manual_seed(0)
    models = {
        "text-classification": train(T.BertForSequenceClassification(T.BertConfig(num_labels=2, **SMALL)),
                                     sequence_label, 150, 0),
        "token-classification": train(T.BertForTokenClassification(T.BertConfig(num_labels=3, **SMALL)),
                                      lambda ids, mask: np.where(mask == 1, token_label(ids), -100),
                                      100, 1),
    }
    out = {}
    for task, model in models.items():
        src = root / task
        model.save_pretrained(src)
        out[task] = {"model": model, "src": src}
        for dtype in ("bf16", "int8"):
            dst = root / f"{task}-{dtype}"
            out[task][dtype] = dst
            out[task][dtype + "-stderr"] = cli("export", "--model", src, "--task", task, "--dtype", dtype, dst).stderr
    return out


CLASSES = {"text-classification": oc.AutoModelForSequenceClassification,
           "token-classification": oc.AutoModelForTokenClassification}


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
@pytest.mark.parametrize("task", sorted(CLASSES))
def test_label_agreement_with_transformers(task, dtype, trained):
    ids, mask = random_batch(np.random.default_rng(42), 300)
    with torch.no_grad():
        ref = trained[task]["model"](input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
    got = CLASSES[task].from_pretrained(trained[task][dtype])(input_ids=ids, attention_mask=mask).logits
    if task == "token-classification":  # real tokens only
        ref, got = ref[mask == 1], got[mask == 1]
    top2 = np.sort(ref, axis=-1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    agree = ref.argmax(-1) == got.argmax(-1)
    print(f"{task} {dtype}: top-1 agreement {agree.mean():.4f} over {agree.size} decisions "
          f"({(margin < 0.1).sum()} with an fp32 margin < 0.1); max |logit diff| {np.abs(ref - got).max():.4f}")
    # The model is trained: it decides, and the low-precision export must decide the same.
    truth = sequence_label(ids, mask) if task == "text-classification" else token_label(ids)[mask == 1]
    assert (ref.argmax(-1) == truth).mean() >= 0.8, "the tiny model did not learn its task"
    assert agree.mean() >= MIN_AGREEMENT
    meta = json.loads((trained[task][dtype] / "optimum_export.json").read_text())
    acc = meta["accuracy"]
    assert acc["exported"]["top1_agreement"] >= MIN_AGREEMENT and acc["exported"]["top1_decisions"] > 0
    assert acc["calibration"].startswith("seeded random token ids")
    assert "seeded random token ids" in trained[task][dtype + "-stderr"]


# --- the guard on a model made sensitive to int8 on purpose --------------------------------------

POISONED = "layers.1.ffn_out"


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory):
    """A feature-extraction BERT whose layer-1 FFN has one intermediate unit at ~300
    (bias) that the output projection ignores (zero column): fp32 is unaffected, but
    per-token int8 quantization of ffn_out's input spends its range on that outlier
    and rounds every other activation to zero (LLM.int8()'s outlier problem)."""
    torch.manual_seed(3)
    model = T.BertModel(T.BertConfig(initializer_range=0.2, **SMALL), add_pooling_layer=False).eval()
    with torch.no_grad():
        model.encoder.layer[1].intermediate.dense.bias[7] = 300.0
        model.encoder.layer[1].output.dense.weight[:, 7] = 0.0
    src = tmp_path_factory.mktemp("sensitive") / "src"
    model.save_pretrained(src)
    return model, src


def test_strict_accuracy_fails_naming_the_metric(sensitive, tmp_path):
    _, src = sensitive
    proc = cli("export", "--model", src, "--dtype", "int8", "--strict-accuracy", tmp_path / "out", check=False)
    assert proc.returncode != 0
    assert "accuracy guard failed for --dtype int8: embedding cosine" in proc.stderr and "< 0.995" in proc.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(oc.ValidationError, match=r"embedding cosine 0\.\d+ < 0\.995"):
        oc.AutoModel.from_pretrained(src, export=True, dtype="int8", strict_accuracy=True)


def test_guard_keeps_the_sensitive_layer_in_fp32(sensitive, tmp_path):
    model, src = sensitive
    out = tmp_path / "out"
    proc = cli("export", "--model", src, "--dtype", "int8", "--fallback-dtype", "fp32", out)
    assert f"kept 1 of 8 layer Linears in fp32: {POISONED}" in proc.stderr, proc.stderr
    meta = json.loads((out / "optimum_export.json").read_text())
    acc = meta["accuracy"]
    assert acc["fp32_linears"] == [POISONED]
    assert acc["all_layers"]["min_cosine"] < MIN_COSINE <= acc["exported"]["min_cosine"]
    layout = meta["layout"]["linear_dtypes"]
    assert layout[POISONED] == "fp32" and sum(v == "int8" for v in layout.values()) == 7
    weights = load_file(out / "model.optimum-cpp.safetensors")
    assert weights[POISONED + ".weight"].dtype == np.float32 and POISONED + ".weight_scale" not in weights
    assert weights["layers.1.ffn_in.weight"].dtype == np.int8

    ids, mask = random_batch(np.random.default_rng(7), 40)
    with torch.no_grad():
        ref = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    got = oc.AutoModel.from_pretrained(out)(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask[..., None]
    a, b = (ref * m).sum(1) / m.sum(1), (got * m).sum(1) / m.sum(1)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= MIN_COSINE
    # The same model fully in int8 (direct load, no guard) is visibly off: the guard mattered.
    bad = oc.AutoModel.from_pretrained(src, dtype="int8")(input_ids=ids, attention_mask=mask).last_hidden_state
    c = (bad * m).sum(1) / m.sum(1)
    assert ((a * c).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(c, axis=1)).min() < MIN_COSINE


def test_bf16_is_not_sensitive_to_the_outlier(sensitive, tmp_path):
    _, src = sensitive
    cli("export", "--model", src, "--dtype", "bf16", "--strict-accuracy", tmp_path / "out")
    acc = json.loads((tmp_path / "out" / "optimum_export.json").read_text())["accuracy"]
    assert acc["fp32_linears"] == [] and acc["exported"]["min_cosine"] >= MIN_COSINE


# --- bad input --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("int8-export")
    torch.manual_seed(5)
    T.BertModel(T.BertConfig(**SMALL)).eval().save_pretrained(root / "src")
    cli("export", "--model", root / "src", "--dtype", "int8", root / "out")
    return root / "out"


def rewrite(folder, edit):
    path = folder / "model.optimum-cpp.safetensors"
    tensors = load_file(path)
    edit(tensors)
    save_file(tensors, path, metadata={"format": "optimum-cpp-native", "layout_version": "2"})


def test_missing_scale_tensor(int8_export, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(int8_export, bad)
    rewrite(bad, lambda t: t.pop("layers.0.qkv.weight_scale"))
    with pytest.raises(oc.FormatError, match=r"model\.optimum-cpp\.safetensors lack tensor 'layers\.0\.qkv\.weight_scale'"):
        oc.AutoModel.from_pretrained(bad)


def test_scale_tensor_of_wrong_shape(int8_export, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(int8_export, bad)

    def edit(t):
        t["layers.1.ffn_out.weight_scale"] = t["layers.1.ffn_out.weight_scale"][:-1].copy()

    rewrite(bad, edit)
    with pytest.raises(oc.FormatError, match=r"model\.optimum-cpp\.safetensors: tensor 'layers\.1\.ffn_out\.weight_scale' is "
                                             r"F32 \[31\], expected F32 \[32\]"):
        oc.AutoModel.from_pretrained(bad)


def test_weight_dtype_must_match_the_layout(int8_export, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(int8_export, bad)

    def edit(t):
        t["layers.0.ffn_in.weight"] = t["layers.0.ffn_in.weight"].astype(np.float32)

    rewrite(bad, edit)
    with pytest.raises(oc.FormatError, match=r"'layers\.0\.ffn_in\.weight' is F32 \[64, 32\], expected I8"):
        oc.AutoModel.from_pretrained(bad)
    meta = json.loads((int8_export / "optimum_export.json").read_text())
    meta["layout"]["linear_dtypes"]["layers.0.qkv"] = "fp16"
    shutil.copy(int8_export / "model.optimum-cpp.safetensors", bad / "model.optimum-cpp.safetensors")
    (bad / "optimum_export.json").write_text(json.dumps(meta))
    with pytest.raises(oc.FormatError, match=r"linear_dtypes\['layers\.0\.qkv'\] is 'fp16'"):
        oc.AutoModel.from_pretrained(bad)


def test_layout_version_1_fp32_exports_still_load(tmp_path):
    torch.manual_seed(6)
    model = T.BertModel(T.BertConfig(**SMALL)).eval()
    model.save_pretrained(tmp_path / "src")
    cli("export", "--model", tmp_path / "src", tmp_path / "out")
    meta_path = tmp_path / "out" / "optimum_export.json"
    meta = json.loads(meta_path.read_text())
    assert meta["layout"]["layout_version"] == 2 and meta["dtype"] == "fp32" and "accuracy" not in meta
    meta["layout"]["layout_version"] = 1  # as written before per-Linear precisions existed
    del meta["layout"]["linear_dtypes"]
    meta_path.write_text(json.dumps(meta))
    ids, mask = random_batch(np.random.default_rng(1), 4)
    with torch.no_grad():
        ref = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    got = oc.AutoModel.from_pretrained(tmp_path / "out")(input_ids=ids, attention_mask=mask).last_hidden_state
    assert np.abs(got - ref).max() <= 1e-4
    # An fp32 export loaded with dtype= is packed in that precision.
    low = oc.AutoModel.from_pretrained(tmp_path / "out", dtype="bf16")(input_ids=ids, attention_mask=mask)
    assert 0 < np.abs(low.last_hidden_state - ref).max() < 0.1


def test_calibration_file_errors(int8_export, tmp_path):
    src = int8_export  # any model folder
    proc = cli("export", "--model", src, "--dtype", "int8", "--calibration-file", tmp_path / "none.txt",
               tmp_path / "out", check=False)
    assert proc.returncode != 0 and f"calibration file {tmp_path / 'none.txt'} does not exist" in proc.stderr
    (tmp_path / "empty.txt").write_text("\n  \n")
    proc = cli("export", "--model", src, "--dtype", "int8", "--calibration-file", tmp_path / "empty.txt",
               tmp_path / "out", check=False)
    assert proc.returncode != 0 and "has no text" in proc.stderr


# --- the guard's decisions for every head ------------------------------------------------------------

HEAD_DECISIONS = {
    # task: (transformers class, decisions per calibration sample; None: one per real token)
    "question-answering": (T.BertForQuestionAnswering, 2),  # start and end position
    "multiple-choice": (T.BertForMultipleChoice, 0.5),       # two consecutive samples are the choices
    "fill-mask": (T.BertForMaskedLM, None),
    "feature-extraction": (T.BertModel, 0),
}


@pytest.mark.parametrize("task", sorted(HEAD_DECISIONS))
def test_guard_compares_every_head(task, tmp_path):
    cls, per_sample = HEAD_DECISIONS[task]
    torch.manual_seed(8)
    cls(T.BertConfig(**SMALL)).eval().save_pretrained(tmp_path / "src")
    cli("export", "--model", tmp_path / "src", "--task", task, "--dtype", "bf16", tmp_path / "out")
    acc = json.loads((tmp_path / "out" / "optimum_export.json").read_text())["accuracy"]
    assert acc["samples"] == 64 and acc["exported"]["min_cosine"] >= MIN_COSINE
    if per_sample == 0:
        assert "top1_agreement" not in acc["exported"]
        return
    decisions = acc["exported"]["top1_decisions"]
    if per_sample is None:  # one per real token of the 64 random sequences (4 to 48 tokens)
        assert 64 * 4 <= decisions <= 64 * 48
    else:
        assert decisions == 64 * per_sample
    assert acc["exported"]["top1_agreement"] >= MIN_AGREEMENT


def test_unreadable_tokenizer_falls_back_to_random_ids(tmp_path):
    torch.manual_seed(9)
    T.BertModel(T.BertConfig(**SMALL)).eval().save_pretrained(tmp_path / "src")
    (tmp_path / "src" / "tokenizer.json").write_text('{"model": {"type": "NoSuchModel"}}')
    proc = cli("export", "--model", tmp_path / "src", "--dtype", "bf16", tmp_path / "out")
    acc = json.loads((tmp_path / "out" / "optimum_export.json").read_text())["accuracy"]
    assert acc["calibration"].startswith("seeded random token ids (the tokenizer in")
    assert "could not be loaded" in acc["calibration"] and "could not be loaded" in proc.stderr
