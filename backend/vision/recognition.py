"""Image recognition: an ImageNet-1k classifier's top-k classes with probabilities."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel, RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.registry import EFFICIENTNET
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import Lazy, lazy
from backend.vision.image_decoding import load_image, to_rgb
from backend.vision.introspection import logits, mean_std, network_input, seen_image

MAX_TOP_K = 20


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
    seen: np.ndarray | None = None  # (H, W, 3) uint8: the resized, cropped input, normalisation undone
    # what was done to the image before the network saw it: a sentence translated where shown (`str()`)
    preprocessing: Lazy | str = ""

    @property
    def label(self) -> str:
        return self.top[0].label


def preprocessing_text(handle: LoadedModel, pixels: torch.Tensor) -> Lazy:
    mean, std = mean_std(handle)
    numbers = lambda values: ", ".join(f"{v:.3g}" for v in values)  # noqa: E731
    return lazy("Resized and centre-cropped to {width}×{height} pixels; each colour channel scaled to [0, 1], "
                "then (x − mean) / std with mean = ({mean}), std = ({std}).",
                width=pixels.shape[-1], height=pixels.shape[-2], mean=numbers(mean), std=numbers(std))


def _check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InputError("Top-k must be a whole number from 1 to {most}.", most=MAX_TOP_K)
    return top_k


def _picture(image: Image.Image | bytes) -> Image.Image:
    return load_image(image) if isinstance(image, (bytes, bytearray)) else to_rgb(image)


def recognise_each(
    requests: Sequence[tuple[Image.Image, int]], model_key: str = EFFICIENTNET.key
) -> list[Recognition]:
    """The top classes of several (RGB image, top_k) requests in one forward pass (one result
    per request): what the queue calls for a batch of visitors."""
    tops = [_check_top_k(k) for _, k in requests]
    pictures = [to_rgb(image) for image, _ in requests]
    handle = get_model(model_key)
    categories = handle.extras["categories"]
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        pixels = torch.cat([network_input(handle, picture) for picture in pictures])
        probabilities = logits(handle, pixels).softmax(dim=-1).cpu()
        ranked = [probabilities[row].topk(k) for row, k in enumerate(tops)]
        run = handle.run_info(started)
        preprocessing = preprocessing_text(handle, pixels)
    return [
        Recognition(
            top=[
                ClassProbability(index=int(i), label=categories[int(i)], probability=float(v))
                for v, i in zip(values, indices, strict=True)
            ],
            image_size=picture.size,
            run=run,
            seen=seen_image(handle, pixels[row : row + 1]),
            preprocessing=preprocessing,
        )
        for row, ((values, indices), picture) in enumerate(zip(ranked, pictures, strict=True))
    ]


def recognise(
    image: Image.Image | bytes, top_k: int = 5, model_key: str = EFFICIENTNET.key
) -> Recognition:
    """The `top_k` most probable classes for an image (PIL image, or the bytes of an upload)."""
    _check_top_k(top_k)
    return recognise_each([(_picture(image), top_k)], model_key)[0]


def submit_recognise(
    image: Image.Image | bytes,
    top_k: int = 5,
    model_key: str = EFFICIENTNET.key,
    *,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
    request_key: Hashable | None = None,
) -> Job:
    """Queue one image on the shared model; images that arrive together run as one batch.
    `request_key` names the image (e.g. a hash of the upload) so a repeated request is recognised."""
    _check_top_k(top_k)
    return SCHEDULER.submit(
        model_key, recognise_each, (_picture(image), top_k), model_key, batched=True,
        owner=owner, slot=slot, client=client, request_key=None if request_key is None else (request_key, top_k, model_key),
    )
