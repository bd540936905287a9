"""Two-class data sets in the plane, as TensorFlow Playground has them: circles, XOR, two spirals and
Gaussian blobs, with noise and a train / test split, all drawn from one seed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backend.shared.language import n_

DATASETS = {
    "circles": n_("Circles"), "xor": n_("XOR"), "spirals": n_("Two spirals"), "blobs": n_("Gaussian blobs"),
}
EXTENT = 1.6  # the plane drawn: [-EXTENT, EXTENT] in both coordinates


@dataclass(frozen=True)
class ToyData:
    """Points (n, 2) and their classes (n,) of 0 and 1, split into training and test points."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _circles(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 2
    radius = np.where(labels == 0, rng.uniform(0.0, 0.45, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0, 2 * math.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), labels


def _xor(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 where x and y have the same sign; a small gap along the axes, as in the Playground."""
    labels = np.arange(n) % 2
    size = rng.uniform(0.05, 1.0, (n, 2))
    sign = rng.choice([-1.0, 1.0], n)
    return np.stack([sign * size[:, 0], np.where(labels == 1, sign, -sign) * size[:, 1]], 1), labels


def _spirals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 2
    t = rng.uniform(0.05, 1.0, n)
    angle = 1.75 * 2 * math.pi * t + math.pi * labels
    return np.stack([t * np.cos(angle), t * np.sin(angle)], 1), labels


def _blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 2
    centres = np.where(labels[:, None] == 0, -0.5, 0.5)
    return centres + rng.normal(0, 0.25, (n, 2)), labels


_MAKERS = {"circles": _circles, "xor": _xor, "spirals": _spirals, "blobs": _blobs}


def make_dataset(name: str, points: int, noise: float, test_share: float, seed: int) -> ToyData:
    """`points` points of data set `name`, each moved by Gaussian noise of standard deviation
    `noise` (in the plane's units: the data lie within about 1 of the centre), a share
    `test_share` of them kept apart for testing; the same seed gives the same points."""
    rng = np.random.default_rng(seed)
    x, y = _MAKERS[name](rng, points)
    x = (x + rng.normal(0, noise, x.shape)).astype(np.float32)
    order = rng.permutation(points)
    n_test = int(round(points * test_share))
    test, train = order[:n_test], order[n_test:]
    return ToyData(x[train], y[train].astype(np.int64), x[test], y[test].astype(np.int64))


def grid(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The plane's sample points for the decision boundary: (coordinates (r,), points (r*r, 2))."""
    axis = np.linspace(-EXTENT, EXTENT, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return axis, np.stack([xx.ravel(), yy.ravel()], 1)
