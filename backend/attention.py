"""Self-attention weights: softmax(QK^T / sqrt(d_k)) for every layer and head of a Transformer.

Each row of a head's matrix is one token (the query) spreading a total weight of 1 over the
tokens it reads (the keys). An encoder reads in both directions; a decoder only looks back, so
its matrices are lower-triangular.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from backend.errors import InputError
from backend.models import LoadedModel, RunInfo, get_model
from backend.registry import MINILM
from backend.text_input import check_token_count, clean_text

MAX_TOKENS = 96  # beyond this a token-labelled heatmap stops being readable


@dataclass(frozen=True)
class AttentionResult:
    tokens: list[str]  # display form of each token, in order
    weights: np.ndarray  # float32 [layers, heads, query, key]; every row sums to 1
    causal: bool
    run: RunInfo

    @property
    def n_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.weights.shape[1])


def display_tokens(handle: LoadedModel, ids: list[int]) -> list[str]:
    """Readable token strings: WordPiece '##ing' stays, byte-level BPE 'Ġword' becomes ' word'."""
    tokenizer = handle.preprocessor
    if handle.extras.get("causal"):
        return [tokenizer.decode([i]) for i in ids]
    return tokenizer.convert_ids_to_tokens(ids)


def attention(text: str, model_key: str = MINILM.key) -> AttentionResult:
    """Attention weights of `text` in every layer and head of the chosen model."""
    text = clean_text(text)
    handle = get_model(model_key)
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        encoded = handle.preprocessor(text, return_tensors="pt")
        ids = encoded["input_ids"][0].tolist()
        check_token_count(len(ids), MAX_TOKENS, "text", f"the attention view of {handle.spec.name}")
        output = handle.model(**encoded.to(handle.device), output_attentions=True)
        layers = output.attentions
        if not layers:
            raise RuntimeError(
                f"{handle.spec.name} returned no attention weights; load it with "
                "attn_implementation='eager'."
            )
        weights = torch.stack(layers, dim=1)[0].float().cpu().numpy()
        tokens = display_tokens(handle, ids)
        run = handle.run_info(started)
    return AttentionResult(tokens=tokens, weights=weights, causal=bool(handle.extras.get("causal")), run=run)
