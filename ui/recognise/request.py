"""The image page's backend calls, built from its input values and an image (no Streamlit).

`values` is the page's widget values by key (`ui.recognise.inputs.fields()`); `image_id` names the
image in the shared memory: ("example", name) or ("upload", its SHA-256).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from PIL import Image

from backend.runtime.registry import MODELS, ModelSpec, image_model_spec
from backend.vision.explain_image import layer_choices, submit_explain_image
from backend.vision.image_decoding import example_image
from backend.vision.recognition import submit_recognise
from backend.vision.saliency import CAM_METHODS, PIXEL_METHODS, VIT_METHODS
from ui.core.request import Request


def model_spec(values: Mapping[str, Any]) -> ModelSpec:
    """The chosen model: a typed id (timm:, torchvision:, a Hub id) replaces the picker's. Raises
    `InputError` for an id that names nothing usable."""
    typed = values["recognise_model_id"].strip()
    return image_model_spec(typed) if typed else MODELS[values["recognise_model"]]


def model_key(values: Mapping[str, Any]) -> str:
    return model_spec(values).key


def example(values: Mapping[str, Any]) -> tuple[Image.Image, Hashable]:
    """The chosen example photo and its id."""
    name = values["recognise_example"]
    return example_image(name), ("example", name)


def recognition(values: Mapping[str, Any], image: Image.Image, image_id: Hashable) -> Request:
    """The top classes of the image."""
    key, top_k = model_key(values), int(values["recognise_top_k"])
    return Request("recognise", (image_id, top_k, key),
                   lambda **owner: submit_recognise(image, top_k, key, request_key=image_id, **owner))


def cam_layer(values: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The CAM layer to use (None for a Vision Transformer, which has no feature maps), and whether
    the asked one exists (an empty or unknown name gets the model's default layer)."""
    layers, default_layer = layer_choices(model_key(values))
    if not layers:
        return None, True
    asked = values["recognise_layer"]
    names = {stage.name for stage in layers}
    return (asked, True) if asked in names else (default_layer.name, not asked)


def methods(values: Mapping[str, Any], is_cnn: bool) -> tuple[str, ...]:
    """The maps asked for: the chosen CAM and pixel method, or every method ("Every method");
    a Vision Transformer's attention rollout in place of a CAM."""
    maps = (*CAM_METHODS,) if values["recognise_compare"] else (values["recognise_cam"],)
    pixels = (*PIXEL_METHODS,) if values["recognise_compare"] else (values["recognise_pixel"],)
    return (*(maps if is_cnn else VIT_METHODS), *pixels)


def explanation(values: Mapping[str, Any], image: Image.Image, image_id: Hashable) -> Request:
    """Where the model looked for the chosen class (the top one at -1), with ROAD when asked."""
    key, (layer, _) = model_key(values), cam_layer(values)
    chosen = methods(values, is_cnn=layer is not None)
    target = None if values["recognise_class"] == -1 else int(values["recognise_class"])
    road = bool(values["recognise_road"])
    return Request(
        "recognise_explain", (image_id, target, chosen, layer, road, key),
        lambda **owner: submit_explain_image(image, target, chosen, layer, road=road, model_key=key,
                                             request_key=image_id, **owner),
    )
