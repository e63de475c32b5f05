"""Bad input: malformed tokenizer.json, invalid UTF-8 / non-str inputs, bad ids and settings.

* A malformed tokenizer.json (unknown component type, missing or mistyped
  field, bad regex, ...) is an optimum_cpp FormatError / UnsupportedError (both
  ValueError) whose message names the component and the field or type at
  fault. For the "missing/mistyped field" cases `tokenizers` itself is checked
  to reject the file too, so each case really is malformed.
* Inputs `tokenizers` rejects (lone surrogates in a str, bytes decoded with
  errors='surrogateescape', bytes, None, ...) raise in optimum_cpp too, with
  the same exception class where the issue asks for it; none of them may
  crash the process. Those calls run in a child process, so a crash is
  reported as a crash of that case instead of killing the test session.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _base_json() -> dict:
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "a", "b", "##a"])}
    t = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    t.normalizer = normalizers.Sequence([normalizers.BertNormalizer(), normalizers.Replace("a", "b")])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Split("x", "isolated")])
    t.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    t.decoder = decoders.Sequence([decoders.WordPiece(), decoders.Strip(" ", 1, 0)])
    t.add_special_tokens(["[CLS]", "[SEP]"])
    return json.loads(t.to_str())


def _set(path, value):
    def edit(j):
        node = j
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


def _pop(path):
    def edit(j):
        node = j
        for k in path[:-1]:
            node = node[k]
        node.pop(path[-1])

    return edit


NORM0 = ("normalizer", "normalizers", 0)
NORM1 = ("normalizer", "normalizers", 1)
PRE1 = ("pre_tokenizer", "pretokenizers", 1)
DEC1 = ("decoder", "decoders", 1)

# id -> (edit, words the message must contain (any case), tokenizers must reject it too)
MALFORMED = {
    "unknown normalizer type": (_set(NORM0 + ("type",), "NoSuchNormalizer"), ["normalizer", "NoSuchNormalizer"], False),
    "unknown pre_tokenizer type": (_set(PRE1 + ("type",), "NoSuchPreTokenizer"), ["pre_tokenizer", "NoSuchPreTokenizer"], True),
    "unknown model type": (_set(("model", "type"), "NoSuchModel"), ["model", "NoSuchModel"], True),
    "unknown decoder type": (_set(DEC1 + ("type",), "NoSuchDecoder"), ["decoder", "NoSuchDecoder"], False),
    "unknown post_processor type": (_set(("post_processor", "type"), "NoSuchProcessor"), ["post_processor", "NoSuchProcessor"], False),
    "model without vocab": (_pop(("model", "vocab")), ["model", "vocab"], True),
    "model vocab not a map": (_set(("model", "vocab"), "notadict"), ["model", "vocab"], True),
    "Replace normalizer without content": (_pop(NORM1 + ("content",)), ["Replace", "content"], True),
    "Split pre_tokenizer without pattern": (_pop(PRE1 + ("pattern",)), ["Split", "pattern"], True),
    "Split with unknown behavior": (_set(PRE1 + ("behavior",), "Sideways"), ["Split", "behavior"], True),
    "Split with invalid regex": (_set(PRE1 + ("pattern",), {"Regex": "(unclosed"}), ["regex", "(unclosed"], True),
    "Strip decoder without content": (_pop(DEC1 + ("content",)), ["Strip", "content"], True),
    "TemplateProcessing without single": (_pop(("post_processor", "single")), ["TemplateProcessing", "single"], True),
    "BertNormalizer lowercase not a bool": (_set(NORM0 + ("lowercase",), "yes"), ["BertNormalizer", "lowercase"], True),
    "added token without content": (_pop(("added_tokens", 0, "content")), ["added", "content"], True),
    "no model": (_pop(("model",)), ["model"], True),
    # ids that do not fit 32 bits were truncated (2^32+5 became 5); tokenizers refuses them.
    "added token id beyond 32 bits": (_set(("added_tokens", 0, "id"), 2**32 + 5), ["[CLS]", "4294967301"], True),
    "negative added token id": (_set(("added_tokens", 0, "id"), -1), ["[CLS]", "-1"], True),
    "vocab id beyond 32 bits": (_set(("model", "vocab", "hello"), 2**32 + 4), ["hello", "4294967300"], True),
    "special token ids beyond 32 bits": (
        _set(("post_processor", "special_tokens", "[CLS]", "ids"), [2**32 + 2]), ["[CLS]", "4294967298"], True),
    # A wrong type only nlohmann noticed escaped as its type_error; now the JSON path is named.
    "added token special not a bool": (_set(("added_tokens", 0, "special"), "yes"), ["/added_tokens/0/special"], True),
    # padding.Fixed = -1 gave ValueError('vector::_M_fill_insert').
    "padding Fixed negative": (
        _set(("padding",), {"strategy": {"Fixed": -1}, "direction": "Right", "pad_to_multiple_of": None,
                            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}),
        ["padding", "Fixed", "-1"],
        True,
    ),
    "truncation max_length negative": (
        _set(("truncation",), {"max_length": -1, "strategy": "LongestFirst", "stride": 0, "direction": "Right"}),
        ["truncation", "max_length", "-1"],
        True,
    ),
    "truncation with unknown strategy": (
        _set(("truncation",), {"max_length": 5, "strategy": "Sideways", "stride": 0, "direction": "Right"}),
        ["truncation", "strategy"],
        True,
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_tokenizer_json(oc, case):
    edit, words, hf_rejects = MALFORMED[case]
    j = copy.deepcopy(_base_json())
    edit(j)
    text = json.dumps(j)
    if hf_rejects:
        with pytest.raises(Exception):
            Tokenizer.from_str(text)
    try:
        oc.Tokenizer.from_str(text)
    except (oc.FormatError, oc.UnsupportedError) as e:
        assert isinstance(e, ValueError)
        msg = str(e)
        missing = [w for w in words if w.lower() not in msg.lower()]
        assert not missing, f"{case}: the error message does not name {missing}: {msg!r}"
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{case}: expected optimum_cpp.FormatError or UnsupportedError, got {type(e).__name__}: {e}")
    else:
        pytest.fail(f"{case}: optimum_cpp.Tokenizer.from_str accepted a malformed tokenizer.json ({words})")


def test_malformed_file_errors_name_the_file(oc, tmp_path):
    j = _base_json()
    j["model"].pop("vocab")
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    with pytest.raises(oc.FormatError) as e:
        oc.Tokenizer.from_file(str(p))
    assert str(p) in str(e.value) and "vocab" in str(e.value)


def test_invalid_json_syntax(oc, tmp_path):
    text = json.dumps(_base_json())[:-40]
    with pytest.raises(Exception):
        Tokenizer.from_str(text)
    with pytest.raises(oc.FormatError):
        oc.Tokenizer.from_str(text)
    p = tmp_path / "tokenizer.json"
    p.write_text(text)
    with pytest.raises(oc.FormatError) as e:
        oc.Tokenizer.from_file(str(p))
    assert str(p) in str(e.value)


def test_invalid_utf8_in_tokenizer_json(oc, tmp_path):
    data = json.dumps(_base_json()).replace('"hello"', '"hel\\u00e9lo"').encode("utf-8").replace(b"hel\\u00e9lo", b"hel\xff\xfelo")
    p = tmp_path / "tokenizer.json"
    p.write_bytes(data)
    with pytest.raises(Exception):
        Tokenizer.from_file(str(p))
    with pytest.raises(oc.FormatError) as e:
        oc.Tokenizer.from_file(str(p))
    assert str(p) in str(e.value)


def test_number_beyond_double_range(oc, tmp_path):
    # serde_json (so tokenizers) refuses 1e400; nlohmann threw out_of_range, outside the project's errors.
    text = json.dumps(_base_json()).replace('"max_input_chars_per_word": 100', '"max_input_chars_per_word": 1e400')
    assert "1e400" in text
    with pytest.raises(Exception, match="out of range"):
        Tokenizer.from_str(text)
    p = tmp_path / "tokenizer.json"
    p.write_text(text)
    with pytest.raises(oc.FormatError) as e:
        oc.Tokenizer.from_file(str(p))
    assert str(p) in str(e.value) and "/model/max_input_chars_per_word" in str(e.value)


def test_invalid_utf8_in_messages_keeps_the_exception_class(oc, tmp_path):
    # A path (or a quoted token) that is not UTF-8 made the message undecodable:
    # Python got UnicodeDecodeError instead of the project's exception.
    missing = bytes(tmp_path) + b"/bad\xff\xfe/tokenizer.json"
    with pytest.raises(oc.NotFoundError) as e:
        oc.Tokenizer.from_file(missing)
    assert "bad\\xff\\xfe" in str(e.value)
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "vocab.txt").write_text("[CLS]\n[SEP]\n")
    (folder / "tokenizer_config.json").write_bytes(b'{"cls_token": "\xff\xfe"}')
    with pytest.raises(oc.FormatError) as e:
        oc.Tokenizer.from_pretrained(str(folder))
    assert "tokenizer_config.json" in str(e.value) and "\\xff" in str(e.value)


def test_files_that_are_not_regular_are_refused_at_once(oc, tmp_path):
    fifo = tmp_path / "tokenizer.json"
    os.mkfifo(fifo)
    with pytest.raises(oc.IoError, match="not a regular file"):
        oc.Tokenizer.from_file(str(fifo))
    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / "tokenizer.json").symlink_to("/dev/zero")
    with pytest.raises(oc.IoError, match="not a regular file"):
        oc.Tokenizer.from_pretrained(str(zero))


def test_missing_file(oc, tmp_path):
    p = tmp_path / "nope" / "tokenizer.json"
    with pytest.raises(oc.NotFoundError) as e:
        oc.Tokenizer.from_file(str(p))
    assert str(p) in str(e.value)


# ---------------------------------------------------------------------------
# Bad inputs to encode/decode, in a child process (a crash must not hide the rest).
# ---------------------------------------------------------------------------

# (id, expression on `tok`, how optimum_cpp must match tokenizers):
#   "same": the same outcome (same exception class, or the same returned value)
#   "raises": raises some Exception where tokenizers raises (value cases: equal value)
SURROGATE_ESCAPED = b"caf\xe9 \xff\xfe ok".decode("utf-8", "surrogateescape")
BAD_INPUTS = [
    ("encode(lone high surrogate)", "tok.encode('a\\ud800b')", "same"),
    ("encode(lone low surrogate)", "tok.encode('\\udfff')", "same"),
    ("encode(surrogateescape-decoded bytes)", f"tok.encode({SURROGATE_ESCAPED!r})", "same"),
    ("encode(pair with surrogate)", "tok.encode('ok', 'a\\udc80')", "same"),
    ("encode_batch([str with surrogate])", "tok.encode_batch(['ok', 'a\\ud800b'])", "same"),
    ("encode_batch([pair with surrogate])", "tok.encode_batch([('ok', 'a\\ud800b')])", "same"),
    ("encode_batch([surrogateescape])", f"tok.encode_batch([{SURROGATE_ESCAPED!r}])", "same"),
    ("encode(bytes, invalid UTF-8)", "tok.encode(b'\\xff\\xfe abc \\xc3')", "same"),
    ("encode(bytes, valid UTF-8)", "tok.encode(b'abc')", "same"),
    ("encode_batch([bytes])", "tok.encode_batch([b'\\xff\\xfe'])", "same"),
    ("encode(None)", "tok.encode(None)", "same"),
    ("encode_batch([int])", "tok.encode_batch([1])", "raises"),
    ("encode_batch([3-tuple])", "tok.encode_batch([('a', 'b', 'c')])", "raises"),
    ("encode_batch(str)", "tok.encode_batch('abc')", "raises"),
    ("token_to_id(surrogate)", "tok.token_to_id('\\ud800')", "raises"),
    ("decode(negative id)", "tok.decode([-1])", "raises"),
    ("decode(id >= 2**32)", "tok.decode([2**40])", "raises"),
    ("decode(str ids)", "tok.decode(['a'])", "raises"),
    ("decode_batch([[None]])", "tok.decode_batch([[1], [None]])", "raises"),
    ("decode(ids past the vocab)", "tok.decode([10**6, 3, 10**9])", "same"),
    ("decode(partial UTF-8 bytes)", "tok.decode(PARTIAL)", "same"),
    ("decode([])", "tok.decode([])", "same"),
    ("encode(NUL characters)", "[tuple(e.ids) for e in [tok.encode('a\\x00b\\x00\\x00')]]", "same"),
    ("encode(very long word)", "tuple(tok.encode('x' * 200000).ids[:5])", "same"),
    ("encode(10^5 spaces)", "len(tok.encode(' ' * 100000).ids)", "same"),
    ("encode(10^4 combining marks)", "tuple(tok.encode('a' + '\\u0301' * 10000).ids[:5])", "same"),
    ("enable_truncation(stride >= max_length)", "tok.enable_truncation(4, stride=4) or tuple(tok.encode('hello world ' * 20).ids)", "raises"),
    ("enable_truncation(strategy='foo')", "tok.enable_truncation(5, strategy='foo')", "raises"),
    ("enable_padding(direction='up')", "tok.enable_padding(direction='up')", "raises"),
]

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.append(sys.argv[1])
    import tokenizers, optimum_cpp
    path, kind = sys.argv[2], sys.argv[3]
    tok = (tokenizers.Tokenizer if kind == "hf" else optimum_cpp.Tokenizer).from_file(path)
    PARTIAL = json.loads(sys.argv[4])
    cases = json.loads(sys.stdin.read())

    def norm(v):
        if hasattr(v, "ids"):
            return ("Encoding", list(v.ids), list(v.tokens), [tuple(o) for o in v.offsets])
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    for name, expr in cases:
        print("START " + json.dumps(name), flush=True)
        tok.no_truncation(); tok.no_padding()
        try:
            v = eval(expr)
            out = {"ok": True, "value": repr(norm(v))}
        except BaseException as e:
            out = {"ok": False, "type": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__], "message": str(e)[:300]}
        print("DONE " + json.dumps(out), flush=True)
    """
)


