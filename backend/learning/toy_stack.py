"""Toy networks of one shape trained side by side: their weights stacked along a first "row"
dimension, so one forward and one backward pass per mini-batch trains every run of the stack.

A toy network's cost is per-operation overhead (a few dozen tiny operations per mini-batch), not
arithmetic, so a stack of twelve runs takes about the time of one. Runs stack when they have the
same shape (`Row.shape`): depth, width rounded up to a multiple of 8 (networks of 3 and 8 units
a layer share a stack), activation, optimizer, batch size, train and test sizes, and whether L2
and dropout are on. Each row keeps its own data, seed and random generator
(initial weights, batch order, dropout masks), width, learning rate, L2 amount, dropout rate and epochs,
and can join or leave the stack between two epochs. No row's numbers reach another's; but the
library's batched product of a matrix and a vector rounds a row differently by its place in the batch,
so a layer of one unit is computed as a product and a sum instead (`_linear`): a run's curves are the
same, bit for bit, alone or beside others (the tests check it), as they are from one run to the next.

The layers are `x @ W + b`, initialised as `nn.Linear` initialises itself; the optimisers are
`torch.optim`'s SGD, SGD with momentum (0.9) and Adam, their update formulas applied per row; the
tests hold the curves to those of `nn.Linear` and `torch.optim` themselves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from backend.learning.toy_data import grid
from backend.runtime import device as devices

GRID = 48  # the boundary is drawn from the network's output at GRID x GRID points
SNAPSHOTS = 30  # reports per run (and one after the last epoch)
MOMENTUM = 0.9
BETAS, EPS = (0.9, 0.999), 1e-8  # Adam's defaults in torch.optim

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
PLANE = torch.from_numpy(grid(GRID)[1])


@dataclass(frozen=True)
class TrainState:
    """Where a run stopped, to go on from: its weights, its optimiser's state, its random state and
    its history so far (a few KB: the network is small)."""

    epoch: int
    weights: tuple[torch.Tensor, ...]  # per layer: W (in, out), then b (1, out)
    moments: tuple[tuple[torch.Tensor, ...], ...]  # per parameter: Adam's two averages, momentum's one, SGD's none
    steps: int  # optimiser steps taken (Adam's bias correction)
    rng: torch.Tensor  # the run's generator's state
    train_loss: tuple[float, ...]
    test_loss: tuple[float, ...]


@dataclass(frozen=True)
class Snapshot:
    """The run after `epoch` epochs (0: before any training)."""

    epoch: int
    epochs: int  # of the whole run
    train_loss: tuple[float, ...]  # one per epoch so far (index 0: before training)
    test_loss: tuple[float, ...]
    train_accuracy: float
    test_accuracy: float
    boundary: np.ndarray  # (GRID, GRID) the probability of class 1 over the plane
    diverged: bool = False  # the loss became infinite or NaN: the run stopped there
    seconds: float = 0.0  # since the run (or this part of it) began
    state: TrainState | None = field(default=None, repr=False)  # go on from here (Train after Pause, Step)


@dataclass(eq=False)
class Row:
    """One run, ready to be stacked: its settings (checked), data, generator and starting point."""

    depth: int
    width: int
    activation: str
    optimizer: str
    batch_size: int
    learning_rate: float
    l2: float
    dropout: float
    epochs: int
    until: int  # the epoch it stops at (the run's last, or earlier: Step)
    generator: torch.Generator
    x_train: torch.Tensor
    y_train: torch.Tensor  # float 0/1
    x_test: torch.Tensor
    y_test: torch.Tensor
    start: TrainState  # its weights and optimiser state when it joins (epoch 0: the initial ones)
    epoch: int = 0
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    accuracy: tuple[float, float] = (0.0, 0.0)
    diverged: bool = False
    began: float = field(default_factory=time.perf_counter)

    @property
    def shape(self) -> tuple:
        """What rows must share to be stacked."""
        return (self.depth, padded(self.width, UNITS), self.activation, self.optimizer, self.batch_size, len(self.x_train),
                len(self.x_test), self.l2 > 0, self.dropout > 0)

    @property
    def every(self) -> int:
        return max(1, self.epochs // SNAPSHOTS)

    @property
    def real(self) -> list[tuple[int, int]]:
        """Its parameters' shapes: W (in, out), then b (1, out), per layer."""
        sizes = [2] + [self.width] * self.depth + [1]
        return [shape for n_in, n_out in zip(sizes, sizes[1:]) for shape in ((n_in, n_out), (1, n_out))]


