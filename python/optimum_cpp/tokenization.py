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
import os

import numpy as np

from . import _C

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


class BatchEncoding(dict):
    """``input_ids`` / ``attention_mask`` by key or attribute, as transformers' BatchEncoding."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class PreTrainedTokenizer:
    """A tokenizer with its special tokens and chat template."""

    def __init__(self, native, chat_template: str | None = None, name_or_path: str = "", owner=None):
        self._native = native
        self._owner = owner  # keeps the model that owns `native` alive
        self.chat_template = chat_template
        self.name_or_path = name_or_path
        self.padding_side = native.padding_side
        self.truncation_side = "right"

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

    def encode(self, text: str, add_special_tokens: bool = True, **kwargs) -> list[int]:
        return list(self(text, add_special_tokens=add_special_tokens, **kwargs)["input_ids"])

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        return list(self._native.encode(text, None, add_special_tokens).tokens)

    def __call__(self, text=None, text_pair=None, add_special_tokens: bool = True, padding=False,
                 truncation=None, max_length=None, return_tensors=None, return_attention_mask: bool = True,
                 padding_side=None, **kwargs):
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        if text is None:
            raise ValueError("You need to specify `text`")
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        pairs = None
        if text_pair is not None:
            pairs = list(text_pair) if batched else [text_pair]
            if len(pairs) != len(texts):
                raise ValueError(f"{len(texts)} texts but {len(pairs)} text pairs")
        for t in texts + (pairs or []):
            if not isinstance(t, str):
                raise TypeError(f"text must be a string or a list of strings, got {type(t).__name__}")
        encs = [self._native.encode(t, None if pairs is None else pairs[i], add_special_tokens)
                for i, t in enumerate(texts)]
        ids = [list(e.ids) for e in encs]
        if truncation not in (None, False, "do_not_truncate"):
            limit = max_length if max_length is not None else self.model_max_length
            if limit is not None:
                ids = [r[:limit] if self.truncation_side == "right" else r[len(r) - limit:] if len(r) > limit else r
                       for r in ids]
        masks = [[1] * len(r) for r in ids]
        if padding not in (False, None, "do_not_pad"):
            if padding == "max_length":
                if max_length is None:
                    raise ValueError("padding='max_length' needs max_length")
                width = max_length
            else:
                width = max((len(r) for r in ids), default=0)
            pad = self.pad_token_id
            if pad is None:
                raise ValueError("Asking to pad but the tokenizer does not have a padding token")
            side = padding_side or self.padding_side
            for i, r in enumerate(ids):
                n = width - len(r)
                if n > 0:
                    ids[i] = [pad] * n + r if side == "left" else r + [pad] * n
                    masks[i] = [0] * n + masks[i] if side == "left" else masks[i] + [0] * n
        out = BatchEncoding(input_ids=ids if batched else ids[0])
        if return_attention_mask:
            out["attention_mask"] = masks if batched else masks[0]
        if return_tensors is not None:
            if return_tensors not in ("np", "pt"):
                raise ValueError(f"return_tensors must be 'np' or 'pt', got {return_tensors!r}")
            if len({len(r) for r in ids}) > 1:
                raise ValueError("Unable to create tensors of sequences of different lengths: use padding=True")
            for k in list(out):
                arr = np.asarray(out[k] if batched else [out[k]], dtype=np.int64)
                if return_tensors == "pt":
                    import torch

                    arr = torch.from_numpy(arr)
                out[k] = arr
        return out

    # Decoding -------------------------------------------------------------

    def decode(self, token_ids, skip_special_tokens: bool = False, **kwargs) -> str:
        ids = np.asarray(token_ids).reshape(-1).tolist() if not isinstance(token_ids, list) else token_ids
        return self._native.decode([int(i) for i in ids], skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **kwargs) -> list[str]:
        return [self.decode(s, skip_special_tokens=skip_special_tokens) for s in sequences]

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
