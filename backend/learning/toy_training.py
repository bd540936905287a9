"""A small network trained on 2-D data, reporting as it goes: the decision boundary over the plane,
the train and test loss of every epoch so far, and both accuracies.

The network is a stack of linear layers with the chosen activation (and dropout), binary
cross-entropy on one output logit, an L2 penalty on the weights added to the training loss, and
SGD, SGD with momentum, or Adam, on shuffled mini-batches. One seed fixes the data, the initial
weights, the order of the batches and the dropout masks, so the same seed and settings give the
same curves. A run draws its random numbers from its own `torch.Generator`, never the process's:
runs on other threads (and anything else the server computes) cannot move them. A run can stop
after any epoch and go on later from its `TrainState` (Pause, Step, Train again).

Runs are trained by `toy_stack` (several runs of one shape in one pass, each row on its own
numbers); `build_network` is the same network as a plain `nn.Sequential`, where the initial
weights come from and what the tests hold the stack's curves to. Visitors' runs queue as joinable
jobs: the runs in training at once share the passes (`joined_training`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
from torch import nn

from backend.learning.joined_training import SeatedRun
from backend.learning.toy_data import DATASETS, ToyData, make_dataset
from backend.learning.toy_stack import Row, Snapshot, Stack, TrainState, initial_weights, no_moments, one_thread
from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import lazy, n_

QUEUE = "toy-network"  # the scheduler's line for toy training runs (no shared model: its own queue)
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
OPTIMIZERS = {"sgd": n_("SGD"), "momentum": n_("SGD with momentum (0.9)"), "adam": n_("Adam")}


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
    """The run's network as plain PyTorch layers, initialised from the run's generator: where a
    run's first weights come from, and what the tests train with `torch.optim` to check the stack."""
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


def open_row(settings: ToySettings, start: TrainState | None = None, until: int | None = None) -> Row:
    """A run ready to train: its checked settings, data, generator and starting weights (the
    initial ones from `build_network`, or where `start` stopped); it stops at epoch `until`
    (default: the run's last)."""
    settings = settings.checked()
    data = data_of(settings)
    generator = torch.Generator().manual_seed(settings.seed)  # initial weights, batch order, dropout
    if start is None:
        weights = initial_weights(build_network(settings, generator))
        start = TrainState(0, weights, no_moments(settings.optimizer, weights), 0, generator.get_state(), (), ())
    return Row(
        settings.depth, settings.width, settings.activation, settings.optimizer, settings.batch_size,
        settings.learning_rate, settings.l2, settings.dropout, settings.epochs,
        settings.epochs if until is None else min(until, settings.epochs), generator,
        torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).float(),
        torch.from_numpy(data.x_test), torch.from_numpy(data.y_test).float(), start,
    )


def train(settings: ToySettings, start: TrainState | None = None, until: int | None = None) -> Iterator[Snapshot]:
    """Train one run alone (from scratch, or on from `start`) up to epoch `until` (default: the
    run's epochs), yielding a `Snapshot` about 30 times along the way and one at the end; each
    holds the `TrainState` to go on from."""
    row = open_row(settings, start, until)
    with one_thread():
        stack = Stack(row.shape)
        news = stack.add([row])
        while news or stack.rows:
            for _row, snapshot, _ended in news:
                if snapshot is not None:
                    yield snapshot
            news = stack.epoch() if stack.rows else []


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
    """Queue a run (a streaming job: its `Snapshot`s arrive through `job.stream()`); it trains
    beside the other runs under way (`joined_training`) and ends at once when nobody follows it
    (its visitors left or pressed Pause). A run from scratch
    is deterministic, so visitors who press Train on the same settings while it runs follow one run
    (a room trying the same preset together), as a seeded generation is shared."""
    settings = settings.checked()
    began = start.epoch if start is not None else 0
    shared = ("toy", settings, until) if start is None else None
    return SCHEDULER.submit(QUEUE, open_run, settings, start, until, streaming=True, joinable=True, owner=owner,
                            slot=slot, client=client, request_key=("toy", settings, began, until), share_key=shared)


def open_run(settings: ToySettings, start: TrainState | None = None, until: int | None = None) -> SeatedRun:
    """A queued run's task: the run, to be seated in the queue's training room."""
    return SeatedRun(open_row(settings, start, until))
