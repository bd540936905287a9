"""Which classifier, as plain data (what the user chose), and the resolved classifier type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from backend.runtime.errors import InputError
from backend.runtime.registry import MINILM, get_spec
from backend.shared.language import Lazy
from backend.text.linear_heads import LinearHead

MAX_LABELS = 20
MAX_DESCRIPTION_CHARS = 300
DEFAULT_LABELS = ("positive", "negative")
Kind = Literal["sentiment", "zero-shot", "taught", "fine-tuned"]


@dataclass(frozen=True)
class ClassifierSpec:
    """Which classifier, as plain data: the same spec always gives the same head."""

    kind: Kind
    model_key: str = MINILM.key
    labels: tuple[str, ...] = ()  # zero-shot
    descriptions: tuple[str, ...] = ()  # zero-shot: one per label, "" for none
    examples: tuple[tuple[str, str], ...] = ()  # taught: (text, label) rows


SENTIMENT = ClassifierSpec("sentiment")


@dataclass(frozen=True, eq=False)
class Classifier:
    """A resolved spec: the labels and, for the offline encoder, its head."""

    spec: ClassifierSpec
    labels: tuple[str, ...]
    head: LinearHead | None  # None: a fine-tuned model's own output layer
    about: Lazy | str  # one line for the page: what the head is and where its weights came from (a
    # resolved classifier is kept for every session: a `lazy()` message, translated where shown)


def parse_labels(raw: str) -> list[str]:
    """'sports, politics,  science' -> ['sports', 'politics', 'science'] (deduplicated)."""
    return [label for label, _ in parse_label_lines(raw)]


def parse_label_lines(raw: str) -> list[tuple[str, str]]:
    """Labels, each optionally with a description after a colon: 'sports: a match or a team'.
    A line with a colon is one label (its description may contain commas); other lines may
    hold several labels separated by commas."""
    parts = [p for line in raw.splitlines() for p in ([line] if ":" in line else line.split(","))]
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for part in parts:
        label, _, description = part.partition(":")
        label, description = " ".join(label.split()), " ".join(description.split())
        if label and label.lower() not in seen:
            seen.add(label.lower())
            found.append((label, description))
    return found


def zero_shot(labels: str | Sequence[str], model_key: str = MINILM.key) -> ClassifierSpec:
    """A zero-shot spec from typed labels ('a, b' or one 'label: description' per line)."""
    if isinstance(labels, str):
        pairs = parse_label_lines(labels)
    else:
        pairs = parse_label_lines("\n".join(labels))
    if len(pairs) < 2:
        raise InputError("Give at least two different labels, separated by commas (e.g. 'positive, negative').")
    if len(pairs) > MAX_LABELS:
        raise InputError("{count} labels given; use at most {most}.", count=len(pairs), most=MAX_LABELS)
    long = [label for label, d in pairs if len(d) > MAX_DESCRIPTION_CHARS]
    if long:
        raise InputError(
            "The description of '{label}' is over {most} characters; shorten it.", label=long[0], most=MAX_DESCRIPTION_CHARS
        )
    return ClassifierSpec(
        "zero-shot", model_key, tuple(label for label, _ in pairs), tuple(d for _, d in pairs)
    )


def as_spec(classifier: ClassifierSpec | str | Sequence[str], model_key: str = MINILM.key) -> ClassifierSpec:
    """A spec as given, or zero-shot labels; a fine-tuned model's own head whatever was asked."""
    if get_spec(model_key).kind == "sequence-classifier":
        return ClassifierSpec("fine-tuned", model_key)
    if isinstance(classifier, ClassifierSpec):
        return classifier
    return zero_shot(classifier, model_key)
