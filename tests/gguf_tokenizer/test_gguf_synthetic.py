"""Tiny GGUF files written at test time with the `gguf` package, one per
vocabulary kind and architecture the conversion distinguishes (sentencepiece
for llama / phi3 / qwen2 / gemma3, byte-level BPE with and without a split
regex, merges derived from scores, CONTROL / USER_DEFINED tokens), each
compared with transformers' `AutoTokenizer.from_pretrained(dir, gguf_file=)`;
then hostile metadata, which must give a FormatError naming the key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gguftok_common import metadata_of

TEXTS = [
    "",
    "ab abc the",
    "  ab  the\n\nthe c",
    "the THE théé 日本 日本語 🙂",
    "<s>ab</s> <think>the</think> <|endoftext|>the<|im_start|>",
    "x<unk>y <tool> 123 4567",
]


def _bytes_to_unicode() -> dict[int, str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


def write_gguf(path, arch: str, kv: dict) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-6)
    for key, value in kv.items():
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_array(key, value)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def spm_kv(unk: str = "<unk>") -> dict:
    """A sentencepiece vocabulary: specials, 256 byte tokens, a few pieces, a user-defined token."""
    pieces = ["▁", "a", "b", "▁a", "ab", "▁ab", "c", "▁c", "t", "h", "e", "th", "the", "▁the", "  ", "<think>"]
    tokens = [unk, "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) - 1) + [4]
    scores = [0.0] * 259 + [-float(i + 1) for i in range(len(pieces))]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.chat_template": "{% for m in messages %}<s>{{ m['content'] }}</s>{% endfor %}",
    }


def byte_level_kv(with_merges: bool = True, endoftext: str = "<|endoftext|>") -> dict:
    """A byte-level BPE vocabulary: the byte alphabet, merged pieces, control and user-defined tokens."""
    alphabet = [_bytes_to_unicode()[b] for b in range(256)]
    merges = ["Ġ t", "h e", "Ġt he", "t he", "a b", "Ġ a", "Ġa b", "æ Ĺ", "æĹ ¥"]
    merged = ["Ġt", "he", "Ġthe", "the", "ab", "Ġa", "Ġab", "æĹ", "æĹ¥"]
    extra = [endoftext, "<|im_start|>", "<|im_end|>", "<|mis🙂labeled|>", "<tool>", "日本"]
    tokens = alphabet + merged + extra
    n = len(alphabet) + len(merged)
    types = [1] * n + [3, 3, 3, 3, 4, 1]
    kv = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": n + 1,
        "tokenizer.ggml.eos_token_id": n + 2,
        "tokenizer.ggml.padding_token_id": n,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": True,
        "tokenizer.chat_template": "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
    }
    if with_merges:
        kv["tokenizer.ggml.merges"] = merges
    else:
        kv["tokenizer.ggml.scores"] = [0.0] * len(alphabet) + [-float(i) for i in range(len(tokens) - len(alphabet))]
    return kv


CASES = {
    "llama-spm": ("llama", spm_kv()),
    "phi3-spm": ("phi3", spm_kv()),
    "gemma3-spm": ("gemma3", spm_kv()),
    "qwen2-spm": ("qwen2", spm_kv()),
    "llama-bpe": ("llama", byte_level_kv()),
    "llama-bpe-llama3-split": ("llama", dict(byte_level_kv(), **{"tokenizer.ggml.pre": "llama-bpe"})),
    "qwen2-bpe": ("qwen2", dict(byte_level_kv(), **{"tokenizer.ggml.pre": "qwen2"})),
    "qwen3-bpe": ("qwen3", dict(byte_level_kv(), **{"tokenizer.ggml.pre": "qwen2"})),
    "phi3-bpe-no-merges": ("phi3", byte_level_kv(with_merges=False)),
    # No <|endoftext|> in the vocabulary (llama-3 style): GPT2Tokenizer's default gets a new id.
    "llama-bpe-new-ids": ("llama", dict(byte_level_kv(endoftext="<|begin_of_text|>"), **{"tokenizer.ggml.pre": "llama3"})),
    # The pad token is a USER_DEFINED token: Qwen2Tokenizer makes it special, TokenizersBackend does not.
    "qwen2-bpe-user-pad": ("qwen2", dict(byte_level_kv(), **{"tokenizer.ggml.padding_token_id": 256 + 9 + 4})),
    "llama-bpe-user-pad": ("llama", dict(byte_level_kv(), **{"tokenizer.ggml.padding_token_id": 256 + 9 + 4})),
    # No <unk> in a sentencepiece vocabulary: LlamaTokenizer's default gets a new id.
    "llama-spm-no-unk": ("llama", spm_kv(unk="<UNK>")),
    "llama-spm-no-flags": (
        "llama",
        {k: v for k, v in spm_kv().items() if k not in ("tokenizer.ggml.unknown_token_id", "tokenizer.chat_template")},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_synthetic_gguf_equals_transformers(tmp_path, oc, case):
    from transformers import AutoTokenizer

    arch, kv = CASES[case]
    write_gguf(tmp_path / "m.gguf", arch, kv)
    hf = AutoTokenizer.from_pretrained(str(tmp_path), gguf_file="m.gguf")
    metadata = json.dumps(metadata_of(tmp_path / "m.gguf"))
    mine = json.loads(oc.gguf_tokenizer_json(metadata, case))
    assert mine == json.loads(hf.backend_tokenizer.to_str())
    cpp = oc.tokenizer_from_gguf_metadata(metadata, case)
    cpp_file = oc.tokenizer_from_gguf_file(str(tmp_path / "m.gguf"))
    for text in TEXTS:
        for special in (True, False):
            ids = hf(text, add_special_tokens=special)["input_ids"]
            assert cpp.encode(text, add_special_tokens=special).ids == ids, (text, special)
            assert cpp_file.encode(text, add_special_tokens=special).ids == ids, (text, special)
            for skip in (True, False):
                assert cpp.decode(ids, skip) == hf.decode(ids, skip_special_tokens=skip), (text, skip)
    cfg = oc.gguf_tokenizer_config(metadata, case)
    names = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")
    assert cfg["special_tokens"] == {n: getattr(hf, n) for n in names if getattr(hf, n) is not None}
    assert bool(cfg["add_bos_token"]) == bool(hf.add_bos_token)
    assert bool(cfg["add_eos_token"]) == bool(hf.add_eos_token)
    assert cfg["chat_template"] == hf.chat_template
    assert cfg["padding_side"] == hf.padding_side


# ---- hostile metadata -------------------------------------------------------


def base_metadata() -> dict:
    return dict(spm_kv(), **{"general.architecture": "llama"})


def mutate(**changes) -> dict:
    md = base_metadata()
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            md.pop(key, None)
        else:
            md[key] = value
    return md


def _n() -> int:
    return len(spm_kv()["tokenizer.ggml.tokens"])


HOSTILE = {
    "no tokens": (mutate(tokenizer__ggml__tokens=None), "tokenizer.ggml.tokens"),
    "empty tokens": (mutate(tokenizer__ggml__tokens=[]), "tokenizer.ggml.tokens"),
    "tokens not an array": (mutate(tokenizer__ggml__tokens="abc"), "tokenizer.ggml.tokens"),
    "token not a string": (mutate(tokenizer__ggml__tokens=["a", 3, "b"]), "tokenizer.ggml.tokens"),
    "scores too short": (mutate(tokenizer__ggml__scores=[0.0] * (_n() - 1)), "tokenizer.ggml.scores"),
    "score not a number": (mutate(tokenizer__ggml__scores=["x"] * _n()), "tokenizer.ggml.scores"),
    "types too long": (mutate(tokenizer__ggml__token_type=[1] * (_n() + 1)), "tokenizer.ggml.token_type"),
    "type not an integer": (mutate(tokenizer__ggml__token_type=[1.5] * _n()), "tokenizer.ggml.token_type"),
    "bos id out of range": (mutate(tokenizer__ggml__bos_token_id=_n()), "tokenizer.ggml.bos_token_id"),
    "eos id negative": (mutate(tokenizer__ggml__eos_token_id=-1), "tokenizer.ggml.eos_token_id"),
    "unk id not an integer": (mutate(tokenizer__ggml__unknown_token_id="0"), "tokenizer.ggml.unknown_token_id"),
    "pad id huge": (mutate(tokenizer__ggml__padding_token_id=2**40), "tokenizer.ggml.padding_token_id"),
    "no scores and no merges": (mutate(tokenizer__ggml__scores=None), "tokenizer.ggml.scores"),
    "merge without space": (mutate(tokenizer__ggml__merges=["▁a"]), "tokenizer.ggml.merges"),
    "merge with two spaces": (mutate(tokenizer__ggml__merges=["▁ a b"]), "tokenizer.ggml.merges"),
    "merge piece unknown": (mutate(tokenizer__ggml__merges=["▁ zz"]), "tokenizer.ggml.merges"),
    "merge result unknown": (mutate(tokenizer__ggml__merges=["b a"]), "tokenizer.ggml.merges"),
    "merge not a string": (mutate(tokenizer__ggml__merges=[["▁", "a"]]), "tokenizer.ggml.merges"),
    "merges not an array": (mutate(tokenizer__ggml__merges="▁ a"), "tokenizer.ggml.merges"),
    "model not a string": (mutate(tokenizer__ggml__model=1), "tokenizer.ggml.model"),
    "no model": (mutate(tokenizer__ggml__model=None), "tokenizer.ggml.model"),
    "add_bos not a bool": (mutate(tokenizer__ggml__add_bos_token=1), "tokenizer.ggml.add_bos_token"),
    "chat template not a string": (mutate(tokenizer__chat_template=["x"]), "tokenizer.chat_template"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_metadata_is_a_format_error(oc, case):
    md, key = HOSTILE[case]
    text = json.dumps(md)
    for fn in (oc.gguf_tokenizer_json, oc.tokenizer_from_gguf_metadata):
        with pytest.raises(oc.FormatError) as e:
            fn(text, "hostile.gguf")
        assert "hostile.gguf" in str(e.value) and key in str(e.value), str(e.value)


def test_metadata_not_an_object(oc):
    with pytest.raises(oc.FormatError, match="hostile.gguf"):
        oc.gguf_tokenizer_json("[1, 2]", "hostile.gguf")


@pytest.mark.parametrize("model", ["t5", "bert", "rwkv", "gemma4", "none"])
def test_unsupported_tokenizer_model(oc, model):
    text = json.dumps(mutate(tokenizer__ggml__model=model))
    for fn in (oc.gguf_tokenizer_json, oc.gguf_tokenizer_config, oc.tokenizer_from_gguf_metadata):
        with pytest.raises(oc.UnsupportedError) as e:
            fn(text, "m.gguf")
        assert "tokenizer.ggml.model" in str(e.value) and repr(model)[1:-1] in str(e.value)


def test_merge_derivation_is_bounded(oc):
    """A vocabulary whose merges would take hours to derive is refused quickly."""
    md = base_metadata()
    md["tokenizer.ggml.tokens"] = md["tokenizer.ggml.tokens"] + ["a" * 200_000]
    md["tokenizer.ggml.scores"] = md["tokenizer.ggml.scores"] + [-100.0]
    md["tokenizer.ggml.token_type"] = md["tokenizer.ggml.token_type"] + [1]
    with pytest.raises(oc.FormatError, match="tokenizer.ggml.tokens"):
        oc.gguf_tokenizer_json(json.dumps(md), "long.gguf")


def test_gguf_file_errors_name_the_file(tmp_path, oc):
    """From a file: an unsupported tokenizer model and a missing tokenizer name the file and the key."""
    write_gguf(tmp_path / "t5.gguf", "llama", dict(spm_kv(), **{"tokenizer.ggml.model": "t5"}))
    with pytest.raises(oc.UnsupportedError, match=r"t5\.gguf.*tokenizer\.ggml\.model 't5'"):
        oc.tokenizer_from_gguf_file(str(tmp_path / "t5.gguf"))
    write_gguf(tmp_path / "none.gguf", "llama", {})
    with pytest.raises(oc.FormatError, match=r"none\.gguf.*tokenizer\.ggml\.model"):
        oc.tokenizer_from_gguf_file(str(tmp_path / "none.gguf"))
    kv = spm_kv()
    kv["tokenizer.ggml.scores"] = kv["tokenizer.ggml.scores"][:-1]
    write_gguf(tmp_path / "short.gguf", "llama", kv)
    with pytest.raises(oc.FormatError, match=r"short\.gguf.*tokenizer\.ggml\.scores"):
        oc.tokenizer_from_gguf_file(str(tmp_path / "short.gguf"))
