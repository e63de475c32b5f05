"""A tiny random Whisper checkpoint (model, tokenizer, feature extractor, generation config) built with
transformers at test time, once per session."""

import json
import os

import pytest

LANGS = ["en", "fr", "de"]


def _byte_vocab():
    from tokenizers.pre_tokenizers import ByteLevel

    chars = sorted(ByteLevel.alphabet(), key=lambda c: ord(c))
    vocab = {c: i for i, c in enumerate(chars)}
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("e", "r"), ("o", "n"), ("Ġ", "s"),
                 ("r", "e"), ("a", "t"), ("e", "n"), ("o", "r"), ("Ġ", "w"), ("Ġ", "o"), ("e", "s")]:
        vocab[a + b] = len(vocab)
        merges.append((a, b))
    return vocab, merges


def build_whisper(folder: str) -> str:
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperTokenizer)

    vocab, merges = _byte_vocab()
    tok = WhisperTokenizer(vocab=vocab, merges=merges)
    specials = (["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{l}|>" for l in LANGS] +
                ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                 "<|notimestamps|>"])
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    eot = ids["<|endoftext|>"]
    vocab_size = len(tok)
    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=vocab_size, num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_source_positions=1500, max_target_positions=448, pad_token_id=eot, bos_token_id=eot,
        eos_token_id=eot, decoder_start_token_id=ids["<|startoftranscript|>"],
        begin_suppress_tokens=[tok.convert_tokens_to_ids("Ġ"), eot])
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        # Larger random weights so that the argmax is not flat (ties would make id parity fragile).
        for name, p in model.named_parameters():
            if "embed_positions" in name or "layer_norm" in name:
                continue
            p.mul_(8.0)
        # Timestamps are most of this small vocabulary: damp their (tied) output rows so that text
        # tokens win most steps, as in a trained model.
        model.model.decoder.embed_tokens.weight[ids["<|notimestamps|>"] + 1:].mul_(0.05)
        model.model.decoder.embed_tokens.weight[eot + 1:ids["<|notimestamps|>"] + 1].mul_(0.3)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    gen = GenerationConfig.from_pretrained(folder)
    gen.lang_to_id = {f"<|{l}|>": ids[f"<|{l}|>"] for l in LANGS}
    gen.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    gen.is_multilingual = True
    gen.suppress_tokens = [tok.convert_tokens_to_ids(c) for c in ["!", "#", "%"]] + [ids["<|startofprev|>"]]
    gen.begin_suppress_tokens = [tok.convert_tokens_to_ids("Ġ"), eot]
    gen.max_initial_timestamp_index = 50
    gen._from_model_config = False
    gen.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory):
    return build_whisper(str(tmp_path_factory.mktemp("tiny-whisper")))
