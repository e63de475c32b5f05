"""Every tokenizer the parity suite compares, built lazily into a temp folder.

Three origins, one interface (``Zoo.path(name)`` -> tokenizer.json):

* ``fixture-*``: real tokenizer.json files shipped in /work/shared/fixtures/tokenizers;
* ``trained-*``: trained at test time with `tokenizers` trainers on part of the corpus;
* ``hf-*``: built by `transformers` (offline) from vocab.txt, vocab.json + merges.txt
  or sentencepiece models (fixture files, or a model trained here with the
  `sentencepiece` package), saved with ``save_pretrained``.

Legacy folders (no tokenizer.json) for ``from_pretrained`` are built by
``Zoo.legacy_folder(name)``.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil

FIXTURES = pathlib.Path(os.environ.get("OPTIMUM_TOKENIZER_FIXTURES", "/work/shared/fixtures/tokenizers"))

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

FIXTURE_TOKENIZERS = {
    "fixture-minilm": "all-MiniLM-L6-v2",
    "fixture-bert-ner-cased": "bert-base-NER",
    "fixture-distilbert": "distilbert-base-uncased-distilled-squad",
    "fixture-gpt2": "gpt2",
    "fixture-t5-small": "t5-small",
}

TRAINED = [
    "trained-wordpiece",
    "trained-bytelevel-bpe",
    "trained-unigram",
    "trained-unigram-bytefallback",
    "trained-wordlevel",
    "trained-bpe-suffix",
    "trained-bpe-prefix",
    "trained-llama3-style",
    "trained-qwen2-style",
]

HF_BUILT = [
    "hf-bert-cased",
    "hf-bert-uncased",
    "hf-roberta",
    "hf-gpt2",
    "hf-t5",
    "hf-xlmr-spm",
    "hf-llama2",
    "hf-llama-spm-bpe",
]

ALL = list(FIXTURE_TOKENIZERS) + TRAINED + HF_BUILT

# Legacy folders (no tokenizer.json) that optimum_cpp.Tokenizer.from_pretrained
# must convert as transformers' AutoTokenizer does.
LEGACY = [
    "legacy-bert-cased",
    "legacy-bert-uncased",
    "legacy-bert-uncased-keep-accents",
    "legacy-bert-added-tokens",
    "legacy-roberta",
    "legacy-roberta-model-type",
    "legacy-roberta-prefix-space",
    "legacy-gpt2",
]


def fixture(*parts: str) -> pathlib.Path:
    p = FIXTURES.joinpath(*parts)
    if not p.exists():
        raise FileNotFoundError(f"missing tokenizer fixture {p} (see {FIXTURES}/README.md)")
    return p


def _training_text(corpus: list[str], n: int = 4000) -> list[str]:
    # the corpus' first part plus every fragment repeated, so frequent words get merged
    from corpus import ALL_FRAGMENTS, PROSE

    return corpus[:n] + PROSE * 20 + ALL_FRAGMENTS * 3


def _save(tok, path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def _edit_json(path: pathlib.Path, edit) -> None:
    j = json.loads(path.read_text(encoding="utf-8"))
    edit(j)
    path.write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")


class Zoo:
    def __init__(self, root: pathlib.Path, corpus: list[str]):
        self.root = pathlib.Path(root)
        self.corpus = corpus
        self._paths: dict[str, pathlib.Path] = {}
        self._legacy: dict[str, pathlib.Path] = {}
        self._loaded: dict[str, tuple] = {}

    # -- public -------------------------------------------------------------

    def path(self, name: str) -> pathlib.Path:
        """tokenizer.json of `name`, built on first use."""
        if name not in self._paths:
            if name in FIXTURE_TOKENIZERS:
                p = fixture(FIXTURE_TOKENIZERS[name], "tokenizer.json")
            else:
                builder = getattr(self, "_build_" + name.replace("-", "_"))
                p = builder(self.root / name)
            self._paths[name] = p
        return self._paths[name]

    def folder(self, name: str) -> pathlib.Path:
        """The folder holding tokenizer.json (+ tokenizer_config.json for hf-* ones)."""
        return self.path(name).parent

    def hf(self, name: str):
        import tokenizers

        return tokenizers.Tokenizer.from_file(str(self.path(name)))

    def oc(self, name: str):
        import optimum_cpp

        return optimum_cpp.Tokenizer.from_file(str(self.path(name)))

    def plain(self, name: str):
        """(tokenizers, optimum_cpp) loaded once per session, truncation and padding off.

        Tests that change settings must go through this again (it resets them)."""
        if name not in self._loaded:
            self._loaded[name] = (self.hf(name), self.oc(name))
        for t in self._loaded[name]:
            t.no_truncation()
            t.no_padding()
        return self._loaded[name]

    def legacy_folder(self, name: str) -> pathlib.Path:
        if name not in self._legacy:
            d = self.root / name
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            getattr(self, "_legacy_" + name[len("legacy-"):].replace("-", "_"))(d)
            self._legacy[name] = d
        return self._legacy[name]

    # -- trained with tokenizers trainers -----------------------------------

    def _build_trained_wordpiece(self, d: pathlib.Path) -> pathlib.Path:
        from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        trainer = trainers.WordPieceTrainer(vocab_size=3000, special_tokens=specials, limit_alphabet=300)
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
        tok.add_tokens([AddedToken("[NEW]", normalized=False), AddedToken("Hello World", normalized=True)])
        return _save(tok, d / "tokenizer.json")

    def _build_trained_bytelevel_bpe(self, d: pathlib.Path) -> pathlib.Path:
        from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        specials = ["<s>", "<pad>", "</s>", "<unk>"]
        trainer = trainers.BpeTrainer(
            vocab_size=2500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2
        )
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
        tok.decoder = decoders.ByteLevel()
        # every added-token option: lstrip, rstrip, single_word, normalized (content normalized by NFKC), special
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
        tok.add_tokens(
            [
                AddedToken("hello world", single_word=True, normalized=False),
                AddedToken("ＨＥＬＬＯ", normalized=True),
                AddedToken("[MASK ]", rstrip=True, normalized=False),
                AddedToken("ing", single_word=False, normalized=False),
                AddedToken("😀", lstrip=True, rstrip=True, normalized=False),
                AddedToken("café", single_word=True, normalized=True),
            ]
        )
        return _save(tok, d / "tokenizer.json")

    def _unigram(self, byte_fallback: bool):
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=not byte_fallback)
        specials = ["<pad>", "<unk>", "<s>", "</s>"]
        trainer = trainers.UnigramTrainer(vocab_size=5000, special_tokens=specials, unk_token="<unk>", shrinking_factor=0.75)
        tok.train_from_iterator(_training_text(self.corpus, 2000), trainer=trainer)
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
        )
        if byte_fallback:
            tok.decoder = decoders.Sequence(
                [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
            )
        else:
            tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
        return tok

    def _build_trained_unigram(self, d: pathlib.Path) -> pathlib.Path:
        return _save(self._unigram(False), d / "tokenizer.json")

    def _build_trained_unigram_bytefallback(self, d: pathlib.Path) -> pathlib.Path:
        p = _save(self._unigram(True), d / "tokenizer.json")

        def edit(j):
            vocab = j["model"]["vocab"]
            have = {v[0] for v in vocab}
            # byte pieces, rare enough that only unknown characters use them
            vocab += [[f"<0x{b:02X}>", -30.0] for b in range(256) if f"<0x{b:02X}>" not in have]
            j["model"]["byte_fallback"] = True
            # drop a few frequent pieces of non-ASCII letters so byte fallback triggers often
            j["model"]["vocab"] = [v for v in vocab if not (len(v[0]) == 1 and v[0] in "éçàüöñ")]

        _edit_json(p, edit)
        return p

    def _build_trained_wordlevel(self, d: pathlib.Path) -> pathlib.Path:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
        specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
        trainer = trainers.WordLevelTrainer(vocab_size=3000, special_tokens=specials, min_frequency=1)
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
        return _save(tok, d / "tokenizer.json")  # no decoder: decode joins tokens with spaces

    def _build_trained_bpe_suffix(self, d: pathlib.Path) -> pathlib.Path:
        # CLIP-like: end-of-word suffix, unknown characters fused into one <unk>
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>", fuse_unk=True))
        tok.normalizer = normalizers.Sequence(
            [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase(), normalizers.Strip()]
        )
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"), behavior="removed", invert=True)]
        )
        trainer = trainers.BpeTrainer(
            vocab_size=2000, special_tokens=["<unk>", "<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>", limit_alphabet=150
        )
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        tok.post_processor = processors.TemplateProcessing(
            single="<|startoftext|> $A <|endoftext|>",
            pair="<|startoftext|> $A <|endoftext|> $B:1 <|endoftext|>:1",
            special_tokens=[("<|startoftext|>", tok.token_to_id("<|startoftext|>")), ("<|endoftext|>", tok.token_to_id("<|endoftext|>"))],
        )
        tok.decoder = decoders.BPEDecoder(suffix="</w>")
        return _save(tok, d / "tokenizer.json")

    def _build_trained_bpe_prefix(self, d: pathlib.Path) -> pathlib.Path:
        # continuing-subword prefix, unknown characters not fused, punctuation isolated
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", fuse_unk=False))
        tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Strip(left=True, right=False)])
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"), pre_tokenizers.UnicodeScripts()]
        )
        trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]", "[PAD]"], continuing_subword_prefix="##", limit_alphabet=120)
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
        return _save(tok, d / "tokenizer.json")

    def _byte_level_regex_bpe(self, pattern: str, nfc: bool, specials: list[str]):
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        if nfc:
            tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
            ]
        )
        trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(_training_text(self.corpus), trainer=trainer)
        tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
        return tok

    def _build_trained_llama3_style(self, d: pathlib.Path) -> pathlib.Path:
        from tokenizers import AddedToken, processors

        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        tok = self._byte_level_regex_bpe(LLAMA3_PATTERN, nfc=False, specials=specials)
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.Sequence(
            [
                processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
                processors.TemplateProcessing(
                    single="<|begin_of_text|> $A",
                    pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                    special_tokens=[("<|begin_of_text|>", bos)],
                ),
            ]
        )
        tok.add_special_tokens([AddedToken(f"<|reserved_special_token_{i}|>", special=True) for i in range(4)])
        p = _save(tok, d / "tokenizer.json")
        _edit_json(p, lambda j: j["model"].__setitem__("ignore_merges", True))
        return p

    def _build_trained_qwen2_style(self, d: pathlib.Path) -> pathlib.Path:
        from tokenizers import AddedToken, processors

        tok = self._byte_level_regex_bpe(QWEN2_PATTERN, nfc=True, specials=["<|endoftext|>"])
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
        tok.add_special_tokens([AddedToken("<|im_start|>", special=True), AddedToken("<|im_end|>", special=True)])
        tok.add_tokens([AddedToken("<tool_call>", special=False, normalized=False)])
        return _save(tok, d / "tokenizer.json")

    # -- built by transformers ------------------------------------------------

    @staticmethod
    def _save_pretrained(tok, d: pathlib.Path) -> pathlib.Path:
        out = d / "saved"
        tok.save_pretrained(str(out))
        p = out / "tokenizer.json"
        if not p.exists():
            tok.backend_tokenizer.save(str(p))
        return p

    def _build_hf_bert_cased(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import BertTokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture("bert-base-NER", "vocab.txt"), src / "vocab.txt")
        return self._save_pretrained(BertTokenizer.from_pretrained(str(src), do_lower_case=False), d)

    def _build_hf_bert_uncased(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import BertTokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture("all-MiniLM-L6-v2", "vocab.txt"), src / "vocab.txt")
        return self._save_pretrained(BertTokenizer.from_pretrained(str(src), do_lower_case=True), d)

    def _build_hf_roberta(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import RobertaTokenizer

        return self._save_pretrained(RobertaTokenizer.from_pretrained(str(fixture("roberta-base"))), d)

    def _build_hf_gpt2(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import GPT2Tokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(fixture("gpt2", f), src / f)
        return self._save_pretrained(GPT2Tokenizer.from_pretrained(str(src)), d)

    def _build_hf_t5(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import T5Tokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture("t5-small", "spiece.model"), src / "spiece.model")
        return self._save_pretrained(T5Tokenizer.from_pretrained(str(src)), d)

    def _train_spm(self, path: pathlib.Path, **kwargs) -> None:
        import sentencepiece as spm

        text = [s.replace("\n", " ") for s in _training_text(self.corpus, 3000) if s.strip()]
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(text),
            model_writer=buf,
            num_threads=1,
            minloglevel=2,
            character_coverage=0.995,
            **kwargs,
        )
        path.write_bytes(buf.getvalue())

    def _build_hf_xlmr_spm(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import XLMRobertaTokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        self._train_spm(src / "sentencepiece.bpe.model", model_type="unigram", vocab_size=4000)
        return self._save_pretrained(XLMRobertaTokenizer.from_pretrained(str(src)), d)

    def _build_hf_llama2(self, d: pathlib.Path) -> pathlib.Path:
        from transformers import LlamaTokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture("llama2", "tokenizer.model"), src / "tokenizer.model")
        return self._save_pretrained(LlamaTokenizer.from_pretrained(str(src)), d)

    def _build_hf_llama_spm_bpe(self, d: pathlib.Path) -> pathlib.Path:
        # a sentencepiece BPE trained here with byte fallback and split digits, converted like Llama-2
        from transformers import LlamaTokenizer

        src = d / "src"
        src.mkdir(parents=True, exist_ok=True)
        self._train_spm(
            src / "tokenizer.model", model_type="bpe", vocab_size=4000, byte_fallback=True, split_digits=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        )
        return self._save_pretrained(LlamaTokenizer.from_pretrained(str(src)), d)

    # -- legacy folders (no tokenizer.json) -----------------------------------

    def _legacy_bert_cased(self, d: pathlib.Path) -> None:
        shutil.copy(fixture("bert-base-NER", "vocab.txt"), d / "vocab.txt")
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": False}))

    def _legacy_bert_uncased(self, d: pathlib.Path) -> None:
        shutil.copy(fixture("all-MiniLM-L6-v2", "vocab.txt"), d / "vocab.txt")
        shutil.copy(fixture("all-MiniLM-L6-v2", "special_tokens_map.json"), d / "special_tokens_map.json")
        (d / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512})
        )

    def _legacy_bert_uncased_keep_accents(self, d: pathlib.Path) -> None:
        shutil.copy(fixture("all-MiniLM-L6-v2", "vocab.txt"), d / "vocab.txt")
        (d / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": False,
                        "tokenize_chinese_chars": False})
        )

    def _legacy_bert_added_tokens(self, d: pathlib.Path) -> None:
        shutil.copy(fixture("all-MiniLM-L6-v2", "vocab.txt"), d / "vocab.txt")
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True}))
        (d / "added_tokens.json").write_text(json.dumps({"<ent>": 30522, "<ent2>": 30523, "newword": 30524}))

    def _legacy_roberta(self, d: pathlib.Path) -> None:
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(fixture("roberta-base", f), d / f)
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer"}))

    def _legacy_roberta_model_type(self, d: pathlib.Path) -> None:
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(fixture("roberta-base", f), d / f)
        cfg = json.loads(fixture("roberta-base", "config.json").read_text())
        cfg["model_type"] = "roberta"
        (d / "config.json").write_text(json.dumps(cfg))

    def _legacy_roberta_prefix_space(self, d: pathlib.Path) -> None:
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(fixture("roberta-base", f), d / f)
        (d / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "RobertaTokenizer", "add_prefix_space": True, "trim_offsets": True})
        )

    def _legacy_gpt2(self, d: pathlib.Path) -> None:
        for f in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json"):
            shutil.copy(fixture("gpt2", f), d / f)
