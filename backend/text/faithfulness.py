"""How faithful is an explanation: does deleting the tokens it calls important change the answer?

For an order of the tokens (most important first, by an explanation's scores, or at random):
- deletion curve: the label's probability after deleting the top 0, 1, 2, ... tokens; its area
  (x = fraction of tokens deleted, 0..1) is small when the probability falls fast — a faithful
  order finds the tokens the model really used;
- comprehensiveness (ERASER, DeYoung et al. 2020): p(text) minus p(text without the top k%),
  averaged over k in 1/5/10/20/50 %: higher is better;
- sufficiency: p(text) minus p(only the top k% kept), averaged the same way: lower is better.
A random order is the baseline every explanation has to beat (the mean of several shuffles).
Deleting means removing the token from the sequence; [CLS]/[SEP] always stay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backend.shared.language import n_
from backend.shared.token_attributions import (
    ProbabilityFn,
    batched_probabilities,
    without,
)

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)
RANDOM_ORDERS = 5
CURVE_POINTS = 20  # longer texts: the curve at 20 evenly spaced deletion counts, not every one
RANDOM_ORDER = n_("Random order")  # English in results, like the methods' names; `t()` where shown


@dataclass(frozen=True)
class Faithfulness:
    name: str  # the method's English name, or RANDOM_ORDER (shown translated: `t(name)`)
    deleted: np.ndarray  # share of the tokens deleted, 0..1
    curve: np.ndarray  # p(label) after deleting that share, most important first
    comprehensiveness: float
    sufficiency: float

    @property
    def deletion_area(self) -> float:
        if len(self.curve) == 1:
            return float(self.curve[0])
        return float(np.trapezoid(self.curve, self.deleted))


def _bin_sizes(n: int) -> list[int]:
    return [max(1, math.ceil(fraction * n)) for fraction in BINS]


def deletion_counts(n: int) -> list[int]:
    """How many tokens are deleted at each point of the curve (0 and n included)."""
    if n <= CURVE_POINTS:
        return list(range(n + 1))
    return sorted({round(k) for k in np.linspace(0, n, CURVE_POINTS + 1)})


def _orders_measured(
    probabilities: ProbabilityFn, ids: list[int], content: list[int], orders: list[list[int]],
    target: int, pad_id: int,
) -> list[tuple[np.ndarray, float, float]]:
    """(curve, comprehensiveness, sufficiency) per order, all variants in one batched pass."""
    n = len(content)
    sizes = _bin_sizes(n)
    counts = deletion_counts(n)
    deleted_counts = sorted(set(counts[1:]) | set(sizes))
    sequences: list[list[int]] = [ids]
    for order in orders:
        ranked = [content[i] for i in order]
        sequences += [without(ids, set(ranked[:k])) for k in deleted_counts]
        sequences += [without(ids, set(ranked[k:])) for k in sizes]
    p = batched_probabilities(probabilities, sequences, target, pad_id)
    full, results, at = p[0], [], 1
    for _ in orders:
        after = dict(zip(deleted_counts, p[at : at + len(deleted_counts)], strict=True))
        after[0] = full
        kept = p[at + len(deleted_counts) : at + len(deleted_counts) + len(sizes)]
        at += len(deleted_counts) + len(sizes)
        curve = np.array([after[k] for k in counts])
        comprehensiveness = float(np.mean([full - after[k] for k in sizes]))
        sufficiency = float(np.mean(full - kept))
        results.append((curve, comprehensiveness, sufficiency))
    return results


def measure(
    probabilities: ProbabilityFn, ids: list[int], content: list[int], scores: dict[str, np.ndarray],
    target: int, pad_id: int, seed: int = 0,
) -> list[Faithfulness]:
    """One `Faithfulness` per named score vector, then the random-order baseline (last)."""
    rng = np.random.default_rng(seed)
    named = [(name, list(np.argsort(-values, kind="stable"))) for name, values in scores.items()]
    shuffles = [list(rng.permutation(len(content))) for _ in range(RANDOM_ORDERS)]
    measured = _orders_measured(probabilities, ids, content, [o for _, o in named] + shuffles, target, pad_id)
    x = np.array(deletion_counts(len(content)), dtype=np.float64) / max(1, len(content))
    results = [Faithfulness(name, x, *m) for (name, _), m in zip(named, measured, strict=False)]
    random_part = measured[len(named):]
    results.append(
        Faithfulness(
            RANDOM_ORDER, x,
            np.mean([m[0] for m in random_part], axis=0),
            float(np.mean([m[1] for m in random_part])),
            float(np.mean([m[2] for m in random_part])),
        )
    )
    return results
