"""Gradient descent on a loss surface of two parameters: SGD, SGD with momentum and Adam, each
`torch.optim`'s own, from the same start, with the same learning rate.

The surfaces: a round bowl (every direction alike), a narrow valley (steep across, shallow along:
plain SGD zigzags, momentum runs along it), and a double well with a saddle point between the
two minima (a path started near the saddle is slow to leave it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.shared.language import n_

Surface = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SURFACES: dict[str, tuple[str, Surface, tuple[float, float]]] = {
    # name -> (title, f(x, y), default start)
    "bowl": (n_("Bowl: x² + y²"), lambda x, y: x**2 + y**2, (1.5, 1.2)),
    "valley": (n_("Narrow valley: 0.1·x² + 4·y²"), lambda x, y: 0.1 * x**2 + 4 * y**2, (-1.8, 0.6)),
    "saddle": (n_("Two wells and a saddle: x⁴/4 − x²/2 + y²/2"), lambda x, y: x**4 / 4 - x**2 / 2 + y**2 / 2,
               (0.02, 1.5)),
}
METHODS = {"sgd": n_("SGD"), "momentum": n_("SGD with momentum (0.9)"), "adam": n_("Adam")}
EXTENT = 2.0
MAX_STEPS = 500


@dataclass(frozen=True)
class Path:
    method: str
    points: np.ndarray  # (steps + 1, 2): the start, then after each step
    losses: np.ndarray  # (steps + 1,)


@dataclass(frozen=True)
class Descent:
    surface: str
    learning_rate: float
    axis: np.ndarray  # (r,) coordinates of the grid in both directions
    heights: np.ndarray  # (r, r) the surface over the grid
    paths: tuple[Path, ...]


def _optimizer(method: str, parameters: list[torch.Tensor], learning_rate: float) -> torch.optim.Optimizer:
    if method == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate)
    return torch.optim.SGD(parameters, lr=learning_rate, momentum=0.9 if method == "momentum" else 0.0)


def descend(surface: str, learning_rate: float, steps: int, start: tuple[float, float] | None = None,
            resolution: int = 80) -> Descent:
    """Each method's path from the same start (default: the surface's own) for `steps` steps."""
    if surface not in SURFACES:
        raise InputError("There is no surface {name!r}; pick one of {names}.", name=surface[:40], names=", ".join(SURFACES))
    if not (math.isfinite(learning_rate) and 1e-4 <= learning_rate <= 2.0) or not 1 <= steps <= MAX_STEPS:
        raise InputError("The learning rate must be 0.0001 to 2, and the steps 1 to {most}.", most=MAX_STEPS)
    _title, f, default = SURFACES[surface]
    x0, y0 = start or default
    paths = []
    for method in METHODS:
        x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
        y = torch.tensor(float(y0), dtype=torch.float64, requires_grad=True)
        optimizer = _optimizer(method, [x, y], learning_rate)
        points, losses = [(x0, y0)], [float(f(x.detach(), y.detach()))]
        for _ in range(steps):
            optimizer.zero_grad()
            loss = f(x, y)
            loss.backward()
            optimizer.step()
            now = (x.item(), y.item())
            if not all(math.isfinite(v) and abs(v) <= 1e6 for v in now):
                break  # diverged: the path ends where it left the numbers behind
            points.append(now)
            losses.append(float(f(x.detach(), y.detach())))
        paths.append(Path(method, np.array(points), np.array(losses)))
    axis = np.linspace(-EXTENT, EXTENT, resolution)
    xx, yy = np.meshgrid(axis, axis)
    heights = f(torch.from_numpy(xx), torch.from_numpy(yy)).numpy()
    return Descent(surface, learning_rate, axis, heights, tuple(paths))
