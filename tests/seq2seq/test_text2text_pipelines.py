"""text2text-generation, summarization and translation pipelines on tiny random t5 and bart models
with a tokenizer trained at test time. transformers 5 removed these pipelines; the oracle is what
transformers 4's Text2TextGenerationPipeline ran: tokenizer(prefix + text) -> model.generate(...) ->
tokenizer.decode(skip_special_tokens=True, clean_up_tokenization_spaces=False), with the config's
task_specific_params applied."""

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import optimum_cpp  # noqa: E402

VOCAB = 99
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a summary of the news: markets rose and fell",
    "translate English to German: the house is small",
    "hello world, how are you today? fine, thanks!",
    "summarize: models turn text into other text",
] * 4
TEXTS = ["the quick fox is small", "hello markets, how are you?", "translate the news today"]


def _tokenizer(specials, template):
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token=specials[-1]))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=specials,
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()[:60])
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single=template, special_tokens=[(t, tok.token_to_id(t)) for t in specials if t in template])
    assert tok.get_vocab_size() <= VOCAB
    return tok


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("text2text")
    out = {}
    t5 = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                               relative_attention_num_buckets=8, decoder_start_token_id=0, eos_token_id=1,
                               pad_token_id=0,
                               task_specific_params={"summarization": {"prefix": "summarize: ", "max_length": 12},
                                                     "translation_en_to_de": {"prefix": "translate English to German: ",
                                                                              "num_beams": 3}})
    bart = transformers.BartConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                                   decoder_ffn_dim=64, max_position_embeddings=64)
    setups = {
        "t5": (t5, ["<pad>", "</s>", "<unk>"], "$A </s>", dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")),
        "bart": (bart, ["<s>", "<pad>", "</s>", "<unk>"], "<s> $A </s>",
                 dict(bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>")),
    }
    for i, (name, (config, specials, template, names)) in enumerate(setups.items()):
        torch.manual_seed(50 + i)
        folder = root / name
        model = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
        model.save_pretrained(folder)
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=_tokenizer(specials, template), **names)
        fast.save_pretrained(folder)
        out[name] = str(folder)
    return out


def _oracle(folder, task, text, **kwargs):
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    config = json.load(open(f"{folder}/config.json"))
    params = (config.get("task_specific_params") or {}).get(task, {})
    prefix = params.get("prefix", config.get("prefix") or "")
    gen = {k: v for k, v in params.items() if k != "prefix"}
    gen.update(kwargs)
    enc = tok(prefix + text, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, **gen)
    return [tok.decode(seq, skip_special_tokens=True, clean_up_tokenization_spaces=False) for seq in out]


@pytest.mark.parametrize("name", ["t5", "bart"])
@pytest.mark.parametrize("task,key", [("text2text-generation", "generated_text"), ("summarization", "summary_text"),
                                      ("translation_en_to_de", "translation_text")])
def test_pipeline_equals_generate_and_decode(folders, name, task, key):
    pipe = optimum_cpp.pipeline(task, folders[name])
    got = pipe(TEXTS[0])
    assert got == [{key: _oracle(folders[name], task, TEXTS[0])[0]}]
    # A list gives one record per input; a batch equals the items alone.
    many = pipe(TEXTS, batch_size=3)
    assert len(many) == 3
    for text, record in zip(TEXTS, many):
        assert record == pipe(text)[0]


def test_pipeline_options(folders):
    pipe = optimum_cpp.pipeline("text2text-generation", folders["bart"], max_new_tokens=9)
    expected = _oracle(folders["bart"], "text2text-generation", TEXTS[1], max_new_tokens=9, num_beams=2,
                       num_return_sequences=2)
    got = pipe(TEXTS[1], num_beams=2, num_return_sequences=2)
    assert got == [{"generated_text": e} for e in expected]
    ids = pipe(TEXTS[1], return_tensors=True)
    assert "generated_token_ids" in ids[0]
    with pytest.raises(ValueError, match="not_an_option"):
        pipe(TEXTS[1], not_an_option=3)


def test_auto_model_for_seq2seq_lm_generate(folders):
    """A right-padded batch through AutoModelForSeq2SeqLM.generate equals transformers' generate array."""
    folder = folders["t5"]
    model = optimum_cpp.AutoModelForSeq2SeqLM.from_pretrained(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    for kwargs in (dict(max_new_tokens=12), dict(max_new_tokens=12, num_beams=3, num_return_sequences=2)):
        with torch.no_grad():
            expected = hf.generate(**enc, do_sample=False, **kwargs).numpy()
        got = model.generate(enc["input_ids"], attention_mask=enc["attention_mask"], **kwargs)
        assert got.tolist() == expected.tolist(), kwargs
    dec = torch.tensor([[0, 5, 6, 7]] * 3)
    with torch.no_grad():
        ref = hf(**enc, decoder_input_ids=dec).logits.numpy()
    assert abs(model(**enc, decoder_input_ids=dec).logits - ref).max() <= 1e-4


def test_cli_run_summarization(folders):
    """`optimum-cpp run --task summarization` prints the pipeline's result for each input."""
    import pathlib
    import subprocess

    cli = pathlib.Path(__file__).resolve().parents[2] / "build" / "optimum-cpp"
    assert cli.exists(), f"{cli} is not built (ninja -C build optimum-cpp)"
    folder = folders["t5"]
    p = subprocess.run([str(cli), "run", "--no-progress", "--model", folder, "--task", "summarization",
                        TEXTS[0], TEXTS[1]], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    pipe = optimum_cpp.pipeline("summarization", folder)
    assert lines == [pipe(TEXTS[0]), pipe(TEXTS[1])]
