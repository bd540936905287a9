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
from backend.shared.language import Lazy, lazy, t
from backend.shared.sentence_vectors import embed
from backend.shared.text_input import check_token_count, clean_text
from backend.text.encoder import MAX_TOKENS
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
    notes: tuple[str, ...]  # rows dropped, labels with few examples, conflicting duplicates (each
    # in the current language: a teaching set is checked for the session that shows it)

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
        raise InputError("{count} examples given; teach with at most {most}.", count=len(examples), most=MAX_EXAMPLES)
    counts = dict(Counter(label for _, label in examples))
    if not counts:
        raise InputError(
            "Teaching needs examples of at least two labels (none so far). Add a few sentences for another "
            "label in the table."
        )
    if len(counts) < 2:
        raise InputError(
            "Teaching needs examples of at least two labels (only '{label}' so far). Add a few sentences for "
            "another label in the table.", label=next(iter(counts)),
        )
    if len(counts) > MAX_LABELS:
        raise InputError("{count} labels given; teach at most {most}.", count=len(counts), most=MAX_LABELS)
    notes = []
    if dropped == 1:
        notes.append(t("1 row without both a text and a label left out"))
    elif dropped:
        notes.append(t("{count} rows without both a text and a label left out", count=dropped))
    few = [f"'{label}' ({n})" for label, n in counts.items() if n < MIN_PER_LABEL]
    if few:
        notes.append(t(
            "fewer than {least} examples for {labels}: the head can hardly learn a label from one sentence, "
            "add more", least=MIN_PER_LABEL, labels=", ".join(few),
        ))
    labels_of: dict[str, set[str]] = {}
    for text, label in examples:
        labels_of.setdefault(text.lower(), set()).add(label)
    clashes = sum(1 for labels in labels_of.values() if len(labels) > 1)
    if clashes == 1:
        notes.append(t("1 sentence given with two different labels"))
    elif clashes:
        notes.append(t("{count} sentences given with two different labels", count=clashes))
    return TeachingSet(tuple(examples), counts, tuple(notes))


def _which(text: str) -> Lazy:
    """How a message names one example: by its first words."""
    start = " ".join(text.split()[:5])
    cut = len(start) > 40 or len(text) > len(start)
    return lazy("taught example “{start}”", start=start[:40] + ("…" if cut else ""))


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
        lazy("Taught by examples: a logistic-regression head fitted on your {count} examples over the frozen "
             "encoder.", count=len(texts)),
    )
