"""Thread safety: one optimum_cpp.Tokenizer shared by 8 Python threads at once
(encode, encode_batch, decode_batch, with truncation + overflow and padding
enabled) gives exactly what a single thread gives.

The single-threaded reference is optimum_cpp's own output; its agreement with
`tokenizers` is what test_parity.py / test_truncation_padding.py check.
"""

from __future__ import annotations

import threading
import time

import pytest

import corpus as corpus_mod

N_THREADS = 8
NAMES = ["fixture-minilm", "fixture-gpt2", "fixture-t5-small", "trained-llama3-style"]


def signature(enc) -> tuple:
    return (
        tuple(enc.ids),
        tuple(enc.type_ids),
        tuple(enc.tokens),
        tuple(tuple(o) for o in enc.offsets),
        tuple(enc.attention_mask),
        tuple(enc.special_tokens_mask),
        tuple(enc.word_ids),
        tuple(signature(o) for o in enc.overflowing),
    )


def _run_threads(fn, n=N_THREADS):
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(k):
        try:
            barrier.wait()
            results[k] = fn(k)
        except BaseException as e:  # noqa: BLE001
            errors.append(f"thread {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.parametrize("settings", ["plain", "truncation+padding"])
@pytest.mark.parametrize("name", NAMES)
def test_threads_match_single_thread(zoo, corpus, name, settings):
    hf, oc = zoo.plain(name)  # hf only gives ids to decode
    if settings != "plain":
        for t in (hf, oc):
            t.enable_truncation(40, stride=6, strategy="longest_first", direction="right")
            t.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=8)
    texts = corpus_mod.sample(corpus, 1000, seed=31)
    if settings != "plain":
        # long pairs truncated to short windows overflow combinatorially (each window of the
        # first sequence carries every window of the second): keep the inputs short
        texts = [t[:300] for t in texts]
    inputs = texts[:700] + [(texts[i], texts[-i - 1]) for i in range(300)]
    n = len(inputs)

    # single-threaded references: one input at a time, and one encode_batch
    ref_one = [signature(oc.encode(*x) if isinstance(x, tuple) else oc.encode(x)) for x in inputs]
    ref_batch = [signature(e) for e in oc.encode_batch(inputs)]
    ref_ids = [list(e.ids) for e in hf.encode_batch(texts[:300])]
    ref_dec = oc.decode_batch(ref_ids)

    def one_by_one(k):
        # each thread starts at a different place so different inputs run concurrently
        order = [(k * n // N_THREADS + j) % n for j in range(n)]
        out = [None] * n
        for i in order:
            x = inputs[i]
            out[i] = signature(oc.encode(*x) if isinstance(x, tuple) else oc.encode(x))
        return out

    def batches(k):
        chunk = 100 + 37 * k
        out = []
        for s in range(0, n, chunk):
            out.extend(signature(e) for e in oc.encode_batch(inputs[s : s + chunk]))
        return out

    def decodes(k):
        return oc.decode_batch(ref_ids) if k % 2 else [oc.decode(x) for x in ref_ids]

    problems = []
    timings = {}
    for label, fn, ref, items in (
        ("encode() one by one", one_by_one, ref_one, inputs),
        ("encode_batch() in chunks", batches, None, inputs),
        ("decode/decode_batch", decodes, ref_dec, ref_ids),
    ):
        t0 = time.perf_counter()
        results, errors = _run_threads(fn)
        timings[label] = time.perf_counter() - t0
        problems += [f"{label}: {e}" for e in errors]
        for k, res in enumerate(results):
            if res is None:
                continue
            expected = ref if ref is not None else ref_batch
            if settings != "plain" and label.startswith("encode_batch"):
                # batch-longest padding depends on the chunk: compare unpadded ids only
                expected_cmp = [tuple(i for i, m in zip(s[0], s[4]) if m) for s in ref_one]
                got_cmp = [tuple(i for i, m in zip(s[0], s[4]) if m) for s in res]
            else:
                expected_cmp, got_cmp = expected, res
            if len(got_cmp) != len(expected_cmp):
                problems.append(f"{label}, thread {k}: {len(got_cmp)} results for {len(expected_cmp)} inputs")
                continue
            bad = [i for i in range(len(items)) if expected_cmp[i] != got_cmp[i]]
            if bad:
                i = bad[0]
                problems.append(
                    f"{label}, thread {k}: {len(bad)} of {len(items)} results differ from single-threaded; first input #{i} "
                    f"{items[i]!r:.200}: expected {str(expected_cmp[i])[:300]}, got {str(got_cmp[i])[:300]}"
                )
    if settings == "plain" and ref_one != ref_batch:
        bad = [i for i in range(n) if ref_one[i] != ref_batch[i]]
        problems.append(f"encode() vs encode_batch() single-threaded: {len(bad)} differ, first input #{bad[0]} {inputs[bad[0]]!r:.200}")
    assert not problems, f"{name} [{settings}] from {N_THREADS} threads:\n  " + "\n  ".join(problems)
