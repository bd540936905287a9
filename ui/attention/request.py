"""The attention page's backend call, built from its input values (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.attention.tokenizing import COMPARED, submit_cut
from backend.attention.weights import submit_attention
from ui.core.request import Request

MEMORY = 8  # (text, model) pairs whose weights are kept: each holds every layer's and head's matrix


def weights(values: Mapping[str, Any]) -> Request:
    """Every layer's and head's attention weights for the text under the chosen model."""
    text, model_key = values["attention_text"], values["attention_model"]
    return Request("attention", (text, model_key), lambda **owner: submit_attention(text, model_key, **owner),
                   max_entries=MEMORY)


def cuts(text: str) -> list[Request]:
    """The text as each compared model's tokenizer cuts it (MiniLM's WordPiece, SmolLM2's BPE, Gemma 3's
    SentencePiece)."""
    return [Request("token cuts", (model_key, text), lambda model_key=model_key, **owner: submit_cut(model_key, text, **owner),
                    max_entries=32) for model_key in COMPARED]
