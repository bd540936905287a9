"""What an image classifier is given and what it computes on the way: the input tensor, the image
as the network saw it, and the stages of a CNN (every module whose output is a feature map)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import t


@dataclass(frozen=True)
class Stage:
    """A module whose output is a stack of feature maps: `channels` maps of `height` x `width`."""

    name: str
    channels: int
    height: int
    width: int

    @property
    def describe(self) -> str:
        """The stage for a picker, in the current language."""
        return t("{name}: {channels} channels of {height}x{width}", name=self.name, channels=self.channels,
                 height=self.height, width=self.width)


def network_input(handle: LoadedModel, image: Image.Image) -> torch.Tensor:
    """The (1, 3, H, W) tensor the model is given: resized, cropped and normalised."""
    if callable(getattr(handle.preprocessor, "preprocess", None)):  # a transformers image processor
        return handle.preprocessor(images=image, return_tensors="pt")["pixel_values"]
    return handle.preprocessor(image).unsqueeze(0)  # a torchvision/timm transform


def logits(handle: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    """The class scores as a plain tensor (transformers models wrap them in an output object)."""
    output = handle.model(pixels.to(handle.device))
    return getattr(output, "logits", output)


class LogitsOnly(torch.nn.Module):
    """The classifier returning a plain logits tensor (what grad-cam's targets and metrics expect)."""

    def __init__(self, handle: LoadedModel) -> None:
        super().__init__()
        self.inner = handle.model
        self.handle = handle

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return logits(self.handle, pixels)


def mean_std(handle: LoadedModel) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel normalisation the preprocessing applies (to undo it for display)."""
    found = handle.extras.get("mean_std")
    if found is not None:
        return found
    processor = handle.preprocessor
    if hasattr(processor, "image_mean"):  # transformers
        mean, std = processor.image_mean, processor.image_std
    elif hasattr(processor, "mean") and hasattr(processor, "std"):  # torchvision weights' preset
        mean, std = processor.mean, processor.std
    else:  # a timm / torchvision Compose
        normalise = next(t for t in processor.transforms if type(t).__name__ == "Normalize")
        mean, std = normalise.mean, normalise.std
    found = (np.asarray(mean, dtype=np.float32).reshape(3), np.asarray(std, dtype=np.float32).reshape(3))
    handle.extras["mean_std"] = found
    return found


def seen_image(handle: LoadedModel, pixels: torch.Tensor) -> np.ndarray:
    """The network's input as an 8-bit RGB picture (H, W, 3): the crop, at the network's size."""
    mean, std = mean_std(handle)
    values = pixels.detach()[0].permute(1, 2, 0).cpu().numpy() * std + mean
    return (values.clip(0, 1) * 255).round().astype(np.uint8)


def stages(handle: LoadedModel) -> list[Stage]:
    """Every feature-map stage of the model in the order it runs: modules whose output is a
    stack of maps, two levels deep (or deeper, until three resolutions show up), traced with
    hooks that are removed at once. A tensor returned by several modules (a block and its
    in-place activation) is listed once, by the outer name."""
    cached = handle.extras.get("stages")
    if cached is not None:
        return cached
    found: list[Stage] = []
    for depth in range(1, 5):  # timm/torchvision name stages 1 level down; transformers deeper
        found = _trace(handle, depth)
        if len({stage.height for stage in found}) >= 3:
            break
    handle.extras["stages"] = found
    return found


def _trace(handle: LoadedModel, depth: int) -> list[Stage]:
    model = handle.model
    seen: dict[int, tuple[str, tuple[int, ...]]] = {}
    order: list[int] = []
    alive: list[torch.Tensor] = []  # kept until the trace ends, so no address is reused

    def record(name: str):
        def hook(_module, _inputs, output) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and min(output.shape[-2:]) > 1:
                alive.append(output)
                pointer = output.data_ptr()
                if pointer not in seen:
                    order.append(pointer)
                # the outermost module that returned this tensor names it (bn1, not bn1.act)
                if pointer not in seen or len(name) < len(seen[pointer][0]):
                    seen[pointer] = (name, tuple(output.shape))

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.named_modules()
        if name and name.count(".") <= depth
        # a top-level container (timm's `blocks`, torchvision's `features`) is named by its parts
        and not ("." not in name and isinstance(module, (torch.nn.Sequential, torch.nn.ModuleList)))
    ]
    try:
        size = _input_size(handle)
        with torch.inference_mode():
            model(torch.zeros(1, 3, size, size, device=handle.device))
    finally:
        for hook_handle in handles:
            hook_handle.remove()
    return [Stage(name, shape[1], shape[2], shape[3]) for name, shape in (seen[pointer] for pointer in order)]


def _input_size(handle: LoadedModel) -> int:
    processor = handle.preprocessor
    if hasattr(processor, "crop_size") and not hasattr(processor, "image_mean"):  # torchvision preset
        return int(processor.crop_size[0])
    if hasattr(processor, "size"):
        size = processor.size  # an int, a dict or transformers' SizeDict
        if isinstance(size, int):
            return size
        pick = size.get if hasattr(size, "get") else lambda key: getattr(size, key, None)
        return int(pick("height") or pick("shortest_edge") or 224)
    crop = next((t for t in processor.transforms if type(t).__name__ == "CenterCrop"), None)
    return int(crop.size[0]) if crop is not None else 224


def cam_layers(handle: LoadedModel) -> list[Stage]:
    """Stages a class activation map can be taken from: the last two resolutions (the deepest
    features, where a CAM is meaningful), deepest last."""
    every = stages(handle)
    if len({stage.height for stage in every}) < 2:  # no hierarchy of maps (a ViT's patch embedding)
        return []
    smallest = min(stage.height for stage in every)
    return [stage for stage in every if stage.height <= 2 * smallest]


def default_cam_layer(handle: LoadedModel) -> Stage | None:
    """The deepest stage with at most 512 channels (Score-CAM's cost grows with channels), else
    the deepest stage."""
    layers = cam_layers(handle)
    if not layers:
        return None
    small = [stage for stage in layers if stage.channels <= 512]
    return (small or layers)[-1]