def initial_weights(layers: nn.Sequential) -> tuple[torch.Tensor, ...]:
    """An `nn.Sequential` of `nn.Linear` layers (and activations) as the stack's weights."""
    found: list[torch.Tensor] = []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            found += [layer.weight.detach().t().contiguous(), layer.bias.detach().reshape(1, -1).clone()]
    return tuple(found)


def no_moments(optimizer: str, weights: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], ...]:
    count = {"adam": 2, "momentum": 1}.get(optimizer, 0)
    return tuple(tuple(torch.zeros_like(w) for _ in range(count)) for w in weights)


@contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread while toy networks train: the matrices are tiny, and a second thread
    only adds its barrier to every operation (the default run took 4.1 s on a fresh thread with
    two, 1.8 s with one). The thread's own count comes back after."""
    threads = torch.get_num_threads()
    devices.use_threads(1)
    try:
        yield
    finally:
        devices.use_threads(threads)


News = tuple[Row, "Snapshot | None", bool]  # a row, its new snapshot (if any), whether it ended
BLOCK = 32  # points are padded to a multiple of this, inputs and units to a multiple of UNITS (see `Stack`)
UNITS = 8


def padded(size: int, block: int = BLOCK) -> int:
    return -(-size // block) * block


def _pad(tensor: torch.Tensor, *sizes: int) -> torch.Tensor:
    """`tensor` in the top-left corner of zeros of `sizes`."""
    out = tensor.new_zeros(sizes)
    out[tuple(slice(0, n) for n in tensor.shape)] = tensor
    return out


class Stack:
    """The rows of one shape, trained one epoch at a time (`epoch`).

    Its tensors hold one row per lane: a row's points padded with zeros to a multiple of BLOCK
    (32), its inputs, units and output to a multiple of UNITS (8); padded points weigh nothing in
    the losses, and padded weights (those of units past the row's own width included) get no
    gradient and stay zero. A lone row has a copy of itself beside it. The library's loops run in
    vectors and blocks and handle a leftover piece of a tensor by another path that rounds
    differently; with every row's block of every tensor a whole number of vectors, and never one
    row alone, each row's numbers are computed the same way wherever it sits in the stack: a run's
    curves are the same bit for bit alone or beside others (the tests check it; also with
    PyTorch's AVX2 kernels, `ATEN_CPU_CAPABILITY=avx2`, on this AVX-512 machine).
    """

    def __init__(self, shape: tuple) -> None:
        self.shape = shape
        self.depth, room, self.activation, self.optimizer, self.batch_size, n_train, n_test = shape[:7]
        self.with_l2, self.with_dropout = shape[-2:]
        self.room = [padded(2, UNITS)] + [room] * self.depth + [padded(1, UNITS)]  # each layer's units, padded; inputs first
        self.rooms = [shape for r_in, r_out in zip(self.room, self.room[1:]) for shape in ((r_in, r_out), (1, r_out))]
        self.counts = (n_train, n_test)
        self.rows: list[Row] = []
        self.lanes: list[Row] = []  # the rows as the tensors hold them (a lone row twice)
        self.params: list[torch.Tensor] = []
        self.moments: list[list[torch.Tensor]] = []
        self.steps: list[int] = []

    # --- rows in and out -------------------------------------------------------------------------

    def add(self, rows: list[Row]) -> list[News]:
        """Stack `rows`, each at its start; a row from scratch reports epoch 0 at once, and a row
        already at its last epoch ends without a snapshot."""
        assert all(row.shape == self.shape for row in rows)
        starts = [row.start for row in rows]
        rooms = self.rooms
        weights = [torch.stack([_pad(s.weights[k], *room) for s in starts]) for k, room in enumerate(rooms)]
        moments = [[torch.stack([_pad(s.moments[k][j], *room) for s in starts]) for j in range(len(starts[0].moments[k]))]
                   for k, room in enumerate(rooms)]
        steps = [s.steps for s in starts]
        if self.rows:  # after the rows there (a lone row's copy left out)
            n = len(self.rows)
            weights = [torch.cat([old.detach()[:n], new]) for old, new in zip(self.params, weights, strict=True)]
            moments = [[torch.cat([old[:n], new]) for old, new in zip(olds, news, strict=True)]
                       for olds, news in zip(self.moments, moments, strict=True)]
            steps = self.steps[:n] + steps
        self.params, self.moments, self.steps = weights, moments, steps
        for row in rows:
            row.epoch = row.start.epoch
            row.train_loss, row.test_loss = list(row.start.train_loss), list(row.start.test_loss)
            row.generator.set_state(row.start.rng)
        first = len(self.rows)
        self.rows += rows
        self._select(list(range(len(self.rows))))
        measured = self._measure()
        shown = []
        for i in range(first, len(self.rows)):
            row = self.rows[i]
            if not row.train_loss:  # from scratch: its losses before any training
                row.train_loss, row.test_loss = [measured[i][0]], [measured[i][1]]
                shown.append(i)
            row.accuracy = (measured[i][2], measured[i][3])
        ending = [row for row in rows if row.epoch >= row.until]
        news: list[News] = [(self.rows[i], snapshot, self.rows[i] in ending)
                            for i, snapshot in zip(shown, self._snapshots(shown), strict=True)]
        news += [(row, None, True) for row in ending if row.start.train_loss]
        self.drop(ending)
        return news

    def drop(self, rows: list[Row]) -> None:
        """Take rows out of the stack (they ended, or nobody follows them)."""
        keep = [i for i, row in enumerate(self.rows) if row not in rows]
        if len(keep) < len(self.rows):
            self.rows = [self.rows[i] for i in keep]
            self._select(keep)

    def _select(self, rows: list[int]) -> None:
        """Keep these lanes of the tensors, in this order, for `self.rows` (set to them already)."""
        lanes = rows * 2 if len(rows) == 1 else rows
        index = torch.tensor(lanes, dtype=torch.long)
        self.params = [p.detach().index_select(0, index).requires_grad_() for p in self.params]
        self.moments = [[m.index_select(0, index) for m in ms] for ms in self.moments]
        self.steps = [self.steps[i] for i in lanes]
        self.lanes = self.rows * 2 if len(self.rows) == 1 else list(self.rows)
        per_lane = lambda values: torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)  # noqa: E731
        self.l2 = torch.tensor([row.l2 for row in self.lanes], dtype=torch.float32)
        self.keep = per_lane([1 - row.dropout for row in self.lanes])
        if not self.rows:
            return
        self.gradient_masks = [torch.stack([_pad(torch.ones(row.real[k]), *room) for row in self.lanes])
                               for k, room in enumerate(self.rooms)]  # each lane's own units (its width)
        points = [padded(n) for n in self.counts]
        self.x_train = torch.stack([_pad(row.x_train, points[0], self.room[0]) for row in self.lanes])
        self.y_train = torch.stack([_pad(row.y_train, points[0]) for row in self.lanes])
        self.x_test = torch.stack([_pad(row.x_test, points[1], self.room[0]) for row in self.lanes])
        self.y_test = torch.stack([_pad(row.y_test, points[1]) for row in self.lanes])
        self.point_masks = [_pad(torch.ones(n), p).expand(len(self.lanes), -1) for n, p in zip(self.counts, points, strict=True)]
        self.which = torch.arange(len(self.lanes)).reshape(-1, 1)

    # --- the network -----------------------------------------------------------------------------

    def _forward(self, params: list[torch.Tensor], x: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Each lane's logits for its own points: x (lanes, points, inputs) -> (lanes, points)."""
        act = ACTIVATIONS[self.activation]
        h = x
        for layer in range(self.depth):
            h = act(torch.baddbmm(params[2 * layer + 1], h, params[2 * layer]))
            if masks is not None:
                h = h * masks[layer] / self.keep
        return torch.baddbmm(params[-1], h, params[-2])[..., 0]

    def _masks(self, points: int) -> list[torch.Tensor] | None:
        """Each row's dropout masks for one mini-batch of `points`, from its own generator."""
        if not self.with_dropout:
            return None
        masks = [[] for _ in range(self.depth)]
        for row in self.rows:
            for layer in range(self.depth):
                drawn = torch.rand((points, row.width), generator=row.generator) >= row.dropout
                masks[layer].append(_pad(drawn, padded(points), self.room[1 + layer]))
        return [torch.stack(per_layer * (len(self.lanes) // len(self.rows))) for per_layer in masks]

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, count: int) -> torch.Tensor:
        """Each lane's mean binary cross-entropy over its `count` real points (padded ones weigh 0)."""
        return (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * weight).sum(dim=1) / count

    def _update(self, grads: list[torch.Tensor]) -> None:
        """One optimiser step per lane, with its own learning rate (torch.optim's formulas)."""
        self.steps = [step + 1 for step in self.steps]
        per_lane = lambda values: torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)  # noqa: E731
        rates = [row.learning_rate for row in self.lanes]
        if self.optimizer == "adam":
            (b1, b2) = BETAS
            step_size = per_lane([lr / (1 - b1**step) for lr, step in zip(rates, self.steps, strict=True)])
            root = per_lane([math.sqrt(1 - b2**step) for step in self.steps])
        else:
            lr = per_lane(rates)
        with torch.no_grad():
            for param, grad, mask, moments in zip(self.params, grads, self.gradient_masks, self.moments, strict=True):
                grad = grad * mask
                if self.optimizer == "sgd":
                    param.sub_(lr * grad)
                elif self.optimizer == "momentum":
                    moments[0].mul_(MOMENTUM).add_(grad)
                    param.sub_(lr * moments[0])
                else:
                    first, second = moments
                    first.lerp_(grad, 1 - b1)
                    second.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                    param.sub_(step_size * (first / (second.sqrt() / root).add_(EPS)))

    def epoch(self) -> list[News]:
        """One epoch for every row: shuffled mini-batches, an optimiser step each; then each row's
        losses and accuracies, a snapshot for the rows at one of theirs, and the rows that ended."""
        if not self.rows:
            return []
        order = [torch.randperm(self.counts[0], generator=row.generator) for row in self.rows]
        order = torch.stack(order * (len(self.lanes) // len(self.rows)))  # a lone row's copy takes its batches
        for first in range(0, self.counts[0], self.batch_size):
            batch = order[:, first : first + self.batch_size]
            size = batch.shape[1]
            weight = _pad(torch.ones(size), padded(size)).expand(len(self.lanes), -1)
            batch = _pad(batch, len(self.lanes), padded(size))  # padded with point 0, weighing nothing
            logits = self._forward(self.params, self.x_train[self.which, batch], self._masks(size))
            loss = self._loss(logits, self.y_train[self.which, batch], weight, size)
            if self.with_l2:
                loss = loss + self.l2 * sum((w**2).sum(dim=(1, 2)) for w in self.params[0::2])
            self._update(list(torch.autograd.grad(loss.sum(), self.params)))
        measured = self._measure()
        shown, ended = [], []
        for i, (row, (train_loss, test_loss, train_acc, test_acc)) in enumerate(zip(self.rows, measured)):
            row.epoch += 1
            row.train_loss.append(train_loss)
            row.test_loss.append(test_loss)
            row.accuracy = (train_acc, test_acc)
            row.diverged = not (math.isfinite(train_loss) and math.isfinite(test_loss))
            if row.epoch >= row.until or row.diverged:
                ended.append(row)
            if row.epoch % row.every == 0 or row in ended:
                shown.append(i)
        news = [(self.rows[i], snapshot, self.rows[i] in ended) for i, snapshot in zip(shown, self._snapshots(shown), strict=True)]
        self.drop(ended)
        return news

    def _measure(self) -> list[list[float]]:
        """Per lane, in eval mode (no dropout): train loss, test loss, train accuracy, test accuracy."""
        with torch.no_grad():
            out = []
            for x, y, weight, count in zip((self.x_train, self.x_test), (self.y_train, self.y_test), self.point_masks,
                                           self.counts, strict=True):
                logits = self._forward(self.params, x)
                out.append(self._loss(logits, y, weight, count))
                out.append((((logits > 0).float() == y).float() * weight).sum(dim=1) / count)
            return torch.stack([out[0], out[2], out[1], out[3]], dim=1).tolist()

    def _snapshots(self, shown: list[int]) -> list[Snapshot]:
        """The snapshots of the rows at `shown`: their boundary over the plane and the state to go on from."""
        if not shown:
            return []
        lanes = shown * 2 if len(shown) == 1 else shown
        index = torch.tensor(lanes, dtype=torch.long)
        with torch.no_grad():
            params = [p.detach().index_select(0, index) for p in self.params]
            plane = _pad(PLANE, len(PLANE), self.room[0]).expand(len(lanes), -1, -1)
            boundary = torch.sigmoid(self._forward(params, plane)).numpy()
        snapshots = []
        for j, i in enumerate(shown):
            row = self.rows[i]
            state = TrainState(
                row.epoch, tuple(p[j, :a, :b].clone() for p, (a, b) in zip(params, row.real, strict=True)),
                tuple(tuple(m[i, :a, :b].clone() for m in ms) for ms, (a, b) in zip(self.moments, row.real, strict=True)),
                self.steps[i], row.generator.get_state(), tuple(row.train_loss), tuple(row.test_loss),
            )
            snapshots.append(Snapshot(row.epoch, row.epochs, tuple(row.train_loss), tuple(row.test_loss), row.accuracy[0],
                                      row.accuracy[1], boundary[j].reshape(GRID, GRID), row.diverged,
                                      time.perf_counter() - row.began, state))
        return snapshots
