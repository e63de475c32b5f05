"""transformers' loading of a GGUF file, converted once and kept on disk.

transformers dequantizes GGUF tensors in numpy and parses the metadata with
gguf.GGUFReader (seconds to minutes per file: gemma-3's 262k-token
vocabulary alone takes tens of seconds), and several suites use the same two
real files as their oracle. The first use of a file converts it with
transformers itself into a folder:

    config.json, generation_config.json   AutoConfig.from_pretrained(dir, gguf_file=) and the
                                          GenerationConfig from_pretrained derives from it
    model.safetensors                     load_gguf_checkpoint(path, return_tensors=True,
                                          model_to_load=...)["tensors"]: what from_pretrained
                                          loads into the model, bit for bit
    tokenizer files                       AutoTokenizer.from_pretrained(dir, gguf_file=).save_pretrained
                                          (for loading the folder as a checkpoint; load_tokenizer
                                          itself reads the GGUF file: see there)
    checkpoint.json                       load_gguf_checkpoint's "config" and "tokenizer_config" dicts

under <repo>/build/test-cache/gguf-reference/ (or $OPTIMUM_TEST_CACHE/gguf-reference/), in a
folder keyed by the file's sha256 and the transformers and gguf versions; later users (this or
another pytest run) load that folder with transformers. transformers stays the oracle; only the
re-dequantizing is saved. A folder appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORMAT = 1  # bump when the folder's content changes
_SHA: dict = {}
_FOLDERS: dict = {}


def cache_root() -> Path:
    base = os.environ.get("OPTIMUM_TEST_CACHE")
    return (Path(base) if base else ROOT / "build" / "test-cache") / "gguf-reference"


def sha256(path: Path) -> str:
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _SHA[key] = h.hexdigest()
    return _SHA[key]


def _versions() -> str:
    import gguf
    import transformers

    gguf_version = getattr(gguf, "__version__", None)
    if gguf_version is None:
        from importlib.metadata import version

        gguf_version = version("gguf")
    return f"tf{transformers.__version__}-gguf{gguf_version}-v{FORMAT}"


def _convert(path: Path, dest: Path) -> None:
    import gguf
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    # transformers parses the file once for the config, once for the tokenizer and once or
    # twice for the tensors: one reader serves them all.
    real_reader = gguf.GGUFReader
    readers: dict = {}

    def shared_reader(p, *args, **kwargs):
        key = str(Path(p).resolve())
        if key not in readers:
            readers[key] = real_reader(p, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = shared_reader
    try:
        config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        checkpoint = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)
    finally:
        gguf.GGUFReader = real_reader
    save_file({k: v.detach().contiguous() for k, v in checkpoint["tensors"].items()},
              str(dest / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(dest)
    # from_pretrained(gguf_file=) finds no generation_config.json and derives one from the config.
    GenerationConfig.from_model_config(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    (dest / "checkpoint.json").write_text(json.dumps(
        {"config": checkpoint["config"], "tokenizer_config": checkpoint["tokenizer_config"]}))
    (dest / "source.json").write_text(json.dumps({"gguf": str(path), "sha256": sha256(path),
                                                  "versions": _versions()}))


def reference_folder(path) -> Path:
    """The converted folder of GGUF file `path` (converted now when not cached)."""
    path = Path(path).resolve()
    key = (str(path), sha256(path))
    if key in _FOLDERS:
        return _FOLDERS[key]
    folder = cache_root() / f"{path.stem}-{key[1][:16]}-{_versions()}"
    if not (folder / "source.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Suites run side by side (tests/run_suites.py): one converts, the others wait and reuse it.
        with open(folder.parent / f"{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / "source.json").is_file():
                partial = folder.parent / f"{folder.name}.partial-{os.getpid()}"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir()
                try:
                    _convert(path, partial)
                    try:
                        os.rename(partial, folder)
                    except OSError:  # another run finished it first
                        if not (folder / "source.json").is_file():
                            raise
                finally:
                    shutil.rmtree(partial, ignore_errors=True)
    _FOLDERS[key] = folder
    return folder


def load_config(path):
    """AutoConfig.from_pretrained(dir, gguf_file=) from the cache."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(reference_folder(path))


def load_tokenizer(path):
    """AutoTokenizer.from_pretrained(dir, gguf_file=) itself, not from the cache: the tokenizer's
    save_pretrained / from_pretrained round trip loses init flags (gemma-3's add_bos_token comes
    back False), and loading it parses the metadata only (no dequantizing). The cache folder's
    tokenizer files serve loaders of the folder as a checkpoint (ours)."""
    from transformers import AutoTokenizer

    path = Path(path)
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def load_model(path, **kwargs):
    """AutoModelForCausalLM.from_pretrained(dir, gguf_file=, dtype=float32) from the cache, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs.setdefault("dtype", torch.float32)
    return AutoModelForCausalLM.from_pretrained(reference_folder(path), **kwargs).eval()


def load_checkpoint(path) -> dict:
    """load_gguf_checkpoint(path, return_tensors=True, model_to_load=...)'s config, tokenizer_config
    and tensors from the cache."""
    from safetensors.torch import load_file

    folder = reference_folder(path)
    out = json.loads((folder / "checkpoint.json").read_text())
    out["tensors"] = load_file(str(folder / "model.safetensors"))
    return out
