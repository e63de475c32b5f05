"""models::load_gguf_checkpoint against transformers' GGUF loading: the config
dict equal to load_gguf_checkpoint(path)["config"] (and the config classes
built from it equal to AutoConfig.from_pretrained(dir, gguf_file=...)), and
every weight bit-identical to load_gguf_checkpoint(path, return_tensors=True,
model_to_load=model)["tensors"] -- on the two real models and on tiny files of
every supported architecture written here from transformers' own parameter
names through gguf-py's tensor-name map (what llama.cpp's converter does)."""

import json
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from gguf_common import GEMMA3, SMOLLM2, gguf_reader, models_dir, write_gguf_file
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

from optimum_cpp import _C

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "refcache"))
import gguf_reference  # noqa: E402  (transformers' GGUF loading, converted once and cached on disk)

# Config keys the decoder engine reads.
ENGINE_KEYS = [
    "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_parameters", "vocab_size",
    "max_position_embeddings", "tie_word_embeddings", "sliding_window", "layer_types", "bos_token_id",
    "eos_token_id", "pad_token_id", "hidden_act", "hidden_activation", "query_pre_attn_scalar",
    "final_logit_softcapping", "attn_logit_softcapping", "attention_bias", "mlp_bias",
]


def transformers_checkpoint(folder, name, cached=False):
    """(AutoConfig, load_gguf_checkpoint's dict with tensors), as from_pretrained loads them; `cached`:
    from the on-disk conversion of transformers' own loading (the real files, converted once)."""
    if cached:
        return gguf_reference.load_config(folder / name), gguf_reference.load_checkpoint(folder / name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    ref = load_gguf_checkpoint(str(folder / name), return_tensors=True, model_to_load=model)
    return config, ref


def check_against_transformers(folder, name, cached=False):
    config_json, weights, extra = _C.gguf_checkpoint(str(folder / name))
    ours = json.loads(config_json)
    hf_config, ref = transformers_checkpoint(folder, name, cached)
    assert ours == ref["config"]
    # The config class built from our dict is the one from_pretrained builds.
    rebuilt = AutoConfig.for_model(**ours).to_dict()
    expected = hf_config.to_dict()
    for key in ENGINE_KEYS:
        assert rebuilt.get(key) == expected.get(key), key
    # The token ids the file gives; one it lacks is the config class's default.
    generation = json.loads(extra["generation_config"])
    expected_generation = GenerationConfig.from_model_config(hf_config).to_diff_dict()
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if key in ours:
            assert generation[key] == expected_generation[key], key
        else:
            assert key not in generation and expected_generation.get(key) == getattr(type(hf_config)(), key, None)
    assert json.loads(extra["tokenizer_config"]) == ref["tokenizer_config"]
    assert sorted(weights) == sorted(ref["tensors"])
    for key, tensor in ref["tensors"].items():
        assert weights[key].dtype == np.float32
        assert np.array_equal(weights[key], tensor.numpy()), key
    return ours, weights


@pytest.fixture(autouse=True)
def shared_reader(monkeypatch):
    """transformers parses each file two or three times with gguf.GGUFReader
    (config, then tensors): the same real reader, parsed once per session."""
    monkeypatch.setattr(gguf, "GGUFReader", lambda path, *args, **kwargs: gguf_reader(path))


@pytest.mark.parametrize("model", [SMOLLM2, GEMMA3])
def test_real_model(model):
    config, weights = check_against_transformers(models_dir(), model, cached=True)
    assert config["model_type"] == {SMOLLM2: "llama", GEMMA3: "gemma3_text"}[model]


# Tiny files of every architecture: (GGUF arch, HF config, extra metadata).
ARCHS = {
    "llama": ("llama", dict(head_dim=16), {"rope.dimension_count": 16}),
    "qwen2": ("qwen2", {}, {}),
    "qwen3": ("qwen3", dict(head_dim=16), {}),
    "gemma3": ("gemma3_text", dict(head_dim=16, sliding_window=8),
               {"attention.key_length": 16, "attention.sliding_window": 8}),
    "phi3": ("phi3", {}, {}),
}


def write_arch_file(path, arch, tie, rng):
    model_type, extra_config, extra_meta = ARCHS[arch]
    n_layers, hidden, heads, kv_heads, inter, vocab = 2, 64, 4, 2, 128, 96
    config = AutoConfig.for_model(
        model_type, hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=heads,
        num_key_value_heads=kv_heads, intermediate_size=inter, vocab_size=vocab, tie_word_embeddings=tie,
        bos_token_id=1, eos_token_id=2, pad_token_id=0, **extra_config,
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    gguf_arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    name_map = gguf.get_tensor_name_map(gguf_arch, n_layers)

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny {arch}")
    for key, value in {"context_length": 128, "embedding_length": hidden, "block_count": n_layers,
                       "feed_forward_length": inter, "attention.head_count": heads,
                       "attention.head_count_kv": kv_heads, **extra_meta}.items():
        w.add_uint32(f"{arch}.{key}", value)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_float32(f"{arch}.rope.freq_base", 50000.0)
    w.add_token_list([f"t{i}" for i in range(vocab)])  # vocab_size comes from the token list
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    if arch != "gemma3":  # gemma3's file goes without, as its config class defaults it in range
        w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    w.add_chat_template("{{ messages }}")
    for i, (hf_name, p) in enumerate(model.state_dict().items()):
        if tie and hf_name == "lm_head.weight":
            continue
        base, suffix = hf_name.rsplit(".", 1)
        data = rng.standard_normal(tuple(p.shape)).astype(np.float32)
        if hf_name.endswith("norm.weight"):
            data += 1
        name = f"{name_map.get_name(base)}.{suffix}"
        if data.ndim == 2 and i % 2:  # half of the matrices quantized
            w.add_tensor(name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, data)
    # Tensors the HF model has no parameter for: left out by both.
    w.add_tensor("rope_freqs.weight", np.ones(8, np.float32))
    w.add_tensor(f"blk.{n_layers}.attn_norm.weight", np.ones(hidden, np.float32))
    write_gguf_file(w)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_architecture(tmp_path, arch):
    tie = arch in ("gemma3", "qwen3")
    write_arch_file(tmp_path / "tiny.gguf", arch, tie, np.random.default_rng(len(arch)))
    config, weights = check_against_transformers(tmp_path, "tiny.gguf")
    assert config["tie_word_embeddings"] == tie and ("lm_head.weight" in weights) == (not tie)
    assert "model.layers.1.input_layernorm.weight" in weights
    assert not any(k.startswith("model.layers.2.") for k in weights)


def test_supported_list():
    assert _C.gguf_supported_architectures() == ["gemma3", "llama", "phi3", "qwen2", "qwen3"]


def test_unsupported_architecture(tmp_path):
    path = tmp_path / "falcon.gguf"
    w = gguf.GGUFWriter(str(path), "falcon")
    w.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    write_gguf_file(w)
    with pytest.raises(_C.UnsupportedError, match=r"'falcon'.*gemma3, llama, phi3, qwen2, qwen3"):
        _C.gguf_checkpoint(str(path))


def test_unsupported_tensor_type_in_checkpoint(tmp_path):
    path = tmp_path / "q2k.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_tensor("blk.0.attn_norm.weight", np.zeros((2, 256 // 256 * 84), np.uint8),
                 raw_dtype=gguf.GGMLQuantizationType.Q2_K)
    write_gguf_file(w)
    with pytest.raises(_C.UnsupportedError, match=r"'blk.0.attn_norm.weight'.*Q2_K"):
        _C.gguf_checkpoint(str(path))


def test_missing_architecture_and_bad_heads(tmp_path):
    path = tmp_path / "noarch.gguf"
    path.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(16))
    with pytest.raises(_C.FormatError, match="general.architecture"):
        _C.gguf_checkpoint(str(path))
    path = tmp_path / "heads.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_uint32("llama.attention.head_count", 3)
    w.add_uint32("llama.attention.head_count_kv", 3)
    w.add_tensor("blk.0.attn_q.weight", np.zeros((4, 32), np.float32))
    write_gguf_file(w)
    with pytest.raises(_C.FormatError, match=r"'blk.0.attn_q.weight' has 4 rows"):
        _C.gguf_checkpoint(str(path))