def _run_child(kind: str, path: str, partial: list[int]) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "python"), path, kind, json.dumps(partial)],
        input=json.dumps([(n, e) for n, e, _ in BAD_INPUTS]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    results, current = {}, None
    for line in proc.stdout.splitlines():
        if line.startswith("START "):
            current = json.loads(line[6:])
        elif line.startswith("DONE ") and current is not None:
            results[current] = json.loads(line[5:])
            current = None
    crash = ""
    if proc.returncode != 0:
        crash = f"{kind} child exited with {proc.returncode} during case {current!r}; stderr tail: {proc.stderr[-1500:]}"
    return results, crash


@pytest.mark.parametrize("name", ["fixture-gpt2", "fixture-minilm", "hf-llama2"])
def test_bad_inputs(zoo, name):
    path = str(zoo.path(name))
    hf = zoo.hf(name)
    # ids of tokens that decode to partial UTF-8 sequences (byte-level 0xE2/0xF0, byte fallback <0xE2>), or none
    partial = [i for t in ("â", "ð", "<0xE2>", "<0xF0>", "<0x9F>") if (i := hf.token_to_id(t)) is not None]
    expected, hf_crash = _run_child("hf", path, partial)
    assert not hf_crash, hf_crash
    got, oc_crash = _run_child("oc", path, partial)
    problems = [oc_crash] if oc_crash else []
    for case, expr, how in BAD_INPUTS:
        e, g = expected.get(case), got.get(case)
        if g is None:
            if not oc_crash:
                problems.append(f"{case}: no result")
            continue
        if e["ok"]:
            if not g["ok"]:
                problems.append(f"{case} [{expr}]: tokenizers returns {e['value'][:200]}, optimum_cpp raises {g['type']}: {g['message']}")
            elif e["value"] != g["value"]:
                problems.append(f"{case} [{expr}]: tokenizers returns {e['value'][:200]}, optimum_cpp returns {g['value'][:200]}")
        else:
            if g["ok"]:
                problems.append(f"{case} [{expr}]: tokenizers raises {e['type']}: {e['message'][:150]}; optimum_cpp returns {g['value'][:200]}")
            elif how == "same" and e["type"] not in g["mro"]:
                problems.append(f"{case} [{expr}]: tokenizers raises {e['type']}: {e['message'][:150]}; optimum_cpp raises {g['type']} "
                                f"(not a subclass of {e['type']}): {g['message'][:200]}")
    assert not problems, f"{name}: bad-input behaviour differs from tokenizers:\n  " + "\n  ".join(problems)
