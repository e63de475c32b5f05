"""The two real GGUF models (SmolLM2-135M-Instruct Q4_1, gemma-3-270m Q4_K_M)
through optimum_cpp's front end (AutoModelForCausalLM / model.tokenizer /
AutoTokenizer, all loading from the GGUF file) against transformers loading
the same files with gguf_file= (the oracle): config, tokenizer ids, logits,
greedy continuations, chat templates, and clear errors for GGUF files the
engine cannot run.

transformers dequantizes GGUF tensors in numpy (slow): its loading of each
file is converted once into an on-disk folder (tests/refcache/gguf_reference.py)
that the reference is loaded from, once per session. OPTIMUM_GGUF_FULL_GENERATE=1 runs transformers'
own generate() on all ten prompts (minutes); by default it runs on two and
the other continuations are checked by one teacher-forced forward (each of
our greedy tokens is transformers' argmax at its position).
"""

from __future__ import annotations

import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import optimum_cpp as oc  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "refcache"))
import gguf_reference  # noqa: E402  (transformers' GGUF loading, converted once and cached on disk)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = "gemma-3-270m-q4_k_m.gguf"
MODELS = [SMOLLM2, GEMMA3]


def models_dir() -> pathlib.Path:
    for d in (ROOT / ".models", pathlib.Path("/work/main/.models")):
        if (d / SMOLLM2).is_file() and (d / GEMMA3).is_file():
            return d
    pytest.fail(f"{SMOLLM2} and {GEMMA3} not found under {ROOT / '.models'}: run `make setup`")


PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village",
    "The three laws of robotics are",
    "Water boils at",
    "In 1492, Columbus",
    "The best way to learn a language is",
    "import numpy as np\n",
    "Q: What is 12 * 7?\nA:",
    "List three primary colors:",
]

CORPUS = [
    "Hello world!",
    "  leading spaces and\ttabs\nnew lines\n\n",
    "Numbers 1234567890 and 3.14159, dates 2024-01-31.",
    "Unicode: café, naïve, Ünïcödé, 日本語のテキスト, 한국어, emoji 🤗🚀",
    "<|im_start|>user\nspecial tokens inline<|im_end|> <bos><start_of_turn>model",
    "def f(x):\n    return x ** 2  # comment",
    "",
]

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Say hello."}],
    [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke about cats.\n"},
    ],
    [{"role": "user", "content": "Ünïcödé and emoji 🤗 and <b>markup</b>"}],
]


# GGUF architecture -> the model_type the decoder engine must support.
MODEL_TYPES = {SMOLLM2: "llama", GEMMA3: "gemma3_text"}


class Reference:
    """transformers' model and tokenizer for one GGUF file (the model loaded on first use), and ours."""

    def __init__(self, name):
        self.folder = models_dir()
        self.name = name
        self.hf_config = gguf_reference.load_config(self.folder / name)
        self.hf_tok = gguf_reference.load_tokenizer(self.folder / name)
        self.supported = MODEL_TYPES[name] in oc._C.decoder_model_types()
        self._model = oc.AutoModelForCausalLM.from_pretrained(self.folder, gguf_file=name) if self.supported else None
        # The model's tokenizer, or (engine without this architecture) the standalone one.
        self.tok = self._model.tokenizer if self.supported else oc.AutoTokenizer.from_pretrained(self.folder,
                                                                                                  gguf_file=name)
        self._hf = None

    @property
    def model(self):
        if not self.supported:
            pytest.skip(f"the decoder engine lacks model_type {MODEL_TYPES[self.name]!r} "
                        f"(supported: {oc._C.decoder_model_types()})")
        return self._model

    @property
    def hf(self):
        self.model  # noqa: B018 (skips before the slow load when the engine cannot run the model)
        if self._hf is None:
            self._hf = gguf_reference.load_model(self.folder / self.name)
        return self._hf

    def hf_logits(self, ids, mask=None):
        with torch.no_grad():
            t = torch.tensor(ids)
            m = torch.ones_like(t) if mask is None else torch.tensor(mask)
            return self.hf(input_ids=t, attention_mask=m).logits.float().numpy()


