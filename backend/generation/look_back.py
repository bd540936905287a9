"""Where a generated token came from: the attention of the position that predicted it, and a
gradient attribution of its probability to every earlier token (prompt and output so far).

Attention says where the model *read*; Integrated Gradients (Captum, the same function the
classification page uses) says which tokens *moved the probability*. They often disagree: a
decoder parks much of its attention on the first token ("attention sink"), which rarely matters
for the answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.language import lazy
from backend.shared.text_input import check_token_count
from backend.shared.token_attributions import (
    TokenAttribution,
    content_positions,
    integrated_gradients,
)
from backend.shared.tokens import display_tokens

IG_STEPS = 32
# IG walks from a baseline where every attributed token is this neutral word. Tried on "What is
# the capital of France?" -> " Paris" with 32 steps: " the" converges best (delta 0.14) of
# " the", ".", "..." and the end-of-turn marker (0.61), which is no word at all for this model.
BASELINE_WORD = " the"


@dataclass(frozen=True)
class LookBack:
    tokens: list[str]  # the context the token was predicted from: prompt, then earlier output
    n_prompt: int  # how many of them are the prompt
    target: str  # the token that was chosen
    attention: np.ndarray  # float32 [layers, heads, keys]: each (layer, head) row sums to 1
    seconds: float


def context_of(prompt_ids: Sequence[int], new_ids: Sequence[int], step: int) -> list[int]:
    """The ids the model had read when it chose new token `step`."""
    if not 0 <= step < len(new_ids):
        raise InputError("There is no step {step}: the generation has {count} tokens.", step=step + 1, count=len(new_ids))
    return [*prompt_ids, *new_ids[:step]]


def attention_of_last(handle: LoadedModel, ids: Sequence[int]) -> np.ndarray:
    """[layers, heads, keys]: what the last position attended to, in one forward pass."""
    with handle.lock, torch.inference_mode():
        out = handle.model(input_ids=torch.tensor([list(ids)], device=handle.device), output_attentions=True, logits_to_keep=1)
        if not out.attentions:
            raise InputError("{model} returned no attention weights (it needs eager attention).", model=handle.spec.name)
        return torch.stack([layer[0, :, -1, :] for layer in out.attentions]).float().cpu().numpy()


def look_back(model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int) -> LookBack:
    started = time.perf_counter()
    handle = get_model(model_key)
    ids = context_of(prompt_ids, new_ids, step)
    attention = attention_of_last(handle, ids)
    with handle.lock:
        tokens = display_tokens(handle, ids)
        target = handle.preprocessor.decode([new_ids[step]])
    return LookBack(tokens, len(prompt_ids), target, attention, time.perf_counter() - started)


def _find_last(haystack: Sequence[int], needle: Sequence[int]) -> int | None:
    for start in range(len(haystack) - len(needle), -1, -1):
        if list(haystack[start : start + len(needle)]) == list(needle):
            return start
    return None


def attributable_positions(handle: LoadedModel, prompt_ids: Sequence[int], user_text: str | None, n_new: int) -> list[int]:
    """The user's own prompt tokens (not the chat template around them) and the earlier output.
    Without the user's text, or when it cannot be found in the prompt, every ordinary token."""
    span = None
    if user_text:
        user = handle.preprocessor(user_text, add_special_tokens=False)["input_ids"]
        start = _find_last(prompt_ids, user) if user else None
        span = list(range(start, start + len(user))) if start is not None else None
    if span is None:
        span = content_positions(handle, list(prompt_ids))
    return [*span, *range(len(prompt_ids), len(prompt_ids) + n_new)]


def attribution(
    model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int,
    user_text: str | None = None, steps: int = IG_STEPS,
) -> tuple[TokenAttribution, list[int]]:
    """Integrated Gradients of p(chosen token) over the user's prompt tokens and the earlier
    output (the chat template stays as it is); returns the scores and their context positions."""
    handle = get_model(model_key)
    ids = context_of(prompt_ids, new_ids, step)
    check_token_count(len(ids), limits().recorded_attention_tokens, "context (prompt and earlier output)",
                      lazy("Integrated Gradients on {model}", model=handle.spec.name))
    with handle.lock:
        content = attributable_positions(handle, prompt_ids, user_text, step)
        baseline_token = handle.preprocessor(BASELINE_WORD, add_special_tokens=False)["input_ids"][0]
    if not content:
        raise InputError("The context has no ordinary tokens to attribute to.")

    def next_token_probabilities(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return handle.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=1).logits[:, -1].float().softmax(-1)

    with handle.lock:
        scores = integrated_gradients(
            handle, next_token_probabilities, torch.tensor([ids], device=handle.device), int(new_ids[step]), content, steps,
            baseline_token,
        )
    return scores, content


def submit_look_back(
    kind: str, model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int,
    user_text: str | None = None, **where,
) -> Job:
    """Queue 'attention' (a forward pass) or 'attribution' (Integrated Gradients) for one step."""
    args = (model_key, tuple(prompt_ids), tuple(new_ids), step)
    if kind == "attention":
        return SCHEDULER.submit(model_key, look_back, *args, request_key=("look_back", *args), **where)
    args = (*args, user_text)
    return SCHEDULER.submit(model_key, attribution, *args, request_key=("attribution", *args), **where)
