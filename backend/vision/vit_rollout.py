"""Where a Vision Transformer looked: attention rollout (Abnar & Zuidema 2020).

A ViT cuts the image into 16 x 16 patches and lets every patch attend to every other, layer after
layer. Rollout follows how much of the [CLS] token (the one the classifier reads) flows from each
patch through all layers: each layer's attention, averaged over heads, plus the identity for the
residual connection, renormalised, multiplied from the first layer to the last. The raw
attention of the last layer, [CLS] to the patches, is the baseline it improves on.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.shared.rollout import attention_rollout


def _patch_map(cls_row: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    side = math.isqrt(cls_row.size)
    if side * side != cls_row.size:
        raise InputError("{count} patches do not form a square grid.", count=cls_row.size)
    grid = torch.as_tensor(cls_row.reshape(1, 1, side, side), dtype=torch.float32)
    scaled = torch.nn.functional.interpolate(grid, size=size, mode="bilinear")[0, 0].numpy()
    low, high = float(scaled.min()), float(scaled.max())
    return ((scaled - low) / (high - low) if high > low else np.zeros_like(scaled)).astype(np.float32)


def vit_attention_maps(handle: LoadedModel, pixels: torch.Tensor) -> dict[str, np.ndarray]:
    """Rollout and last-layer [CLS] attention over the patches, scaled up to the input's size.
    Needs a transformers ViT loaded with eager attention (call under the model's lock)."""
    with torch.inference_mode():
        output = handle.model(pixels.to(handle.device), output_attentions=True)
    attentions = getattr(output, "attentions", None)
    if not attentions:
        raise InputError("{model} returned no attention weights, so there is no rollout.", model=handle.spec.name)
    layers = [a[0].float().cpu().numpy() for a in attentions]
    size = tuple(pixels.shape[-2:])
    # position 0 is [CLS]; some ViTs (DeiT) add a distillation token: keep the last square number
    patches = layers[0].shape[-1] - 1
    side = math.isqrt(patches)
    start = 1 + patches - side * side
    rolled = attention_rollout(layers)[0, start:]
    raw = layers[-1].mean(axis=0)[0, start:]
    return {"rollout": _patch_map(rolled, size), "attention": _patch_map(raw, size)}
