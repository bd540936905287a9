"""Teach by examples: a few labelled sentences become a classifier in well under a second.

The encoder stays frozen (pretrained); only a small logistic-regression head is fitted on the
embeddings of the user's examples. That is fine-tuning at its smallest, and the result can be
explained at once like any other classifier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.public_mode import limits
from backend.runtime.registry import MINILM
from backend.shared.text_input import check_token_count, clean_text
from backend.text.encoder import MAX_TOKENS, embed
from backend.text.linear_heads import fit_head
from backend.text.specs import MAX_LABELS, Classifier, ClassifierSpec

MAX_EXAMPLES = 200
MIN_PER_LABEL = 2  # fewer still fits, with a warning

STARTER_EXAMPLES = (
    ("The battery died after two days and support never answered.", "complaint"),
    ("My parcel arrived broken and nobody will refund me.", "complaint"),
    ("The app crashes every time I open the settings.", "complaint"),
    ("Thank you, the technician was quick and friendly!", "praise"),
    ("Great service, my problem was solved in minutes.", "praise"),
    ("I love the new design, it is so much easier to use.", "praise"),
    ("Can I change the delivery address after ordering?", "question"),
    ("Do you ship to Canada, and how long does it take?", "question"),
    ("How do I reset my password?", "question"),
)


@dataclass(frozen=True)
class TeachingSet:
    examples: tuple[tuple[str, str], ...]  # (text, label), cleaned, in the order given
    counts: dict[str, int]  # examples per label
    notes: tuple[str, ...]  # rows dropped, labels with few examples, conflicting duplicates

    def spec(self, model_key: str = MINILM.key) -> ClassifierSpec:
        return ClassifierSpec("taught", model_key, examples=self.examples)


def teaching_set(rows: Iterable[Mapping[str, object]]) -> TeachingSet:
    """Check rows of {'text': ..., 'label': ...} (a table or a CSV); raise when unusable."""
    examples: list[tuple[str, str]] = []
    dropped = 0
    for row in rows:
        text = " ".join(str(row.get("text") or "").split())
        label = " ".join(str(row.get("label") or "").split())
        if text.lower() in ("nan", "none"):
            text = ""
        if not text or not label or label.lower() in ("nan", "none"):
            dropped += int(bool(text or label))
            continue
        examples.append((clean_text(text, _which(text)), label))  # the limit on any typed text
    if len(examples) > MAX_EXAMPLES:
        raise InputError(f"{len(examples)} examples given; teach with at most {MAX_EXAMPLES}.")
    counts = dict(Counter(label for _, label in examples))
    if len(counts) < 2:
        have = f"only '{next(iter(counts))}'" if counts else "none"
        raise InputError(
            f"Teaching needs examples of at least two labels ({have} so far). Add a few sentences "
            "for another label in the table."
        )
    if len(counts) > MAX_LABELS:
        raise InputError(f"{len(counts)} labels given; teach at most {MAX_LABELS}.")
    notes = []
    if dropped:
        notes.append(f"{dropped} row{'s' if dropped > 1 else ''} without both a text and a label left out")
    few = [f"'{label}' ({n})" for label, n in counts.items() if n < MIN_PER_LABEL]
    if few:
        notes.append(
            f"fewer than {MIN_PER_LABEL} examples for {', '.join(few)}: the head can hardly learn "
            "a label from one sentence, add more"
        )
    labels_of: dict[str, set[str]] = {}
    for text, label in examples:
        labels_of.setdefault(text.lower(), set()).add(label)
    clashes = sum(1 for labels in labels_of.values() if len(labels) > 1)
    if clashes:
        notes.append(f"{clashes} sentence{'s' if clashes > 1 else ''} given with two different labels")
    return TeachingSet(tuple(examples), counts, tuple(notes))


def _which(text: str) -> str:
    """How a message names one example: by its first words."""
    start = " ".join(text.split()[:5])
    return f"taught example “{start[:40]}{'…' if len(start) > 40 or len(text) > len(start) else ''}”"


def check_example_tokens(handle: LoadedModel, texts: Iterable[str]) -> None:
    """Each example fits what the encoder reads, as any text classified does: a clear message
    naming the example and the limit, before anything is embedded."""
    limit = min(MAX_TOKENS, limits().text_tokens)
    for text in texts:
        n_tokens = len(handle.preprocessor(text, truncation=False)["input_ids"])
        check_token_count(n_tokens, limit, _which(text), handle.spec.name)


def taught_classifier(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
    """Fit the head on the spec's examples (the caller holds the model's lock)."""
    texts = [text for text, _ in spec.examples]
    check_example_tokens(handle, texts)
    labels = tuple(dict.fromkeys(label for _, label in spec.examples))
    head = fit_head(embed(handle, texts), [labels.index(label) for _, label in spec.examples], labels)
    return Classifier(
        spec, labels, head,
        f"Taught by examples: a logistic-regression head fitted on your {len(texts)} examples "
        "over the frozen encoder.",
    )
