"""A small network trained on 2-D data, reporting as it goes: the decision boundary over the plane,
the train and test loss of every epoch so far, and both accuracies.

Plain PyTorch: a stack of `nn.Linear` layers with the chosen activation (and dropout), binary
cross-entropy on one output logit, an L2 penalty on the weights added to the training loss, and
`torch.optim`'s SGD, SGD with momentum, or Adam, on shuffled mini-batches. One seed fixes the data,
the initial weights, the order of the batches and the dropout masks, so the same seed and settings
give the same curves. The run draws its random numbers from its own `torch.Generator`, never the
process's: runs on other threads (and anything else the server computes) cannot move them. A run can stop after any epoch and go on later from its `TrainState`
(Pause, Step, Train again).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from backend.learning.toy_data import DATASETS, ToyData, grid, make_dataset
from backend.runtime import device as devices
from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import lazy, n_

QUEUE = "toy-network"  # the scheduler's line for toy training runs (no shared model: its own queue)
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
OPTIMIZERS = {"sgd": n_("SGD"), "momentum": n_("SGD with momentum (0.9)"), "adam": n_("Adam")}
GRID = 48  # the boundary is drawn from the network's output at GRID x GRID points
SNAPSHOTS = 30  # reports per run (and one after the last epoch)


@dataclass(frozen=True)
class ToySettings:
    dataset: str = "circles"
    points: int = 500
    noise: float = 0.1
    test_share: float = 0.3
    batch_size: int = 32
    width: int = 8  # hidden units per layer
    depth: int = 2  # hidden layers (0: a linear model, logistic regression)
    activation: str = "tanh"
    learning_rate: float = 0.03
    optimizer: str = "adam"
    l2: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    epochs: int = 300

    def checked(self) -> ToySettings:
        """The settings, or an `InputError` naming the one out of range (and the cap here)."""
        caps = limits()
        if self.dataset not in DATASETS:
            raise InputError("There is no data set {name!r}; pick one of {names}.", name=self.dataset[:40],
                             names=", ".join(DATASETS))
        if self.activation not in ACTIVATIONS or self.optimizer not in OPTIMIZERS:
            raise InputError("Pick an activation of {activations} and an optimizer of {optimizers}.",
                             activations=", ".join(ACTIVATIONS), optimizers=", ".join(OPTIMIZERS))
        if not 20 <= self.points <= caps.toy_points:
            raise InputError("A data set here has 20 to {most} points, not {asked}.", most=caps.toy_points, asked=self.points)
        if not 0 <= self.depth <= 6 or not 1 <= self.width <= 64 or self.width * self.depth > caps.toy_neurons:
            raise InputError(
                "A network here has 0 to 6 hidden layers of 1 to 64 units, at most {most} units in all; "
                "{depth} x {width} = {asked}.", most=caps.toy_neurons, depth=self.depth, width=self.width,
                asked=self.depth * self.width,
            )
        if not 1 <= self.epochs <= caps.toy_epochs:
            raise InputError("A run here has 1 to {most} epochs, not {asked}.", most=caps.toy_epochs, asked=self.epochs)
        numbers = {n_("noise"): (self.noise, 0.0, 0.5), n_("test share"): (self.test_share, 0.1, 0.9),
                   n_("learning rate"): (self.learning_rate, 1e-5, 10.0), n_("L2"): (self.l2, 0.0, 1.0),
                   n_("dropout"): (self.dropout, 0.0, 0.9)}
        for name, (value, low, high) in numbers.items():
            if not (math.isfinite(value) and low <= value <= high):
                raise InputError("The {name} must be between {low} and {high}, not {value}.", name=lazy(name), low=low,
                                 high=high, value=value)
        if not 1 <= self.batch_size <= self.points or not 0 <= self.seed < 2**32:
            raise InputError("The batch size must be 1 to the number of points, and the seed 0 to 2^32 - 1.")
        return self


@dataclass(frozen=True)
class TrainState:
    """Where a run stopped, to go on from: the weights, the optimiser's state, the random state
    and the history so far."""

    epoch: int
    network: dict
    optimizer: dict
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


class SeededDropout(nn.Module):
    """`nn.Dropout` drawing its masks from the run's generator."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator) >= self.p
        return x * keep / (1 - self.p)


def _linear(width_in: int, width_out: int, generator: torch.Generator) -> nn.Linear:
    """`nn.Linear` with its own default initialisation, drawn from the run's generator."""
    layer = nn.Linear(width_in, width_out)
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(width_in)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def build_network(settings: ToySettings, generator: torch.Generator | None = None) -> nn.Sequential:
    generator = generator if generator is not None else torch.Generator().manual_seed(settings.seed)
    layers: list[nn.Module] = []
    width_in = 2
    for _ in range(settings.depth):
        layers += [_linear(width_in, settings.width, generator), ACTIVATIONS[settings.activation]()]
        if settings.dropout > 0:
            layers.append(SeededDropout(settings.dropout, generator))
        width_in = settings.width
    layers.append(_linear(width_in, 1, generator))
    return nn.Sequential(*layers)


def _optimizer(settings: ToySettings, network: nn.Module) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    momentum = 0.9 if settings.optimizer == "momentum" else 0.0
    return torch.optim.SGD(network.parameters(), lr=settings.learning_rate, momentum=momentum)


def _penalty(network: nn.Module) -> torch.Tensor:
    """Σ w² over the weights (not the biases)."""
    return sum((layer.weight**2).sum() for layer in network if isinstance(layer, nn.Linear))


