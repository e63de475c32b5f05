"""The table language model, written twice: optimum_cpp._C._TableLM (C++) and
TableModel (a transformers PreTrainedModel), so that transformers' own
generate() is the oracle of optimum-cpp's generation algorithms.

The logits after token t at position p are table[p, t, :] in both."""

import sys
from pathlib import Path

import torch
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

from optimum_cpp import _C  # noqa: E402


class TableConfig(PretrainedConfig):
    model_type = "table_lm"

    def __init__(self, vocab_size=64, max_position_embeddings=160, **kwargs):
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        super().__init__(**kwargs)


class TableModel(PreTrainedModel, GenerationMixin):
    config_class = TableConfig
    main_input_name = "input_ids"

    def __init__(self, config, table=None):
        super().__init__(config)
        if table is None:
            table = torch.zeros(config.max_position_embeddings, config.vocab_size, config.vocab_size)
        self.table = torch.nn.Parameter(table.clone(), requires_grad=False)

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        batch, length = input_ids.shape
        positions = torch.arange(length).expand(batch, length)
        return CausalLMOutputWithPast(logits=self.table[positions, input_ids])


def make_table(vocab=64, positions=160, seed=0, scale=2.0, eos_boost=None):
    """A fixed random table; eos_boost {token: amount} makes those tokens likelier."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(positions, vocab, vocab, generator=g) * scale
    for token, amount in (eos_boost or {}).items():
        table[..., token] += amount
    return table


class Pair:
    """One table as a C++ model and as a transformers model."""

    def __init__(self, vocab=64, positions=160, seed=0, scale=2.0, eos_boost=None):
        self.table = make_table(vocab, positions, seed, scale, eos_boost)
        self.cpp = _C._TableLM(self.table.numpy())
        self.hf = TableModel(TableConfig(vocab_size=vocab, max_position_embeddings=positions), self.table).eval()

    def hf_generate(self, prompt, **kwargs):
        """transformers' generate on one prompt, returning the raw output object."""
        ids = torch.tensor([prompt], dtype=torch.long)
        kwargs.setdefault("use_cache", False)
        with torch.no_grad():
            return self.hf.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                return_dict_in_generate=True,
                output_scores=True,
                **kwargs,
            )


def hf_new_tokens(out, prompt_len, pad, eos):
    """New tokens of each row of a greedy/sample output: up to and including
    the first eos (transformers pads finished rows afterwards)."""
    rows = []
    for row in out.sequences.tolist():
        new = row[prompt_len:]
        for i, t in enumerate(new):
            if t in eos:
                new = new[: i + 1]
                break
        rows.append(new)
    return rows


def hf_beam_tokens(out, prompt_len):
    """New tokens of each returned beam (its length from beam_indices)."""
    lengths = (out.beam_indices >= 0).sum(dim=1).tolist()
    return [row[prompt_len : prompt_len + n] for row, n in zip(out.sequences.tolist(), lengths)]


def random_prompts(n, vocab, seed, min_len=1, max_len=12):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        out.append(torch.randint(0, vocab, (length,), generator=g).tolist())
    return out
