"""Decoder parity against transformers on tiny random models: prompt logits,
token-by-token decoding over the KV cache, ragged batches, left padding,
errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import optimum_cpp
from decoder_common import (assert_batch_equal, ATOL, DECODE, LEGACY_ROPE, MODEL_CONFIGS, PROMPT, VOCAB, check_prompt_and_decode,
                            padded, prompt, ragged_prefill)

ALL_MODELS = list(MODEL_CONFIGS) + list(LEGACY_ROPE)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_prompt_and_decode_match_transformers(tiny_models, name):
    folder, ref = tiny_models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    assert ours.model_type == ref.config.model_type
    ids, prompt_logits, cache = check_prompt_and_decode(ours, ref, name)
    # The call interface gives the same prompt logits.
    np.testing.assert_allclose(ours(ids.numpy()).logits[0], prompt_logits, atol=ATOL, rtol=0)
    assert cache.length(0) == PROMPT + DECODE


@pytest.mark.parametrize("name", ["llama", "mistral", "qwen2", "qwen3"])
def test_ragged_batch_equals_items_alone(tiny_models, name):
    folder, ref = tiny_models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    prompts, batch_cache, alone = ragged_prefill(ours, 20)
    for p, a in zip(prompts, alone):
        with torch.no_grad():
            np.testing.assert_allclose(a, ref(torch.tensor(p)[None]).logits[0].numpy(), atol=ATOL, rtol=0)
    # Then one decode step for all, against each continued alone.
    nxt = [int(a[-1].argmax()) for a in alone]
    together = ours.step(batch_cache, [(2, [nxt[0]]), (0, [nxt[1]]), (1, [nxt[2]])])
    for i, (p, t) in enumerate(zip(prompts, nxt)):
        c = ours.new_cache(1, 20)
        ours.step(c, [(0, p)])
        assert_batch_equal(together[i], ours.step(c, [(0, [t])])[0])


@pytest.mark.parametrize("name", ["llama", "mistral", "qwen3"])
def test_left_padded_batch_matches_transformers(tiny_models, name):
    folder, ref = tiny_models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    ids, mask = padded([10, 4, 7], left=True)
    # Positions as generate computes them from the mask.
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        want = ref(ids, attention_mask=mask, position_ids=position_ids).logits.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
    assert got.shape == want.shape
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[real], want[real], atol=ATOL, rtol=0)
    assert not got[~real].any()


def test_hidden_states_match_base_model(tiny_models):
    folder, ref = tiny_models.get("qwen3")
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    ids = prompt(5)
    with torch.no_grad():
        want = ref.model(ids).last_hidden_state[0].numpy()
    got = ours.hidden_states(ours.new_cache(1, PROMPT), [(0, ids[0].numpy())])
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["mistral", "qwen2"])
def test_layer_states_match_output_hidden_states(tiny_models, name):
    folder, ref = tiny_models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    ids = prompt(8)
    with torch.no_grad():
        want = ref(ids, output_hidden_states=True).hidden_states
    layers = ref.config.num_hidden_layers
    got = ours.layer_states(ours.new_cache(1, PROMPT), [(0, ids[0].numpy())])
    assert got.shape == (layers + 1, PROMPT, ref.config.hidden_size)
    for i in range(layers):
        np.testing.assert_allclose(got[i], want[i][0].numpy(), atol=ATOL, rtol=0, err_msg=f"hidden state {i}")


def test_errors_name_the_value_and_leave_the_cache(tiny_models):
    folder, _ = tiny_models.get("llama")
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    cache = ours.new_cache(2, 8)
    ours.step(cache, [(0, [5, 6, 7])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match=str(VOCAB + 3)):
        ours.step(cache, [(0, [4]), (1, [VOCAB + 3])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="-1"):
        ours.step(cache, [(1, [-1])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="slot 2"):
        ours.step(cache, [(2, [4])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="capacity 8"):
        ours.step(cache, [(0, [4] * 6)])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="slot 0 appears twice"):
        ours.step(cache, [(0, [4]), (0, [5])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="integers"):
        ours.step(cache, [(1, [4.5])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="count 0"):
        ours.step(cache, [(1, [])])
    with pytest.raises(optimum_cpp.InvalidArgumentError, match="slots must be positive, got 0"):
        ours.new_cache(0, 8)
    assert cache.length(0) == 3 and cache.length(1) == 0
    # The cache still works, and truncate/copy_slot replay a sequence exactly.
    a = ours.step(cache, [(0, [9])])
    cache.truncate(0, 3)
    assert np.array_equal(ours.step(cache, [(0, [9])]), a)
    cache.copy_slot(0, 1)
    cache.truncate(1, 3)
    assert np.array_equal(ours.step(cache, [(1, [9])]), a)


def test_unsupported_model_type_lists_supported(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "nonesuch"}')
    with pytest.raises(optimum_cpp.UnsupportedError, match="nonesuch.*llama.*qwen3"):
        optimum_cpp.AutoModelForCausalLM.from_pretrained(tmp_path)


def test_base_model_checkpoint_gives_hidden_states(tiny_models, tmp_path):
    _, ref = tiny_models.get("llama")
    ref.model.save_pretrained(tmp_path)  # LlamaModel: no "model." prefix, no lm_head
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = prompt(6)
    with torch.no_grad():
        want = ref.model(ids).last_hidden_state[0].numpy()
    np.testing.assert_allclose(ours.hidden_states(ours.new_cache(1, PROMPT), [(0, ids[0].numpy())]), want,
                               atol=ATOL, rtol=0)
    with pytest.raises(optimum_cpp.UnsupportedError, match="lm_head"):
        ours.step(ours.new_cache(1, PROMPT), [(0, ids[0].numpy())])


def test_hostile_config_is_refused(tiny_models, tmp_path):
    import json
    import shutil

    folder, _ = tiny_models.get("llama")
    for f in folder.iterdir():
        shutil.copy(f, tmp_path / f.name)
    cfg = json.loads((folder / "config.json").read_text())
    for key, value, needle in [("num_hidden_layers", 10**12, "num_hidden_layers"),
                               ("num_key_value_heads", 3, "num_key_value_heads 3"),
                               ("hidden_size", "big", "hidden_size"),
                               ("num_hidden_layers", 4, "layers.3")]:
        (tmp_path / "config.json").write_text(json.dumps({**cfg, key: value}))
        with pytest.raises((optimum_cpp.FormatError, optimum_cpp.NotFoundError), match=needle):
            optimum_cpp.AutoModelForCausalLM.from_pretrained(tmp_path)


def test_distinct_caches_from_threads(tiny_models):
    from concurrent.futures import ThreadPoolExecutor

    folder, _ = tiny_models.get("qwen2")
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    prompts = [prompt(40 + i, 5 + i)[0].numpy() for i in range(4)]

    def run(p):
        cache = ours.new_cache(1, 32)
        out = [ours.step(cache, [(0, p)])]
        for _ in range(10):
            out.append(ours.step(cache, [(0, [int(out[-1][0].argmax())])]))
        return np.concatenate(out)

    alone = [run(p) for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, prompts * 2))
    for i, t in enumerate(together):
        np.testing.assert_array_equal(t, alone[i % 4])
