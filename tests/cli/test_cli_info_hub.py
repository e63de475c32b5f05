"""`optimum-cpp info` with Hub ids, against the fake Hub (tests/hub/fake_hub.py)
serving tiny checkpoints built with transformers: the summary equals
transformers' AutoConfig of the same repository (read through huggingface_hub),
only config.json (and optimum_export.json) are downloaded, revisions and
subfolders apply, and unknown repositories, offline caches and typo'd local
paths are named."""

from __future__ import annotations

import json
import pathlib
import sys
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "hub"))
from cli_testlib import cli, tiny_classifier, tiny_masked_lm  # noqa: E402
from hub_testlib import FakeHub, clean_env, run_hf  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("info-hub")
    tiny_classifier(base / "classifier")
    tiny_masked_lm(base / "mlm")
    nested = base / "nested"
    tiny_masked_lm(nested / "inner", seed=3)
    (nested / "README.md").write_text("a repository with the model in a sub-folder\n")
    cli("export", "-m", base / "classifier", base / "exported", "-q")
    config = {"repos": [
        {"id": "org/tiny", "commits": [{"folder": str(base / "mlm"), "refs": ["v1"]},
                                       {"folder": str(base / "classifier"), "refs": ["main"]}]},
        {"id": "org/nested", "commits": [{"folder": str(nested), "refs": ["main"]}]},
        {"id": "org/exported", "commits": [{"folder": str(base / "exported"), "refs": ["main"]}]},
    ]}
    (base / "hub.json").write_text(json.dumps(config))
    hub = FakeHub(base / "hub.json", base)
    try:
        yield {"hub": hub, "base": base}
    finally:
        hub.stop()


@pytest.fixture
def env(world, tmp_path) -> dict:
    world["hub"].reset()
    return clean_env(tmp_path, world["hub"].endpoint)


def info(*args, env: dict) -> dict:
    r = cli("info", *args, env=env)
    return json.loads(r.stdout)


def downloaded(hub: FakeHub) -> list[str]:
    return sorted(r["path"].split("/resolve/", 1)[1].split("/", 1)[1]
                  for r in hub.requests() if r["method"] == "GET" and "/resolve/" in r["path"])


def reference_config(repo: str, env: dict, **kwargs) -> dict:
    """transformers' AutoConfig of the repository, downloaded by huggingface_hub from the fake Hub."""
    path = run_hf("hf_hub_download", repo, "config.json", env=env, **kwargs)["result"]
    import transformers as T
    return T.AutoConfig.from_pretrained(pathlib.Path(path).parent).to_dict()


def test_info_of_a_hub_id_equals_transformers_config(world, env):
    out = info("org/tiny", env=env)
    hub = world["hub"]
    assert downloaded(hub) == ["config.json"]
    with urllib.request.urlopen(f"{hub.endpoint}/api/models/org/tiny/revision/main") as reply:
        assert out["commit"] == json.load(reply)["sha"]
    want = reference_config("org/tiny", env)
    assert out["repo_id"] == "org/tiny"
    for key in ("model_type", "architectures", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "vocab_size"):
        assert out[key] == want[key], key
    assert out["num_labels"] == len(want["id2label"]) == 3
    assert "text-classification" in out["tasks"]
    # Downloads report progress on stderr (plain lines: stderr is a pipe here); --quiet: none.
    fresh = {**env, "HF_HOME": env["HF_HOME"] + "-2"}
    r = cli("info", "org/tiny", env=fresh)
    assert any(line.startswith("download: config.json (") for line in r.stderr.splitlines()), r.stderr
    assert cli("info", "org/tiny", "-q", env={**env, "HF_HOME": env["HF_HOME"] + "-3"}).stderr == ""
    # The second time it comes from the cache, also offline.
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    assert info("--model", "org/tiny", env=offline)["commit"] == out["commit"]


def test_revision_and_subfolder(world, env):
    old = info("org/tiny", "--revision", "v1", env=env)
    assert old["architectures"] == reference_config("org/tiny", env, revision="v1")["architectures"]
    assert old["architectures"] == ["BertForMaskedLM"]
    inner = info("org/nested", "--subfolder", "inner", env=env)
    assert inner["vocab_size"] == reference_config("org/nested", env, subfolder="inner")["vocab_size"]
    r = cli("info", "org/nested", env=env, check=False)
    assert r.returncode != 0 and "no config.json" in r.stderr and "--subfolder" in r.stderr, r.stderr


def test_an_export_on_the_hub_shows_its_export_record(world, env):
    out = info("org/exported", env=env)
    assert downloaded(world["hub"]) == ["config.json", "optimum_export.json"]
    meta = json.loads((world["base"] / "exported" / "optimum_export.json").read_text())
    assert out["export"]["dtype"] == meta["dtype"] == "fp32"
    assert out["export"]["task"] == meta["task"]


def test_unknown_repository_and_local_typo(world, env):
    r = cli("info", "org/missing", env=env, check=False)
    assert r.returncode != 0 and "org/missing" in r.stderr, r.stderr
    r = cli("info", "./org/tiny", env=env, check=False)
    assert r.returncode != 0 and "no such folder or file './org/tiny'" in r.stderr, r.stderr
    assert downloaded(world["hub"]) == []  # a path-looking id never reaches the Hub
