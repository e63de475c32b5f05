"""config.json read the way transformers reads it, and handed to Python without recursion.

* A number beyond double's range (1e400) is inf for Python's json, so
  transformers loads such a config; optimum-cpp loads it too (nlohmann once
  threw out_of_range 406, outside the project's errors) and `model.config`
  keeps inf (a json.dumps/loads round trip turned it into None).
* A config nested up to the C++ limit (1000 levels, src/io/json.cc) loads in
  C++; `model.config` once went through json.loads and raised RecursionError.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import transformers as T

import optimum_cpp as oc

LEVELS = 1000  # io::kMaxJsonDepth: the config object plus 999 nested arrays


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = T.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=20, max_position_embeddings=32)
    d = tmp_path_factory.mktemp("bert-deep")
    T.BertModel(cfg).eval().save_pretrained(d)
    text = (d / "config.json").read_text().rstrip()
    assert text.endswith("}")
    nested = "[" * (LEVELS - 1) + "]" * (LEVELS - 1)
    (d / "config.json").write_text(text[:-1] + f', "initializer_range": 1e400, "extra": {nested}}}')
    return d


def depth(value) -> int:
    n = 0
    while isinstance(value, list):
        n += 1
        value = value[0] if value else None
    return n


def test_out_of_range_number_loads_as_inf_like_transformers(bert_dir, tmp_path):
    shallow = tmp_path / "shallow"
    shallow.mkdir()
    raw = (bert_dir / "config.json").read_text()
    (shallow / "config.json").write_text(raw.replace("[" * (LEVELS - 1) + "]" * (LEVELS - 1), "[]"))
    assert T.AutoConfig.from_pretrained(shallow).initializer_range == math.inf
    model = oc.AutoModel.from_pretrained(bert_dir)
    assert model.config["initializer_range"] == math.inf
    assert model.config["hidden_size"] == 16 and model.config["model_type"] == "bert"


def test_config_nested_to_the_limit_reaches_python(bert_dir):
    with pytest.raises(RecursionError):  # what the wrapper's json.loads did
        json.loads(json.dumps({"extra": "x"}).replace('"x"', "[" * (LEVELS - 1) + "]" * (LEVELS - 1)))
    model = oc.AutoModel.from_pretrained(bert_dir)
    assert depth(model.config["extra"]) == LEVELS - 1
