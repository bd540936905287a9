"""Class activation maps from the grad-cam library: Grad-CAM, Grad-CAM++, Eigen-CAM, Score-CAM.

The library's hooks live only inside its context manager, so they are released even when a
method fails (the model is cached and shared: a leaked hook would be everyone's)."""

from __future__ import annotations

import time

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.vision.introspection import LogitsOnly
from backend.vision.saliency import CAM_METHODS, SaliencyMap

SCORE_CAM_BATCH = 32  # masked images per model call inside Score-CAM


def _cam_class(method: str):
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, ScoreCAM, score_cam

    # Score-CAM draws a tqdm progress bar on the server's stderr for every explanation.
    score_cam.tqdm = _NoProgressBar

    return {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "eigencam": EigenCAM, "scorecam": ScoreCAM}[method]


class _NoProgressBar:
    @staticmethod
    def tqdm(iterable, *args, **kwargs):
        return iterable


def class_activation_map(
    handle: LoadedModel, pixels: torch.Tensor, category: int, method: str, layer: str
) -> SaliencyMap:
    """One CAM of `category` from the stage named `layer` (call under the model's lock)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    started = time.perf_counter()
    module = handle.model.get_submodule(layer)
    # The shared weights need no gradient; the input does, so activations get one.
    x = pixels.detach().clone().to(handle.device).requires_grad_(True)
    values = None
    # The hooks exist only inside this block: grad-cam's __exit__ removes them, also on errors.
    with torch.enable_grad(), _cam_class(method)(model=LogitsOnly(handle), target_layers=[module]) as cam:
        cam.batch_size = SCORE_CAM_BATCH
        values = cam(x, targets=[ClassifierOutputTarget(category)])[0]
    if values is None:  # grad-cam's __exit__ swallows an IndexError (a class the model lacks)
        raise InputError("{method} failed for class {category} of {model}.", method=CAM_METHODS[method],
                         category=category, model=handle.spec.name)
    return SaliencyMap(method, np.asarray(values, dtype=np.float32).clip(0, 1), time.perf_counter() - started)
