"""Attention rollout (Abnar & Zuidema 2020): how much each input token flows into each output
through all layers. Used by the attention page (text) and for Vision Transformers (images)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.runtime.errors import InputError


def attention_rollout(attentions: Sequence[np.ndarray], residual: bool = True) -> np.ndarray:
    """Rollout of per-layer attention (each (heads, T, T), rows summing to 1) -> (T, T)."""
    if not attentions:
        raise InputError("Rollout needs at least one layer of attention.")
    size = attentions[0].shape[-1]
    result = np.eye(size)
    for layer in attentions:
        fused = np.asarray(layer, dtype=np.float64).mean(axis=0)
        if residual:
            fused = 0.5 * fused + 0.5 * np.eye(size)
            fused = fused / fused.sum(axis=-1, keepdims=True)
        result = fused @ result
    return result
