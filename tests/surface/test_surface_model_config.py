"""model.config as transformers' AutoConfig reads the same folder (attributes,
id2label with int keys, label2id, num_labels, aliases, defaults) that also
reads like a dict; return_dict=False gives transformers' tuple order with the
same values; output_hidden_states / output_attentions are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optimum_cpp as oc
from pipe_zoo import NER_LABELS, TC_LABELS

CASES = [
    ("bert", "text-classification", TC_LABELS),
    ("distilbert", "token-classification", NER_LABELS),
    ("roberta", "question-answering", None),
    ("bert", "feature-extraction", None),
    ("electra", "fill-mask", None),
]
ATTRIBUTES = ["model_type", "num_labels", "id2label", "label2id", "hidden_size", "num_attention_heads",
              "num_hidden_layers", "vocab_size", "pad_token_id", "output_hidden_states", "output_attentions",
              "return_dict", "is_encoder_decoder", "problem_type", "architectures", "max_position_embeddings"]


def load_pair(surface_zoo, family, task, labels):
    import pipe_zoo
    import transformers as T

    folder = surface_zoo(family, task, labels)
    ref_cls = getattr(T, pipe_zoo.HEADS[task])
    ours_cls = {"text-classification": oc.AutoModelForSequenceClassification,
                "token-classification": oc.AutoModelForTokenClassification,
                "question-answering": oc.AutoModelForQuestionAnswering,
                "feature-extraction": oc.AutoModel,
                "fill-mask": oc.AutoModelForMaskedLM}[task]
    return folder, ref_cls.from_pretrained(str(folder)).eval(), ours_cls.from_pretrained(str(folder))


@pytest.mark.parametrize("family,task,labels", CASES, ids=[f"{f}-{t}" for f, t, _ in CASES])
def test_config_matches_autoconfig(surface_zoo, family, task, labels):
    from transformers import AutoConfig

    folder = surface_zoo(family, task, labels)
    ref = AutoConfig.from_pretrained(str(folder))
    ours = oc.AutoModel.from_pretrained(str(folder)).config if task == "feature-extraction" else \
        load_pair(surface_zoo, family, task, labels)[2].config
    for name in ATTRIBUTES:
        assert getattr(ours, name) == getattr(ref, name), name
        assert ours[name] == getattr(ref, name), name
        assert ours.get(name) == getattr(ref, name), name
    assert all(isinstance(k, int) for k in ours.id2label)
    assert "model_type" in ours and "no_such_key" not in ours
    assert ours.get("no_such_key", 7) == 7
    with pytest.raises(AttributeError):
        ours.no_such_key  # noqa: B018
    with pytest.raises(KeyError):
        ours["no_such_key"]  # noqa: B018
    ref_dict = ref.to_dict()
    for key, value in ours.to_dict().items():  # every key of config.json, as transformers' to_dict has it
        assert key in ref_dict and ref_dict[key] == value, key
    ours.num_attention_heads = 8  # writable as transformers' configs are
    assert ours.num_attention_heads == 8 and ours["num_attention_heads"] == 8


@pytest.mark.parametrize("family,task,labels", CASES, ids=[f"{f}-{t}" for f, t, _ in CASES])
def test_return_dict_false_and_hidden_states(surface_zoo, family, task, labels):
    folder, ref, ours = load_pair(surface_zoo, family, task, labels)
    import transformers as T

    tok = T.AutoTokenizer.from_pretrained(str(folder))
    enc = tok(["Paris is the capital of France.", "hello world"], padding=True, return_tensors="pt")
    with torch.no_grad():
        want = ref(**enc, return_dict=False)
    got = ours(**{k: v.numpy() for k, v in enc.items()}, return_dict=False)
    assert isinstance(got, tuple) and len(got) == len(want)
    mask = enc["attention_mask"].numpy().astype(bool)
    for w, g in zip(want, got):
        w = w.numpy()
        assert g.shape == w.shape
        if w.ndim >= 2 and w.shape[:2] == mask.shape:  # per token: padding rows are not compared
            w, g = w[mask], g[mask]
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)
    # torch tensors are accepted as inputs too, and the default is a dict.
    out = ours(**enc)
    with torch.no_grad():
        assert isinstance(out, dict) and list(out.keys()) == list(ref(**enc).keys())
    for option in ("output_hidden_states", "output_attentions"):
        with pytest.raises(oc.UnsupportedError, match=option):
            ours(**enc, **{option: True})
        ours(**enc, **{option: False})
