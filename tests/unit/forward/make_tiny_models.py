"""Fixtures of the forward tests (tests/unit/forward/): one tiny random model
per encoder family and head, saved with transformers and its tokenizer, a
sentence-transformers folder per family, and what the reference libraries
compute on them (transformers forward outputs and pipelines,
sentence-transformers encode), in manifest.json.

    make_tiny_models.py OUT_DIR

Seeded and small (hidden 32, 2 layers, a few tokens), so that the C++ side
stays fast under AddressSanitizer. Does nothing when OUT_DIR/manifest.json
was written by this same script with the same library versions."""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pipelines"))

# Canonical task of each head built per family, and its transformers Auto class.
AUTO_CLASSES = {
    "feature-extraction": "AutoModel",
    "fill-mask": "AutoModelForMaskedLM",
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "multiple-choice": "AutoModelForMultipleChoice",
}
SEQ_LENGTHS = (7, 4)  # the forward inputs: one batch of two rows, the second right-padded
CHOICES = 2  # multiple-choice inputs: [batch, CHOICES, seq], the same rows for each choice but the first token
TEXTS = ["My name is John and I live in London.", "Paris is the capital of France."]
QA = {"question": "Where does John live?", "context": "My name is John and I live in London."}
ZERO_SHOT_LABELS = ["politics", "sport", "music"]


def stamp() -> str:
    """What the fixtures depend on: the scripts that make them and the libraries' versions."""
    from importlib.metadata import version

    h = hashlib.sha256((HERE / "make_tiny_models.py").read_bytes())
    for name in ("pipe_zoo.py", "test_question_answering.py"):
        h.update((ROOT / "tests" / "pipelines" / name).read_bytes())
    for package in ("transformers", "tokenizers", "torch", "sentence-transformers"):
        h.update(version(package).encode())
    return h.hexdigest()


def to_json(value):
    """Pipeline results as plain JSON (numpy scalars and arrays included)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist"):
        return to_json(value.tolist())
    return value


def tensor_json(t) -> dict:
    t = t.detach().float().contiguous()
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def forward_case(folder: pathlib.Path, family: str, head: str, tokenizer) -> dict:
    """Inputs of one padded batch and every output transformers gives for them."""
    import torch
    import transformers

    model = getattr(transformers, AUTO_CLASSES[head]).from_pretrained(str(folder)).eval()
    cfg = model.config
    gen = torch.Generator().manual_seed(1234)
    batch, seq = len(SEQ_LENGTHS), max(SEQ_LENGTHS)
    ids = torch.randint(5, cfg.vocab_size, (batch, seq), generator=gen)
    mask = torch.zeros(batch, seq, dtype=torch.long)
    for row, n in enumerate(SEQ_LENGTHS):
        mask[row, :n] = 1
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, tokenizer.pad_token_id))
    inputs = {"input_ids": ids, "attention_mask": mask}
    if getattr(cfg, "type_vocab_size", 0) >= 2 and family not in ("distilbert", "mpnet"):
        inputs["token_type_ids"] = (torch.arange(seq) >= 3).long().expand(batch, seq) * mask
    if head == "multiple-choice":
        inputs = {k: v.unsqueeze(1).repeat(1, CHOICES, 1) for k, v in inputs.items()}
        inputs["input_ids"][:, 1:, 0] = torch.randint(5, cfg.vocab_size, (batch, CHOICES - 1), generator=gen)
    with torch.no_grad():
        out = model(**inputs)
    outputs = {k: tensor_json(v) for k, v in out.items()
               if k in ("last_hidden_state", "pooler_output", "logits", "start_logits", "end_logits")}
    return {"inputs": {k: tensor_json(v) | {"data": v.flatten().tolist()} for k, v in inputs.items()},
            "outputs": outputs}


def pipeline_cases(folders: dict[str, pathlib.Path], tokenizer) -> list[dict]:
    """transformers' pipelines on the heads of one family: task, folder, call, result."""
    from transformers import pipeline

    mask = tokenizer.mask_token
    calls = [
        ("feature-extraction", "feature-extraction", TEXTS[1], {}),
        ("fill-mask", "fill-mask", f"Paris is the {mask} of France.", {"top_k": 3}),
        ("text-classification", "text-classification", [TEXTS[0], {"text": TEXTS[1], "text_pair": TEXTS[0]}],
         {"top_k": None}),
        ("token-classification", "token-classification", TEXTS[0],
         {"aggregation_strategy": "simple", "ignore_labels": []}),
        ("question-answering", "question-answering", QA, {"top_k": 2}),
        ("zero-shot-classification", "text-classification", TEXTS[1], {"candidate_labels": ZERO_SHOT_LABELS}),
    ]
    cases = []
    for task, head, inputs, options in calls:
        if task == "question-answering":
            # transformers 5 has no question-answering pipeline: the pipeline
            # suite's reference is that pipeline's algorithm on transformers' model.
            from test_question_answering import reference_qa
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            model = AutoModelForQuestionAnswering.from_pretrained(str(folders[head])).eval()
            result = reference_qa(model, AutoTokenizer.from_pretrained(str(folders[head])), inputs["question"],
                                  inputs["context"], **options)
            cases.append({"task": task, "folder": folders[head].name, "inputs": inputs, "options": options,
                          "expected": to_json(result)})
            continue
        pipe = pipeline(task, model=str(folders[head]))
        if isinstance(inputs, list):
            result = pipe([i if isinstance(i, str) else dict(i) for i in inputs], **options)
        else:
            result = pipe(inputs, **options)
        cases.append({"task": task, "folder": folders[head].name, "inputs": inputs, "options": options,
                      "expected": to_json(result)})
    return cases


