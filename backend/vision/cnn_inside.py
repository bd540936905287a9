"""How a CNN sees: the first layer's learned filters, and what a few channels compute at three
depths for one photo. The maps shrink (224 -> 112 -> 28 -> 7 for EfficientNet-Lite0) while the
channels multiply: early maps are edges and colours you can recognise, late ones are abstract
detectors at coarse resolution, which global pooling then turns into one number per channel."""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.registry import EFFICIENTNET
from backend.runtime.scheduler import SCHEDULER, Job
from backend.vision.image_decoding import to_rgb
from backend.vision.introspection import (
    Stage,
    default_cam_layer,
    network_input,
    seen_image,
    stages,
)

DEPTHS = ("early", "middle", "late")
MAX_CHANNELS = 16
MAX_FILTERS = 64


@dataclass(frozen=True)
class Filters:
    layer: str
    images: np.ndarray  # (n, k, k, 3) in [0, 1], each filter scaled on its own
    count: int  # filters in the layer (the first MAX_FILTERS are drawn)
    kernel: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True)
class FeatureMaps:
    depth: str  # early / middle / late
    stage: Stage
    channels: tuple[int, ...]  # which channels are drawn: the most active for this photo
    maps: np.ndarray  # (n, h, w) float32, the activations as computed


@dataclass(frozen=True)
class CnnInside:
    filters: Filters | None
    depths: list[FeatureMaps]
    stages: list[Stage]  # every stage, to draw the shrinking resolution
    seen: np.ndarray
    run: RunInfo


def first_filters(model: torch.nn.Module) -> Filters | None:
    """The first convolution that reads the RGB image, its weights as little pictures."""
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels == 3), None)
    if conv is None:
        return None
    name = next(n for n, m in model.named_modules() if m is conv)
    weights = conv.weight.detach().float().cpu()[:MAX_FILTERS].permute(0, 2, 3, 1).numpy()
    low = weights.min(axis=(1, 2, 3), keepdims=True)
    high = weights.max(axis=(1, 2, 3), keepdims=True)
    images = (weights - low) / np.maximum(high - low, 1e-12)
    return Filters(name, images.astype(np.float32), conv.out_channels, tuple(conv.kernel_size), tuple(conv.stride))


def pick_depths(every: list[Stage], late: Stage | None) -> list[Stage]:
    """Early: the first stage after the first convolution's activation (its channels are the
    filters' responses); middle: the last stage at the middle resolution; late: the CAM layer."""
    if not every:
        return []
    sizes = sorted({stage.height for stage in every}, reverse=True)
    first = [stage for stage in every if stage.height == sizes[0]]
    early = first[1] if len(first) > 1 and first[1].channels == first[0].channels else first[0]
    middle_size = sizes[len(sizes) // 2]
    middle = [stage for stage in every if stage.height == middle_size][-1]
    late = late or every[-1]
    return list({stage.name: stage for stage in (early, middle, late)}.values())


def look_inside(image: Image.Image, channels: int = 8, model_key: str = EFFICIENTNET.key) -> CnnInside:
    """The first layer's filters and the `channels` most active maps at three depths."""
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError("Show from 1 to {most} channels per depth.", most=MAX_CHANNELS)
    picture = to_rgb(image)
    handle = get_model(model_key)
    with handle.lock:
        started = time.perf_counter()
        every = stages(handle)
        chosen = pick_depths(every, default_cam_layer(handle))
        captured: dict[str, torch.Tensor] = {}
        hooks = [
            handle.model.get_submodule(stage.name).register_forward_hook(
                lambda _m, _i, output, name=stage.name: captured.__setitem__(name, output.detach())
            )
            for stage in chosen
        ]
        pixels = network_input(handle, picture)
        try:
            with torch.inference_mode():
                handle.model(pixels.to(handle.device))
        finally:
            for hook in hooks:
                hook.remove()
        depths = []
        for depth, stage in zip(DEPTHS, chosen, strict=False):
            maps = captured[stage.name][0].float().cpu()
            order = maps.mean(dim=(1, 2)).argsort(descending=True)[:channels]
            depths.append(FeatureMaps(depth, stage, tuple(int(i) for i in order), maps[order].numpy()))
        filters = first_filters(handle.model)
        run = handle.run_info(started)
    return CnnInside(filters, depths, every, seen_image(handle, pixels), run)


def submit_look_inside(
    image: Image.Image,
    channels: int = 8,
    model_key: str = EFFICIENTNET.key,
    *,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
    request_key: Hashable | None = None,
) -> Job:
    return SCHEDULER.submit(
        model_key, look_inside, to_rgb(image), channels, model_key, owner=owner, slot=slot, client=client,
        request_key=None if request_key is None else (request_key, channels, model_key),
    )
