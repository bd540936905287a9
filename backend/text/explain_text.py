"""Explain one text classification: token attributions by several methods, and how faithful each is.

Runs on the shared model through its queue, like every other request; an explanation is one job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import RunInfo
from backend.runtime.model_cache import get_model
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER, Job
from backend.shared import token_attributions as attributions
from backend.shared.text_input import check_token_count, clean_text
from backend.shared.token_attributions import (
    DEFAULT_STEPS,
    MAX_STEPS,
    METHOD_NAMES,
    TokenAttribution,
)
from backend.text import faithfulness
from backend.text.classifiers import resolve
from backend.text.classify import MAX_TOKENS
from backend.text.encoder import class_probabilities
from backend.text.faithfulness import Faithfulness
from backend.text.specs import SENTIMENT, ClassifierSpec, as_spec


@dataclass(frozen=True)
class TextExplanation:
    text: str
    tokens: list[str]  # the text's tokens as the tokenizer split it (word pieces start with ##)
    target: str  # the label explained
    predicted: str
    probability: float  # p(target | text)
    attributions: list[TokenAttribution]
    faithfulness: list[Faithfulness]  # one per method, then the random order
    steps: int
    run: RunInfo

    def attribution(self, method: str) -> TokenAttribution:
        return next(a for a in self.attributions if a.method == method)


def _check(methods: Sequence[str], steps: int) -> tuple[str, ...]:
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown or not methods:
        raise InputError(
            "Methods must be some of: {known} (got {given}).", known=", ".join(METHOD_NAMES), given=list(methods)
        )
    most = min(MAX_STEPS, limits().ig_steps)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= most:
        raise InputError("Integrated Gradients steps must be a whole number from 1 to {most} here.", most=most)
    return tuple(dict.fromkeys(methods))


def explain_text(
    text: str,
    classifier: ClassifierSpec | str | Sequence[str] = SENTIMENT,
    target: str | None = None,
    methods: Sequence[str] = ("ig", "loo"),
    steps: int = DEFAULT_STEPS,
    model_key: str | None = None,
) -> TextExplanation:
    """Attributions toward `target` (default: the predicted label) and their faithfulness."""
    text = clean_text(text)
    methods = _check(methods, steps)
    spec = as_spec(classifier, model_key or getattr(classifier, "model_key", None) or SENTIMENT.model_key)
    handle = get_model(spec.model_key)
    with handle.lock:
        started = time.perf_counter()
        resolved = resolve(handle, spec)
        ids = handle.preprocessor(text)["input_ids"]
        check_token_count(len(ids), min(MAX_TOKENS, limits().text_tokens), "text", handle.spec.name)
        content = attributions.content_positions(handle, ids)
        if not content:
            raise InputError("The text has no tokens to explain (only special markers).")

        def probabilities(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return class_probabilities(handle, resolved, input_ids.to(handle.device), mask.to(handle.device))

        tensor = torch.tensor([ids], device=handle.device)
        with torch.inference_mode():
            p = probabilities(tensor, torch.ones_like(tensor))[0].cpu()
        predicted = resolved.labels[int(p.argmax())]
        target = predicted if target is None else target
        if target not in resolved.labels:
            raise InputError(
                "'{label}' is not one of this classifier's labels: {labels}.", label=target, labels=", ".join(resolved.labels)
            )
        index = resolved.labels.index(target)
        found: list[TokenAttribution] = []
        for method in methods:
            if method == "ig":
                found.append(attributions.integrated_gradients(handle, probabilities, tensor, index, content, steps))
            elif method == "gxi":
                found.append(attributions.gradient_times_input(handle, probabilities, tensor, index, content))
            else:
                found.append(attributions.leave_one_out(handle, probabilities, ids, index, content))
        measured = faithfulness.measure(
            probabilities, ids, content, {a.name: a.scores for a in found}, index, attributions.pad_id(handle)
        )
        tokens = handle.preprocessor.convert_ids_to_tokens([ids[i] for i in content])
        run = handle.run_info(started)
    return TextExplanation(
        text, tokens, target, predicted, float(p[index]), found, measured, steps, run
    )


def submit_explain(
    text: str,
    classifier: ClassifierSpec = SENTIMENT,
    target: str | None = None,
    methods: Sequence[str] = ("ig", "loo"),
    steps: int = DEFAULT_STEPS,
    *,
    owner: str | None = None,
    slot: str | None = None, client: str | None = None,
) -> Job:
    """Queue an explanation (not batched: each is already a batch of steps)."""
    args = (clean_text(text), classifier, target, _check(methods, steps), steps)
    return SCHEDULER.submit(classifier.model_key, explain_text, *args, owner=owner, slot=slot, client=client, request_key=args)
