"""gpt2, phi3, gemma and gemma3_text against transformers on tiny random
models built at test time (prompt logits, token-by-token decoding over the KV
cache, ragged and left-padded batches), and the decoder heads besides
ForCausalLM: the base model's last_hidden_state and ForSequenceClassification
(last non-pad token, left and right padding as transformers handles them)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import transformers

import optimum_cpp
from decoder_common import (assert_batch_equal, ATOL, DECODE, LLAMA_LIKE, PAD, PROMPT, VOCAB, check_prompt_and_decode, padded,
                            prompt, ragged_prefill)


def _gpt2(**kw):
    return transformers.GPT2Config(**{**dict(vocab_size=VOCAB, n_embd=64, n_layer=3, n_head=4, n_positions=64,
                                             bos_token_id=1, eos_token_id=2, pad_token_id=PAD), **kw})


def _phi3(**kw):
    return transformers.Phi3Config(**{**LLAMA_LIKE, "partial_rotary_factor": 0.5, **kw})


def _gemma3(**kw):
    return transformers.Gemma3TextConfig(**{
        **LLAMA_LIKE, "num_hidden_layers": 4, "head_dim": 24, "sliding_window": 5,
        "layer_types": ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        "query_pre_attn_scalar": 20, **kw})


# Sequences reach PROMPT + DECODE = 28 positions: sliding windows are smaller,
# longrope's original length too (it switches to the long factors mid-decode).
CONFIGS = {
    "gpt2": lambda: _gpt2(),
    "gpt2_untied_relu": lambda: _gpt2(tie_word_embeddings=False, activation_function="relu", n_inner=80,
                                      scale_attn_by_inverse_layer_idx=True),
    "phi3": lambda: _phi3(sliding_window=7),
    "phi3_longrope": lambda: _phi3(
        max_position_embeddings=64, original_max_position_embeddings=16,
        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                         "short_factor": [1.0, 1.3, 1.7, 2.2], "long_factor": [1.5, 2.5, 4.0, 7.0]}),
    "gemma": lambda: transformers.GemmaConfig(**{**LLAMA_LIKE, "head_dim": 24, "attention_bias": True}),
    "gemma3_text": lambda: _gemma3(
        attn_logit_softcapping=3.0, final_logit_softcapping=2.5,
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}),
    "gemma3_text_pattern": lambda: _gemma3(layer_types=None, sliding_window_pattern=2, sliding_window=9,
                                           rope_parameters=None),
}

# The older gemma3 config.json keys (rope_theta, rope_local_base_freq,
# rope_scaling for the full layers), written over a saved model's config.
GEMMA3_LEGACY = {"rope_theta": 5000.0, "rope_local_base_freq": 700.0,
                 "rope_scaling": {"rope_type": "linear", "factor": 4.0}}
ALL = list(CONFIGS) + ["gemma3_text_legacy"]


def _randomize(model, seed):
    """Norm weights (and LayerNorm biases) away from their 1 / 0 init, so offsets matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or ".ln_" in name or name.endswith("ln_f.weight") or name.endswith("ln_f.bias"):
                mean = 0.0 if name.endswith("bias") else 1.0
                p.copy_(mean + 0.2 * torch.randn(p.shape, generator=g))


class _Models:
    def __init__(self, root):
        self.root = root
        self._made = {}

    def get(self, name, head="lm"):
        """(folder, transformers model) of config `name` with head "lm", "base" or "cls"."""
        key = (name, head)
        if key not in self._made:
            self._made[key] = self._make(name, head)
        return self._made[key]

    def _make(self, name, head):
        folder = self.root / f"{name}-{head}"
        if name == "gemma3_text_legacy":
            base, _ = self.get("gemma3_text_pattern", head)
            shutil.copytree(base, folder)
            cfg = json.loads((folder / "config.json").read_text())
            cfg.pop("rope_parameters", None)
            cfg.update(GEMMA3_LEGACY)
            (folder / "config.json").write_text(json.dumps(cfg))
            auto = {"lm": transformers.AutoModelForCausalLM, "base": transformers.AutoModel,
                    "cls": transformers.AutoModelForSequenceClassification}[head]
            model = auto.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
            return folder, model.eval()
        torch.manual_seed(sum(map(ord, name + head)))
        config = CONFIGS[name]()
        if head == "cls":
            config.num_labels = 3
        auto = {"lm": transformers.AutoModelForCausalLM, "base": transformers.AutoModel,
                "cls": transformers.AutoModelForSequenceClassification}[head]
        # Eager attention: transformers applies attention soft-capping only there.
        model = auto.from_config(config, attn_implementation="eager").to(torch.float32).eval()
        _randomize(model, sum(map(ord, name)))
        model.save_pretrained(folder)
        return folder, model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return _Models(tmp_path_factory.mktemp("families"))


