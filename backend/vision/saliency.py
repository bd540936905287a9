"""A saliency map and the names of the methods that make one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.shared.language import n_

# Proper names stay as they are; the other names are messages (`t(name)` where shown).
CAM_METHODS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "eigencam": "Eigen-CAM",
    "scorecam": "Score-CAM",
}

PIXEL_METHODS: dict[str, str] = {"ig": n_("Integrated Gradients"), "gxi": n_("Gradient × input")}
VIT_METHODS: dict[str, str] = {"rollout": n_("Attention rollout"), "attention": n_("Raw attention (last layer)")}
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
        """The method's name in English (`t(name)` where it is shown)."""
        return METHODS[self.method]
