"""``model.config``: config.json with transformers' config attributes and dict reads."""

from __future__ import annotations

import copy
import json

_ATTRIBUTE_MAPS = {
    "distilbert": {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"},
    "gpt2": {"hidden_size": "n_embd", "max_position_embeddings": "n_positions", "num_attention_heads": "n_head",
             "num_hidden_layers": "n_layer"},
}

# PretrainedConfig's defaults for keys a config.json may leave out.
_CONFIG_DEFAULTS = {
    "output_hidden_states": False,
    "output_attentions": False,
    "return_dict": True,
    "is_encoder_decoder": False,
    "is_decoder": False,
    "add_cross_attention": False,
    "problem_type": None,
    "architectures": None,
    "finetuning_task": None,
    "tokenizer_class": None,
    "pad_token_id": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "chunk_size_feed_forward": 0,
}


class PretrainedConfig:
    """``model.config``: config.json as attributes, as transformers' AutoConfig gives them
    (``config.id2label`` with int keys, ``label2id``, ``num_labels``, ``model_type``, the family's
    aliases such as DistilBERT's ``hidden_size`` for ``dim``), that also reads like a dict
    (``config["model_type"]``, ``"id2label" in config``, ``.get``, ``.keys``, ``.to_dict()``)."""

    def __init__(self, raw: dict):
        data = dict(raw) if isinstance(raw, dict) else {}
        id2label = data.get("id2label")
        if isinstance(id2label, dict) and id2label:
            try:
                id2label = {int(k): v for k, v in id2label.items()}
            except (TypeError, ValueError):
                raise ValueError(f"config.json: id2label keys must be integers, got {list(id2label)[:5]}") from None
        else:
            n = data.get("num_labels", 2)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"config.json: num_labels must be a non-negative integer, got {n!r}")
            id2label = {i: f"LABEL_{i}" for i in range(n)}
        label2id = data.get("label2id")
        if isinstance(label2id, dict) and label2id:
            label2id = {k: int(v) for k, v in label2id.items()}
        else:
            label2id = {v: k for k, v in id2label.items()}
        data.pop("num_labels", None)
        data["id2label"] = id2label
        data["label2id"] = label2id
        object.__setattr__(self, "_data", data)

    @property
    def num_labels(self) -> int:
        return len(self._data["id2label"])

    @property
    def attribute_map(self) -> dict:
        return _ATTRIBUTE_MAPS.get(self._data.get("model_type"), {})

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        data = object.__getattribute__(self, "_data")
        key = _ATTRIBUTE_MAPS.get(data.get("model_type"), {}).get(name, name)
        if key in data:
            return data[key]
        if key in _CONFIG_DEFAULTS:
            return _CONFIG_DEFAULTS[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        key = self.attribute_map.get(name, name)
        if key == "id2label":
            value = {int(k): v for k, v in dict(value).items()}
        self._data[key] = value

    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key) -> bool:
        return key in self._data or key == "num_labels" or key in self.attribute_map

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return self._data.keys()

    def items(self):
        return self._data.items()

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict:
        """The configuration as a dict (id2label keys are ints, as transformers' to_dict gives them)."""
        return copy.deepcopy(self._data)

    def to_json_string(self) -> str:
        d = self.to_dict()
        d["id2label"] = {str(k): v for k, v in d["id2label"].items()}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    def __eq__(self, other) -> bool:
        if isinstance(other, PretrainedConfig):
            return self._data == other._data
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"