@pytest.mark.parametrize("name", ALL)
def test_prompt_and_decode_match_transformers(models, name):
    folder, ref = models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    assert ours.model_type == ref.config.model_type
    check_prompt_and_decode(ours, ref, name)


def test_configs_exercise_what_they_claim(models):
    """The windows are shorter than the sequences, longrope switches mid-decode, soft-capping is on."""
    _, g3 = models.get("gemma3_text")
    assert g3.config.sliding_window < PROMPT + DECODE and "full_attention" in g3.config.layer_types
    # transformers' Gemma3Attention ignores attn_logit_softcapping (gemma2 applies it): so does the engine.
    assert g3.config.attn_logit_softcapping and g3.config.final_logit_softcapping
    _, lr = models.get("phi3_longrope")
    assert PROMPT <= lr.config.rope_parameters["original_max_position_embeddings"] < PROMPT + DECODE
    _, phi = models.get("phi3")
    assert phi.config.sliding_window < PROMPT + DECODE


@pytest.mark.parametrize("name", ["gpt2", "phi3", "phi3_longrope", "gemma", "gemma3_text"])
def test_ragged_batch_equals_items_alone(models, name):
    folder, _ = models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    prompts, batch_cache, alone = ragged_prefill(ours, 24)
    # Then decode steps for all, against each continued alone.
    caches = []
    for p in prompts:
        c = ours.new_cache(1, 24)
        ours.step(c, [(0, p)])
        caches.append(c)
    nxt = [int(a[-1].argmax()) for a in alone]
    for _ in range(4):
        together = ours.step(batch_cache, [(2, [nxt[0]]), (0, [nxt[1]]), (1, [nxt[2]])])
        single = [ours.step(c, [(0, [t])])[0] for c, t in zip(caches, nxt)]
        assert_batch_equal(together, np.stack(single))
        nxt = [int(s.argmax()) for s in single]


@pytest.mark.parametrize("name", ["gpt2", "phi3", "gemma", "gemma3_text"])
def test_left_padded_batch_matches_transformers(models, name):
    folder, ref = models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    ids, mask = padded([10, 4, 7], left=True)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # as generate computes them
    with torch.no_grad():
        want = ref(ids, attention_mask=mask, position_ids=position_ids).logits.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[real], want[real], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["gpt2", "phi3", "gemma", "gemma3_text"])
def test_base_model_last_hidden_state(models, name):
    """A base-model checkpoint (GPT2Model, Gemma3TextModel, ...) through AutoModel, right-padded."""
    folder, ref = models.get(name, "base")
    ours = optimum_cpp.AutoModel.from_pretrained(folder)
    assert isinstance(ours, optimum_cpp.DecoderModel)
    ids, mask = padded([9, 5, 12], left=False)
    with torch.no_grad():
        want = ref(ids, attention_mask=mask).last_hidden_state.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).last_hidden_state
    assert got.shape == want.shape
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[real], want[real], atol=ATOL, rtol=0)
    assert not got[~real].any()


@pytest.mark.parametrize("name", ["gemma3_text", "phi3"])
def test_causal_lm_checkpoint_as_base_model(models, name):
    """A ForCausalLM checkpoint's base model (model.* weights) equals transformers' `.model`."""
    folder, ref = models.get(name)
    ours = optimum_cpp.AutoModel.from_pretrained(folder)
    ids, mask = padded([8, 12], left=True)
    with torch.no_grad():
        want = ref.model(ids, attention_mask=mask).last_hidden_state.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).last_hidden_state
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[real], want[real], atol=ATOL, rtol=0)


def _cls_config(kind):
    return {
        "llama": lambda: transformers.LlamaConfig(**LLAMA_LIKE),
        "qwen2": lambda: transformers.Qwen2Config(**LLAMA_LIKE),
        "qwen3": lambda: transformers.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24}),
    }[kind]


