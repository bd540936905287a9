"""The attention formula on the overview articles' toy example, every step with its numbers.

The sentence 我爱学习编程 is split into 我 / 爱 / 学习 / 编程, each a 3-dimensional embedding. With
projection matrices W_Q, W_K, W_V (identity by default) the tokens' queries, keys and values are
Q = X W_Q, K = X W_K, V = X W_V; each query is compared with every key (Q Kᵀ), divided by √d_k,
turned into weights by a row-wise softmax, and the weights mix the values: softmax(QKᵀ/√d_k) V.
The articles print worked numbers with arithmetic slips; here every number is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backend.runtime.errors import InputError

TOY_TOKENS = ("我", "爱", "学习", "编程")
TOY_EMBEDDINGS = ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6), (0.7, 0.8, 0.9), (1.0, 1.1, 1.2))
MAX_ABS = 1e6  # larger entries overflow nothing, but make every weight 0 or 1 and teach nothing
MAX_DIM = 8


@dataclass(frozen=True)
class ToySteps:
    tokens: tuple[str, ...]
    x: np.ndarray  # (n, d) embeddings
    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    q: np.ndarray  # (n, d_k)
    k: np.ndarray
    v: np.ndarray  # (n, d_v)
    scores: np.ndarray  # Q Kᵀ, (n, n)
    scaled: np.ndarray  # Q Kᵀ / √d_k
    weights: np.ndarray  # row-wise softmax of `scaled`
    output: np.ndarray  # weights V, (n, d_v)

    @property
    def d_k(self) -> int:
        return int(self.q.shape[1])


def parse_matrix(rows: Sequence[Sequence[object]], name: str, columns: int | None = None) -> np.ndarray:
    """A table typed by a user as a float matrix, or an InputError naming the bad cell."""
    if not rows:
        raise InputError("{name} is empty: it needs at least one row.", name=name)
    width = columns if columns is not None else len(rows[0])
    if not 1 <= width <= MAX_DIM:
        raise InputError("{name} needs from 1 to {most} columns.", name=name, most=MAX_DIM)
    values = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputError("{name}, row {row} has {count} numbers; it needs {width}.", name=name, row=i + 1,
                             count=len(row), width=width)
        for j, cell in enumerate(row):
            where = {"name": name, "row": i + 1, "column": j + 1}
            text = "" if cell is None else str(cell).strip()
            if text == "" or text.lower() == "nan" or (isinstance(cell, float) and math.isnan(cell)):
                raise InputError("{name}, row {row}, column {column} is empty: type a number.", **where)
            try:
                number = float(text.replace(",", ".")) if isinstance(cell, str) else float(cell)
            except (TypeError, ValueError):
                raise InputError("{name}, row {row}, column {column} is '{text}', not a number.", text=text[:20],
                                 **where) from None
            if not math.isfinite(number) or abs(number) > MAX_ABS:
                raise InputError("{name}, row {row}, column {column} is {text}; use numbers between -{most} and {most}.",
                                 text=text[:20], most=f"{MAX_ABS:g}", **where)
            values[i, j] = number
    return values


def softmax_rows(scaled: np.ndarray) -> np.ndarray:
    shifted = scaled - scaled.max(axis=-1, keepdims=True)  # the same weights, no overflow
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def toy_attention(
    x: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray, tokens: Sequence[str] = TOY_TOKENS
) -> ToySteps:
    """Every intermediate matrix of softmax(QKᵀ/√d_k) V for embeddings `x` (one row per token)."""
    x, w_q, w_k, w_v = (np.asarray(m, dtype=np.float64) for m in (x, w_q, w_k, w_v))
    if len(tokens) != x.shape[0]:
        raise InputError("{tokens} tokens but {embeddings} embeddings.", tokens=len(tokens), embeddings=x.shape[0])
    for name, w in (("W_Q", w_q), ("W_K", w_k), ("W_V", w_v)):
        if w.shape[0] != x.shape[1]:
            raise InputError("{name} has {rows} rows; it needs one per embedding dimension ({dimensions}).", name=name,
                             rows=w.shape[0], dimensions=x.shape[1])
    if w_q.shape[1] != w_k.shape[1]:
        raise InputError("W_Q and W_K must have as many columns as each other (queries and keys are compared): "
                         "{q} and {k}.", q=w_q.shape[1], k=w_k.shape[1])
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T
    scaled = scores / math.sqrt(q.shape[1])
    weights = softmax_rows(scaled)
    return ToySteps(tuple(tokens), x, w_q, w_k, w_v, q, k, v, scores, scaled, weights, weights @ v)