def _measure(network: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy and accuracy of the network (in eval mode: no dropout) on the points."""
    logits = network(x).squeeze(-1)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y.float())
    return float(loss), float(((logits > 0).long() == y).float().mean()) if len(y) else 0.0


def train(settings: ToySettings, start: TrainState | None = None, until: int | None = None) -> Iterator[Snapshot]:
    """Train (from scratch, or on from `start`) up to epoch `until` (default: the run's epochs),
    yielding a `Snapshot` about SNAPSHOTS times along the way and one at the end; each holds the
    `TrainState` to go on from (a few KB: the network is small)."""
    settings = settings.checked()
    # One intra-op thread: the matrices are tiny, and a second thread only adds its barrier to every
    # operation (the default run took 4.1 s on a fresh thread with two, 1.8 s with one). The
    # thread's own count comes back when the run ends.
    threads = torch.get_num_threads()
    devices.use_threads(1)
    try:
        yield from _train(settings, start, until)
    finally:
        devices.use_threads(threads)


def _train(settings: ToySettings, start: TrainState | None, until: int | None) -> Iterator[Snapshot]:
    until = settings.epochs if until is None else min(until, settings.epochs)
    data = make_dataset(settings.dataset, settings.points, settings.noise, settings.test_share, settings.seed)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    plane = torch.from_numpy(grid(GRID)[1])
    every = max(1, settings.epochs // SNAPSHOTS)
    began = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)  # initial weights, batch order, dropout
    network = build_network(settings, generator)
    optimizer = _optimizer(settings, network)
    if start is None:
        with torch.no_grad():
            network.eval()
            train_loss, test_loss = [_measure(network, x_train, y_train)[0]], [_measure(network, x_test, y_test)[0]]
        epoch = 0
    else:
        network.load_state_dict(start.network)
        optimizer.load_state_dict(start.optimizer)
        generator.set_state(start.rng)
        train_loss, test_loss, epoch = list(start.train_loss), list(start.test_loss), start.epoch
    diverged = False

    def snapshot() -> Snapshot:
        network.eval()
        with torch.no_grad():
            train_acc = _measure(network, x_train, y_train)[1]
            test_acc = _measure(network, x_test, y_test)[1]
            boundary = torch.sigmoid(network(plane)).reshape(GRID, GRID).numpy()
        state = TrainState(epoch, {k: v.clone() for k, v in network.state_dict().items()},
                           copy.deepcopy(optimizer.state_dict()), generator.get_state(),
                           tuple(train_loss), tuple(test_loss))
        return Snapshot(epoch, settings.epochs, tuple(train_loss), tuple(test_loss), train_acc, test_acc,
                        boundary, diverged, time.perf_counter() - began, state)

    if start is None:
        yield snapshot()
    while epoch < until and not diverged:
        network.train()
        order = torch.randperm(len(x_train), generator=generator)
        for first in range(0, len(order), settings.batch_size):
            batch = order[first : first + settings.batch_size]
            logits = network(x_train[batch]).squeeze(-1)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y_train[batch].float())
            if settings.l2:
                loss = loss + settings.l2 * _penalty(network)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        epoch += 1
        network.eval()
        with torch.no_grad():
            train_loss.append(_measure(network, x_train, y_train)[0])
            test_loss.append(_measure(network, x_test, y_test)[0])
        diverged = not (math.isfinite(train_loss[-1]) and math.isfinite(test_loss[-1]))
        if epoch % every == 0 or epoch == until or diverged:
            yield snapshot()


def final(settings: ToySettings) -> Snapshot:
    """The run to its last epoch, its last snapshot only."""
    last = None
    for last in train(settings):  # noqa: B007
        pass
    return last


# One click shows each lesson (the page's presets): the settings a preset changes from the defaults.
PRESETS: dict[str, dict[str, object]] = {
    n_("Learning rate too high"): {"dataset": "circles", "optimizer": "sgd", "learning_rate": 8.0, "epochs": 100},
    n_("Learning rate too low"): {"dataset": "circles", "optimizer": "sgd", "learning_rate": 0.0005, "epochs": 300},
    n_("Big network, few noisy points"): {"dataset": "xor", "points": 60, "noise": 0.35, "width": 32, "depth": 3,
                                          "activation": "relu", "learning_rate": 0.01, "epochs": 600, "batch_size": 10},
    n_("…and with L2"): {"dataset": "xor", "points": 60, "noise": 0.35, "width": 32, "depth": 3, "activation": "relu",
                         "learning_rate": 0.01, "epochs": 600, "batch_size": 10, "l2": 0.003},
    n_("A linear model on XOR"): {"dataset": "xor", "depth": 0, "epochs": 200},
}


def preset(name: str, base: ToySettings | None = None) -> ToySettings:
    return replace(base or ToySettings(), **PRESETS[name])


def data_of(settings: ToySettings) -> ToyData:
    return make_dataset(settings.dataset, settings.points, settings.noise, settings.test_share, settings.seed)


def submit_training(settings: ToySettings, start: TrainState | None = None, until: int | None = None, *,
                    owner: str | None = None, slot: str | None = None, client: str | None = None) -> Job:
    """Queue a run (a streaming job: its `Snapshot`s arrive through `job.stream()`); it ends at its
    next snapshot once nobody follows it (its visitors left or pressed Pause). A run from scratch
    is deterministic, so visitors who press Train on the same settings while it runs follow one run
    (a room trying the same preset together), as a seeded generation is shared."""
    settings = settings.checked()
    began = start.epoch if start is not None else 0
    shared = ("toy", settings, until) if start is None else None
    return SCHEDULER.submit(QUEUE, train, settings, start, until, streaming=True, owner=owner, slot=slot,
                            client=client, request_key=("toy", settings, began, until), share_key=shared)
