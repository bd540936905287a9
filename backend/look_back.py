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

from backend.attention import display_tokens
from backend.attributions import TokenAttribution, content_positions, integrated_gradients
from backend.errors import InputError
from backend.models import LoadedModel, get_model
from backend.scheduler import SCHEDULER, Job, run_now

IG_STEPS = 16


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
        raise InputError(f"There is no step {step + 1}: the generation has {len(new_ids)} tokens.")
    return [*prompt_ids, *new_ids[:step]]


def attention_of_last(handle: LoadedModel, ids: Sequence[int]) -> np.ndarray:
    """[layers, heads, keys]: what the last position attended to, in one forward pass."""
    with handle.lock, torch.inference_mode():
        out = handle.model(input_ids=torch.tensor([list(ids)], device=handle.device), output_attentions=True, logits_to_keep=1)
        if not out.attentions:
            raise InputError(f"{handle.spec.name} returned no attention weights (it needs eager attention).")
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


def attribution(
    model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int, steps: int = IG_STEPS
) -> tuple[TokenAttribution, list[int]]:
    """Integrated Gradients of p(chosen token) over the context's tokens (chat markers excluded);
    returns the scores and the context positions they belong to."""
    handle = get_model(model_key)
    ids = context_of(prompt_ids, new_ids, step)
    content = content_positions(handle, ids)
    if not content:
        raise InputError("The context has no ordinary tokens to attribute to.")

    def next_token_probabilities(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return handle.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=1).logits[:, -1].float().softmax(-1)

    with handle.lock:
        scores = integrated_gradients(
            handle, next_token_probabilities, torch.tensor([ids], device=handle.device), int(new_ids[step]), content, steps
        )
    return scores, content


def _run(jobs: Sequence[Job]) -> list:
    (job,) = jobs
    kind, model_key, prompt_ids, new_ids, step = job.payload
    return [(look_back if kind == "attention" else attribution)(model_key, prompt_ids, new_ids, step)]


def submit_look_back(kind: str, model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int, **where) -> Job:
    """Queue 'attention' (a forward pass) or 'attribution' (Integrated Gradients) for one step."""
    payload = (kind, model_key, tuple(prompt_ids), tuple(new_ids), step)
    return SCHEDULER.submit(model_key, _run, payload, request_key=("look_back", *payload), **where)


def look_back_now(kind: str, model_key: str, prompt_ids, new_ids, step: int):
    return run_now(submit_look_back(kind, model_key, prompt_ids, new_ids, step))