_refs: dict = {}


@pytest.fixture(scope="session", params=MODELS, ids=["smollm2", "gemma3"])
def ref(request):
    if request.param not in _refs:
        _refs[request.param] = Reference(request.param)
    return _refs[request.param]


# Config keys the decoder engine reads (those transformers' config has).
ENGINE_KEYS = [
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings",
    "hidden_act", "hidden_activation", "sliding_window", "layer_types", "query_pre_attn_scalar",
    "final_logit_softcapping", "attn_logit_softcapping", "attention_bias", "mlp_bias", "bos_token_id",
    "eos_token_id", "pad_token_id",
]


def _rope(cfg: dict):
    """rope_theta values: transformers 5's rope_parameters, or the legacy keys our config.json may use."""
    if "rope_parameters" in cfg:
        p = cfg["rope_parameters"]
        if "rope_theta" in p:
            return {"default": p["rope_theta"]}
        return {k: v["rope_theta"] for k, v in p.items()}
    out = {"default": cfg["rope_theta"]}
    if "rope_local_base_freq" in cfg:
        out = {"full_attention": cfg["rope_theta"], "sliding_attention": cfg["rope_local_base_freq"]}
    return out


def test_config(ref):
    ours = ref.model.config
    theirs = ref.hf_config.to_dict()
    compared = 0
    for key in ENGINE_KEYS:
        if key in ours and key in theirs:
            assert ours[key] == theirs[key], f"{ref.name}: config {key}: {ours[key]!r} != {theirs[key]!r}"
            compared += 1
        elif key in theirs and theirs[key] is not None and key not in ("hidden_act", "hidden_activation"):
            # A key transformers sets that ours lacks (a class default, or derived in the config
            # class as gemma3's layer_types): transformers reading our config must arrive at it.
            rebuilt = type(ref.hf_config)(**ours).to_dict().get(key)
            assert theirs[key] == rebuilt, f"{ref.name}: config.json lacks {key} ({theirs[key]!r} != {rebuilt!r})"
    assert compared >= 12
    # RoPE as transformers' config class reads our config.json (gemma3's per-layer-type
    # parameters are derived there from rope_theta and the class's local base frequency).
    assert _rope(type(ref.hf_config)(**ours).to_dict()) == _rope(theirs)


