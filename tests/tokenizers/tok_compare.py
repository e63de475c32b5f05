"""Field-by-field comparison of optimum_cpp encodings against `tokenizers` goldens.

A ``Report`` collects, per field, how many inputs differ and the first
differing input with both values, and formats that into the assertion
message the C++ engineers read. Encodings are compared on ids, type_ids,
tokens, offsets, attention_mask, special_tokens_mask, word_ids,
sequence_ids and, recursively, their overflowing encodings.
"""

from __future__ import annotations

import dataclasses

FIELDS = (
    "ids",
    "type_ids",
    "tokens",
    "offsets",
    "attention_mask",
    "special_tokens_mask",
    "word_ids",
    "sequence_ids",
)

MAX_REPR = 300


def short(value, limit: int = MAX_REPR) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 20] + f"...<{len(r)} chars>"


def encoding_fields(enc, prefix: str = "") -> dict:
    """Field name -> plain Python value, overflowing flattened as 'overflowing[k].field'."""
    out = {}
    for f in FIELDS:
        v = getattr(enc, f)
        if f == "offsets":
            v = [tuple(o) for o in v]
        else:
            v = list(v)
        out[prefix + f] = v
    over = list(enc.overflowing)
    out[prefix + "len(overflowing)"] = len(over)
    for k, o in enumerate(over):
        out.update(encoding_fields(o, f"{prefix}overflowing[{k}]."))
    return out


def _field_family(name: str) -> str:
    # 'overflowing[3].ids' and 'overflowing[0].ids' count together as 'overflowing[*].ids'
    import re

    return re.sub(r"\[\d+\]", "[*]", name)


def _where(inp, enc, a, b) -> str:
    """The input text around the first differing token (by the expected offsets)."""
    if not isinstance(a, list) or not isinstance(b, list):
        return ""
    i = _diff_pos(a, b)
    offsets = list(enc.offsets)
    seq_ids = list(enc.sequence_ids)
    if i >= len(offsets):
        i = len(offsets) - 1
    if i < 0:
        return ""
    text = inp
    if isinstance(inp, tuple):
        text = inp[1] if seq_ids[i] == 1 else inp[0]
    if not isinstance(text, str):
        return ""
    s, e = offsets[i]
    return f"input chars [{s}:{e}] of the {'second' if isinstance(inp, tuple) and seq_ids[i] == 1 else 'first'} sequence, in context: {text[max(0, s - 25):e + 25]!r}"


@dataclasses.dataclass
class Mismatch:
    case: str
    index: int
    input: object
    field: str
    expected: object
    got: object
    context: str = ""
    where: str = ""  # the input text around the first difference


