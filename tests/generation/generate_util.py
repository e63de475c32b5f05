"""The table language model, written twice: optimum_cpp._C._TableLM (C++) and
TableModel (a transformers PreTrainedModel), so that transformers' own
generate() is the oracle of optimum-cpp's generation algorithms.

The logits after token t at position p are table[p, t, :] + history *
table[p, s % V, :] in both, s being the sum of the tokens up to p: the
history term makes them depend on the whole sequence, so a beam that reads
another beam's cache slot goes wrong."""

import sys
from pathlib import Path

import pytest
import torch
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

from optimum_cpp import _C  # noqa: E402


class TableConfig(PretrainedConfig):
    model_type = "table_lm"

    def __init__(self, vocab_size=64, max_position_embeddings=160, history=0.0, **kwargs):
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.history = history
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
        prefix_sums = torch.cumsum(input_ids, dim=1) % self.config.vocab_size
        history = torch.tensor(self.config.history, dtype=torch.float32)
        logits = self.table[positions, input_ids] + history * self.table[positions, prefix_sums]
        return CausalLMOutputWithPast(logits=logits)


def make_table(vocab=64, positions=160, seed=0, scale=2.0, eos_boost=None):
    """A fixed random table; eos_boost {token: amount} makes those tokens likelier."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(positions, vocab, vocab, generator=g) * scale
    for token, amount in (eos_boost or {}).items():
        table[..., token] += amount
    return table


class Pair:
    """One table as a C++ model and as a transformers model."""

    def __init__(self, vocab=64, positions=160, seed=0, scale=2.0, eos_boost=None, history=0.5):
        self.table = make_table(vocab, positions, seed, scale, eos_boost)
        self.cpp = _C._TableLM(self.table.numpy(), history)
        config = TableConfig(vocab_size=vocab, max_position_embeddings=positions, history=history)
        self.hf = TableModel(config, self.table).eval()

    def next_logits(self, prompt):
        """transformers' logits after `prompt`."""
        with torch.no_grad():
            return self.hf(input_ids=torch.tensor([prompt])).logits[0, -1]

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


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: threads only contend (the test machine is shared).
    Import it into a test module to use it there."""
    torch_threads, our_threads = torch.get_num_threads(), _C.get_num_threads()
    torch.set_num_threads(1)
    _C.set_num_threads(1)
    yield
    torch.set_num_threads(torch_threads)
    _C.set_num_threads(our_threads)
