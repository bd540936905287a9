"""Zero-shot text classification with a sentence encoder.

The encoder was pretrained to place sentences with similar meaning close together; it never saw
these labels. Each label is described by a few sentences, the text and the descriptions are
embedded (mean of the last hidden states, L2-normalised), and the cosine similarities become
probabilities through a softmax. A fine-tuned classifier (a Hub option) instead has a trained
output layer with fixed labels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from backend.errors import InputError
from backend.models import LoadedModel, RunInfo, get_model
from backend.registry import MINILM, get_spec
from backend.scheduler import SCHEDULER, Job
from backend.text_input import check_token_count, clean_text

# cos-similarity -> logit scale, as in CLIP; 20 turns a 0.1 similarity gap into 88% / 12%.
SIMILARITY_SCALE = 20.0
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 128 tokens; sentence-transformers cuts at 256
MAX_LABELS = 20
MAX_TEXTS = 64
MAX_CACHED_LABELS = 10_000

DEFAULT_LABELS = ("positive", "negative")
# Hand-written descriptions for the default labels; other labels use LABEL_TEMPLATES.
LABEL_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "positive": ("It was great.", "I loved it.", "Wonderful and excellent.", "Highly recommended."),
    "negative": ("It was bad.", "I hated it.", "Terrible and awful.", "Not recommended."),
}
LABEL_TEMPLATES = ("{}", "This text is about {}.", "This is {}.")


@dataclass(frozen=True)
class LabelScore:
    label: str
    probability: float
    similarity: float | None  # cosine similarity, for zero-shot; None for a fine-tuned head


@dataclass(frozen=True)
class Classification:
    text: str
    scores: list[LabelScore]  # highest probability first
    run: RunInfo

    @property
    def label(self) -> str:
        return self.scores[0].label


def parse_labels(raw: str) -> list[str]:
    """'sports, politics,  science' -> ['sports', 'politics', 'science'] (deduplicated)."""
    labels: list[str] = []
    for part in raw.replace("\n", ",").split(","):
        label = " ".join(part.split())
        if label and label.lower() not in (seen.lower() for seen in labels):
            labels.append(label)
    return labels


def _check_labels(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, str):
        labels = parse_labels(labels)
    cleaned = parse_labels(",".join(labels))
    if len(cleaned) < 2:
        raise InputError("Give at least two different labels, separated by commas (e.g. 'positive, negative').")
    if len(cleaned) > MAX_LABELS:
        raise InputError(f"{len(cleaned)} labels given; use at most {MAX_LABELS}.")
    return cleaned


def descriptions_for(label: str) -> tuple[str, ...]:
    return LABEL_DESCRIPTIONS.get(label.lower()) or tuple(t.format(label) for t in LABEL_TEMPLATES)


def _embed(handle: LoadedModel, texts: list[str]) -> torch.Tensor:
    batch = handle.preprocessor(texts, padding=True, return_tensors="pt").to(handle.device)
    hidden = handle.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _label_vectors(handle: LoadedModel, labels: list[str]) -> torch.Tensor:
    """[labels, hidden] unit vectors: the mean embedding of each label's descriptions.
    Kept on the loaded model (callers hold its lock), so a label is embedded once per process."""
    cache: dict[str, torch.Tensor] = handle.extras.setdefault("label_vectors", {})
    if len(cache) > MAX_CACHED_LABELS:  # user-typed labels are unbounded; 1.5 kB each
        cache.clear()
    missing = [label for label in labels if label not in cache]
    if missing:
        descriptions = [descriptions_for(label) for label in missing]
        embedded = _embed(handle, [d for group in descriptions for d in group])
        start = 0
        for label, group in zip(missing, descriptions, strict=True):
            mean = embedded[start : start + len(group)].mean(dim=0)
            cache[label] = torch.nn.functional.normalize(mean, dim=-1)
            start += len(group)
    return torch.stack([cache[label] for label in labels])


def _zero_shot(handle: LoadedModel, texts: list[str], labels: list[str]) -> torch.Tensor:
    """Returns [texts, labels] cosine similarities."""
    return _embed(handle, texts) @ _label_vectors(handle, labels).T


def _classify_valid(handle: LoadedModel, items: list[str], label_list: list[str]) -> tuple[list[str], torch.Tensor, torch.Tensor | None]:
    """(labels, [texts, labels] probabilities, similarities or None); the caller holds the lock."""
    if handle.spec.kind == "sequence-classifier":
        batch = handle.preprocessor(items, padding=True, return_tensors="pt").to(handle.device)
        probabilities = handle.model(**batch).logits.softmax(dim=-1).cpu()
        names = handle.model.config.id2label
        return [names[i] for i in range(probabilities.shape[1])], probabilities, None
    similarities = _zero_shot(handle, items, label_list).cpu()
    return label_list, (similarities * SIMILARITY_SCALE).softmax(dim=-1), similarities


def classify_each(
    texts: Sequence[str],
    labels: str | Sequence[str] = DEFAULT_LABELS,
    model_key: str = MINILM.key,
) -> list[Classification | InputError]:
    """Classify texts in one forward pass; a text that cannot be used gets its own error in its
    place instead of failing the others (so requests from several people can share a batch)."""
    if len(texts) > MAX_TEXTS:
        raise InputError(f"{len(texts)} texts given; classify at most {MAX_TEXTS} at once.")
    handle = get_model(model_key)
    label_list = [] if handle.spec.kind == "sequence-classifier" else _check_labels(labels)
    outcomes: list[Classification | InputError | None] = [None] * len(texts)
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        valid: list[tuple[int, str]] = []
        for i, raw in enumerate(texts):
            try:
                text = clean_text(raw)
                check_token_count(len(handle.preprocessor(text)["input_ids"]), MAX_TOKENS, "text", handle.spec.name)
                valid.append((i, text))
            except InputError as exc:
                outcomes[i] = exc
        if valid:
            names, probabilities, similarities = _classify_valid(handle, [t for _, t in valid], label_list)
        run = handle.run_info(started)
    for row, (i, text) in enumerate(valid):
        scores = [
            LabelScore(
                label=label,
                probability=float(probabilities[row, col]),
                similarity=None if similarities is None else float(similarities[row, col]),
            )
            for col, label in enumerate(names)
        ]
        scores.sort(key=lambda s: s.probability, reverse=True)
        outcomes[i] = Classification(text=text, scores=scores, run=run)
    return outcomes  # type: ignore[return-value]  # every slot is filled


def classify(
    texts: str | Sequence[str],
    labels: str | Sequence[str] = DEFAULT_LABELS,
    model_key: str = MINILM.key,
) -> list[Classification]:
    """Classify each text; returns one `Classification` per text, in order. Raises on the first
    text that cannot be used."""
    items = [texts] if isinstance(texts, str) else list(texts)
    if not items:
        raise InputError("Nothing to classify: give at least one text.")
    outcomes = classify_each(items, labels, model_key)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return outcomes  # type: ignore[return-value]


def _run_jobs(jobs: Sequence[Job]) -> list[Classification | InputError]:
    texts = [job.payload[0] for job in jobs]
    _, labels, model_key = jobs[0].payload  # a batch shares labels and model (its batch key)
    return classify_each(texts, labels, model_key)


def submit_classify(
    text: str,
    labels: str | Sequence[str] = DEFAULT_LABELS,
    model_key: str = MINILM.key,
    *,
    owner: str | None = None,
    slot: str | None = None,
) -> Job:
    """Queue one classification on the shared model; requests with the same labels that arrive
    together run as one batch. Mistakes in the input are raised here, before queueing."""
    text = clean_text(text)
    label_list = tuple(_check_labels(labels)) if get_spec(model_key).kind != "sequence-classifier" else ()
    key = ("classify", model_key, label_list)
    return SCHEDULER.submit(
        model_key, _run_jobs, (text, label_list, model_key),
        batch_key=key, owner=owner, slot=slot, request_key=(key, text),
    )
