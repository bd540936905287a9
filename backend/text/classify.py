"""Text classification with a pretrained encoder: zero-shot, taught by examples, built-in
sentiment, or a fine-tuned Hub model.

The offline encoder (all-MiniLM-L6-v2) was pretrained to place sentences of similar meaning close
together; it has no classification layer. A text becomes a unit vector (the mean of the last
hidden states, L2-normalised) and a linear head (`backend.text.linear_heads`) turns it into label
probabilities. A `ClassifierSpec` (`specs`) says which head: it is plain, hashable data (what the
user chose), and `classifiers.resolve()` turns it into the head on the loaded model, once per
process.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel, RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.registry import MINILM
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import Lazy, lazy
from backend.shared.text_input import clean_text, tokenise_each
from backend.shared.sentence_vectors import tokenize
from backend.shared.token_attributions import content_positions
from backend.text.classifiers import resolve
from backend.text.encoder import MAX_TOKENS, class_scores
from backend.text.specs import SENTIMENT, ClassifierSpec, Kind, as_spec
from backend.text.zero_shot_head import SIMILARITY_SCALE

MAX_TEXTS = 64


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
    """One text's answer. Sessions in either language share it: its sentences are kept as
    `lazy()` messages, and `warning` and `about` read them in the language of whoever asks."""

    text: str
    scores: list[LabelScore]  # highest probability first
    run: RunInfo
    kind: Kind = "zero-shot"
    unreadable: Lazy | None = None  # the text is mostly outside what the model can read
    described: Lazy | str = ""  # what the classifier is (from `Classifier.about`)

    @property
    def label(self) -> str:
        return self.scores[0].label

    @property
    def warning(self) -> str | None:
        """Why the model cannot read this text (None when it can), in the current language."""
        return None if self.unreadable is None else str(self.unreadable)

    @property
    def about(self) -> str:
        """What the classifier is, in the current language."""
        return str(self.described)


# ---- text the model cannot read ------------------------------------------------------------

def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def reading_warning(handle: LoadedModel, text: str, input_ids: list[int]) -> Lazy | None:
    """A warning when most of the text is outside what an English encoder was trained on:
    letters of other scripts, or pieces its tokenizer does not know ([UNK])."""
    letters = [ch for ch in text if ch.isalpha()]
    foreign = [ch for ch in letters if _script(ch) != "LATIN"]
    pieces = [input_ids[i] for i in content_positions(handle, input_ids)]
    unknown = sum(1 for i in pieces if i == handle.preprocessor.unk_token_id)
    other_script = bool(letters) and len(foreign) / len(letters) > 0.5
    unknown_pieces = bool(pieces) and unknown / len(pieces) >= 0.3
    scripts = "/".join(sorted({s if s == "CJK" else s.title() for s in map(_script, foreign)})[:3])
    facts = {"model": handle.spec.name, "foreign": len(foreign), "letters": len(letters), "scripts": scripts,
             "unknown": unknown, "tokens": len(pieces)}
    if other_script and unknown_pieces:
        return lazy(
            "{model} was trained on English text, and {foreign} of its {letters} letters are {scripts} script; "
            "{unknown} of its {tokens} tokens are unknown to the tokenizer ([UNK]). It cannot read this text: "
            "its label here is close to a guess, whatever its probability.", **facts,
        )
    if other_script:
        return lazy(
            "{model} was trained on English text, and {foreign} of its {letters} letters are {scripts} script. "
            "It cannot read this text: its label here is close to a guess, whatever its probability.", **facts,
        )
    if unknown_pieces:
        return lazy(
            "{model} was trained on English text, and {unknown} of its {tokens} tokens are unknown to the "
            "tokenizer ([UNK]). It cannot read this text: its label here is close to a guess, whatever its "
            "probability.", **facts,
        )
    return None


# ---- classify ------------------------------------------------------------------------------

def classify_each(
    texts: Sequence[str], classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT, model_key: str | None = None
) -> list[Classification | InputError]:
    """Classify texts in one forward pass; a text that cannot be used gets its own error in its
    place instead of failing the others (so requests from several people can share a batch)."""
    if len(texts) > MAX_TEXTS:
        raise InputError("{count} texts given; classify at most {most} at once.", count=len(texts), most=MAX_TEXTS)
    spec = as_spec(classifier, model_key or getattr(classifier, "model_key", MINILM.key))
    handle = get_model(spec.model_key)
    outcomes: list[Classification | InputError | None] = [None] * len(texts)
    with handle.lock, torch.inference_mode():
        resolved = resolve(handle, spec)  # fitting a head turns inference mode off for itself
        started = time.perf_counter()
        valid, errors = tokenise_each(handle.preprocessor, texts, min(MAX_TOKENS, limits().text_tokens), handle.spec.name)
        warnings = [reading_warning(handle, item.text, item.ids) for item in valid]
        if valid:
            scores = class_scores(handle, resolved, **tokenize(handle, [item.text for item in valid])).cpu()
            probabilities = scores.softmax(dim=-1)
        run = handle.run_info(started)
    for position, error in errors.items():
        outcomes[position] = error
    for row, (item, warning) in enumerate(zip(valid, warnings, strict=True)):
        label_scores = [
            LabelScore(label, float(probabilities[row, col]), float(scores[row, col]))
            for col, label in enumerate(resolved.labels)
        ]
        label_scores.sort(key=lambda s: s.probability, reverse=True)
        outcomes[item.position] = Classification(item.text, label_scores, run, spec.kind, warning, resolved.about)
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


def submit_classify(
    text: str,
    classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT,
    model_key: str | None = None,
    *,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
) -> Job:
    """Queue one classification on the shared model; requests for the same classifier that
    arrive together run as one batch. Mistakes in the input are raised here, before queueing."""
    text = clean_text(text)
    spec = as_spec(classifier, model_key or getattr(classifier, "model_key", MINILM.key))
    return SCHEDULER.submit(
        spec.model_key, classify_each, text, spec, batched=True,
        owner=owner, slot=slot, client=client, request_key=("classify", spec, text),
    )


def submit_classify_many(
    texts: Sequence[str], classifier: ClassifierSpec = SENTIMENT, *, owner: str | None = None, slot: str | None = None, client: str | None = None
) -> Job:
    """Queue up to MAX_TEXTS texts as one job (a chunk of a CSV); each text gets its result or
    its own error. Chunks queue one at a time, so other people's requests run in between."""
    if len(texts) > MAX_TEXTS:
        raise InputError("{count} texts in one request; send at most {most}.", count=len(texts), most=MAX_TEXTS)
    texts = tuple(str(t) for t in texts)
    return SCHEDULER.submit(
        classifier.model_key, classify_each, texts, classifier,
        owner=owner, slot=slot, client=client, request_key=("classify many", texts, classifier),
    )
