"""A head's scores on top of the frozen sentence encoder (its sentence vectors:
`backend.shared.sentence_vectors`)."""

from __future__ import annotations

import torch

from backend.runtime.loaded_model import LoadedModel
from backend.shared.sentence_vectors import embed_tokens
from backend.text.specs import Classifier

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 128 tokens; sentence-transformers cuts at 256


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