def test_tokenizer_ids(ref):
    for text in CORPUS:
        for special in (True, False):
            ours = ref.tok.encode(text, add_special_tokens=special)
            theirs = ref.hf_tok.encode(text, add_special_tokens=special)
            assert ours == theirs, f"{ref.name}: {text!r} (add_special_tokens={special})"
            for skip in (False, True):
                assert ref.tok.decode(ours, skip_special_tokens=skip) == \
                    ref.hf_tok.decode(theirs, skip_special_tokens=skip)
    # The standalone AutoTokenizer equals the model's.
    standalone = oc.AutoTokenizer.from_pretrained(models_dir(), gguf_file=ref.name)
    assert standalone.encode(CORPUS[3]) == ref.tok.encode(CORPUS[3])
    assert standalone.chat_template == ref.tok.chat_template == ref.hf_tok.chat_template
    for name in ("bos_token", "eos_token", "pad_token", "unk_token", "bos_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(ref.tok, name) == getattr(ref.hf_tok, name), name
    # Batched, left-padded call.
    ours = ref.tok(PROMPTS[:3], padding=True, padding_side="left", return_tensors="np")
    theirs = ref.hf_tok(PROMPTS[:3], padding=True, padding_side="left", return_tensors="np")
    np.testing.assert_array_equal(ours["input_ids"], theirs["input_ids"])
    np.testing.assert_array_equal(ours["attention_mask"], theirs["attention_mask"])


def test_logits(ref, record_property):
    ref.model  # noqa: B018
    texts = PROMPTS[:3] + ([PROMPTS[8]] if ref.hf_tok.chat_template is None else
                           [ref.hf_tok.apply_chat_template(CHATS[2], tokenize=False, add_generation_prompt=True)])
    enc = ref.hf_tok(texts, padding=True, padding_side="right", return_tensors="np")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    theirs = ref.hf_logits(ids, mask)
    ours = ref.model(input_ids=ids, attention_mask=mask).logits
    real = mask.astype(bool)
    diff = np.abs(ours[real] - theirs[real]).max()
    scale = np.abs(theirs[real]).max()
    print(f"\n{ref.name}: logits max abs diff {diff:.3g} over {real.sum()} positions, max |logit| {scale:.3g}, "
          f"relative {diff / scale:.3g}")
    record_property("max_abs_diff", float(diff))
    assert diff / scale < 1e-4, f"{ref.name}: max abs diff {diff} vs logit scale {scale}"
    assert (ours[real].argmax(-1) == theirs[real].argmax(-1)).all()


def _greedy_prompts(ref):
    return ref.hf_tok(PROMPTS, padding=True, padding_side="left", return_tensors="np")


def test_greedy_continuations_teacher_forced(ref):
    """Our greedy 64-token continuations of ten prompts (one left-padded batch) are transformers' greedy
    choices: one forward of transformers over prompt + continuation has its argmax on our token at every
    step until each sequence's eos."""
    enc = _greedy_prompts(ref)
    out = ref.model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=64,
                             do_sample=False)
    n_prompt = enc["input_ids"].shape[1]
    assert out.shape[0] == len(PROMPTS) and out.shape[1] <= n_prompt + 64
    np.testing.assert_array_equal(out[:, :n_prompt], enc["input_ids"])
    eos = ref.model.generation_config["eos_token_id"]
    eos = set(eos if isinstance(eos, list) else [eos])
    pad = ref.model.generation_config["pad_token_id"]
    mask = np.concatenate([enc["attention_mask"], np.ones((len(PROMPTS), out.shape[1] - n_prompt), np.int64)], 1)
    lengths = []
    for r in range(len(PROMPTS)):
        new = out[r, n_prompt:].tolist()
        end = next((i + 1 for i, t in enumerate(new) if t in eos), len(new))
        assert all(t == pad for t in new[end:]), f"row {r}: pad after eos"
        mask[r, n_prompt + end:] = 0
        lengths.append(end)
    assert max(lengths) == out.shape[1] - n_prompt
    logits = ref.hf_logits(out, mask)
    margins = []
    for r in range(len(PROMPTS)):
        for i in range(lengths[r]):
            row = logits[r, n_prompt + i - 1]
            chosen = out[r, n_prompt + i]
            assert row.argmax() == chosen, f"{ref.name} prompt {r} step {i}: transformers picks {row.argmax()}"
            top2 = np.sort(row)[-2:]
            margins.append(top2[1] - top2[0])
    print(f"\n{ref.name}: {sum(lengths)} greedy tokens, smallest top-1 margin {min(margins):.3g}")


def test_greedy_generate_equals_transformers(ref):
    """transformers' own generate on the same left-padded batch returns the same array."""
    count = len(PROMPTS) if os.environ.get("OPTIMUM_GGUF_FULL_GENERATE") == "1" else 2
    enc = ref.hf_tok(PROMPTS[:count], padding=True, padding_side="left", return_tensors="np")
    with torch.no_grad():
        theirs = ref.hf.generate(input_ids=torch.tensor(enc["input_ids"]),
                                 attention_mask=torch.tensor(enc["attention_mask"]), max_new_tokens=64,
                                 do_sample=False).numpy()
    ours = ref.model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=64)
    np.testing.assert_array_equal(ours, theirs)
    # Each row alone (no padding) gives the same continuation.
    for r in range(count):
        one = ref.tok(PROMPTS[r], return_tensors="np")
        alone = ref.model.generate(**one, max_new_tokens=64)
        n = one["input_ids"].shape[1]
        new = alone[0, n:]
        np.testing.assert_array_equal(new, ours[r, enc["input_ids"].shape[1]: enc["input_ids"].shape[1] + len(new)])


