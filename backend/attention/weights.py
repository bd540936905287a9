"""Self-attention weights: softmax(QK^T / sqrt(d_k)) for every layer and head of a Transformer.

Each row of a head's matrix is one token (the query) spreading a total weight of 1 over the
tokens it reads (the keys). An encoder reads in both directions; a decoder only looks back, so
its matrices are lower-triangular.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.registry import MINILM
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import Lazy, lazy
from backend.shared.text_input import clean_text, tokenise_each
from backend.shared.tokens import display_tokens

MAX_TOKENS = 256  # the cap: longer texts get a message; views show a window of them


def attention_view_of(model_name: str) -> Lazy:
    """What reads at most MAX_TOKENS tokens, as the too-long message names it: kept untranslated
    inside the error (errors are shared), translated where it is shown."""
    return lazy("the attention view of {model}", model=model_name)


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


def attention_each(texts: Sequence[str], model_key: str = MINILM.key) -> list[AttentionResult | InputError]:
    """Attention weights of several texts in one forward pass. Padding is on the right and masked,
    so each text's weights are those of running it alone; a text that cannot be used gets its
    error in its place."""
    handle = get_model(model_key)
    causal = bool(handle.extras.get("causal"))
    outcomes: list[AttentionResult | InputError | None] = [None] * len(texts)
    with handle.lock, torch.inference_mode():
        started = time.perf_counter()
        valid, errors = tokenise_each(handle.preprocessor, texts, min(MAX_TOKENS, limits().text_tokens),
                                       attention_view_of(handle.spec.name))
        for position, error in errors.items():
            outcomes[position] = error
        if valid:
            encoded = handle.preprocessor(
                [item.text for item in valid], padding=True, padding_side="right", return_tensors="pt"
            )
            output = handle.model(**encoded.to(handle.device), output_attentions=True)
            if not output.attentions:
                raise RuntimeError(
                    f"{handle.spec.name} returned no attention weights; load it with "
                    "attn_implementation='eager'."
                )
            stacked = torch.stack(output.attentions, dim=1).float().cpu()  # [batch, layers, heads, q, k]
        run = handle.run_info(started)
        for row, item in enumerate(valid):  # still under the lock: decoding uses the tokenizer
            n = len(item.ids)
            weights = stacked[row, :, :, :n, :n].contiguous().numpy()
            outcomes[item.position] = AttentionResult(display_tokens(handle, item.ids), weights, causal, run)
    return outcomes  # type: ignore[return-value]  # every slot is filled


def attention(text: str, model_key: str = MINILM.key) -> AttentionResult:
    """Attention weights of `text` in every layer and head of the chosen model."""
    outcome = attention_each([text], model_key)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def submit_attention(
    text: str, model_key: str = MINILM.key, *, owner: str | None = None, slot: str | None = None, client: str | None = None
) -> Job:
    """Queue one attention request; texts for the same model that arrive together share a batch."""
    text = clean_text(text)
    return SCHEDULER.submit(
        model_key, attention_each, text, model_key, batched=True,
        owner=owner, slot=slot, client=client, request_key=("attention", model_key, text),
    )
