"""Where an image classifier looked, as one request: the maps of each method asked for and,
optionally, how far to trust them.

- Class activation maps (`cams`, the grad-cam library) on one feature-map stage of a CNN.
- Pixel attributions (`pixel_attributions`, Captum): Integrated Gradients or gradient × input.
- For a Vision Transformer (no feature maps, so no CAM): attention rollout (`vit_rollout`).
- ROAD (`road`): the class probability after each map's top pixels are removed.

Every map has the network input's size (the crop the network saw) with values in [0, 1].
The model is shared, so everything here runs under the model's lock, in the model's queue (the
scheduler's worker); a page thread never takes the lock, not even to list the CAM layers.
"""

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
from backend.runtime.public_mode import limits
from backend.runtime.registry import EFFICIENTNET
from backend.runtime.scheduler import SCHEDULER, Job, current_job, run_now
from backend.vision.cams import class_activation_map
from backend.vision.image_decoding import to_rgb
from backend.vision.introspection import (
    Stage,
    cam_layers,
    default_cam_layer,
    logits,
    network_input,
    seen_image,
)
from backend.vision.pixel_attributions import (
    DEFAULT_IG_STEPS,
    MAX_IG_STEPS,
    pixel_attribution,
)
from backend.vision.road import RoadScores, road_scores
from backend.vision.saliency import (
    CAM_METHODS,
    METHODS,
    PIXEL_METHODS,
    VIT_METHODS,
    SaliencyMap,
)
from backend.vision.vit_rollout import vit_attention_maps


def _attention_maps(handle: LoadedModel, pixels: torch.Tensor, methods: list[str]) -> dict[str, SaliencyMap]:
    started = time.perf_counter()
    found = vit_attention_maps(handle, pixels)
    seconds = time.perf_counter() - started
    return {method: SaliencyMap(method, found[method], seconds) for method in methods}


@dataclass(frozen=True)
class ImageExplanation:
    category: int
    label: str
    probability: float
    seen: np.ndarray  # (H, W, 3) uint8: the crop the network saw
    layer: Stage | None  # where the CAMs were taken
    maps: dict[str, SaliencyMap]  # by method key, in the order asked for
    road: RoadScores | None  # when asked for
    run: RunInfo


def categories(model_key: str = EFFICIENTNET.key) -> list[str]:
    """The model's class names, by index."""
    return get_model(model_key).extras["categories"]


LAYER_CHOICES = "cam_layer_choices"  # where a loaded model keeps its CAM layers, once traced


def layer_choices(model_key: str = EFFICIENTNET.key) -> tuple[list[Stage], Stage | None]:
    """The layers a CAM can be taken from, and the default one (loads the model if needed).
    Finding them runs the model once (its stages are traced with hooks), so that is a request
    in the model's queue like any other, made once per loaded model and shared by everyone
    asking meanwhile; later calls read what it found."""
    found = get_model(model_key).extras.get(LAYER_CHOICES)
    if found is None and current_job() is not None:  # a queue's worker: it may use a model itself
        found = _trace_layer_choices(model_key)
    elif found is None:
        found = run_now(SCHEDULER.submit(model_key, _trace_layer_choices, model_key, share_key=(LAYER_CHOICES, model_key)))
    layers, default = found
    return list(layers), default  # the caller's own list


def _trace_layer_choices(model_key: str) -> tuple[list[Stage], Stage | None]:
    handle = get_model(model_key)
    with handle.lock:
        found = cam_layers(handle), default_cam_layer(handle)
    handle.extras[LAYER_CHOICES] = found
    return found


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(methods))
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise InputError("Choose explanation methods from: {methods}.", methods=", ".join(METHODS))
    return chosen


def resolve_layer(handle: LoadedModel, layer: str | None) -> Stage | None:
    layers = cam_layers(handle)
    if layer is None:
        return default_cam_layer(handle)
    for stage in layers:
        if stage.name == layer:
            return stage
    if not layers:
        raise InputError("'{layer}' is not a layer a CAM can use here: this model has no feature maps.", layer=layer)
    raise InputError("'{layer}' is not a layer a CAM can use here. Choose one of: {names}.", layer=layer,
                     names=", ".join(stage.name for stage in layers))


def explain_image(
    image: Image.Image,
    category: int | None = None,
    methods: Sequence[str] = ("gradcam", "ig"),
    layer: str | None = None,
    steps: int = DEFAULT_IG_STEPS,
    road: bool = True,
    model_key: str = EFFICIENTNET.key,
) -> ImageExplanation:
    """Maps of where the network looked for `category` (default: its top class), by each method,
    and (with `road`) how much the class probability drops when each map's top pixels go."""
    methods = check_methods(methods)
    most = min(MAX_IG_STEPS, limits().ig_steps)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= most:
        raise InputError("Integrated Gradients needs from 1 to {most} steps here.", most=most)
    picture = to_rgb(image)
    handle = get_model(model_key)
    names = handle.extras["categories"]
    if category is not None and not 0 <= category < len(names):
        raise InputError("Class {category} does not exist; this model has {count} classes.", category=category,
                         count=len(names))
    with handle.lock:
        started = time.perf_counter()
        pixels = network_input(handle, picture)
        with torch.inference_mode():
            probabilities = logits(handle, pixels).softmax(dim=-1)[0].cpu()
        category = int(probabilities.argmax()) if category is None else category
        stage = resolve_layer(handle, layer)
        if stage is None and any(m in CAM_METHODS for m in methods):
            raise InputError("{model} has no convolutional feature maps, so it has no CAM; "
                             "use a pixel method (or, for a ViT, attention rollout).", model=handle.spec.name)
        if "scorecam" in methods and stage.channels > limits().score_cam_channels:
            raise InputError(
                "Score-CAM at {layer} would run the network {channels} times (once per channel); the limit "
                "here is {most}. Pick a layer with fewer channels, or Grad-CAM.",
                layer=stage.name, channels=stage.channels, most=limits().score_cam_channels,
            )
        maps = {}
        for method in methods:
            if method in CAM_METHODS:
                maps[method] = class_activation_map(handle, pixels, category, method, stage.name)
            elif method in PIXEL_METHODS:
                maps[method] = pixel_attribution(handle, pixels, category, method, steps)
            elif method not in maps:  # rollout and raw attention come from one forward pass
                maps.update(_attention_maps(handle, pixels, [m for m in methods if m in VIT_METHODS]))
        seen = seen_image(handle, pixels)
        scores = None
        if road:
            grid = (stage.height, stage.width) if stage else (14, 14)
            scores = road_scores(handle, pixels, seen, category, maps, grid)
        run = handle.run_info(started)
    return ImageExplanation(
        category, names[category], float(probabilities[category]), seen, stage, maps, scores, run
    )


def submit_explain_image(
    image: Image.Image,
    category: int | None = None,
    methods: Sequence[str] = ("gradcam", "ig"),
    layer: str | None = None,
    steps: int = DEFAULT_IG_STEPS,
    road: bool = True,
    model_key: str = EFFICIENTNET.key,
    *,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
    request_key: Hashable | None = None,
) -> Job:
    """Queue an explanation on the model's queue (alone: it is many passes already)."""
    settings = (category, check_methods(methods), layer, steps, road, model_key)
    return SCHEDULER.submit(
        model_key, explain_image, to_rgb(image), *settings, owner=owner, slot=slot, client=client,
        request_key=None if request_key is None else (request_key, *settings),
    )
