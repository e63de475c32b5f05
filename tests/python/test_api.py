"""The Python API's behaviour: outputs, errors with clear messages, threads."""

import json
import os
import shutil
import threading

import numpy as np
import pytest
import torch
import transformers as T

import optimum_cpp as oc


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=64, num_labels=3)
    d = tmp_path_factory.mktemp("bert-cls")
    T.BertForSequenceClassification(cfg).eval().save_pretrained(d)
    return d


def test_output_is_mapping_with_attributes(bert_dir):
    model = oc.AutoModelForSequenceClassification.from_pretrained(bert_dir)
    out = model(input_ids=np.array([[1, 5, 7, 2]], dtype=np.int64))
    assert list(out) == ["logits"]
    assert out.logits is out["logits"]
    assert out.logits.shape == (1, 3) and out.logits.dtype == np.float32
    assert model.input_names == ["input_ids", "attention_mask", "token_type_ids", "position_ids"]
    assert len(model.config["id2label"]) == 3 and model.model_type == "bert"


def test_accepts_int32_and_torch_tensors(bert_dir):
    model = oc.AutoModel.from_pretrained(bert_dir)
    ids = np.array([[1, 5, 7, 2]])
    a = model(input_ids=ids.astype(np.int64)).last_hidden_state
    b = model(input_ids=ids.astype(np.int32)).last_hidden_state
    c = model(input_ids=torch.tensor(ids)).last_hidden_state
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_missing_folder_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(oc.NotFoundError, match="nope"):
        oc.AutoModel.from_pretrained(missing)


def test_unknown_model_type_lists_supported(bert_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(bert_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "gpt-neo-x"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.UnsupportedError, match=r"gpt-neo-x.*supported: albert, bert"):
        oc.AutoModel.from_pretrained(d)


def test_missing_required_key_names_it(bert_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(bert_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    del cfg["hidden_size"]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.FormatError, match="hidden_size"):
        oc.AutoModel.from_pretrained(d)


def test_missing_weight_names_it(bert_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(bert_dir, d)
    from safetensors.numpy import load_file, save_file

    tensors = load_file(d / "model.safetensors")
    del tensors["classifier.weight"]
    save_file(tensors, d / "model.safetensors")
    with pytest.raises(oc.NotFoundError, match="classifier.weight"):
        oc.AutoModelForSequenceClassification.from_pretrained(d)


def test_wrong_weight_shape_names_it(bert_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(bert_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["intermediate_size"] = 40
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(oc.FormatError, match=r"intermediate.dense.weight.*\[37, 32\].*\[40, 32\]"):
        oc.AutoModel.from_pretrained(d)


def test_truncated_weights_file(bert_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(bert_dir, d)
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(oc.FormatError, match="model.safetensors"):
        oc.AutoModel.from_pretrained(d)


def test_unknown_task_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'dance'.*known: .*feature-extraction"):
        oc._C.Model(str(tmp_path), "dance", 0)


def test_task_without_head_lists_supported(tmp_path):
    # A known Optimum task the native engine has no head for (summarization -> text2text-generation
    # runs on the encoder-decoder engine since the seq2seq export: AutoModelForSeq2SeqLM).
    with pytest.raises(oc.UnsupportedError, match="automatic-speech-recognition.*supported: feature-extraction"):
        oc._C.Model(str(tmp_path), "automatic-speech-recognition", 0)


def test_optimum_task_synonyms(bert_dir):
    model = oc._C.Model(str(bert_dir), "sequence-classification", 0)
    assert model.task == "text-classification"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_ids": np.array([[1, 500, 2]])}, r"input_ids value 500 at flat index 1 is outside \[0, 120\)"),
        ({"input_ids": np.array([[1, 5, 2]]), "token_type_ids": np.array([[0, 2, 0]])}, "token_type_ids value 2"),
        ({"input_ids": np.array([[1, 5, 2]]), "attention_mask": np.array([[1, 1]])}, "attention_mask.*shape"),
        ({"input_ids": np.array([1, 5, 2])}, r"input_ids.*shape \[3\].*rank 2"),
        ({"input_ids": np.array([[1.5, 2.0]])}, "input_ids.*float64.*integer"),
        ({"input_ids": np.ones((1, 70), dtype=np.int64)}, "sequence length 70 exceeds"),
        ({"input_ids": np.array([[1, 5, 2]]), "attention_mask": np.array([[1, 3, 1]])}, "attention_mask value 3"),
    ],
)
def test_bad_inputs_raise_clear_errors(bert_dir, kwargs, message):
    model = oc.AutoModel.from_pretrained(bert_dir)
    with pytest.raises(ValueError, match=message):
        model(**kwargs)


def test_unexpected_input_name(tmp_path):
    torch.manual_seed(0)
    cfg = T.DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=4, hidden_dim=37)
    T.DistilBertModel(cfg).save_pretrained(tmp_path)
    model = oc.AutoModel.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="unexpected input 'token_type_ids'.*accepted: input_ids, attention_mask, position_ids"):
        model(input_ids=np.array([[1, 2]]), token_type_ids=np.array([[0, 0]]))


def test_threads_share_one_model_and_release_the_gil(bert_dir):
    model = oc.AutoModel.from_pretrained(bert_dir)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 120, size=(2, 40)) for _ in range(8)]
    expected = [model(input_ids=b).last_hidden_state for b in batches]
    results = [None] * len(batches)

    def work(i):
        for _ in range(5):
            results[i] = model(input_ids=batches[i]).last_hidden_state

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_num_threads_setting(bert_dir):
    before = oc.get_num_threads()
    try:
        oc.set_num_threads(1)
        assert oc.get_num_threads() == 1
        with pytest.raises(ValueError):
            oc.set_num_threads(-2)
    finally:
        oc.set_num_threads(before)
    assert os.cpu_count() >= 1
