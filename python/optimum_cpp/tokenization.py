"""Tokenizers with transformers' calling conventions over the C++ tokenizer.

``AutoTokenizer.from_pretrained(folder | Hub id | folder, gguf_file=NAME)``
returns a ``PreTrainedTokenizer``: ``tok(text)``, ``encode``, ``decode``,
``batch_decode`` and ``apply_chat_template`` named and defaulted as
transformers' tokenizers (``decode`` keeps special tokens unless asked,
``apply_chat_template`` tokenizes and returns a dict unless
``tokenize=False``). The chat template is rendered by the C++ Jinja engine.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np

from . import _C

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


class BatchEncoding(dict):
    """transformers' BatchEncoding: a dict of ``input_ids`` / ``attention_mask`` / ... that also
    allows attribute access (``enc.input_ids``), ``keys()/items()``, ``enc[i]`` for the i-th
    encoding (an ``Encoding``), ``convert_to_tensors`` and ``to(device)`` (CPU only)."""

    def __init__(self, data=None, encodings=None, tensor_type=None):
        super().__init__(data or {})
        self._encodings = encodings
        if tensor_type is not None:
            self.convert_to_tensors(tensor_type)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, item):
        if isinstance(item, str):
            return dict.__getitem__(self, item)
        if isinstance(item, int) and self._encodings is not None:
            return self._encodings[item]
        if isinstance(item, slice):
            return {k: v[item] for k, v in self.items()}
        raise KeyError(f"Invalid key {item!r}: only str keys (or int with encodings) are available")

    def __getstate__(self):
        return {"data": dict(self), "encodings": None}

    def __setstate__(self, state):
        dict.update(self, state["data"])
        self._encodings = None

    @property
    def encodings(self):
        return self._encodings

    def tokens(self, batch_index: int = 0) -> list[str]:
        if not self._encodings:
            raise ValueError("tokens() is not available when using non-fast tokenizers")
        return list(self._encodings[batch_index].tokens)

    def word_ids(self, batch_index: int = 0):
        if not self._encodings:
            raise ValueError("word_ids() is not available when using non-fast tokenizers")
        return list(self._encodings[batch_index].word_ids)

    def sequence_ids(self, batch_index: int = 0):
        if not self._encodings:
            raise ValueError("sequence_ids() is not available when using non-fast tokenizers")
        return list(self._encodings[batch_index].sequence_ids)

    def convert_to_tensors(self, tensor_type="np"):
        """Values as numpy arrays ("np"; rows of different lengths give an object array of rows, as
        transformers gives them) or torch tensors ("pt"; rows of different lengths are refused)."""
        tensor_type = getattr(tensor_type, "value", tensor_type)
        if tensor_type not in ("np", "pt"):
            raise ValueError(f"return_tensors must be 'np' or 'pt' (optimum-cpp runs on numpy), got {tensor_type!r}")
        for key, value in list(self.items()):
            if isinstance(value, np.ndarray) or hasattr(value, "detach"):
                continue
            try:
                if tensor_type == "pt":
                    import torch

                    arr = torch.tensor(value, dtype=torch.int64 if not _flatten_len(value) else None)
                else:
                    if (isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple))
                            and len({len(v) for v in value}) > 1):
                        rows = np.empty(len(value), dtype=object)
                        rows[:] = [np.asarray(v) for v in value]
                        arr = rows
                    else:
                        arr = np.asarray(value, dtype=np.int64 if not _flatten_len(value) else None)
            except ValueError:
                raise ValueError(
                    "Unable to create tensor, you should probably activate truncation and/or padding with "
                    "'padding=True' 'truncation=True' to have batched tensors with the same length. Perhaps your "
                    f"features (`{key}` in this case) have excessive nesting (inputs type `list` where type `int` "
                    "is expected).") from None
            dict.__setitem__(self, key, arr)
        return self

    def to(self, device):
        if str(device) not in ("cpu", "-1"):
            raise ValueError(f"optimum-cpp runs on the CPU: cannot move a BatchEncoding to {device!r}")
        return self


def _to_py(x):
    """Lists of ints from numpy arrays, torch tensors and numpy integers (transformers' to_py_obj)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (list, tuple)):
        return [_to_py(v) for v in x]
    return x


def _flatten_len(value) -> int:
    if isinstance(value, (list, tuple)):
        return sum(_flatten_len(v) for v in value)
    return 1


_INPUT_NAMES_BY_CLASS = {
    **{c: ("input_ids", "token_type_ids", "attention_mask") for c in (
        "BertTokenizer", "ElectraTokenizer", "ConvBertTokenizer", "LayoutLMTokenizer", "SqueezeBertTokenizer",
        "MobileBertTokenizer", "LxmertTokenizer", "MarkupLMTokenizer")},
    **{c: ("input_ids", "attention_mask", "token_type_ids") for c in (
        "CanineTokenizer", "DebertaTokenizer", "DebertaV2Tokenizer", "LayoutLMv2Tokenizer", "TapasTokenizer")},
    "FNetTokenizer": ("input_ids", "token_type_ids"),
}


class PreTrainedTokenizer:
    """A tokenizer with its special tokens and chat template."""

    def __init__(self, native, chat_template: str | None = None, name_or_path: str = "", owner=None):
        self._native = native
        self._owner = owner  # keeps the model that owns `native` alive
        self.chat_template = chat_template
        self.name_or_path = name_or_path
        self.padding_side = native.padding_side
        self.truncation_side = getattr(native, "truncation_side", "right")
        self._config_cache = None
        self._warned_long = False

    # Special tokens -------------------------------------------------------

    @property
    def special_tokens_map(self) -> dict:
        return dict(self._native.special_tokens)

    def _special(self, name):
        return self._native.special_tokens.get(name)

    def _special_id(self, name):
        tok = self._special(name)
        return None if tok is None else self._native.token_to_id(tok)

    bos_token = property(lambda self: self._special("bos_token"))
    eos_token = property(lambda self: self._special("eos_token"))
    pad_token = property(lambda self: self._special("pad_token"))
    unk_token = property(lambda self: self._special("unk_token"))
    bos_token_id = property(lambda self: self._special_id("bos_token"))
    eos_token_id = property(lambda self: self._special_id("eos_token"))
    pad_token_id = property(lambda self: self._special_id("pad_token"))
    unk_token_id = property(lambda self: self._special_id("unk_token"))

    @property
    def model_max_length(self):
        return self._native.model_max_length

    @property
    def vocab_size(self) -> int:
        return self._native.get_vocab_size(False)

    def __len__(self) -> int:
        return self._native.get_vocab_size(True)

    def get_vocab(self) -> dict:
        return self._native.get_vocab(True)

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self._native.token_to_id(tokens)
        return [self._native.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, (int, np.integer)):
            return self._native.id_to_token(int(ids))
        return [self._native.id_to_token(int(i)) for i in ids]

    # Encoding -------------------------------------------------------------

    def encode(self, text: str, text_pair=None, add_special_tokens: bool = True, **kwargs):
        """input_ids of ``text`` (and ``text_pair``), as transformers' encode."""
        ids = self(text, text_pair=text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]
        return ids if kwargs.get("return_tensors") is not None else list(ids)

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        return list(self._native.encode(text, None, add_special_tokens).tokens)

    @property
    def model_input_names(self) -> list[str]:
        """Inputs the model takes, as transformers' tokenizer class names them (token_type_ids only
        for the BERT-like tokenizers): tokenizer_config.json's model_input_names, else by tokenizer_class."""
        cfg = self._config
        names = cfg.get("model_input_names")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return list(names)
        cls = str(cfg.get("tokenizer_class") or "")
        if cls.endswith("Fast"):
            cls = cls[:-4]
        return list(_INPUT_NAMES_BY_CLASS.get(cls, ("input_ids", "attention_mask")))

    @property
    def _config(self) -> dict:
        if self._config_cache is None:
            try:
                raw = json.loads(self._native.tokenizer_config)
            except (AttributeError, ValueError):
                raw = None
            self._config_cache = raw if isinstance(raw, dict) else {}
        return self._config_cache

    def __call__(self, text=None, text_pair=None, add_special_tokens: bool = True, padding=False,
                 truncation=None, max_length=None, stride: int = 0, pad_to_multiple_of=None, padding_side=None,
                 return_tensors=None, return_token_type_ids=None, return_attention_mask=None,
                 return_overflowing_tokens: bool = False, return_special_tokens_mask: bool = False,
                 return_offsets_mapping: bool = False, return_length: bool = False, verbose: bool = True,
                 **kwargs):
        """Tokenize one text (or pair) or a list of them as transformers' fast tokenizers do. Padding
        and truncation apply to this call only (nothing is kept on the tokenizer), so threads may call
        one tokenizer with different settings at once. Returns a ``BatchEncoding``."""
        if kwargs.pop("is_split_into_words", False):
            raise NotImplementedError("optimum-cpp tokenizers do not support is_split_into_words=True "
                                      "(pre-tokenized input): pass the texts as strings")
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        if text is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        batched = isinstance(text, (list, tuple))
        if batched:
            if isinstance(text_pair, str):
                raise TypeError("when tokenizing batches of text, `text_pair` must be a list or tuple with the same "
                                "length as `text`.")
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(f"batch length of `text`: {len(text)} does not match batch length of `text_pair`:"
                                 f" {len(text_pair)}.")
            inputs = list(zip(text, text_pair)) if text_pair is not None else list(text)
        else:
            inputs = [(text, text_pair)] if text_pair else [text]
        for item in inputs:
            for t in item if isinstance(item, tuple) else (item,):
                if not isinstance(t, str):
                    raise ValueError("text input must be of type `str` (single example) or `list[str]` (batch); "
                                     f"got {type(t).__name__} (pre-tokenized input is not supported)")
        padding_strategy, truncation_strategy, max_length = self._strategies(padding, truncation, max_length,
                                                                            pad_to_multiple_of)
        if padding_side is not None and padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        pad = padding_strategy != "do_not_pad"
        encodings = self._native.encode_call(
            inputs, bool(add_special_tokens),
            max_length=max_length if truncation_strategy != "do_not_truncate" else None,
            stride=int(stride), strategy=truncation_strategy if truncation_strategy != "do_not_truncate"
            else "longest_first", truncation_side=self.truncation_side, pad=pad,
            pad_length=max_length if padding_strategy == "max_length" else None,
            pad_to_multiple_of=pad_to_multiple_of, pad_id=self.pad_token_id or 0 if pad else 0,
            pad_type_id=0, pad_token=self.pad_token or "" if pad else "",
            padding_side=padding_side or self.padding_side)
        names = self.model_input_names
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in names
        data = {"input_ids": []}
        if return_token_type_ids:
            data["token_type_ids"] = []
        if return_attention_mask:
            data["attention_mask"] = []
        if return_special_tokens_mask:
            data["special_tokens_mask"] = []
        if return_offsets_mapping:
            data["offset_mapping"] = []
        if return_length:
            data["length"] = []
        rows = []
        mapping = []
        for i, enc in enumerate(encodings):
            group = [enc] + list(enc.overflowing) if return_overflowing_tokens else [enc]
            for e in group:
                rows.append(e)
                mapping.append(i)
        for e in rows:
            data["input_ids"].append(list(e.ids))
            if return_token_type_ids:
                data["token_type_ids"].append(list(e.type_ids))
            if return_attention_mask:
                data["attention_mask"].append(list(e.attention_mask))
            if return_special_tokens_mask:
                data["special_tokens_mask"].append(list(e.special_tokens_mask))
            if return_offsets_mapping:
                data["offset_mapping"].append([tuple(o) for o in e.offsets])
            if return_length:
                data["length"].append(len(e.ids))
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = mapping
        if verbose and truncation_strategy == "do_not_truncate":
            limit = self.model_max_length
            if limit is not None and any(len(r) > limit for r in data["input_ids"]) and not self._warned_long:
                self._warned_long = True
                import logging

                logging.getLogger("optimum_cpp").warning(
                    "Token indices sequence length is longer than the specified maximum sequence length for this "
                    "model (%d > %d). Running this sequence through the model will result in indexing errors",
                    max(len(r) for r in data["input_ids"]), limit)
        if not batched and return_tensors is None and not return_overflowing_tokens:
            data = {k: (v[0] if v and isinstance(v[0], list) else v) for k, v in data.items()}
        out = BatchEncoding(data, encodings=rows)
        if return_tensors is not None:
            out = out.convert_to_tensors(return_tensors)
        return out

    def _strategies(self, padding, truncation, max_length, pad_to_multiple_of):
        """transformers' _get_padding_truncation_strategies: (padding, truncation, max_length)."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        if padding is True:
            padding = "longest"
        elif padding is False or padding is None:
            padding = "do_not_pad"
        padding = getattr(padding, "value", padding)
        if padding not in ("longest", "max_length", "do_not_pad"):
            raise ValueError(f"{padding!r} is not a valid PaddingStrategy, please select one of "
                             "['longest', 'max_length', 'do_not_pad']")
        if truncation is True:
            truncation = "longest_first"
        elif truncation is False or truncation is None:
            truncation = "do_not_truncate"
        truncation = getattr(truncation, "value", truncation)
        if truncation not in ("longest_first", "only_first", "only_second", "do_not_truncate"):
            raise ValueError(f"{truncation!r} is not a valid TruncationStrategy, please select one of "
                             "['only_first', 'only_second', 'longest_first', 'do_not_truncate']")
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 0):
            raise ValueError(f"max_length must be a non-negative integer, got {max_length!r}")
        limit = self.model_max_length
        if max_length is None:
            if padding == "max_length":
                if limit is None:
                    padding = "do_not_pad"
                else:
                    max_length = limit
            if truncation != "do_not_truncate":
                if limit is None:
                    truncation = "do_not_truncate"
                else:
                    max_length = limit
        if padding != "do_not_pad" and self.pad_token is None:
            raise ValueError("Asking to pad but the tokenizer does not have a padding token. Please select a token "
                             "to use as `pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new "
                             "pad token via `tokenizer.add_special_tokens({'pad_token': '[PAD]'})`.")
        if (truncation != "do_not_truncate" and padding != "do_not_pad" and pad_to_multiple_of is not None
                and max_length is not None and max_length % pad_to_multiple_of != 0):
            raise ValueError("Truncation and padding are both activated but truncation length "
                             f"({max_length}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of}).")
        return padding, truncation, max_length

    # Decoding -------------------------------------------------------------

    @property
    def clean_up_tokenization_spaces(self) -> bool:
        return bool(self._config.get("clean_up_tokenization_spaces", False))

    def _decode_one(self, ids, skip_special_tokens, clean_up_tokenization_spaces):
        text = self._native.decode([int(i) for i in ids], bool(skip_special_tokens))
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        if clean and not (self._is_bpe() and not self._config.get(
                "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output")):
            text = (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                    .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                    .replace(" 've", "'ve").replace(" 're", "'re"))
        return text

    def _is_bpe(self) -> bool:
        folder = self.name_or_path
        try:
            with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
                return (json.load(f).get("model") or {}).get("type") == "BPE"
        except (OSError, ValueError, AttributeError):
            return os.path.exists(os.path.join(folder, "merges.txt"))

    def decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None, **kwargs):
        """Text of ``token_ids`` (a list, array or tensor of ids; a batch gives a list of texts, as
        transformers' decode does)."""
        ids = _to_py(token_ids)
        if isinstance(ids, dict):
            ids = ids["input_ids"]
        if isinstance(ids, int):
            ids = [ids]
        if ids and isinstance(ids[0], (list, tuple)):
            return [self._decode_one(s, skip_special_tokens, clean_up_tokenization_spaces) for s in ids]
        return self._decode_one(ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(self, sequences, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None,
                     **kwargs) -> list[str]:
        seqs = _to_py(sequences)
        if isinstance(seqs, dict):
            seqs = seqs["input_ids"]
        return [self._decode_one([s] if isinstance(s, int) else s, skip_special_tokens,
                                 clean_up_tokenization_spaces) for s in seqs]

    # Chat templates -------------------------------------------------------

    def apply_chat_template(self, conversation, tools=None, documents=None, chat_template: str | None = None,
                            add_generation_prompt: bool = False, continue_final_message=False,
                            tokenize: bool = True, padding=False, truncation: bool = False, max_length=None,
                            return_tensors=None, return_dict: bool = True, tokenizer_kwargs=None, **kwargs):
        """Render ``conversation`` (a list of {role, content} dicts, or a list of them) with the chat
        template as transformers does; ``tokenize=False`` returns the text."""
        template = chat_template if chat_template is not None else self.chat_template
        if not template:
            raise ValueError(f"Cannot use chat template functions because tokenizer.chat_template is not set "
                             f"({self.name_or_path})")
        if continue_final_message and add_generation_prompt:
            raise ValueError("continue_final_message and add_generation_prompt are not compatible. Use "
                             "continue_final_message when you want the model to continue the final message, and "
                             "add_generation_prompt when you want to add a header that will prompt it to start a "
                             "new assistant message instead.")
        batched = (isinstance(conversation, (list, tuple)) and len(conversation) > 0
                   and isinstance(conversation[0], (list, tuple)))
        conversations = list(conversation) if batched else [conversation]
        tool_schemas = None
        if tools is not None:
            tool_schemas = []
            for tool in tools:
                if isinstance(tool, dict):
                    tool_schemas.append(tool)
                elif callable(tool):
                    from transformers.utils import get_json_schema

                    tool_schemas.append(get_json_schema(tool))
                else:
                    raise ValueError("Tools should either be a JSON schema, or a callable function with type hints "
                                     "and a docstring suitable for auto-conversion to a schema.")
        variables = {**self.special_tokens_map, **kwargs}
        rendered = []
        for chat in conversations:
            messages = [dict(m) if not isinstance(m, dict) else m for m in chat]
            final = None
            if continue_final_message:
                field = continue_final_message if isinstance(continue_final_message, str) else "content"
                if field not in template:
                    raise ValueError(f'continue_final_message is set to "{field}" but this is not an accepted field '
                                     "in the chat_template")
                messages, final = _tag_final_message(messages, field)
            text = _C.apply_chat_template(template, messages, bool(add_generation_prompt), tools=tool_schemas,
                                          documents=documents, **variables)
            if continue_final_message:
                text = _cut_at_tag(text, final)
            rendered.append(text)
        if not tokenize:
            return rendered if batched else rendered[0]
        out = self(rendered if batched else rendered[0], add_special_tokens=False, padding=padding,
                   truncation=truncation, max_length=max_length, return_tensors=return_tensors,
                   **(tokenizer_kwargs or {}))
        return out if return_dict else out["input_ids"]

    def save_pretrained(self, directory) -> None:
        raise NotImplementedError("save the model with AutoModelForCausalLM.save_pretrained (tokenizer included)")

    def __repr__(self) -> str:
        return f"PreTrainedTokenizer(name_or_path={self.name_or_path!r}, vocab_size={len(self)})"


_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "


def _tag_final_message(messages, field: str):
    """transformers' continue_final_message: the chat with a tag after the final message's text."""
    if not messages:
        raise ValueError("continue_final_message is set but the conversation is empty!")
    messages = copy.deepcopy(messages)
    final = messages[-1].get(field)
    if final is None:
        raise ValueError(f'continue_final_message is set but the final message has no "{field}" to continue!')
    if isinstance(final, (list, tuple)):
        for block in reversed(final):
            if "text" in block:
                final = block["text"]
                block["text"] = block["text"] + _CONTINUE_TAG
                break
        else:
            raise ValueError("continue_final_message is set but we could not find any text to continue in the final "
                             "message!")
    else:
        messages[-1][field] = final + _CONTINUE_TAG
    return messages, final


def _cut_at_tag(text: str, final: str) -> str:
    if final.strip() not in text or _CONTINUE_TAG.strip() not in text:
        raise ValueError("continue_final_message is set but the final message does not appear in the chat after "
                         "applying the chat template! This can happen if the chat template deletes portions of "
                         "the final message. Please verify the chat template and final message in your chat to "
                         f"ensure they are compatible.Final message to continue: {final.strip()}\nRendered chat:\n"
                         f"{text}")
    at = text.rindex(_CONTINUE_TAG.strip())
    if text[at: at + len(_CONTINUE_TAG)] == _CONTINUE_TAG:
        return text[:at]
    return text[:at].rstrip()


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(folder | Hub id, gguf_file=None)`` as in transformers."""

    @classmethod
    def from_pretrained(cls, model_id, *, gguf_file: str | None = None, revision: str | None = None,
                        subfolder: str = "", cache_dir=None, token: str | None = None, force_download: bool = False,
                        local_files_only: bool = False, **kwargs) -> PreTrainedTokenizer:
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        native, template, path = _C.load_tokenizer(str(model_id), gguf_file or "", revision or "", subfolder or "",
                                                   str(cache_dir) if cache_dir else "", token or "",
                                                   force_download, local_files_only)
        return PreTrainedTokenizer(native, template, path)


def _has_tokenizer(folder) -> bool:
    return any(os.path.exists(os.path.join(str(folder), f)) for f in _TOKENIZER_FILES)
