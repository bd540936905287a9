"""Tokens as a person should read them."""

from __future__ import annotations

from backend.runtime.loaded_model import LoadedModel


def display_tokens(handle: LoadedModel, ids: list[int]) -> list[str]:
    """Readable token strings: WordPiece '##ing' stays, byte-level BPE 'Ġword' becomes ' word'."""
    tokenizer = handle.preprocessor
    if handle.extras.get("causal"):
        return [tokenizer.decode([i]) for i in ids]
    return tokenizer.convert_ids_to_tokens(ids)
