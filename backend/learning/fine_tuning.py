"""Pretraining, then fine-tuning: the sentiment task learned by a linear head on three kinds of
features of the same sentences (`backend/text/data`: 2,465 to train on, 630 held out):

- **pretrained**: MiniLM's sentence vectors (the dashboard's encoder, pretrained on a billion
  sentence pairs, then frozen);
- **random**: the same architecture with random weights (no pretraining), pooled the same way;
- **bag of words**: which of the training sentences' words (seen at least twice) a sentence holds.

The features do not depend on the visitor: they are computed once (about 30 s on 2 cores, at image
build time or the first time they are needed) and kept in the cache folder. A head then trains in
milliseconds: logistic regression with Adam, full batch, epoch by epoch on the first n training
sentences of a seeded, label-balanced order, measured on all the held-out sentences.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass

import torch

from backend.runtime.cache_paths import cache_root, kept_file
from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.model_cache import get_model
from backend.runtime.registry import MINILM
from backend.runtime.scheduler import SCHEDULER, Job, checkpoint
from backend.shared.language import n_
from backend.shared.sentence_vectors import embed
from backend.shared.sentiment_data import HELDOUT_FILE, LABELS, TRAIN_FILE, read_rows

FEATURES = {"pretrained": n_("Pretrained MiniLM"), "random": n_("Same network, random weights"),
            "words": n_("Bag of words")}
SIZES = (8, 16, 32, 64, 128, 256, 512, 1024, 2465)  # training-set sizes of the learning curve
EPOCHS = 60
LEARNING_RATE = 0.05
L2 = 1e-4
RANDOM_SEED = 0  # the random network's weights
FORMAT_VERSION = 1
_lock = threading.Lock()
_kept: dict[str, dict] = {}


@dataclass(frozen=True)
class Scores:
    accuracy: float
    precision: float  # of "positive"
    recall: float
    f1: float


@dataclass(frozen=True)
class HeadRun:
    """One head trained on `size` sentences of one kind of features."""

    features: str
    size: int
    train_loss: tuple[float, ...]  # per epoch (index 0: before training)
    heldout_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    heldout_accuracy: tuple[float, ...]
    heldout: Scores  # after the last epoch


@dataclass(frozen=True)
class FineTuning:
    size: int
    runs: tuple[HeadRun, ...]  # one per kind of features, at `size`
    curve: dict[str, tuple[float, ...]]  # held-out accuracy at each of SIZES, per kind of features
    sizes: tuple[int, ...]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _bag_of_words(train: list[str], heldout: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    counts = Counter(word for text in train for word in set(_words(text)))
    vocabulary = sorted(word for word, count in counts.items() if count >= 2)
    index = {word: i for i, word in enumerate(vocabulary)}

    def encode(texts: list[str]) -> torch.Tensor:
        matrix = torch.zeros(len(texts), len(vocabulary))
        for row, text in enumerate(texts):
            for word in set(_words(text)):
                if word in index:
                    matrix[row, index[word]] = 1.0
        return matrix

    return encode(train), encode(heldout), vocabulary


def _random_encoder(handle: LoadedModel) -> LoadedModel:
    """MiniLM's architecture and tokenizer with freshly initialised weights (seeded)."""
    from transformers import AutoModel  # imported when first needed, as the model loaders do

    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_SEED)
        model = AutoModel.from_config(handle.model.config).eval()
    return LoadedModel(handle.spec, model, handle.preprocessor, handle.device, 0.0)


def _cache_file() -> os.PathLike:
    digest = hashlib.sha256()
    for path in (TRAIN_FILE, HELDOUT_FILE):
        digest.update(path.read_bytes())
    try:
        version = importlib.metadata.version(MINILM.location)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest.update(f"{version}|{RANDOM_SEED}|{FORMAT_VERSION}".encode())
    return cache_root() / f"learning-features-{digest.hexdigest()[:16]}.pt"


def _compute() -> dict:
    train, heldout = read_rows(TRAIN_FILE), read_rows(HELDOUT_FILE)
    texts = [row.text for row in train], [row.text for row in heldout]
    handle = get_model(MINILM.key)
    with handle.lock:
        pretrained = [embed(handle, part) for part in texts]
    random_handle = _random_encoder(handle)
    with handle.lock:  # the tokenizer is the shared model's
        random = [embed(random_handle, part) for part in texts]
    words_train, words_heldout, vocabulary = _bag_of_words(*texts)
    targets = [torch.tensor([int(row.label == LABELS[0]) for row in part]) for part in (train, heldout)]
    return {"pretrained": pretrained, "random": random, "words": [words_train, words_heldout],
            "targets": targets, "vocabulary": len(vocabulary)}


