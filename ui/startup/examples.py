"""Every page's examples, answered once when the server starts and then served from memory.

`precompute_examples()` runs in the warm-up thread after the default models have loaded (app.py).
For each example it builds exactly the request the page builds when a visitor clicks it (each
page's `request.py`, from the page's default input values and the example's), so the answer is
kept under the key the page reads (`ui.core.jobs.remembered`), for good: an example click is then
a look-up. Each computation first gives way to visitors (`wait_until_idle`).

Generations are not kept in that memory (the page follows a streaming job): finished example
generations have their own store (`ui.generate.kept`). An example on a model no page opens with
(Gemma 3: 1 GB) is computed when clicked, not here: a server holds it only once someone picks it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from backend.runtime.registry import get_spec
from backend.vision.image_decoding import EXAMPLES as IMAGE_EXAMPLES
from ui.attention import inputs as attention_inputs
from ui.attention import request as attention_request
from ui.classify import inputs as classify_inputs
from ui.classify import request as classify_request
from ui.core.jobs import remember_now
from ui.core.request import Request
from ui.core.state import defaults
from ui.generate import inputs as generate_inputs
from ui.generate import request as generate_request
from ui.generate.kept import as_left_by_a_click, kept_or_submitted
from ui.learn import kept as learn_kept
from ui.recognise import inputs as recognise_inputs
from ui.recognise import request as recognise_request
from ui.startup.model_loading import wait_until_idle

log = logging.getLogger("dashboard")


def _at_start(model_key: str) -> bool:
    """Whether a model's examples are answered at start: not one that ships but no page opens with."""
    return not get_spec(model_key).optional


def _kept(request: Request) -> Any:
    wait_until_idle()
    return remember_now(request)


# -- classification: the answer, the same text through every classifier, the explanation
def _classify_examples() -> int:
    page = defaults(classify_inputs.fields())
    # The page's side-by-side table asks every classifier before it shows the explanation, zero-shot
    # with the labels in the box: the default ones, or those an earlier example left there.
    label_sets = dict.fromkeys([page["classify_labels"], *(e["classify_labels"] for e in classify_inputs.EXAMPLES.values() if "classify_labels" in e)])
    everyone = [spec for each in label_sets for spec in classify_request.every_classifier(page | {"classify_labels": each}).values()]
    done = 0
    for example in classify_inputs.EXAMPLES.values():
        values = page | example
        text, chosen = values["classify_text"], classify_request.classifier(values)
        answers = {spec: _kept(classify_request.answer(text, spec)) for spec in dict.fromkeys([chosen, *everyone])}
        labels = [score.label for score in answers[chosen].scores]
        _kept(classify_request.explanation(values, chosen, labels))
        done += len(answers) + 1
    return done


# -- attention: the weights of each example under the default model
def _attention_examples() -> int:
    page = defaults(attention_inputs.fields())
    examples = [page | example for example in attention_inputs.EXAMPLES.values()]
    examples = [values for values in examples if _at_start(values["attention_model"])]
    for values in examples:
        _kept(attention_request.weights(values))
    return len(examples)


# -- image recognition: the top classes and the "Where it looked" tab's default maps
def _image_examples() -> int:
    page = defaults(recognise_inputs.fields())
    for name in IMAGE_EXAMPLES:  # the default photo first
        values = page | {"recognise_example": name}
        image, image_id = recognise_request.example(values)
        _kept(recognise_request.recognition(values, image, image_id))
        _kept(recognise_request.explanation(values, image, image_id))
    return 2 * len(IMAGE_EXAMPLES)


# -- generation: finished example generations, kept for good
def _generation_examples() -> int:
    page = defaults(generate_inputs.fields())
    left = [values for _, values in as_left_by_a_click(generate_inputs.EXAMPLES, page) if _at_start(values["generate_model"])]
    requests = {r.key: r for r in map(generate_request.generation, left)}
    for request in requests.values():
        wait_until_idle()
        job = kept_or_submitted(request)
        job.wait()
        job.outcome()  # raises the generation's error
    return len(requests)


# -- how it learns: the toy network's default run and each preset's, kept finished
def _learning_examples() -> int:
    runs = learn_kept.example_settings()
    for settings in runs:
        wait_until_idle()
        learn_kept.keep(settings)
    return len(runs)


# Quickest first: a visitor is likelier to find the small pages' examples ready.
PAGES: dict[str, Callable[[], int]] = {
    "classification": _classify_examples,
    "attention": _attention_examples,
    "image recognition": _image_examples,
    "generation": _generation_examples,
    "how it learns": _learning_examples,
}


def precompute_examples() -> int:
    """Answer every page's examples once (server start, in the warm-up thread); the number of
    answers kept. A page whose examples fail is logged and skipped: its pages compute live."""
    started, answers = time.perf_counter(), 0
    for page, compute in PAGES.items():
        try:
            answers += compute()
        except Exception:
            log.exception("Instant examples: the %s page's examples could not be computed", page)
    # a warning, as the model loads are: the server log shows it without any logging set-up
    log.warning("instant examples ready: %d answers in %.1f s", answers, time.perf_counter() - started)
    return answers
