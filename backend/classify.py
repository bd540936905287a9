"""Text classification with a pretrained encoder: zero-shot, taught by examples, built-in
sentiment, or a fine-tuned Hub model.

The offline encoder (all-MiniLM-L6-v2) was pretrained to place sentences of similar meaning close
together; it has no classification layer. A text becomes a unit vector (the mean of the last
hidden states, L2-normalised) and a linear head (`backend.heads`) turns it into label
probabilities. A `ClassifierSpec` says which head: it is plain, hashable data (what the user
chose), and `resolve()` turns it into the head on the loaded model, once per process.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from backend.attributions import content_positions
from backend.errors import InputError
from backend.heads import LinearHead, similarity_head
from backend.models import LoadedModel, RunInfo, get_model
from backend.registry import MINILM, get_spec
from backend.scheduler import SCHEDULER, Job
from backend.text_input import check_token_count, clean_text

# cos-similarity -> logit scale, as in CLIP; 20 turns a 0.1 similarity gap into 88% / 12%.
SIMILARITY_SCALE = 20.0
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 128 tokens; sentence-transformers cuts at 256
MAX_LABELS = 20
MAX_TEXTS = 64
MAX_DESCRIPTION_CHARS = 300
MAX_CACHED_HEADS = 64  # resolved classifiers kept per model (user-typed labels are unbounded)

DEFAULT_LABELS = ("positive", "negative")
# Hand-written descriptions for the default labels; other labels use LABEL_TEMPLATES.
LABEL_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "positive": ("It was great.", "I loved it.", "Wonderful and excellent.", "Highly recommended."),
    "negative": ("It was bad.", "I hated it.", "Terrible and awful.", "Not recommended."),
}
LABEL_TEMPLATES = ("{}", "This text is about {}.", "This is {}.")

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


@dataclass(frozen=True)
class LabelScore:
    label: str
    probability: float
    score: float  # the head's raw score (logit); for zero-shot, the scaled cosine similarity

    @property
    def similarity(self) -> float:
        """Zero-shot only: the cosine similarity behind the score."""
        return self.score / SIMILARITY_SCALE


@dataclass(frozen=True)
class Classification:
    text: str
    scores: list[LabelScore]  # highest probability first
    run: RunInfo
    kind: Kind = "zero-shot"
    warning: str | None = None  # the text is mostly outside what the model can read
    about: str = ""  # what the classifier is (from `Classifier.about`)

    @property
    def label(self) -> str:
        return self.scores[0].label


@dataclass(frozen=True, eq=False)
class Classifier:
    """A resolved spec: the labels and, for the offline encoder, its head."""

    spec: ClassifierSpec
    labels: tuple[str, ...]
    head: LinearHead | None  # None: a fine-tuned model's own output layer
    about: str  # one line for the page: what the head is and where its weights came from


# ---- user input -> spec ---------------------------------------------------------------------

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
        raise InputError(f"{len(pairs)} labels given; use at most {MAX_LABELS}.")
    long = [label for label, d in pairs if len(d) > MAX_DESCRIPTION_CHARS]
    if long:
        raise InputError(f"The description of '{long[0]}' is over {MAX_DESCRIPTION_CHARS} characters; shorten it.")
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


# ---- the encoder ---------------------------------------------------------------------------

def tokenize(handle: LoadedModel, texts: list[str]) -> dict[str, torch.Tensor]:
    batch = handle.preprocessor(texts, padding=True, return_tensors="pt")
    return {k: v.to(handle.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}


def embed_tokens(handle: LoadedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, hidden] unit vectors: the mask-weighted mean of the last hidden states."""
    hidden = handle.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def embed(handle: LoadedModel, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Unit vectors for many texts (inference mode, in batches); the caller holds the lock."""
    with torch.inference_mode():
        parts = [
            embed_tokens(handle, **tokenize(handle, texts[i : i + batch_size])).cpu()
            for i in range(0, len(texts), batch_size)
        ]
    return torch.cat(parts) if parts else torch.empty(0, handle.model.config.hidden_size)


def class_scores(
    handle: LoadedModel, classifier: Classifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """[batch, labels] scores (logits): the head's, or a fine-tuned model's own output layer."""
    if classifier.head is None:
        return handle.model(input_ids=input_ids, attention_mask=attention_mask).logits
    return classifier.head.scores(embed_tokens(handle, input_ids, attention_mask))


def class_probabilities(
    handle: LoadedModel, classifier: Classifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """[batch, labels] probabilities, differentiable (attributions backpropagate through it)."""
    return class_scores(handle, classifier, input_ids, attention_mask).softmax(dim=-1)


# ---- spec -> classifier --------------------------------------------------------------------

def descriptions_for(label: str, description: str = "") -> tuple[str, ...]:
    if description:
        return (f"{label}: {description}", description)
    return LABEL_DESCRIPTIONS.get(label.lower()) or tuple(t.format(label) for t in LABEL_TEMPLATES)


def _zero_shot_head(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
    groups = [descriptions_for(label, d) for label, d in zip(spec.labels, spec.descriptions, strict=True)]
    embedded = embed(handle, [text for group in groups for text in group])
    vectors, start = [], 0
    for group in groups:
        vectors.append(torch.nn.functional.normalize(embedded[start : start + len(group)].mean(dim=0), dim=-1))
        start += len(group)
    head = similarity_head(spec.labels, torch.stack(vectors), SIMILARITY_SCALE)
    described = sum(1 for d in spec.descriptions if d)
    return Classifier(
        spec, spec.labels, head,
        f"Zero-shot: cosine similarity to each label's descriptions × {SIMILARITY_SCALE:g}, then softmax "
        f"({described} of {len(spec.labels)} labels described by you). Nothing was trained.",
    )


_resolve_lock = threading.Lock()


def resolve(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
    """The classifier for `spec` on the loaded model, built once per process (LRU-bounded).
    The caller holds the model's lock (building one embeds sentences)."""
    cache: OrderedDict[ClassifierSpec, Classifier] = handle.extras.setdefault("classifiers", OrderedDict())
    with _resolve_lock:
        found = cache.get(spec)
        if found is not None:
            cache.move_to_end(spec)
            return found
    if spec.kind == "fine-tuned":
        names = handle.model.config.id2label
        labels = tuple(names[i] for i in range(len(names)))
        built = Classifier(spec, labels, None, "Fine-tuned: the model's own trained output layer.")
    elif spec.kind == "zero-shot":
        built = _zero_shot_head(handle, spec)
    elif spec.kind == "taught":
        from backend.teach import taught_classifier

        built = taught_classifier(handle, spec)
    elif spec.kind == "sentiment":
        from backend.sentiment import sentiment_classifier

        built = sentiment_classifier(handle, spec)
    else:
        raise InputError(f"Unknown classifier kind '{spec.kind}'.")
    with _resolve_lock:
        cache[spec] = built
        while len(cache) > MAX_CACHED_HEADS:
            cache.popitem(last=False)
    return built


# ---- text the model cannot read ------------------------------------------------------------

def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def reading_warning(handle: LoadedModel, text: str, input_ids: list[int]) -> str | None:
    """A warning when most of the text is outside what an English encoder was trained on:
    letters of other scripts, or pieces its tokenizer does not know ([UNK])."""
    letters = [ch for ch in text if ch.isalpha()]
    foreign = [ch for ch in letters if _script(ch) != "LATIN"]
    pieces = [input_ids[i] for i in content_positions(handle, input_ids)]
    unknown = sum(1 for i in pieces if i == handle.preprocessor.unk_token_id)
    reasons = []
    if letters and len(foreign) / len(letters) > 0.5:
        scripts = sorted({s if s == "CJK" else s.title() for s in map(_script, foreign)})
        reasons.append(f"{len(foreign)} of its {len(letters)} letters are {'/'.join(scripts[:3])} script")
    if pieces and unknown / len(pieces) >= 0.3:
        reasons.append(f"{unknown} of its {len(pieces)} tokens are unknown to the tokenizer ([UNK])")
    if not reasons:
        return None
    return (
        f"{handle.spec.name} was trained on English text, and " + "; ".join(reasons) + ". "
        "It cannot read this text: its label here is close to a guess, whatever its probability."
    )


# ---- classify ------------------------------------------------------------------------------

def classify_each(
    texts: Sequence[str], classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT, model_key: str | None = None
) -> list[Classification | InputError]:
    """Classify texts in one forward pass; a text that cannot be used gets its own error in its
    place instead of failing the others (so requests from several people can share a batch)."""
    if len(texts) > MAX_TEXTS:
        raise InputError(f"{len(texts)} texts given; classify at most {MAX_TEXTS} at once.")
    spec = as_spec(classifier, model_key or getattr(classifier, "model_key", MINILM.key))
    handle = get_model(spec.model_key)
    outcomes: list[Classification | InputError | None] = [None] * len(texts)
    with handle.lock, torch.inference_mode():
        resolved = resolve(handle, spec)  # fitting a head turns inference mode off for itself
        started = time.perf_counter()
        valid: list[tuple[int, str, str | None]] = []
        for i, raw in enumerate(texts):
            try:
                text = clean_text(raw)
                ids = handle.preprocessor(text)["input_ids"]
                check_token_count(len(ids), MAX_TOKENS, "text", handle.spec.name)
                valid.append((i, text, reading_warning(handle, text, ids)))
            except InputError as exc:
                outcomes[i] = exc
        if valid:
            scores = class_scores(handle, resolved, **tokenize(handle, [text for _, text, _ in valid])).cpu()
            probabilities = scores.softmax(dim=-1)
        run = handle.run_info(started)
    for row, (i, text, warning) in enumerate(valid):
        label_scores = [
            LabelScore(label, float(probabilities[row, col]), float(scores[row, col]))
            for col, label in enumerate(resolved.labels)
        ]
        label_scores.sort(key=lambda s: s.probability, reverse=True)
        outcomes[i] = Classification(text, label_scores, run, spec.kind, warning, resolved.about)
    return outcomes  # type: ignore[return-value]  # every slot is filled


def classify(
    texts: str | Sequence[str],
    classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT,
    model_key: str | None = None,
) -> list[Classification]:
    """Classify each text; returns one `Classification` per text, in order. Raises on the first
    text that cannot be used. `classifier` is a spec, or zero-shot labels ('a, b')."""
    items = [texts] if isinstance(texts, str) else list(texts)
    if not items:
        raise InputError("Nothing to classify: give at least one text.")
    outcomes = classify_each(items, classifier, model_key)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return outcomes  # type: ignore[return-value]


def _run_jobs(jobs: Sequence[Job]) -> list[Classification | InputError]:
    texts = [job.payload[0] for job in jobs]
    spec = jobs[0].payload[1]  # a batch shares its classifier (its batch key)
    return classify_each(texts, spec)


def submit_classify(
    text: str,
    classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT,
    model_key: str | None = None,
    *,
    owner: str | None = None,
    slot: str | None = None,
) -> Job:
    """Queue one classification on the shared model; requests for the same classifier that
    arrive together run as one batch. Mistakes in the input are raised here, before queueing."""
    text = clean_text(text)
    spec = as_spec(classifier, model_key or getattr(classifier, "model_key", MINILM.key))
    key = ("classify", spec)
    return SCHEDULER.submit(
        spec.model_key, _run_jobs, (text, spec),
        batch_key=key, owner=owner, slot=slot, request_key=(key, text),
    )


def _run_many(jobs: Sequence[Job]) -> list[list[Classification | InputError]]:
    (job,) = jobs
    texts, spec = job.payload
    return [classify_each(list(texts), spec)]


def submit_classify_many(
    texts: Sequence[str], classifier: ClassifierSpec = SENTIMENT, *, owner: str | None = None, slot: str | None = None
) -> Job:
    """Queue up to MAX_TEXTS texts as one job (a chunk of a CSV); each text gets its result or
    its own error. Chunks queue one at a time, so other people's requests run in between."""
    if len(texts) > MAX_TEXTS:
        raise InputError(f"{len(texts)} texts in one request; send at most {MAX_TEXTS}.")
    payload = (tuple(str(t) for t in texts), classifier)
    return SCHEDULER.submit(classifier.model_key, _run_many, payload, owner=owner, slot=slot, request_key=payload)
