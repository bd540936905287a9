"""One step of backpropagation by hand on a network small enough to write out: 2 inputs, 3 hidden
sigmoid units, 1 sigmoid output, binary cross-entropy on one example.

Forward: z₁ = W₁x + b₁, a₁ = σ(z₁), z₂ = w₂·a₁ + b₂, ŷ = σ(z₂), L = −[y log ŷ + (1 − y) log(1 − ŷ)].
Backward by the chain rule, each factor a number:
  ∂L/∂z₂ = ŷ − y                     (σ and cross-entropy together)
  ∂L/∂w₂ = ∂L/∂z₂ · a₁,  ∂L/∂b₂ = ∂L/∂z₂
  ∂L/∂a₁ = ∂L/∂z₂ · w₂
  ∂L/∂z₁ = ∂L/∂a₁ ⊙ a₁(1 − a₁)        (σ′)
  ∂L/∂W₁ = ∂L/∂z₁ xᵀ,  ∂L/∂b₁ = ∂L/∂z₁
Update: θ ← θ − η ∂L/∂θ. Every gradient is computed here in float64 by these formulas, and beside
them by PyTorch's autograd on the same network; the largest difference is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.errors import InputError

HIDDEN = 3


@dataclass(frozen=True)
class Weights:
    w1: np.ndarray  # (3, 2)
    b1: np.ndarray  # (3,)
    w2: np.ndarray  # (3,)
    b2: float


@dataclass(frozen=True)
class BackpropStep:
    x: np.ndarray  # (2,)
    y: float
    learning_rate: float
    weights: Weights
    z1: np.ndarray
    a1: np.ndarray
    z2: float
    y_hat: float
    loss: float
    d_z2: float
    d_w2: np.ndarray
    d_b2: float
    d_a1: np.ndarray
    d_z1: np.ndarray
    d_w1: np.ndarray
    d_b1: np.ndarray
    updated: Weights
    loss_after: float  # the same example through the updated weights
    autograd: Weights  # PyTorch's gradients, in the same shapes
    largest_difference: float  # between the hand gradients and autograd's


def initial_weights(seed: int) -> Weights:
    """Small random weights from a seed (uniform in ±1, as a fan-in of 2 suggests)."""
    rng = np.random.default_rng(seed)
    return Weights(rng.uniform(-1, 1, (HIDDEN, 2)), rng.uniform(-1, 1, HIDDEN), rng.uniform(-1, 1, HIDDEN),
                   float(rng.uniform(-1, 1)))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _forward(weights: Weights, x: np.ndarray, y: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    z1 = weights.w1 @ x + weights.b1
    a1 = _sigmoid(z1)
    z2 = float(weights.w2 @ a1 + weights.b2)
    y_hat = float(_sigmoid(z2))
    loss = -(y * math.log(y_hat) + (1 - y) * math.log(1 - y_hat))
    return z1, a1, z2, y_hat, loss


def _autograd(weights: Weights, x: np.ndarray, y: float) -> Weights:
    w1, b1, w2, b2 = (torch.tensor(v, dtype=torch.float64, requires_grad=True)
                      for v in (weights.w1, weights.b1, weights.w2, weights.b2))
    z2 = w2 @ torch.sigmoid(w1 @ torch.from_numpy(x) + b1) + b2
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z2, torch.tensor(y, dtype=torch.float64))
    loss.backward()
    return Weights(w1.grad.numpy(), b1.grad.numpy(), w2.grad.numpy(), float(b2.grad))


def backprop_step(x1: float, x2: float, y: float, learning_rate: float, seed: int) -> BackpropStep:
    """Forward, backward and one update on example ((x1, x2), y) from the seed's weights."""
    if not all(math.isfinite(v) and abs(v) <= 10 for v in (x1, x2)) or y not in (0.0, 1.0):
        raise InputError("The inputs must be numbers from -10 to 10, and the target 0 or 1.")
    if not (math.isfinite(learning_rate) and 0 < learning_rate <= 10):
        raise InputError("The learning rate must be above 0 and at most 10.")
    weights = initial_weights(seed)
    x = np.array([x1, x2], dtype=np.float64)
    z1, a1, z2, y_hat, loss = _forward(weights, x, y)
    d_z2 = y_hat - y
    d_w2, d_b2 = d_z2 * a1, d_z2
    d_a1 = d_z2 * weights.w2
    d_z1 = d_a1 * a1 * (1 - a1)
    d_w1, d_b1 = np.outer(d_z1, x), d_z1
    updated = Weights(weights.w1 - learning_rate * d_w1, weights.b1 - learning_rate * d_b1,
                      weights.w2 - learning_rate * d_w2, weights.b2 - learning_rate * d_b2)
    auto = _autograd(weights, x, y)
    difference = max(float(np.abs(d_w1 - auto.w1).max()), float(np.abs(d_b1 - auto.b1).max()),
                     float(np.abs(d_w2 - auto.w2).max()), abs(d_b2 - auto.b2))
    return BackpropStep(x, y, learning_rate, weights, z1, a1, z2, y_hat, loss, d_z2, d_w2, d_b2, d_a1, d_z1, d_w1,
                        d_b1, updated, _forward(updated, x, y)[4], auto, difference)
