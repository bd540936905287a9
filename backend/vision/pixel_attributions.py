"""Pixel attributions from Captum: Integrated Gradients (from a black image) or gradient × input."""

from __future__ import annotations

import time

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.vision.introspection import logits, mean_std
from backend.vision.saliency import PIXEL_METHODS, SaliencyMap

DEFAULT_IG_STEPS = 32
MAX_IG_STEPS = 200
IG_BATCH = 8  # images per model call inside Integrated Gradients (bounds memory)
_OUTLIER_PERCENTILE = 99.5  # pixel maps are scaled so that the brightest 0.5 % saturate


def _scaled(heat: np.ndarray) -> np.ndarray:
    top = float(np.percentile(heat, _OUTLIER_PERCENTILE))
    if top <= 0:
        return np.zeros_like(heat, dtype=np.float32)
    return (heat / top).clip(0, 1).astype(np.float32)


def pixel_attribution(
    handle: LoadedModel, pixels: torch.Tensor, category: int, method: str, steps: int = DEFAULT_IG_STEPS
) -> SaliencyMap:
    """Captum's Integrated Gradients (baseline: a black image) or gradient × input on the class
    probability, as a [0, 1] map of |attribution| summed over the colour channels."""
    from captum.attr import InputXGradient, IntegratedGradients

    started = time.perf_counter()

    def probability(x: torch.Tensor) -> torch.Tensor:
        return logits(handle, x).softmax(dim=-1)

    x = pixels.detach().clone().to(handle.device)
    delta = None
    with torch.enable_grad():
        if method == "ig":
            mean, std = mean_std(handle)
            black = torch.as_tensor(-mean / std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1).expand_as(x)
            attributions, error = IntegratedGradients(probability).attribute(
                x, baselines=black.contiguous(), target=category, n_steps=steps,
                internal_batch_size=IG_BATCH, return_convergence_delta=True,
            )
            delta = float(error.abs().item())
        elif method == "gxi":
            attributions = InputXGradient(probability).attribute(x.requires_grad_(True), target=category)
        else:
            raise InputError("Unknown pixel method '{method}'. Choose one of: {methods}.", method=method,
                             methods=", ".join(PIXEL_METHODS))
    heat = attributions.detach()[0].abs().sum(dim=0).cpu().numpy()
    total = float(attributions.detach().sum())
    return SaliencyMap(method, _scaled(heat), time.perf_counter() - started, delta, total)