@pytest.mark.parametrize("name", ["llama", "qwen2", "qwen3", "gemma3_text", "phi3", "gpt2"])
@pytest.mark.parametrize("left", [False, True], ids=["right_pad", "left_pad"])
def test_sequence_classification_matches_transformers(models, tmp_path, name, left):
    if name in CONFIGS:
        folder, ref = models.get(name, "cls")
    else:
        torch.manual_seed(3)
        config = _cls_config(name)()
        config.num_labels = 3
        ref = transformers.AutoModelForSequenceClassification.from_config(config).to(torch.float32).eval()
        _randomize(ref, 3)
        folder = tmp_path / name
        ref.save_pretrained(folder)
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(folder)
    assert isinstance(ours, optimum_cpp.DecoderForSequenceClassification)
    assert ours.num_labels == 3 and ours.pad_token_id == PAD
    ids, mask = padded([10, 4, 7, 10], left=left, seed=40)
    kwargs = {}
    if left and name == "gpt2":
        # Learned absolute positions: transformers counts them from the first column unless told.
        kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        want = ref(ids, attention_mask=mask, **kwargs).logits.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
    assert got.shape == want.shape == (4, 3)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    # Without a mask, pads are attended as transformers attends them; pooling still skips them.
    with torch.no_grad():
        want = ref(ids[1:2, :]).logits.numpy()
    np.testing.assert_allclose(ours(ids[1:2].numpy()).logits, want, atol=ATOL, rtol=0)


def test_sequence_classification_errors(models, tmp_path):
    folder, _ = models.get("gemma3_text", "cls")
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(folder)
    ids, mask = padded([5, 3], left=False)
    mask[1, 2] = 0  # the last non-pad token of row 1, masked out
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="row 1.*column 2.*masked"):
        ours(ids.numpy(), attention_mask=mask.numpy())
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="0 or 1, got 2"):
        ours(ids.numpy(), attention_mask=np.full(ids.shape, 2))
    # No pad_token_id: batches of one only, as transformers.
    nopad = tmp_path / "nopad"
    shutil.copytree(folder, nopad)
    cfg = json.loads((nopad / "config.json").read_text())
    cfg["pad_token_id"] = None
    (nopad / "config.json").write_text(json.dumps(cfg))
    ours = optimum_cpp.AutoModelForSequenceClassification.from_pretrained(nopad)
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="no pad_token_id"):
        ours(ids.numpy())
    assert ours(ids[:1].numpy()).logits.shape == (1, 3)
    # A causal-LM checkpoint has no score.
    lm, _ = models.get("gemma3_text")
    with pytest.raises(optimum_cpp.NotFoundError, match="score.weight"):
        optimum_cpp.AutoModelForSequenceClassification.from_pretrained(lm)


@pytest.mark.parametrize("name,edit,match", [
    ("gpt2", {"add_cross_attention": True}, "add_cross_attention"),
    ("gemma3_text", {"use_bidirectional_attention": True}, "use_bidirectional_attention"),
    ("gemma3_text", {"layer_types": ["full_attention", "chunked_attention", "full_attention", "full_attention"]},
     "chunked_attention"),
    ("phi3", {"rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4}}, "default or longrope"),
])
def test_unsupported_options_are_refused_by_name(models, tmp_path, name, edit, match):
    folder, _ = models.get(name)
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg.update(edit)
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(optimum_cpp.UnsupportedError, match=match):
        optimum_cpp.AutoModelForCausalLM.from_pretrained(bad)


def test_bad_longrope_factors_are_refused(models, tmp_path):
    folder, _ = models.get("phi3_longrope")
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["rope_parameters"]["long_factor"] = [1.0, 2.0]
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(optimum_cpp.FormatError, match="short_factor/long_factor have 4/2 entries"):
        optimum_cpp.AutoModelForCausalLM.from_pretrained(bad)


def test_sentence_transformer_last_token_pooling(tmp_path):
    """A Qwen3-Embedding-shaped model (Qwen3 base, eos appended, left padding, lasttoken
    pooling, Normalize) through optimum_cpp.SentenceTransformer equals sentence-transformers."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from tokenizers import Tokenizer, models as tok_models, pre_tokenizers, processors

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, **{f"w{i}": i for i in range(3, VOCAB)}}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", 2)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                                bos_token="<bos>", padding_side="left")
    torch.manual_seed(5)
    base = transformers.AutoModel.from_config(
        transformers.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24})).to(torch.float32).eval()
    _randomize(base, 5)
    raw = tmp_path / "raw"
    base.save_pretrained(raw)
    fast.save_pretrained(raw)
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    st = sentence_transformers.SentenceTransformer(
        modules=[Transformer(str(raw)), Pooling(64, pooling_mode="lasttoken"), Normalize()], device="cpu")
    folder = tmp_path / "st"
    st.save(str(folder))
    sentences = ["w5 w7 w9", "w11", "w20 w21 w22 w23 w24 w25 w26", "w90 w3 w3 w4"]
    want = st.encode(sentences, convert_to_numpy=True, batch_size=4)
    ours = optimum_cpp.SentenceTransformer(str(folder))
    assert ours.pooling_modes == ["lasttoken"]
    got = ours.encode(sentences, batch_size=4)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    # One by one (no padding) gives the same embeddings.
    np.testing.assert_allclose(np.stack([ours.encode([s])[0] for s in sentences]), want, atol=ATOL, rtol=0)
