"""Image recognition: an ImageNet-1k classifier's top-k classes with probabilities."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from PIL import Image

from backend.errors import InputError
from backend.images import load_image, to_rgb
from backend.models import LoadedModel, RunInfo, get_model
from backend.registry import EFFICIENTNET


@dataclass(frozen=True)
class ClassProbability:
    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class Recognition:
    top: list[ClassProbability]  # most probable first
    image_size: tuple[int, int]  # (width, height) of the image as given
    run: RunInfo

    @property
    def label(self) -> str:
        return self.top[0].label


def _pixels(handle: LoadedModel, image: Image.Image) -> torch.Tensor:
    if handle.spec.source == "hub":  # a transformers image processor
        return handle.preprocessor(images=image, return_tensors="pt")["pixel_values"]
    return handle.preprocessor(image).unsqueeze(0)  # timm transform: resize, crop, normalise


def _logits(handle: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    output = handle.model(pixels.to(handle.device))
    return getattr(output, "logits", output)


def recognise(
    image: Image.Image | bytes, top_k: int = 5, model_key: str = EFFICIENTNET.key
) -> Recognition:
    """The `top_k` most probable classes for an image (PIL image, or the bytes of an upload)."""
    if not 1 <= top_k <= 20:
        raise InputError("Top-k must be between 1 and 20.")
    picture = load_image(image) if isinstance(image, (bytes, bytearray)) else to_rgb(image)
    handle = get_model(model_key)
    categories = handle.extras["categories"]
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        probabilities = _logits(handle, _pixels(handle, picture)).softmax(dim=-1)[0].cpu()
        values, indices = probabilities.topk(top_k)
        run = handle.run_info(started)
    top = [
        ClassProbability(index=int(i), label=categories[int(i)], probability=float(v))
        for v, i in zip(values, indices, strict=True)
    ]
    return Recognition(top=top, image_size=picture.size, run=run)
