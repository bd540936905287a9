"""Zero-shot as a linear head: each label described by a few sentences, the nearest label wins."""

from __future__ import annotations

import torch

from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import lazy
from backend.shared.sentence_vectors import embed
from backend.text.linear_heads import similarity_head
from backend.text.specs import Classifier, ClassifierSpec

# cos-similarity -> logit scale, as in CLIP; 20 turns a 0.1 similarity gap into 88% / 12%.
SIMILARITY_SCALE = 20.0

# Hand-written descriptions for the default labels; other labels use LABEL_TEMPLATES.
LABEL_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "positive": ("It was great.", "I loved it.", "Wonderful and excellent.", "Highly recommended."),
    "negative": ("It was bad.", "I hated it.", "Terrible and awful.", "Not recommended."),
}

LABEL_TEMPLATES = ("{}", "This text is about {}.", "This is {}.")


def descriptions_for(label: str, description: str = "") -> tuple[str, ...]:
    if description:
        return (f"{label}: {description}", description)
    return LABEL_DESCRIPTIONS.get(label.lower()) or tuple(t.format(label) for t in LABEL_TEMPLATES)


def zero_shot_classifier(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
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
        lazy("Zero-shot: cosine similarity to each label's descriptions × {scale:g}, then softmax "
             "({described} of {total} labels described by you). Nothing was trained.",
             scale=SIMILARITY_SCALE, described=described, total=len(spec.labels)),
    )
