"""`optimum-cpp generate` and `optimum-cpp export --gguf-file` (subprocesses on
build/optimum-cpp) on the real GGUF models: the CLI's greedy and beam output
equals the Python API's (AutoModelForCausalLM.generate), streaming prints the
same text, and an exported folder reloads (here and in transformers) with the
GGUF model's logits, tokenizer and chat template."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import optimum_cpp as oc  # noqa: E402

CLI = ROOT / "build" / "optimum-cpp"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = "gemma-3-270m-q4_k_m.gguf"


def models_dir() -> pathlib.Path:
    for d in (ROOT / ".models", pathlib.Path("/work/main/.models")):
        if (d / SMOLLM2).is_file() and (d / GEMMA3).is_file():
            return d
    pytest.fail(f"{SMOLLM2} and {GEMMA3} not found under {ROOT / '.models'}: run `make setup`")


def cli(*args, check=True):
    assert CLI.exists(), f"{CLI} is not built (cmake --build build --target optimum-cpp)"
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def json_lines(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def smollm2():
    return oc.AutoModelForCausalLM.from_pretrained(models_dir(), gguf_file=SMOLLM2)


def python_new_tokens(model, ids, **kw):
    out = model.generate(np.asarray([ids]), **kw)
    return out[:, len(ids):]


def test_generate_prompt_equals_python(smollm2):
    prompt = "The three laws of robotics are"
    r = cli("generate", models_dir(), "--gguf-file", SMOLLM2, "--prompt", prompt, "--max-new-tokens", 40, "--json")
    (row,) = json_lines(r.stdout)
    ids = smollm2.tokenizer.encode(prompt)
    assert row["prompt_ids"] == ids
    new = python_new_tokens(smollm2, ids, max_new_tokens=40)[0].tolist()
    assert row["tokens"] == new[: len(row["tokens"])]
    assert all(t == smollm2.generation_config["pad_token_id"] for t in new[len(row["tokens"]):])
    assert row["text"] == smollm2.tokenizer.decode(row["tokens"], skip_special_tokens=True)
    # Plain output is the text; --stream prints the same text token by token.
    plain = cli("generate", models_dir() / SMOLLM2, "--prompt", prompt, "--max-new-tokens", 40)
    assert plain.stdout == row["text"] + "\n"
    streamed = cli("generate", models_dir() / SMOLLM2, "--prompt", prompt, "--max-new-tokens", 40, "--stream")
    assert streamed.stdout == plain.stdout


def test_generate_chat_equals_python(smollm2):
    messages = [{"role": "system", "content": "You are concise."},
                {"role": "user", "content": "What is the capital of France?"}]
    r = cli("generate", models_dir(), "--gguf-file", SMOLLM2, "--chat", json.dumps(messages),
            "--max-new-tokens", 30, "--json")
    (row,) = json_lines(r.stdout)
    enc = smollm2.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="np")
    assert row["prompt_ids"] == enc["input_ids"][0].tolist()
    out = smollm2.generate(**enc, max_new_tokens=30)
    assert row["tokens"] == out[0, enc["input_ids"].shape[1]:][: len(row["tokens"])].tolist()
    # Plain text is one user message.
    one = cli("generate", models_dir() / SMOLLM2, "--chat", "What is the capital of France?", "--max-new-tokens", 30,
              "--json")
    enc = smollm2.tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                                add_generation_prompt=True)
    assert json_lines(one.stdout)[0]["prompt_ids"] == enc["input_ids"]


def test_generate_beams_and_sampling_equal_python(smollm2):
    prompt = "Water boils at"
    r = cli("generate", models_dir() / SMOLLM2, "--prompt", prompt, "--max-new-tokens", 10, "--num-beams", 3,
            "--num-return-sequences", 2, "--json")
    rows = json_lines(r.stdout)
    ids = smollm2.tokenizer.encode(prompt)
    out = smollm2.generate(np.asarray([ids]), max_new_tokens=10, num_beams=3, num_return_sequences=2,
                           return_dict_in_generate=True, output_scores=True)
    assert len(rows) == 2
    for row, seq, score in zip(rows, out.sequences, out.sequences_scores):
        assert row["tokens"] == seq[len(ids):][: len(row["tokens"])].tolist()
        assert row["sequence_score"] == pytest.approx(float(score), abs=1e-5)
    sample = ["--prompt", prompt, "--max-new-tokens", 12, "--do-sample", "--temperature", 0.7, "--top-k", 30,
              "--top-p", 0.9, "--seed", 11, "--json"]
    a = json_lines(cli("generate", models_dir() / SMOLLM2, *sample).stdout)[0]
    b = json_lines(cli("generate", models_dir() / SMOLLM2, *sample).stdout)[0]
    assert a["tokens"] == b["tokens"]
    py = python_new_tokens(smollm2, ids, max_new_tokens=12, do_sample=True, temperature=0.7, top_k=30, top_p=0.9,
                           seed=11)[0].tolist()
    assert a["tokens"] == py[: len(a["tokens"])]


def test_generate_gemma_prompt_stream():
    if "gemma3_text" not in oc._C.decoder_model_types():
        pytest.skip(f"the decoder engine lacks gemma3_text (supported: {oc._C.decoder_model_types()})")
    r = cli("generate", models_dir(), "--gguf-file", GEMMA3, "--prompt", "My favourite color is", "--max-new-tokens",
            12, "--json")
    (row,) = json_lines(r.stdout)
    streamed = cli("generate", models_dir(), "--gguf-file", GEMMA3, "--prompt", "My favourite color is",
                   "--max-new-tokens", 12, "--stream")
    assert streamed.stdout == row["text"] + "\n"
    assert row["finish_reason"] in ("eos", "length")
    # This GGUF file carries no chat template: --chat says so.
    r = cli("generate", models_dir(), "--gguf-file", GEMMA3, "--chat", "Name a color.", check=False)
    assert r.returncode != 0 and "no chat template" in r.stderr


def test_generate_errors(tmp_path):
    r = cli("generate", models_dir() / SMOLLM2, "--prompt", "a", "--chat", "b", check=False)
    assert r.returncode != 0 and "exactly one of --prompt and --chat" in r.stderr
    r = cli("generate", models_dir() / SMOLLM2, "--prompt", "a", "--num-beams", 2, "--stream", check=False)
    assert r.returncode != 0 and "--stream" in r.stderr
    r = cli("generate", models_dir() / SMOLLM2, "--chat", "[{\"content\": \"no role\"}]", check=False)
    assert r.returncode != 0 and "role" in r.stderr
    r = cli("generate", models_dir() / SMOLLM2, "--prompt", "a", "--option", "bogus=1", check=False)
    assert r.returncode != 0 and "bogus" in r.stderr
    r = cli("generate", models_dir() / SMOLLM2, "--prompt", "a", "--top-p", -0.5, "--do-sample", check=False)
    assert r.returncode != 0 and "top_p" in r.stderr
    r = cli("generate", tmp_path, "--gguf-file", "nothing.gguf", "--prompt", "a", check=False)
    assert r.returncode != 0 and "nothing.gguf" in r.stderr


def test_export_and_reload(smollm2, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    out = tmp_path / "smollm2"
    r = cli("export", "--model", models_dir(), "--gguf-file", SMOLLM2, out)
    assert "validation max abs diff" in r.stderr
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json"} <= {p.name for p in out.iterdir()}
    # Reloaded here: the GGUF model's logits exactly, the same tokenizer and chat template.
    back = oc.AutoModelForCausalLM.from_pretrained(out)
    text = "The quick brown fox jumps over the lazy dog"
    ids = np.asarray([smollm2.tokenizer.encode(text)])
    np.testing.assert_array_equal(back(input_ids=ids).logits, smollm2(input_ids=ids).logits)
    assert back.tokenizer.encode(text) == ids[0].tolist()
    chat = [{"role": "user", "content": "Hi there"}]
    rendered = smollm2.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert back.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == rendered
    # transformers loads the folder: same ids, same template, logits within 1e-4 of the logit scale.
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    assert hf_tok.encode(text) == ids[0].tolist()
    assert hf_tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == rendered
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(ids)).logits.numpy()
    ours = smollm2(input_ids=ids).logits
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() < 1e-4
    # The exported folder generates what the GGUF file does.
    a = json_lines(cli("generate", out, "--prompt", text, "--max-new-tokens", 16, "--json").stdout)[0]
    b = json_lines(cli("generate", models_dir() / SMOLLM2, "--prompt", text, "--max-new-tokens", 16,
                       "--json").stdout)[0]
    assert a["tokens"] == b["tokens"]
    # Python's save_pretrained writes the same folder.
    py_out = tmp_path / "py"
    smollm2.save_pretrained(py_out)
    assert json.loads((py_out / "config.json").read_text()) == json.loads((out / "config.json").read_text())


def test_export_errors(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    r = cli("export", "--model", models_dir(), "--gguf-file", SMOLLM2, busy, check=False)
    assert r.returncode != 0 and "not empty" in r.stderr and str(busy) in r.stderr
    assert (busy / "keep.txt").read_text() == "x"
    import gguf

    w = gguf.GGUFWriter(str(tmp_path / "falcon.gguf"), "falcon")
    w.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = cli("export", "--model", tmp_path, "--gguf-file", "falcon.gguf", tmp_path / "out", check=False)
    assert r.returncode != 0 and "falcon" in r.stderr
    assert not (tmp_path / "out").exists()
