"""Why a text classifier decided: one score per token, by three methods.

- Integrated Gradients (Captum's `LayerIntegratedGradients` on the token embeddings): the
  embeddings move in `steps` straight steps from a baseline (every word replaced by [PAD], the
  [CLS]/[SEP] markers kept) to the text; the gradients along the way, times the distance
  travelled, give each token's share of `p(label | text) - p(label | baseline)`. The shares add
  up to that difference, up to the convergence delta shown beside them. The steps run through the
  model as batches (`internal_batch_size`).
- Gradient × input (Captum's `LayerGradientXActivation`): one backward pass; the first-order
  estimate of the same quantity.
- Leave one out (occlusion): the drop in the probability when the token is deleted, one forward
  pass with every deletion as a batch row.

Scores are toward the explained label: positive means the token pushed the probability up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import n_

Method = Literal["ig", "gxi", "loo"]
METHOD_NAMES: dict[str, str] = {  # English: results keep these; `t(name)` where one is shown
    "ig": n_("Integrated Gradients"),
    "gxi": n_("Gradient × input"),
    "loo": n_("Leave one out"),
}
DEFAULT_STEPS = 32
MAX_STEPS = 300
TOKENS_PER_BATCH = 2048  # IG rows per model call = this / sequence length (bounds memory)

# (input_ids [batch, seq], attention_mask [batch, seq]) -> probabilities [batch, labels]
ProbabilityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TokenAttribution:
    method: Method
    scores: np.ndarray  # one per content token (the text's tokens without [CLS]/[SEP])
    seconds: float
    delta: float | None = None  # IG: |sum(scores) - (p(text) - p(baseline))|
    baseline_probability: float | None = None  # IG: p(label | all words [PAD])

    @property
    def name(self) -> str:
        """The method's English name (shown translated: `t(attribution.name)`)."""
        return METHOD_NAMES[self.method]


def content_positions(handle: LoadedModel, ids: list[int]) -> list[int]:
    """Positions of the text's own tokens (special markers such as [CLS] excluded)."""
    special = set(handle.preprocessor.all_special_ids) - {handle.preprocessor.unk_token_id}
    return [i for i, token in enumerate(ids) if token not in special]


def pad_id(handle: LoadedModel) -> int:
    """The id that stands for 'no word': [PAD], or [UNK] for a tokenizer without one."""
    tokenizer = handle.preprocessor
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.unk_token_id


def pad_baseline(handle: LoadedModel, ids: torch.Tensor, content: list[int], token: int | None = None) -> torch.Tensor:
    """IG's starting point: the text with every word replaced by [PAD] (or `token`), markers kept."""
    baseline = ids.clone()
    baseline[0, content] = pad_id(handle) if token is None else token
    return baseline


def integrated_gradients(
    handle: LoadedModel, probabilities: ProbabilityFn, ids: torch.Tensor, target: int,
    content: list[int], steps: int = DEFAULT_STEPS, baseline_token: int | None = None,
) -> TokenAttribution:
    from captum.attr import LayerIntegratedGradients

    started = time.perf_counter()
    mask = torch.ones_like(ids)
    explainer = LayerIntegratedGradients(probabilities, handle.model.get_input_embeddings())
    baseline = pad_baseline(handle, ids, content, baseline_token)
    attributions, delta = explainer.attribute(
        ids, baselines=baseline, target=target, additional_forward_args=(mask,), n_steps=steps,
        internal_batch_size=max(1, TOKENS_PER_BATCH // ids.shape[1]), return_convergence_delta=True,
    )
    with torch.no_grad():
        start = float(probabilities(baseline, mask)[0, target])
    per_token = attributions.sum(dim=-1)[0].detach().cpu().numpy()
    return TokenAttribution(
        "ig", per_token[content].astype(np.float64), time.perf_counter() - started,
        float(delta.abs().max()), start,
    )


def gradient_times_input(
    handle: LoadedModel, probabilities: ProbabilityFn, ids: torch.Tensor, target: int, content: list[int]
) -> TokenAttribution:
    from captum.attr import LayerGradientXActivation

    started = time.perf_counter()
    mask = torch.ones_like(ids)
    explainer = LayerGradientXActivation(probabilities, handle.model.get_input_embeddings())
    attributions = explainer.attribute(ids, target=target, additional_forward_args=(mask,))
    per_token = attributions.sum(dim=-1)[0].detach().cpu().numpy()
    return TokenAttribution("gxi", per_token[content].astype(np.float64), time.perf_counter() - started)


def without(ids: list[int], removed: set[int]) -> list[int]:
    return [token for i, token in enumerate(ids) if i not in removed]


def batched_probabilities(
    probabilities: ProbabilityFn, sequences: list[list[int]], target: int, pad_id: int, batch_size: int = 64
) -> np.ndarray:
    """p(target) for token sequences of different lengths (padded, masked), in batches."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            chunk = sequences[start : start + batch_size]
            width = max(len(s) for s in chunk)
            ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, seq in enumerate(chunk):
                ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[row, : len(seq)] = 1
            out.append(probabilities(ids, mask)[:, target].float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def leave_one_out(
    handle: LoadedModel, probabilities: ProbabilityFn, ids: list[int], target: int, content: list[int]
) -> TokenAttribution:
    started = time.perf_counter()
    variants = [ids] + [without(ids, {position}) for position in content]
    p = batched_probabilities(probabilities, variants, target, pad_id(handle))
    return TokenAttribution("loo", p[0] - p[1:], time.perf_counter() - started)