def _no_template(ref) -> bool:
    """gemma-3-270m's GGUF file carries no tokenizer.chat_template: both sides refuse to render then."""
    if ref.hf_tok.chat_template is not None:
        return False
    assert ref.tok.chat_template is None
    with pytest.raises(ValueError, match="chat_template"):
        ref.hf_tok.apply_chat_template(CHATS[0], tokenize=False)
    with pytest.raises(ValueError, match="chat_template"):
        ref.tok.apply_chat_template(CHATS[0], tokenize=False)
    # A template given explicitly renders as transformers renders it.
    template = gguf_reference.load_tokenizer(ref.folder / SMOLLM2).chat_template
    assert ref.tok.apply_chat_template(CHATS[1], chat_template=template, tokenize=False) == \
        ref.hf_tok.apply_chat_template(CHATS[1], chat_template=template, tokenize=False)
    return True


@pytest.mark.parametrize("chat", range(len(CHATS)))
def test_chat_template(ref, chat):
    if _no_template(ref):
        return
    messages = CHATS[chat]
    for add in (False, True):
        ours = ref.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add)
        theirs = ref.hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add)
        assert ours == theirs
        ids = ref.tok.apply_chat_template(messages, add_generation_prompt=add)["input_ids"]
        assert ids == ref.hf_tok.apply_chat_template(messages, add_generation_prompt=add)["input_ids"]
    if messages[-1]["role"] == "user":
        cont = messages + [{"role": "assistant", "content": "Well, "}]
        assert ref.tok.apply_chat_template(cont, tokenize=False, continue_final_message=True) == \
            ref.hf_tok.apply_chat_template(cont, tokenize=False, continue_final_message=True)


def test_chat_template_batch_and_kwargs(ref):
    if _no_template(ref):
        return
    ours = ref.tok.apply_chat_template(CHATS[:2], tokenize=False, add_generation_prompt=True)
    theirs = ref.hf_tok.apply_chat_template(CHATS[:2], tokenize=False, add_generation_prompt=True)
    assert ours == theirs
    enc = ref.tok.apply_chat_template(CHATS[:2], add_generation_prompt=True, padding=True, return_tensors="np")
    ref_enc = ref.hf_tok.apply_chat_template(CHATS[:2], add_generation_prompt=True, padding=True,
                                             return_tensors="np")
    np.testing.assert_array_equal(enc["input_ids"], ref_enc["input_ids"])
    np.testing.assert_array_equal(enc["attention_mask"], ref_enc["attention_mask"])
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    assert ref.tok.apply_chat_template(CHATS[0], tools=tools, tokenize=False, custom_flag=True) == \
        ref.hf_tok.apply_chat_template(CHATS[0], tools=tools, tokenize=False, custom_flag=True)


def test_chat_generation_and_streamer(ref):
    """A chat through the template, generated greedily, streamed as text; the streamed text is the decoded
    continuation, and transformers' own TextIteratorStreamer (over its tokenizer) gives the same chunks."""
    import threading

    if ref.tok.chat_template is None:
        enc = ref.tok(PROMPTS[2], return_tensors="np")
    else:
        enc = ref.tok.apply_chat_template(CHATS[0], add_generation_prompt=True, return_tensors="np")
    out = ref.model.generate(**enc, max_new_tokens=24)
    n = enc["input_ids"].shape[1]
    streamer = oc.TextIteratorStreamer(ref.tok, skip_prompt=True, skip_special_tokens=True)
    hf_streamer = transformers.TextIteratorStreamer(ref.hf_tok, skip_prompt=True, skip_special_tokens=True)
    chunks = {}

    def run(s, key):
        ref.model.generate(**enc, max_new_tokens=24, streamer=s)

    for s, key in ((streamer, "ours"), (hf_streamer, "hf")):
        t = threading.Thread(target=run, args=(s, key))
        t.start()
        chunks[key] = list(s)
        t.join()
    text = ref.tok.decode(out[0, n:], skip_special_tokens=True)
    assert "".join(chunks["ours"]) == text
    assert chunks["ours"] == chunks["hf"]
    assert len(chunks["ours"]) > 3


