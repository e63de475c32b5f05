"""Similarity helpers matching ``sentence_transformers.util`` (numpy in, numpy out).

Each takes [n, d] and [m, d] arrays (a 1-D array counts as one row) and returns
the [n, m] float32 matrix sentence-transformers computes.
"""

from __future__ import annotations

from ._C import cos_sim, dot_score, euclidean_sim, manhattan_sim
from ._C import normalize_embeddings

__all__ = ["cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "normalize_embeddings", "pytorch_cos_sim"]

pytorch_cos_sim = cos_sim
