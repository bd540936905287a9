"""How far to trust a saliency map: ROAD (Rong et al. 2022, "A Consistent and Efficient
Evaluation Strategy for Attribution Methods"), as the `grad-cam` library implements it.

The most-highlighted 10 / 20 / 50 % of the pixels are removed and filled in from their
neighbours (noisy linear imputation, so the hole itself gives the network no clue), and the class
probability is measured again. A map that points at what the network really used makes the
probability drop more. Two baselines say what "more" means: a random map (noise as coarse as
the CAM layer) and an edge detector (grad-cam's Sobel map), which knows nothing about the class.
Maps are compared by the rank of their pixels, so each removes exactly the stated share.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import n_
from backend.vision.introspection import LogitsOnly

FRACTIONS = (10, 20, 50)  # percent of the pixels removed, most relevant first
RANDOM = "random"
EDGES = "edges"
BASELINE_NAMES = {RANDOM: n_("Random map (baseline)"), EDGES: n_("Edge detector (baseline)")}  # `t(name)` where shown


@dataclass(frozen=True)
class RoadScores:
    probability: float  # the class probability with nothing removed
    fractions: tuple[int, ...]
    drops: dict[str, tuple[float, ...]]  # map key -> probability drop per fraction (0.12 = 12 points)
    seconds: float

    def mean_drop(self, key: str) -> float:
        return float(np.mean(self.drops[key]))


def edge_map(seen: np.ndarray) -> np.ndarray:
    """grad-cam's Sobel edge map of the picture the network saw, scaled to [0, 1]."""
    from pytorch_grad_cam.sobel_cam import sobel_cam

    edges = sobel_cam(np.ascontiguousarray(seen)).astype(np.float32)
    top = float(edges.max())
    return edges / top if top > 0 else edges


def random_map(size: tuple[int, int], grid: tuple[int, int] = (7, 7), seed: int = 0) -> np.ndarray:
    """Uniform noise on a coarse grid (a CAM layer's resolution) scaled up to `size`: a map as
    smooth as a CAM that knows nothing about the image."""
    noise = np.random.default_rng(seed).uniform(size=(1, 1, *grid))
    scaled = torch.nn.functional.interpolate(torch.as_tensor(noise, dtype=torch.float32), size=size, mode="bilinear")
    return scaled[0, 0].numpy()


def _ranked(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each pixel's rank in [0, 1], ties broken at random. A CAM is often 0 over half the image;
    ranks make "remove the top 50 %" remove exactly half, whatever the map's ties."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    order = np.lexsort((rng.random(flat.size), flat))
    ranks = np.empty(flat.size, dtype=np.float32)
    ranks[order] = np.arange(flat.size, dtype=np.float32) / max(flat.size - 1, 1)
    return ranks.reshape(np.shape(values))


def road_scores(
    handle: LoadedModel,
    pixels: torch.Tensor,
    seen: np.ndarray,
    category: int,
    maps: Mapping[str, object],
    grid: tuple[int, int] = (7, 7),
    fractions: tuple[int, ...] = FRACTIONS,
    seed: int = 0,
) -> RoadScores:
    """The drop in `category`'s probability when each map's top pixels are removed (ROAD, most
    relevant first), for the given maps and the two baselines. Call under the model's lock."""
    from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    started = time.perf_counter()
    every = {key: getattr(found, "values", found) for key, found in maps.items()}
    every[RANDOM] = random_map(tuple(pixels.shape[-2:]), grid, seed)
    every[EDGES] = edge_map(seen)
    keys = list(every)
    rng = np.random.default_rng(seed)
    cams = np.stack([_ranked(every[key], rng) for key in keys])
    batch = pixels.detach().to(handle.device).repeat(len(keys), 1, 1, 1)
    targets = [ClassifierOutputSoftmaxTarget(category)] * len(keys)
    model = LogitsOnly(handle)
    with torch.inference_mode():
        probability = float(model(batch[:1]).softmax(dim=-1)[0, category])
    per_fraction = []
    with torch.random.fork_rng(devices=[]):  # the imputation adds seeded noise
        torch.manual_seed(seed)
        for fraction in fractions:
            # grad-cam keeps the pixels below the percentile: 90 removes the top 10 %
            changes = ROADMostRelevantFirst(percentile=100 - fraction)(batch, cams, targets, model)
            per_fraction.append(-np.asarray(changes, dtype=np.float64).reshape(len(keys)))
    drops = {key: tuple(float(row[i]) for row in per_fraction) for i, key in enumerate(keys)}
    return RoadScores(probability, tuple(fractions), drops, time.perf_counter() - started)