def test_beam_search_and_scores(ref):
    enc = ref.hf_tok(PROMPTS[:2], padding=True, padding_side="left", return_tensors="np")
    kw = dict(max_new_tokens=8, num_beams=3, num_return_sequences=2, do_sample=False,
              return_dict_in_generate=True, output_scores=True)
    with torch.no_grad():
        theirs = ref.hf.generate(input_ids=torch.tensor(enc["input_ids"]),
                                 attention_mask=torch.tensor(enc["attention_mask"]), **kw)
    ours = ref.model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], **kw)
    np.testing.assert_array_equal(ours.sequences, theirs.sequences.numpy())
    # Sums of 8 log-probabilities: the logits differ by ~1e-4 (see test_logits).
    np.testing.assert_allclose(ours.sequences_scores, theirs.sequences_scores.numpy(), atol=1e-3)
    # Greedy: the chosen tokens' processed scores are transformers' transition scores.
    kw = dict(max_new_tokens=6, do_sample=False, return_dict_in_generate=True, output_scores=True)
    with torch.no_grad():
        theirs = ref.hf.generate(input_ids=torch.tensor(enc["input_ids"][:1]),
                                 attention_mask=torch.tensor(enc["attention_mask"][:1]), **kw)
    ours = ref.model.generate(enc["input_ids"][:1], attention_mask=enc["attention_mask"][:1], **kw)
    np.testing.assert_array_equal(ours.sequences, theirs.sequences.numpy())
    transition = ref.hf.compute_transition_scores(theirs.sequences, theirs.scores).numpy()
    np.testing.assert_allclose(ours.transition_scores, transition, rtol=1e-4, atol=1e-3)
    assert len(ours.scores) == len(theirs.scores)


def test_generation_defaults_and_sampling(ref):
    """No length option: at most 20 new tokens (the engine's default); sampling with a seed repeats."""
    enc = ref.tok(PROMPTS[0], return_tensors="np")
    out = ref.model.generate(**enc)
    assert out.shape[1] - enc["input_ids"].shape[1] <= 20
    a = ref.model.generate(**enc, do_sample=True, top_k=20, top_p=0.9, temperature=0.8, seed=7, max_new_tokens=12)
    b = ref.model.generate(**enc, do_sample=True, top_k=20, top_p=0.9, temperature=0.8, seed=7, max_new_tokens=12)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="top_p"):
        ref.model.generate(**enc, do_sample=True, top_p=-0.5)
    with pytest.raises(ValueError, match="bogus_option"):
        ref.model.generate(**enc, bogus_option=1)


def _write_gguf(path, arch, tensors, kvs=()):
    w = gguf.GGUFWriter(str(path), arch)
    for key, value in kvs:
        w.add_uint32(key, value)
    for name, arr, raw in tensors:
        if raw is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_unsupported_gguf_errors(tmp_path):
    _write_gguf(tmp_path / "falcon.gguf", "falcon", [("token_embd.weight", np.zeros((4, 32), np.float32), None)])
    with pytest.raises(oc.UnsupportedError, match=r"'falcon'.*llama"):
        oc.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="falcon.gguf")
    _write_gguf(tmp_path / "q2k.gguf", "llama",
                [("blk.0.attn_norm.weight", np.zeros((2, 84), np.uint8), gguf.GGMLQuantizationType.Q2_K)],
                [("llama.block_count", 1)])
    with pytest.raises(oc.UnsupportedError, match=r"'blk.0.attn_norm.weight'.*Q2_K"):
        oc.AutoModelForCausalLM.from_pretrained(str(tmp_path / "q2k.gguf"))
    with pytest.raises(oc.NotFoundError, match="missing.gguf"):
        oc.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="missing.gguf")
    with pytest.raises(ValueError, match="gguf_file"):
        oc.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="../falcon.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf file at all")
    with pytest.raises(oc.FormatError, match="junk.gguf"):
        oc.AutoTokenizer.from_pretrained(tmp_path, gguf_file="junk.gguf")