def sentence_transformer_case(base: pathlib.Path, out: pathlib.Path) -> dict:
    """A Transformer -> Pooling(mean) -> Normalize folder over `base` and its embeddings of TEXTS."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(0)
    tr = Transformer(str(base), max_seq_length=16)
    st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), pooling_mode="mean"), Normalize()],
                             device="cpu").eval()
    st.save(str(out))
    emb = st.encode(TEXTS, convert_to_tensor=True)
    return {"folder": out.name, "sentences": TEXTS, "expected": tensor_json(emb)}


def build_head(root: pathlib.Path, family: str, head: str, tokenizer) -> pathlib.Path:
    """What pipe_zoo.build does, for a head it does not know (no pipeline runs it)."""
    import pipe_zoo
    import torch
    import transformers

    folder = root / f"{family}-{head}-0"
    folder.mkdir(parents=True)
    cfg = pipe_zoo.make_config(family, len(tokenizer), tokenizer.pad_token_id, None)
    torch.manual_seed(0)
    getattr(transformers, AUTO_CLASSES[head]).from_config(cfg).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def main(out: pathlib.Path) -> None:
    key = stamp()
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        try:
            if json.loads(manifest_path.read_text())["stamp"] == key:
                return
        except (ValueError, KeyError):
            pass
    import pipe_zoo
    import torch
    import transformers

    torch.set_num_threads(2)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest = {"stamp": key, "families": {}}
    labels = {"text-classification": pipe_zoo.NLI_LABELS, "token-classification": pipe_zoo.NER_LABELS}
    for family in pipe_zoo.FAMILIES:
        tok_dir = out / "_tokenizers" / family
        if family in pipe_zoo.BPE_FAMILIES:
            tokenizer = pipe_zoo.bpe_tokenizer(tok_dir)
        else:
            tokenizer = pipe_zoo.bert_tokenizer(tok_dir, with_token_types=family not in pipe_zoo.NO_TOKEN_TYPES)
        folders, forward = {}, {}
        for head in AUTO_CLASSES:
            if head in pipe_zoo.HEADS:
                folder = pipe_zoo.build(out, family, head, labels.get(head), tokenizer=tokenizer)
            else:
                folder = build_head(out, family, head, tokenizer)
            folders[head] = folder
            forward[head] = {"folder": folder.name} | forward_case(folder, family, head, tokenizer)
        manifest["families"][family] = {
            "forward": forward,
            "pipelines": pipeline_cases(folders, tokenizer),
            "sentence_transformer": sentence_transformer_case(folders["feature-extraction"],
                                                              out / f"{family}-sentence-transformer"),
        }
    shutil.rmtree(out / "_tokenizers")
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(manifest_path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_tiny_models.py OUT_DIR")
    main(pathlib.Path(sys.argv[1]).resolve())
