"""Texts to sentence vectors with the sentence encoder (MiniLM): the mask-weighted mean of its last
hidden states, made unit length, as sentence-transformers pools it. The text task classifies with
them; the learning page trains heads on them."""

from __future__ import annotations

import torch

from backend.runtime.loaded_model import LoadedModel


def tokenize(handle: LoadedModel, texts: list[str]) -> dict[str, torch.Tensor]:
    batch = handle.preprocessor(texts, padding=True, return_tensors="pt")
    return {k: v.to(handle.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}


def embed_tokens(handle: LoadedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, hidden] unit vectors: the mask-weighted mean of the last hidden states."""
    hidden = handle.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def embed(handle: LoadedModel, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Unit vectors for many texts (inference mode, in batches); the caller holds the lock."""
    with torch.inference_mode():
        parts = [
            embed_tokens(handle, **tokenize(handle, texts[i : i + batch_size])).cpu()
            for i in range(0, len(texts), batch_size)
        ]
    return torch.cat(parts) if parts else torch.empty(0, handle.model.config.hidden_size)
