"""The logit lens: what each layer would predict if the network stopped there.

Every layer's hidden state goes through the model's own final norm and output head (for the last
layer that is exactly the model's prediction). Early layers usually guess generic tokens; the
chosen token climbs in rank as the layers refine the residual stream.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from backend.runtime.errors import InputError
from backend.runtime.model_cache import get_model
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared.tokens import piece_text

WINDOW = 12  # steps shown, the selected one among them


@dataclass(frozen=True)
class LogitLens:
    steps: list[int]  # the new-token indices shown (columns), the selected one among them
    selected: int  # the column of the selected step
    chosen: list[str]  # the token finally chosen at each of those steps
    top_tokens: list[list[str]]  # [layer][column]: the layer's most likely next token
    top_probabilities: np.ndarray  # [layer, column]
    chosen_probabilities: np.ndarray  # [layer, column]: the finally chosen token's probability
    chosen_ranks: np.ndarray  # [layer, column]: its rank (1 = the layer's top token)
    seconds: float

    @property
    def n_layers(self) -> int:
        return int(self.chosen_ranks.shape[0])


def _final_norm(model: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(model, "model", None) or getattr(model, "transformer", None)
    norm = getattr(inner, "norm", None) or getattr(inner, "ln_f", None)
    if norm is None:
        raise InputError("The logit lens needs the model's final norm; {model} has none it knows.", model=type(model).__name__)
    return norm


def logit_lens(
    model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int, window: int = WINDOW
) -> LogitLens:
    """Layer-by-layer predictions for up to `window` new tokens around `step`."""
    if not 0 <= step < len(new_ids):
        raise InputError("There is no step {step}: the generation has {count} tokens.", step=step + 1, count=len(new_ids))
    started = time.perf_counter()
    handle = get_model(model_key)
    model, tokenizer = handle.model, handle.preprocessor
    first = max(0, min(step - window // 2, len(new_ids) - window))
    steps = list(range(first, min(len(new_ids), first + window)))
    positions = [len(prompt_ids) + s - 1 for s in steps]  # the position that predicts new token s
    chosen_ids = torch.tensor([int(new_ids[s]) for s in steps])
    ids = torch.tensor([[*prompt_ids, *new_ids[: steps[-1]]]], device=handle.device)
    with handle.lock, torch.inference_mode():
        hidden = model(input_ids=ids, output_hidden_states=True, logits_to_keep=1).hidden_states
        norm, head = _final_norm(model), model.get_output_embeddings()
        # hidden[0] is the embeddings; the last entry already went through the final norm
        per_layer = [norm(h[0, positions]) for h in hidden[1:-1]] + [hidden[-1][0, positions]]
        probs = head(torch.stack(per_layer)).float().softmax(-1)  # [layer, column, vocab]
        top_p, top_i = probs.max(-1)
        chosen_p = probs.gather(-1, chosen_ids.view(1, -1, 1).expand(probs.shape[0], -1, 1)).squeeze(-1)
        ranks = (probs > chosen_p.unsqueeze(-1)).sum(-1) + 1
        top_tokens = [[piece_text(tokenizer, int(i)) for i in row] for row in top_i.tolist()]
        chosen = [piece_text(tokenizer, int(i)) for i in chosen_ids.tolist()]
    return LogitLens(
        steps, steps.index(step), chosen, top_tokens, top_p.cpu().numpy(), chosen_p.cpu().numpy(), ranks.cpu().numpy(),
        time.perf_counter() - started,
    )


def submit_logit_lens(model_key: str, prompt_ids: Sequence[int], new_ids: Sequence[int], step: int, **where) -> Job:
    args = (model_key, tuple(prompt_ids), tuple(new_ids), step)
    return SCHEDULER.submit(model_key, logit_lens, *args, request_key=("logit_lens", *args), **where)
