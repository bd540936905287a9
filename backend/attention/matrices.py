"""What the attention page draws, computed on the server from one AttentionResult: one head or
the mean / max over heads, special tokens hidden (rows renormalised), a window of a long input,
attention rollout across layers, and the tensor as a download. Only the numbers a view needs
travel to the browser."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from backend.attention.weights import AttentionResult
from backend.runtime.errors import InputError
from backend.shared.rollout import attention_rollout

VIEW_TOKENS = 64  # tokens one view shows at a time; a longer input is viewed through a window
SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>"}


@dataclass(frozen=True)
class Window:
    start: int  # first token shown (0-based)
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size


def window_for(n_tokens: int, start: int = 0) -> Window:
    """At most VIEW_TOKENS tokens from `start` (clamped so the window stays inside the text)."""
    size = min(n_tokens, VIEW_TOKENS)
    return Window(max(0, min(start, n_tokens - size)), size)


def special_positions(result: AttentionResult) -> list[int]:
    return [i for i, token in enumerate(result.tokens) if token.strip() in SPECIAL]


def head_matrix(result: AttentionResult, layer: int, head: int | None, combine: str = "mean") -> np.ndarray:
    """One head's [query, key] weights, or the mean / max over the layer's heads."""
    if not 0 <= layer < result.n_layers:
        raise InputError("Pick a layer from 1 to {most}.", most=result.n_layers)
    if head is not None:
        if not 0 <= head < result.n_heads:
            raise InputError("Pick a head from 1 to {most}.", most=result.n_heads)
        return result.weights[layer, head]
    if combine == "max":
        return result.weights[layer].max(axis=0)
    if combine == "mean":
        return result.weights[layer].mean(axis=0)
    raise InputError("Heads combine by 'mean' or 'max'.")


def view_matrix(
    result: AttentionResult, matrix: np.ndarray, hide_special: bool, window: Window
) -> tuple[np.ndarray, list[str], list[int]]:
    """The part of `matrix` a view shows: the window's rows and columns, and, with `hide_special`,
    without [CLS]/[SEP]-like tokens, each row renormalised to sum to 1 over what is left (a row
    whose weight all sat on hidden tokens stays 0). Returns the matrix, labels and positions."""
    keep = list(range(window.start, window.stop))
    if hide_special:
        hidden = set(special_positions(result))
        keep = [i for i in keep if i not in hidden]
        if not keep:
            raise InputError("Every token in view is a special token; show special tokens to see them.")
    shown = matrix[np.ix_(keep, keep)].astype(np.float64)
    if hide_special:
        totals = shown.sum(axis=-1, keepdims=True)
        shown = np.divide(shown, totals, out=np.zeros_like(shown), where=totals > 0)
    return shown, [result.tokens[i] for i in keep], keep


def rollout_matrix(result: AttentionResult) -> np.ndarray:
    """Attention rollout through every layer (mean over heads, plus the residual identity)."""
    return attention_rollout(list(result.weights))


def tensor_npz(result: AttentionResult, window: Window) -> bytes:
    """The window's attention tensor [layers, heads, query, key] with its tokens, as NPZ."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        weights=result.weights[:, :, window.start:window.stop, window.start:window.stop],
        tokens=np.array(result.tokens[window.start:window.stop]),
        first_position=np.array(window.start),
        causal=np.array(result.causal),
    )
    return buffer.getvalue()
