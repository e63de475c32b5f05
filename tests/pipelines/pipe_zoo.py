"""Tiny random models of every encoder family, saved with a tokenizer, for the
pipeline tests. Built at test time (seeded): a WordPiece vocab written here
(BERT-style tokenizers) and a byte-level BPE trained here (RoBERTa-style)."""

from __future__ import annotations

import json
import pathlib

import torch

# -- tokenizers ---------------------------------------------------------------

WORDS = (
    "the a an is was of and to in on at for with my your his her their this that it be are were "
    "paris france city capital where what who when why how john mary lives live living lived london berlin "
    "name example good bad movie film great weather today hello world music sport politics science "
    "play played playing player run running question answer context window long text about over under "
    "new york company works working worked apple google football tennis doctor teacher school house"
).split()
SUFFIXES = ["ing", "ed", "s", "er", "ly", "es", "ion", "tion", "al", "ous"]
ACCENTED = list("éèêëàâçîïôöûüñÉÀÇ")
CJK = list("東京日本北中国人大学語")
EMOJI = ["😀", "🎉"]  # 🚀 stays out of the vocab: an [UNK] word
CORPUS = [
    "My name is John and I live in London.",
    "Mary works at Google in New York.",
    "Paris is the capital of France and a great city.",
    "The weather today is good, the movie was bad.",
    "He played football and tennis at school.",
    "Where does John live? He lives in Berlin.",
    "Zoë and Renée visited Gdańsk and São Paulo.",
    "東京 is the capital of 日本 😀 🎉 🚀",
    "The company worked on music, sport, politics and science.",
    "Hello world! This is an example about a long text with many words.",
]


def write_wordpiece_vocab(path: pathlib.Path) -> pathlib.Path:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>"]
    vocab += list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab += [str(d) for d in range(10)]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    vocab += letters + ["##" + ch for ch in letters]
    vocab += ACCENTED + ["##" + ch for ch in ACCENTED]
    vocab += CJK + EMOJI
    vocab += WORDS + [w.capitalize() for w in WORDS]
    vocab += ["##" + s for s in SUFFIXES]
    seen, out = set(), []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            out.append(v)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def bert_tokenizer(folder: pathlib.Path, with_token_types: bool = True):
    from transformers import BertTokenizer

    src = folder / "_vocab"
    src.mkdir(parents=True, exist_ok=True)
    write_wordpiece_vocab(src / "vocab.txt")
    kwargs = {"do_lower_case": False, "model_max_length": 512}
    if not with_token_types:
        kwargs["model_input_names"] = ["input_ids", "attention_mask"]
    return BertTokenizer.from_pretrained(str(src), **kwargs)


def bpe_tokenizer(folder: pathlib.Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    src = folder / "_bpe"
    src.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    text = CORPUS * 3 + [" ".join(WORDS)] * 3
    bpe.train_from_iterator(text, vocab_size=420, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(src))
    return RobertaTokenizer.from_pretrained(str(src), model_max_length=512)


# -- models -------------------------------------------------------------------

FAMILIES = ["bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "albert", "mpnet"]
BPE_FAMILIES = {"roberta", "xlm-roberta", "camembert"}
NO_TOKEN_TYPES = {"distilbert", "mpnet", "roberta", "xlm-roberta", "camembert"}

TC_LABELS = ["NEG", "NEU", "POS"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]

HEADS = {
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "fill-mask": "AutoModelForMaskedLM",
    "feature-extraction": "AutoModel",
}


def make_config(family: str, vocab_size: int, pad_id: int, labels: list[str] | None, **extra):
    from transformers import AutoConfig

    common = dict(vocab_size=vocab_size, pad_token_id=pad_id, initializer_range=0.3)
    if family == "distilbert":
        kw = dict(dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=512)
    else:
        kw = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=514 if family in BPE_FAMILIES else 512)
    if family == "albert":
        kw["embedding_size"] = 16
    if family == "electra":
        kw["embedding_size"] = 32
    if family in BPE_FAMILIES:
        kw["type_vocab_size"] = 1
    cfg = AutoConfig.for_model(family, **common, **kw)
    if labels is not None:
        cfg.id2label = dict(enumerate(labels))
        cfg.label2id = {l: i for i, l in enumerate(labels)}
    for k, v in extra.items():
        setattr(cfg, k, v)
    return cfg


def build(root: pathlib.Path, family: str, head: str, labels: list[str] | None = None, seed: int = 0,
          tokenizer=None, **config_extra) -> pathlib.Path:
    """Saves a seeded random `family` model with `head` and its tokenizer under root; returns the folder."""
    import transformers

    name = f"{family}-{head}-{seed}" + ("-" + "-".join(labels) if labels else "") + \
        ("-" + "-".join(f"{k}={v}" for k, v in sorted(config_extra.items())) if config_extra else "")
    folder = root / name
    if (folder / "config.json").exists():
        return folder
    folder.mkdir(parents=True)
    if tokenizer is None:
        tokenizer = bpe_tokenizer(folder) if family in BPE_FAMILIES else bert_tokenizer(
            folder, with_token_types=family not in NO_TOKEN_TYPES)
    cfg = make_config(family, len(tokenizer), tokenizer.pad_token_id, labels, **config_extra)
    torch.manual_seed(seed)
    model = getattr(transformers, HEADS[head]).from_config(cfg)
    model.eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
