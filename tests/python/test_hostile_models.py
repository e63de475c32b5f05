"""Hostile model folders and inputs: native exports whose optimum_export.json or
config.json was edited after export, configs transformers itself refuses, and
inputs transformers' models refuse. Each must give a clear error naming the
file and field (or the input), never a crash, garbage or a long hang; the
reference behaviour is checked against transformers at test time."""

import json
import shutil
import time

import numpy as np
import pytest
import torch
import transformers as T
from safetensors.numpy import load_file, save_file

import optimum_cpp as oc
from model_heads import HEADS

SMALL = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=64)
IDS = np.array([[2, 5, 9, 3]], dtype=np.int64)


def labels(task):
    return 2 if task == "question-answering" else 3  # transformers' QA head is num_labels wide (start, end)


def checkpoint(folder, task, config):
    torch.manual_seed(0)
    model = HEADS[task][0].from_config(config).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Native exports (save_pretrained of a checkpoint) of a tiny BERT, per task, built once."""
    root = tmp_path_factory.mktemp("exports")
    made = {}

    def get(task, model_type="bert"):
        key = (task, model_type)
        if key not in made:
            src, out = root / f"{model_type}-{task}-src", root / f"{model_type}-{task}"
            config = {
                "bert": lambda: T.BertConfig(num_labels=labels(task), **SMALL),
                "albert": lambda: T.AlbertConfig(embedding_size=16, num_hidden_groups=2, inner_group_num=2,
                                                 **{**SMALL, "num_hidden_layers": 4}),
                "electra": lambda: T.ElectraConfig(embedding_size=16, **SMALL),
                "mpnet": lambda: T.MPNetConfig(**SMALL),
            }[model_type]()
            checkpoint(src, task, config)
            HEADS[task][1].from_pretrained(src).save_pretrained(out)
            made[key] = out
        return made[key]

    return get


def edited(folder, dest, record=None, config=None, tensors=None):
    """A copy of `folder` with optimum_export.json, config.json or the weights edited in place by callbacks."""
    shutil.copytree(folder, dest)
    for name, edit in (("optimum_export.json", record), ("config.json", config)):
        if edit is not None:
            data = json.loads((dest / name).read_text())
            edit(data)
            (dest / name).write_text(json.dumps(data))
    if tensors is not None:
        # Native exports keep their weights in model.optimum-cpp.safetensors, checkpoints in model.safetensors.
        name = "model.optimum-cpp.safetensors" if (dest / "model.optimum-cpp.safetensors").exists() else "model.safetensors"
        weights = load_file(dest / name)
        tensors(weights)
        save_file(weights, dest / name, metadata={"format": "pt"})
    return dest


def load(task, folder):
    return HEADS[task][1].from_pretrained(folder)


# ------------------------------------------------------------- head steps


def test_clean_exports_still_load_and_run(exports):
    for task in HEADS:
        ids = IDS[:, None, :].repeat(2, 1) if task == "multiple-choice" else IDS
        out = load(task, exports(task))(input_ids=ids)
        assert all(np.isfinite(v).all() for v in out.values())


def widen_head(weights, name, rows):
    w, b = weights[name + ".weight"], weights[name + ".bias"]
    weights[name + ".weight"] = np.concatenate([w] + [w[:1]] * rows)[: w.shape[0] + rows]
    weights[name + ".bias"] = np.concatenate([b] + [b[:1]] * rows)[: b.shape[0] + rows]


@pytest.mark.parametrize("task, rows, needs", [
    ("question-answering", 1, r"needs 2 \(start and end logits\)"),
    ("question-answering", -1, r"needs 2"),
    ("text-classification", 2, r"needs 3 \(config num_labels\)"),
    ("token-classification", -1, r"needs 3 \(config num_labels\)"),
    ("fill-mask", 5, r"needs 120 \(config vocab_size\)"),
    ("multiple-choice", 1, r"needs 1"),
])
def test_head_width_is_checked_against_the_task(exports, tmp_path, task, rows, needs):
    # Before: a 3-wide QA head was read as pairs (garbage, ASan heap-buffer-overflow when narrower).
    record = json.loads((exports(task) / "optimum_export.json").read_text())
    last = [s for s in record["layout"]["head"]["steps"] if s["kind"] == "linear"][-1]["name"]

    def edit(weights):
        if rows > 0:
            widen_head(weights, last, rows)
        else:
            weights[last + ".weight"] = weights[last + ".weight"][:rows]
            weights[last + ".bias"] = weights[last + ".bias"][:rows]

    folder = edited(exports(task), tmp_path / "m", tensors=edit)
    with pytest.raises(oc.FormatError, match=r"optimum_export\.json: field 'layout\.head\.steps' .*" + needs):
        load(task, folder)


@pytest.mark.parametrize("edit, message", [
    # A step fed rows of the wrong width (the ffn Linear takes hidden 32 -> 37, then QA takes 32).
    (lambda h: h["steps"].insert(0, {"kind": "linear", "name": "layers.0.ffn_in"}),
     r"steps\[1\]' is a Linear of input width 32 fed rows of width 37"),
    (lambda h: h.update(steps=[{"kind": "linear", "name": "layers.0.ffn_in"},
                               {"kind": "norm", "name": "layers.0.attn_norm", "dim": 32}] + h["steps"]),
     r"steps\[1\]\.dim' is 32 but the rows it normalizes have width 37"),
    (lambda h: h.update(steps=[]), r"'layout\.head\.steps' end with width 32; task 'question-answering' needs 2"),
    (lambda h: h.update(input="first_token"), r"'layout\.head\.input' must be 'sequence'"),
    (lambda h: h.update(input="everything"), r"'layout\.head\.input' is 'everything'"),
    (lambda h: h["steps"].append({"kind": "dropout"}), r"'layout\.head\.steps\[1\]\.kind' is 'dropout'"),
    (lambda h: h["steps"][0].update(name=5), r"'layout\.head\.steps\[0\]\.name' must be a string, got 5"),
    (lambda h: h["steps"][0].pop("name"), r"'layout\.head\.steps\[0\]\.name' is missing"),
    (lambda h: h.update(task="text-classification"), r"'layout\.head\.input' must be 'first_token' or 'pooled'"),
    (lambda h: h.update(task=7), r"'layout\.head\.task' must be a string"),
])
def test_head_record_fields_are_checked(exports, tmp_path, edit, message):
    folder = edited(exports("question-answering"), tmp_path / "m", record=lambda r: edit(r["layout"]["head"]))
    with pytest.raises(oc.FormatError, match=r"optimum_export\.json.*" + message):
        load("question-answering", folder)


def test_pooled_head_without_pooler_is_refused(exports, tmp_path):
    def drop(weights):
        del weights["pooler.weight"], weights["pooler.bias"]

    folder = edited(exports("text-classification"), tmp_path / "m", tensors=drop)
    with pytest.raises(oc.FormatError, match=r"'layout\.head\.input' is 'pooled' but the weights have no pooler"):
        load("text-classification", folder)


# ------------------------------------------------------------- layer_order


@pytest.mark.parametrize("order, num_layers, message", [
    ([0] * 100_000, 2, r"layer_order' has 100000 entries but .*config\.json \(num_hidden_layers 2\) runs 2"),
    ([1, 0], 2, r"layer_order\[0\]' is 1 but model_type 'bert' runs layer 0 there"),
    ([0, 2], 2, r"layer_order\[1\]' must be an integer in \[0, 2\), got 2"),
    ([0, -1], 2, r"layer_order\[1\]' must be an integer in \[0, 2\), got -1"),
    ([0, "1"], 2, r"layer_order\[1\]' must be an integer"),
    ("01", 2, r"layer_order' is not a list"),
    ([0, 0], 1, r"num_layers' is 1 but .*config\.json gives 2 distinct layers"),
    ([0, 1], 10**12, r"num_layers' must be an integer in \[0, 65537\)"),
])
def test_layer_order_matches_the_config(exports, tmp_path, order, num_layers, message):
    # Before: a 100,000-entry layer_order ran 100,000 layers (a 4-token forward took minutes).
    def edit(record):
        record["layout"]["layer_order"] = order
        record["layout"]["num_layers"] = num_layers

    folder = edited(exports("feature-extraction"), tmp_path / "m", record=edit)
    start = time.monotonic()
    with pytest.raises(oc.FormatError, match=r"optimum_export\.json: field 'layout\." + message):
        load("feature-extraction", folder)
    assert time.monotonic() - start < 30


def test_albert_shared_layers_export_round_trips(exports):
    # ALBERT runs num_hidden_groups * inner_group_num distinct layers num_hidden_layers times: its plan is accepted.
    folder = exports("feature-extraction", "albert")
    record = json.loads((folder / "optimum_export.json").read_text())["layout"]
    assert record["num_layers"] == 4 and record["layer_order"] == [0, 1, 0, 1, 2, 3, 2, 3]
    ref = T.AutoModel.from_pretrained(folder.parent / (folder.name + "-src")).eval()
    with torch.no_grad():
        want = ref(input_ids=torch.tensor(IDS)).last_hidden_state.numpy()
    np.testing.assert_allclose(load("feature-extraction", folder)(input_ids=IDS).last_hidden_state, want, atol=1e-4)


# ------------------------------------------------------------- other record and config fields


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(dtype=5), r"field 'dtype' must be a string, got 5"),
    (lambda r: r["layout"].update(positions="rotary"), r"'layout\.positions' is 'rotary'"),
    (lambda r: r["layout"].update(uses_token_types="yes"), r"'layout\.uses_token_types' must be true or false"),
    (lambda r: r["layout"].update(uses_token_types=False), r"'layout\.uses_token_types' is false but the weights have"),
    (lambda r: r["layout"].update(norm_eps=[]), r"'layout\.norm_eps' has no number for 'embeddings\.norm'"),
    (lambda r: r["layout"].pop("head"), r"'layout\.head' is missing"),
    (lambda r: r.update(layout=[1, 2]), r"'layout' is not a JSON object"),
])
def test_record_fields_are_typed(exports, tmp_path, edit, message):
    folder = edited(exports("feature-extraction"), tmp_path / "m", record=edit)
    with pytest.raises(oc.FormatError, match=r"optimum_export\.json.*" + message):
        load("feature-extraction", folder)


def test_factorized_export_without_projection_is_refused(exports, tmp_path):
    # embedding_size 16 != hidden_size 32: without the projection the layers would read past the embeddings.
    def drop(weights):
        for k in [k for k in weights if k.startswith("embeddings.project.")]:
            del weights[k]

    folder = edited(exports("feature-extraction", "electra"), tmp_path / "m", tensors=drop)
    with pytest.raises(oc.FormatError, match=r"lacks tensor 'embeddings\.project\.weight'.*embedding_size 16"):
        load("feature-extraction", folder)


def test_mpnet_export_with_too_few_buckets_is_refused(exports, tmp_path):
    # The position bias always indexes 32 buckets (as transformers does): a smaller table was read out of bounds.
    def shrink(weights):
        weights["encoder.relative_attention_bias"] = weights["encoder.relative_attention_bias"][:8].copy()

    folder = edited(exports("feature-extraction", "mpnet"), tmp_path / "m", tensors=shrink,
                    config=lambda c: c.update(relative_attention_num_buckets=8))
    with pytest.raises(oc.FormatError, match=r"relative_attention_num_buckets 8 is below the 32"):
        load("feature-extraction", folder)


def roberta_checkpoint(folder, **overrides):
    torch.manual_seed(0)
    config = T.RobertaConfig(type_vocab_size=1, **SMALL)
    T.RobertaModel(config).eval().save_pretrained(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(overrides)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize("pad", [-5, -(2**40), 64, 2**62])
@pytest.mark.parametrize("exported", [False, True], ids=["checkpoint", "export"])
def test_roberta_pad_token_id_outside_the_position_table(tmp_path, pad, exported):
    # Positions start at pad_token_id: -5 read before the table (garbage), -2**40 crashed.
    reference = roberta_checkpoint(tmp_path / "reference", pad_token_id=pad)
    with pytest.raises(Exception):  # transformers: an index error (-5) or an assertion at load
        with torch.no_grad():
            T.AutoModel.from_pretrained(reference).eval()(input_ids=torch.tensor(IDS))
    if exported:
        oc.AutoModel.from_pretrained(roberta_checkpoint(tmp_path / "src")).save_pretrained(tmp_path / "export")
        folder = tmp_path / "export"
        cfg = json.loads((folder / "config.json").read_text())
        cfg["pad_token_id"] = pad
        (folder / "config.json").write_text(json.dumps(cfg))
    else:
        folder = reference
    with pytest.raises(oc.FormatError, match=rf"config\.json: pad_token_id {pad} is outside \[0, 64\)"):
        oc.AutoModel.from_pretrained(folder)


def test_roberta_positions_past_the_table_are_refused_per_call(tmp_path):
    # pad_token_id 60: real tokens take positions 61, 62, ...; 4 tokens need 65 > 64.
    src = roberta_checkpoint(tmp_path / "src", pad_token_id=60)
    model = oc.AutoModel.from_pretrained(src)
    assert model(input_ids=IDS[:, :3]).last_hidden_state.shape == (1, 3, 32)
    with pytest.raises(oc.InvalidArgumentError, match=r"sequence length 4 exceeds the model's 3 positions"):
        model(input_ids=IDS)


@pytest.mark.parametrize("types", [0, -1])
def test_type_vocab_size_must_be_positive(tmp_path, types):
    # Before: 0 or less silently dropped the token-type embeddings. transformers cannot run such a model.
    torch.manual_seed(0)
    T.BertModel(T.BertConfig(**SMALL)).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["type_vocab_size"] = types
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(Exception):
        with torch.no_grad():
            T.BertModel(T.BertConfig.from_pretrained(tmp_path)).eval()(input_ids=torch.tensor(IDS))
    with pytest.raises(oc.FormatError, match=rf"config\.json: type_vocab_size {types} must be positive"):
        oc.AutoModel.from_pretrained(tmp_path)


# ------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def bert_qa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert-qa")
    return checkpoint(folder, "question-answering", T.BertConfig(**SMALL)), folder


@pytest.mark.parametrize("task", ["feature-extraction", "text-classification", "question-answering",
                                  "multiple-choice"])
def test_empty_batch_is_refused_as_transformers_does(tmp_path, task):
    ref = checkpoint(tmp_path, task, T.BertConfig(num_labels=labels(task), **SMALL))
    shape = (0, 2, 5) if task == "multiple-choice" else (0, 5)
    with pytest.raises(RuntimeError):
        ref(input_ids=torch.zeros(shape, dtype=torch.long))
    with pytest.raises(oc.InvalidArgumentError, match=r"input 'input_ids' has an empty batch \[0"):
        load(task, tmp_path)(input_ids=np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("name", ["input_ids", "token_type_ids", "position_ids"])
def test_bool_ids_are_refused(bert_qa, name):
    ref, folder = bert_qa
    inputs = {"input_ids": IDS, name: np.ones(IDS.shape, dtype=bool)}
    with pytest.raises(RuntimeError, match="int32/int64|Long, Int"):  # torch indexes with int32 / int64 only
        ref(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    with pytest.raises(oc.InvalidArgumentError, match=rf"input '{name}' has dtype bool; expected an integer array"):
        oc.AutoModelForQuestionAnswering.from_pretrained(folder)(**inputs)


def test_bool_attention_mask_is_a_mask(bert_qa):
    # transformers accepts a bool attention_mask: True attends.
    ref, folder = bert_qa
    mask = np.array([[True, True, True, False]])
    model = oc.AutoModelForQuestionAnswering.from_pretrained(folder)
    ours = model(input_ids=IDS, attention_mask=mask)
    np.testing.assert_array_equal(ours.start_logits, model(input_ids=IDS, attention_mask=mask.astype(np.int64)).start_logits)
    with torch.no_grad():
        want = ref(input_ids=torch.from_numpy(IDS), attention_mask=torch.from_numpy(mask)).start_logits.numpy()
    np.testing.assert_allclose(ours.start_logits[:, :3], want[:, :3], atol=1e-4)
