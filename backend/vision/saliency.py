"""A saliency map and the names of the methods that make one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAM_METHODS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "eigencam": "Eigen-CAM",
    "scorecam": "Score-CAM",
}

PIXEL_METHODS: dict[str, str] = {"ig": "Integrated Gradients", "gxi": "Gradient × input"}
VIT_METHODS: dict[str, str] = {"rollout": "Attention rollout", "attention": "Raw attention (last layer)"}
METHODS: dict[str, str] = {**CAM_METHODS, **PIXEL_METHODS, **VIT_METHODS}


@dataclass(frozen=True)
class SaliencyMap:
    method: str  # a key of METHODS
    values: np.ndarray  # (H, W) float32 in [0, 1] at the network's input size
    seconds: float
    delta: float | None = None  # Integrated Gradients: |sum of attributions - probability change|
    total: float | None = None  # the signed attributions summed (IG: about p(image) - p(black image))

    @property
    def name(self) -> str:
        return METHODS[self.method]
