"""Linear heads on a frozen sentence encoder: how a pretrained encoder becomes a classifier.

Every offline classifier on the classification page is the same shape: the encoder turns a text
into a unit vector `e` (384 numbers), and a head turns `e` into one score per label,
`scores = W e + b`, then a softmax makes them probabilities. Only where `W` comes from differs:

- zero-shot: each row of `W` is the (scaled) embedding of the label's descriptions, `b = 0`;
  nothing is trained, the cosine similarity decides;
- taught by examples / built-in sentiment: `W` and `b` are fitted by logistic regression on the
  embeddings of labelled sentences (the encoder stays frozen: pretraining, then a small
  fine-tuning step on top).

The fit is multinomial logistic regression with an L2 penalty, solved by L-BFGS in torch, with
the same objective as scikit-learn's `LogisticRegression(C=...)` (`C * sum(log-loss) + ||W||²/2`).
It is done here rather than with scikit-learn so that the head is a torch layer gradients flow
through (for the attributions) and the server does not import scikit-learn (about 100 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

DEFAULT_C = 2.0  # chosen on the built-in sentiment set (five random 600-sentence splits, 0.90)


@dataclass(frozen=True, eq=False)
class LinearHead:
    labels: tuple[str, ...]
    weight: torch.Tensor  # [labels, hidden]
    bias: torch.Tensor  # [labels]
    counts: dict[str, int] = field(default_factory=dict)  # training examples per label (empty for zero-shot)

    def __post_init__(self) -> None:
        # Heads are often built inside inference mode; explanations backpropagate through them,
        # which inference tensors do not allow. Plain copies (a few kB) work everywhere.
        with torch.inference_mode(False):
            object.__setattr__(self, "weight", self.weight.detach().clone())
            object.__setattr__(self, "bias", self.bias.detach().clone())

    def scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        """[batch, hidden] unit vectors -> [batch, labels] scores (logits)."""
        return embeddings @ self.weight.to(embeddings.dtype).T + self.bias.to(embeddings.dtype)

    def probabilities(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.scores(embeddings).softmax(dim=-1)


def fit_head(
    embeddings: torch.Tensor,
    targets: Sequence[int],
    labels: Sequence[str],
    c: float = DEFAULT_C,
    max_iter: int = 200,
) -> LinearHead:
    """Fit `W`, `b` on [n, hidden] embeddings with integer `targets` (indices into `labels`)."""
    with torch.inference_mode(False):  # may be called inside inference mode; fitting needs grads
        return _fit(embeddings.detach().clone().to(torch.float64), list(targets), tuple(labels), c, max_iter)


def _fit(x: torch.Tensor, targets: list[int], labels: tuple[str, ...], c: float, max_iter: int) -> LinearHead:
    y = torch.as_tensor(targets, dtype=torch.long)
    n_labels = len(labels)
    if x.ndim != 2 or x.shape[0] != len(y):
        raise ValueError(f"{x.shape[0]} embeddings for {len(y)} targets")
    if n_labels < 2 or int(y.min()) < 0 or int(y.max()) >= n_labels:
        raise ValueError("targets must index at least two labels")
    weight = torch.zeros(n_labels, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_labels, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
        history_size=20, line_search_fn="strong_wolfe",
    )
    penalty = 1.0 / (2.0 * c * len(y))  # scikit-learn's objective divided by C * n

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(x @ weight.T + bias, y) + penalty * weight.pow(2).sum()
        value.backward()
        return value

    with torch.enable_grad():
        optimiser.step(loss)
    counts = {label: int((y == i).sum()) for i, label in enumerate(labels)}
    return LinearHead(
        tuple(labels), weight.detach().to(torch.float32), bias.detach().to(torch.float32), counts
    )


def similarity_head(labels: Sequence[str], label_vectors: torch.Tensor, scale: float) -> LinearHead:
    """Zero-shot as a head: scores are `scale` × cosine similarity to each label's unit vector."""
    return LinearHead(tuple(labels), label_vectors * scale, torch.zeros(len(labels)))