def _diff_pos(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _first_diff(a, b) -> str:
    if isinstance(a, list) and isinstance(b, list):
        i = _diff_pos(a, b)
        lo = max(0, i - 3)
        if i < min(len(a), len(b)):
            return (f"first difference at position {i}: expected {a[i]!r}, got {b[i]!r}; "
                    f"expected[{lo}:{i + 4}]={short(a[lo:i + 4], 200)} got[{lo}:{i + 4}]={short(b[lo:i + 4], 200)}")
        return f"lengths differ: expected {len(a)}, got {len(b)}; expected[{lo}:]={short(a[lo:lo + 8], 200)} got[{lo}:]={short(b[lo:lo + 8], 200)}"
    if isinstance(a, str) and isinstance(b, str):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return f"first difference at char {i}: expected {x!r}, got {y!r} (around {a[max(0, i - 10):i + 10]!r})"
        return f"lengths differ: expected {len(a)}, got {len(b)}"
    return ""


class Report:
    """Mismatch counts per (case, field) and the first example of each."""

    def __init__(self, title: str):
        self.title = title
        self.counts: dict[tuple[str, str], int] = {}
        self.first: dict[tuple[str, str], Mismatch] = {}
        # first mismatch of a field on an input whose ids/tokens do match (offset-only bugs etc.)
        self.first_same_ids: dict[tuple[str, str], Mismatch] = {}
        self.compared: dict[str, int] = {}
        self.notes: list[str] = []
        self._seen: set = set()

    @property
    def ok(self) -> bool:
        return not self.counts and not self.notes

    def _count(self, key, index) -> None:
        # counts inputs, not encodings: overflowing windows of one input count once
        if (key, index) not in self._seen:
            self._seen.add((key, index))
            self.counts[key] = self.counts.get(key, 0) + 1

    def add(self, m: Mismatch, same_ids: bool = False) -> None:
        key = (m.case, _field_family(m.field))
        self._count(key, m.index)
        self.first.setdefault(key, m)
        if same_ids:
            self.first_same_ids.setdefault(key, m)

    def note(self, text: str) -> None:
        self.notes.append(text)

    # -- comparisons -------------------------------------------------------

    def compare_encodings(self, case: str, inputs, expected, got, base: int = 0) -> None:
        """expected/got: lists of Encoding-like objects, aligned with inputs.

        Compared field by field over the whole list (fast path: one list
        equality per field), then input by input only where a field differs."""
        self.compared[case] = self.compared.get(case, 0) + len(inputs)
        if len(expected) != len(got):
            self.note(f"[{case}] {len(inputs)} inputs: expected {len(expected)} encodings, got {len(got)}")
            return
        self._compare_level(case, list(inputs), list(expected), list(got), [base + i for i in range(len(inputs))], "")

    def _compare_level(self, case, inputs, expected, got, index, prefix) -> None:
        # inputs[k], index[k]: the input (and its number) that expected[k]/got[k] come from
        lists = {}
        for f in FIELDS:
            ev = [getattr(x, f) for x in expected]
            gv = [getattr(x, f) for x in got]
            if ev != gv and f == "offsets":  # both are lists of tuples already; make sure
                gv = [[tuple(o) for o in v] for v in gv]
                ev = [[tuple(o) for o in v] for v in ev]
            if ev != gv:
                lists[f] = (ev, gv)
        if lists:
            e_ids, g_ids = lists.get("ids", (None, None))
            e_tok, g_tok = lists.get("tokens", (None, None))
            for f in FIELDS:
                if f not in lists:
                    continue
                ev, gv = lists[f]
                for k, (a, b) in enumerate(zip(ev, gv)):
                    if a == b:
                        continue
                    same_ids = (e_ids is None or e_ids[k] == g_ids[k]) and (e_tok is None or e_tok[k] == g_tok[k])
                    key = (case, _field_family(prefix + f))
                    if key in self.first and (not same_ids or key in self.first_same_ids):
                        self._count(key, index[k])  # only the first example of each kind is kept
                        continue
                    et, gt = list(expected[k].tokens), list(got[k].tokens)
                    ctx = f"expected tokens: {short(et, 400)}; got tokens: {short(gt, 400)}"
                    m = Mismatch(case, index[k], inputs[k], prefix + f, a, b, ctx)
                    m.where = _where(inputs[k], expected[k], a, b)
                    self.add(m, same_ids)
        e_over = [list(x.overflowing) for x in expected]
        g_over = [list(x.overflowing) for x in got]
        e_n = [len(o) for o in e_over]
        g_n = [len(o) for o in g_over]
        if e_n != g_n:
            for k, (a, b) in enumerate(zip(e_n, g_n)):
                if a != b:
                    ctx = f"expected tokens: {short(list(expected[k].tokens), 400)}; got tokens: {short(list(got[k].tokens), 400)}"
                    self.add(Mismatch(case, index[k], inputs[k], prefix + "len(overflowing)", a, b, ctx))
        sub_e, sub_g, sub_index, sub_inputs = [], [], [], []
        for k, (eo, go) in enumerate(zip(e_over, g_over)):
            for j in range(min(len(eo), len(go))):
                sub_e.append(eo[j])
                sub_g.append(go[j])
                sub_index.append(index[k])
                sub_inputs.append(inputs[k])
        if sub_e:
            self._compare_level(case, sub_inputs, sub_e, sub_g, sub_index, prefix + "overflowing[*].")

    def compare_values(self, case: str, inputs, expected, got, field: str) -> None:
        self.compared[case] = self.compared.get(case, 0) + len(inputs)
        if len(expected) != len(got):
            self.note(f"[{case}] {field}: expected {len(expected)} results, got {len(got)}")
            return
        for i, (e, g) in enumerate(zip(expected, got)):
            if e != g:
                self.add(Mismatch(case, i, inputs[i], field, e, g))

    def compare_outcomes(self, case: str, inputs, expected, got, field: str, base: int = 0) -> None:
        """expected/got: lists of Outcome (value or exception) per input."""
        self.compared[case] = self.compared.get(case, 0) + len(inputs)
        for i, (e, g) in enumerate(zip(expected, got)):
            if e.error is not None and type(e.error).__name__ == "PanicException":
                # a tokenizers bug (e.g. decoders.Strip on a token shorter than what it strips):
                # no golden for this input; optimum_cpp may raise or return
                continue
            if e.error is not None or g.error is not None:
                if (e.error is None) != (g.error is None):
                    self.add(Mismatch(case, base + i, inputs[i], field + " (error)", e.describe(), g.describe()))
                continue
            if field == "encoding":
                ef, gf = encoding_fields(e.value), encoding_fields(g.value)
                for f in sorted(set(ef) | set(gf)):
                    if ef.get(f, "<absent>") != gf.get(f, "<absent>"):
                        ctx = f"expected tokens: {short(ef.get('tokens'), 400)}; got tokens: {short(gf.get('tokens'), 400)}"
                        self.add(Mismatch(case, base + i, inputs[i], f, ef.get(f, "<absent>"), gf.get(f, "<absent>"), ctx))
            elif e.value != g.value:
                self.add(Mismatch(case, base + i, inputs[i], field, e.value, g.value))

    # -- message -----------------------------------------------------------

    @staticmethod
    def _field_order(field: str):
        base = field.rsplit(".", 1)[-1]
        order = list(FIELDS) + ["len(overflowing)"]
        return (field.count("."), order.index(base) if base in order else len(order), field)

    def format(self) -> str:
        lines = [f"{self.title}: optimum_cpp differs from tokenizers"]
        for n in self.notes:
            lines.append("  " + n)
        for case in sorted({c for c, _ in self.counts}):
            keys = sorted((k for k in self.counts if k[0] == case), key=lambda k: self._field_order(k[1]))
            total = self.compared.get(case, 0)
            summary = ", ".join(f"{k[1]}: {self.counts[k]}" for k in keys)
            lines.append(f"  [{case}] mismatches (of {total} inputs) per field: {summary}")
            first_index = min(self.first[k].index for k in keys)
            head = [k for k in keys if self.first[k].index == first_index]
            m0 = self.first[head[0]]
            lines.append(f"    first differing input #{m0.index}: {short(m0.input)}")
            head_fields = {k[1]: self.first[k] for k in head}
            tok = head_fields.get("tokens")
            if m0.context and tok is None:
                lines.append(f"      {m0.context}")
            lengths_differ = tok is not None and len(tok.expected) != len(tok.got)
            secondary = []
            for k in head:
                if lengths_differ and k[1] not in ("ids", "tokens", "offsets"):
                    secondary.append(k[1])
                    continue
                self._describe(lines, k[1], self.first[k], indent="      ")
            if secondary:
                lines.append(f"      (token counts differ, so these differ too: {', '.join(secondary)})")
            for k in keys:
                m = self.first_same_ids.get(k)
                if m is None or m is self.first[k]:
                    continue
                lines.append(f"    field {k[1]} differs with ids and tokens equal, first on input #{m.index}: {short(m.input)}")
                lines.append(f"      {m.context.split(';')[0]}")
                self._describe(lines, k[1], m, indent="      ")
            for k in keys:
                if k in head or self.first_same_ids.get(k) is self.first[k]:
                    continue
                m = self.first[k]
                lines.append(f"    field {k[1]} first differs on input #{m.index}: {short(m.input)}")
                if m.context:
                    lines.append(f"      {m.context}")
                self._describe(lines, k[1], m, indent="      ")
        return "\n".join(lines)

    @staticmethod
    def _describe(lines, field, m, indent):
        lines.append(f"{indent}{m.field}: expected {short(m.expected)}")
        lines.append(f"{indent}{' ' * len(m.field)}       got {short(m.got)}")
        d = _first_diff(m.expected, m.got)
        if d:
            lines.append(f"{indent}{' ' * len(m.field)}  ({d})")
        if m.where:
            lines.append(f"{indent}{' ' * len(m.field)}  ({m.where})")

    def check(self) -> None:
        if not self.ok:
            raise AssertionError(self.format())


@dataclasses.dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"raises {type(self.error).__name__}: {self.error}"
        return f"returns {short(self.value)}"


def outcome(fn, *args, **kwargs) -> Outcome:
    try:
        return Outcome(fn(*args, **kwargs))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - the error itself is what is compared (pyo3 panics are BaseException)
        return Outcome(error=e)


def call_batch(tok, inputs, add_special_tokens: bool = True):
    """encode_batch accepts (a, b) tuples in both libraries; returns a list."""
    return list(tok.encode_batch(list(inputs), add_special_tokens=add_special_tokens))


def encode_one(tok, item, add_special_tokens: bool = True):
    if isinstance(item, tuple):
        return tok.encode(item[0], item[1], add_special_tokens=add_special_tokens)
    return tok.encode(item, add_special_tokens=add_special_tokens)


def compare_batch(report: Report, case: str, hf, oc, inputs, add_special_tokens: bool = True, chunk: int = 0) -> None:
    """encode_batch on both (in chunks of `chunk` when > 0, so batch padding varies); where
    `tokenizers` raises for a chunk, every input of it is compared one by one, errors included."""
    chunks = [inputs] if chunk <= 0 else [inputs[i : i + chunk] for i in range(0, len(inputs), chunk)]
    offset = 0
    for part in chunks:
        exp = outcome(call_batch, hf, part, add_special_tokens)
        if exp.error is None:
            got = outcome(call_batch, oc, part, add_special_tokens)
            if got.error is not None:
                report.add(
                    Mismatch(case, offset, f"<batch of {len(part)} inputs, first {short(part[0], 120)}>",
                             "encode_batch (error)", exp.describe()[:200], got.describe())
                )
            else:
                report.compare_encodings(case, part, exp.value, got.value, base=offset)
        else:
            # tokenizers fails the whole batch when one input fails: find which, one by one.
            e1 = [outcome(encode_one, hf, x, add_special_tokens) for x in part]
            g1 = [outcome(encode_one, oc, x, add_special_tokens) for x in part]
            report.compare_outcomes(case, part, e1, g1, "encoding", base=offset)
            gb = outcome(call_batch, oc, part, add_special_tokens)
            if gb.error is None:
                report.add(Mismatch(case, offset, f"<batch of {len(part)}>", "encode_batch (error)",
                                    exp.describe(), "returns a result"))
        offset += len(part)
