"""One load path for every architecture: AutoModelForCausalLM (with and without a tokenizer),
AutoModel over a decoder and SentenceTransformer's decoder Transformer module load through
OptimizedModel and a DecoderSession, as encoders load through OptimizedModel and the encoder
session; outputs equal transformers'. And a decoder architecture is one file + one
registration line: its model_type is named nowhere else in the engine."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

import optimum_cpp
from decoder_common import ATOL, LLAMA_LIKE, PAD, VOCAB, padded, prompt, train_bpe_tokenizer

REPO = Path(__file__).resolve().parents[2]


def _session(kind, task, model_type):
    return f"OptimizedModel(session={kind}, task={task}, model_type={model_type})"


@pytest.mark.parametrize("name,model_type", [("llama", "llama"), ("mistral", "mistral"), ("qwen2", "qwen2"),
                                             ("qwen3", "qwen3")])
def test_causal_lm_and_base_model_load_through_decoder_session(tiny_models, name, model_type):
    folder, ref = tiny_models.get(name)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(folder)
    assert ours.session == _session("DecoderSession", "text-generation", model_type)
    assert "DecoderSession" in repr(ours)
    ids, mask = padded([7, 12, 4], left=False)
    with torch.no_grad():
        want = ref(ids, attention_mask=mask).logits.numpy()
    got = ours(ids.numpy(), attention_mask=mask.numpy()).logits
    m = mask.numpy().astype(bool)
    np.testing.assert_allclose(got[m], want[m], atol=ATOL, rtol=0)

    base = optimum_cpp.AutoModel.from_pretrained(folder)
    assert base.session == _session("DecoderSession", "feature-extraction", model_type)
    with torch.no_grad():
        hidden = ref.model(ids, attention_mask=mask).last_hidden_state.numpy()
    np.testing.assert_allclose(base(ids.numpy(), attention_mask=mask.numpy()).last_hidden_state[m], hidden[m],
                               atol=ATOL, rtol=0)


def test_causal_lm_with_tokenizer_loads_through_the_same_session(tiny_models, tmp_path):
    """A folder with tokenizer files loads through generation's LanguageModel, which itself
    loads through OptimizedModel: the same session type, greedy generation equal to transformers."""
    import shutil

    folder, ref = tiny_models.get("qwen3")
    full = tmp_path / "with_tokenizer"
    shutil.copytree(folder, full)
    train_bpe_tokenizer(full, ["the quick brown fox jumps over the lazy dog"] * 4)
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(full)
    assert ours.tokenizer is not None
    assert ours.session == _session("DecoderSession", "text-generation", "qwen3")
    ids = prompt(31, 9)
    with torch.no_grad():
        want = ref.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                            pad_token_id=PAD).numpy()
    got = ours.generate(ids.numpy(), max_new_tokens=12, do_sample=False)
    np.testing.assert_array_equal(got, want)


def test_base_model_checkpoint_is_a_causal_lm_session_without_logits(tiny_models, tmp_path):
    _, ref = tiny_models.get("llama")
    ref.model.save_pretrained(tmp_path)  # LlamaModel: no lm_head
    ours = optimum_cpp.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert ours.session == _session("DecoderSession", "text-generation", "llama")
    with pytest.raises(optimum_cpp.UnsupportedError, match="lm_head"):
        ours(prompt(3).numpy())


def test_text_generation_of_an_encoder_is_refused_naming_the_decoders(tmp_path):
    cfg = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32)
    transformers.BertModel(cfg).save_pretrained(tmp_path)
    encoder = optimum_cpp.AutoModel.from_pretrained(tmp_path)
    assert encoder.session == _session("EncoderModel", "feature-extraction", "bert")
    with pytest.raises(optimum_cpp.UnsupportedError, match=r"'bert'.*gemma.*llama.*qwen3"):
        optimum_cpp.AutoModelForCausalLM.from_pretrained(tmp_path)


def test_sentence_transformer_decoder_module_loads_through_decoder_session(tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from tokenizers import Tokenizer, models as tok_models, pre_tokenizers, processors

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, **{f"w{i}": i for i in range(3, VOCAB)}}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", 2)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                                bos_token="<bos>", padding_side="left")
    torch.manual_seed(9)
    base = transformers.AutoModel.from_config(
        transformers.Qwen3Config(**{**LLAMA_LIKE, "head_dim": 24})).to(torch.float32).eval()
    raw = tmp_path / "raw"
    base.save_pretrained(raw)
    fast.save_pretrained(raw)
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    st = sentence_transformers.SentenceTransformer(
        modules=[Transformer(str(raw)), Pooling(64, pooling_mode="lasttoken"), Normalize()], device="cpu")
    folder = tmp_path / "st"
    st.save(str(folder))
    sentences = ["w5 w7 w9", "w11 w12", "w20 w21 w22 w23 w24 w25 w26"]
    ours = optimum_cpp.SentenceTransformer(str(folder))
    assert ours.session == _session("DecoderSession", "feature-extraction", "qwen3")
    np.testing.assert_allclose(ours.encode(sentences, batch_size=3),
                               st.encode(sentences, convert_to_numpy=True, batch_size=3), atol=ATOL, rtol=0)


def test_a_decoder_architecture_is_one_file_and_one_registration_line():
    """Each decoder model_type is spelled (as a string literal) in its family file only, outside the
    GGUF file-format mappings, and registered by one add(...) line; its key table, tasks and
    supported lists all derive from that entry."""
    sources = [p for p in (REPO / "src").rglob("*.cc")] + [p for p in (REPO / "src").rglob("*.h")]
    sources += list((REPO / "include").rglob("*.h"))
    # GGUF metadata names its architectures with the same words: a file-format mapping, not a registration.
    gguf = {"src/models/gguf.cc", "include/optimum/models/gguf.h", "src/tokenizers/gguf.cc",
            "include/optimum/tokenizers/gguf.h", "src/tokenizers/legacy.cc"}
    texts = {str(p.relative_to(REPO)): p.read_text(errors="replace") for p in sources}
    registry = texts["src/models/architecture.cc"]
    add_lines = re.findall(r"^\s*add\((\w+)_architecture\(\)\);", registry, flags=re.M)
    decoders = optimum_cpp._C.decoder_model_types()
    assert decoders, "no decoder registered"
    for model_type in decoders:
        literal = re.compile(r'"' + re.escape(model_type) + r'"')
        files = sorted(f for f, t in texts.items() if f not in gguf and literal.search(
            "\n".join(line for line in t.splitlines() if not line.lstrip().startswith("//"))))
        assert len(files) == 1 and files[0].startswith("src/models/"), (model_type, files)
        assert add_lines.count(model_type) == 1, (model_type, add_lines)  # add(<type>_architecture());
        assert f"Architecture {model_type}_architecture()" in texts[files[0]], (model_type, files[0])
    assert len(add_lines) == len(set(add_lines))
