"""The frozen sentence encoder: texts to unit vectors, and a head's scores on top of it."""

from __future__ import annotations

import torch

from backend.runtime.loaded_model import LoadedModel
from backend.text.specs import Classifier

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 128 tokens; sentence-transformers cuts at 256

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


def class_scores(
    handle: LoadedModel, classifier: Classifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """[batch, labels] scores (logits): the head's, or a fine-tuned model's own output layer."""
    if classifier.head is None:
        return handle.model(input_ids=input_ids, attention_mask=attention_mask).logits
    return classifier.head.scores(embed_tokens(handle, input_ids, attention_mask))


def class_probabilities(
    handle: LoadedModel, classifier: Classifier, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """[batch, labels] probabilities, differentiable (attributions backpropagate through it)."""
    return class_scores(handle, classifier, input_ids, attention_mask).softmax(dim=-1)