def features() -> dict:
    """Every kind of features of the training and held-out sentences, and the targets (1 = positive):
    read from the cache folder, else computed once and saved there."""
    with _lock:
        if "features" not in _kept:
            _kept["features"] = kept_file(_cache_file(), lambda: _compute(), "the learning page's features")
        return _kept["features"]


def _balanced_order(targets: torch.Tensor, seed: int) -> torch.Tensor:
    """The training sentences in a seeded order that alternates the labels, so any first n hold
    both labels (n ≥ 2) in equal shares."""
    generator = torch.Generator().manual_seed(seed)
    positives = targets.nonzero().squeeze(1)
    negatives = (targets == 0).nonzero().squeeze(1)
    positives = positives[torch.randperm(len(positives), generator=generator)]
    negatives = negatives[torch.randperm(len(negatives), generator=generator)]
    pairs = torch.stack([positives[: len(negatives)], negatives[: len(positives)]], 1).reshape(-1)
    rest = positives[len(negatives):] if len(positives) > len(negatives) else negatives[len(positives):]
    return torch.cat([pairs, rest])


def scores(predicted: torch.Tensor, targets: torch.Tensor) -> Scores:
    """Accuracy, and precision / recall / F1 of the positive class."""
    tp = int(((predicted == 1) & (targets == 1)).sum())
    fp = int(((predicted == 1) & (targets == 0)).sum())
    fn = int(((predicted == 0) & (targets == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(float((predicted == targets).float().mean()), precision, recall, f1)


def train_head(kind: str, size: int, seed: int = 0, epochs: int = EPOCHS) -> HeadRun:
    """A logistic-regression head on `size` training sentences of features `kind`, epoch by epoch."""
    if kind not in FEATURES:
        raise InputError("There are no features {name!r}; pick one of {names}.", name=kind[:40], names=", ".join(FEATURES))
    found = features()
    (x_train, x_heldout), (y_train, y_heldout) = found[kind], found["targets"]
    if not 2 <= size <= len(y_train):
        raise InputError("Train on 2 to {most} labelled sentences, not {asked}.", most=len(y_train), asked=size)
    chosen = _balanced_order(y_train, seed)[:size]
    x, y = x_train[chosen], y_train[chosen].float()
    generator = torch.Generator().manual_seed(seed)
    weight = (torch.randn(x.shape[1], generator=generator) * 0.01).requires_grad_()
    bias = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=LEARNING_RATE)
    loss_of = torch.nn.functional.binary_cross_entropy_with_logits
    history: dict[str, list[float]] = {"train_loss": [], "heldout_loss": [], "train_accuracy": [], "heldout_accuracy": []}

    def record() -> None:
        with torch.no_grad():
            for name, (xs, ys) in {"train": (x, y), "heldout": (x_heldout, y_heldout.float())}.items():
                logits = xs @ weight + bias
                history[f"{name}_loss"].append(float(loss_of(logits, ys)))
                history[f"{name}_accuracy"].append(float(((logits > 0).float() == ys).float().mean()))

    record()
    for _ in range(epochs):
        checkpoint()  # the visitor left, or the time limit passed: stop here
        optimizer.zero_grad()
        loss = loss_of(x @ weight + bias, y) + L2 * (weight**2).sum()
        loss.backward()
        optimizer.step()
        record()
    with torch.no_grad():
        final = scores(((x_heldout @ weight + bias) > 0).long(), y_heldout)
    return HeadRun(kind, size, *(tuple(history[k]) for k in ("train_loss", "heldout_loss", "train_accuracy",
                                                               "heldout_accuracy")), final)


def fine_tuning(size: int, seed: int = 0) -> FineTuning:
    """Each kind of features' head at `size`, and the held-out accuracy of each at every size of
    the learning curve."""
    runs = tuple(train_head(kind, size, seed) for kind in FEATURES)
    total = len(features()["targets"][0])
    sizes = tuple(s for s in SIZES if s < total) + (total,)
    curve = {kind: tuple(train_head(kind, s, seed).heldout.accuracy for s in sizes) for kind in FEATURES}
    return FineTuning(size, runs, curve, sizes)


def submit_fine_tuning(size: int, seed: int = 0, *, owner: str | None = None, slot: str | None = None,
                       client: str | None = None) -> Job:
    """Queued on the encoder's queue: the first call may compute the features with MiniLM."""
    return SCHEDULER.submit(MINILM.key, fine_tuning, int(size), int(seed), owner=owner, slot=slot, client=client,
                            request_key=("fine-tuning", int(size), int(seed)))
