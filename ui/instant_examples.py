"""Every page's examples, answered once when the server starts and then served from memory.

`precompute_examples()` runs in the warm-up thread after the default models have loaded (app.py).
For each example it asks exactly what the page asks when a visitor clicks it, with the page's
default settings (ui/page_inputs.py: one source of truth), under the same memory keys the page
reads (`ui.jobs.remembered`), and keeps each answer for good: an example click is then a look-up.
Each computation first gives way to visitors (`wait_until_idle`).

Generations are not `remembered` by the page (it follows a streaming job), so finished example
generations have their own small store, `example_generation`: the Generate click of an example
with its default settings gets the stored finished job (its GenerationStream and every step's
record) at once; any other prompt or setting generates live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import streamlit as st

from backend.attention.weights import submit_attention
from backend.generation.in_process import submit_generate
from backend.generation.token_steps import GenerationSettings
from backend.runtime.registry import default_model
from backend.runtime.scheduler import Job
from backend.runtime.warmup import wait_until_idle
from backend.text.classify import submit_classify
from backend.text.explain_text import submit_explain
from backend.text.specs import SENTIMENT, ClassifierSpec, zero_shot
from backend.text.teaching import teaching_set
from backend.vision.explain_image import layer_choices, submit_explain_image
from backend.vision.image_decoding import EXAMPLES as IMAGE_EXAMPLES
from backend.vision.image_decoding import example_image
from backend.vision.recognition import submit_recognise
from backend.vision.saliency import VIT_METHODS
from ui import page_inputs as inputs
from ui.jobs import remember_now

log = logging.getLogger("dashboard")
ATTENTION_MEMORY = 8  # pages/attention.py's `max_entries`: the same number names the same memory
FINISHED = ("end of answer", "max new tokens")  # not cut short by Stop or the time limit


def defaults(fields: list) -> dict[str, Any]:
    """A page's widget values before the visitor changes anything."""
    return {field.key: field.default for field in fields}


# -- classification: the answer, the same text through every classifier, the explanation
def classifier_for(values: Mapping[str, Any], model_key: str) -> ClassifierSpec:
    """The classifier the page builds from its widget values (offline encoder)."""
    if values["classify_mode"] == "sentiment":
        return SENTIMENT
    if values["classify_mode"] == "zero-shot":
        return zero_shot(values["classify_labels"], model_key)
    return teaching_set({"text": t, "label": lab} for t, lab in values[inputs.EXAMPLES_KEY]).spec(model_key)


def _classify_examples() -> int:
    model_key = default_model("classification").key
    page = defaults(inputs.classify())
    # The page's side-by-side table asks every classifier before it shows the explanation, zero-shot
    # with the labels in the box: the default ones, or those an earlier example left there.
    labels = dict.fromkeys([page["classify_labels"], *(e["classify_labels"] for e in inputs.CLASSIFY_EXAMPLES.values() if "classify_labels" in e)])
    everyone = [SENTIMENT, *(zero_shot(each, model_key) for each in labels), classifier_for(page | {"classify_mode": "taught"}, model_key)]
    done = 0
    for example in inputs.CLASSIFY_EXAMPLES.values():
        values = page | example
        text, chosen = values["classify_text"], classifier_for(values, model_key)
        for spec in dict.fromkeys([chosen, *everyone]):
            wait_until_idle()
            remember_now("classify", (text, spec), lambda spec=spec: submit_classify(text, spec))
            done += 1
        target, compare, steps = page["classify_target"] or None, page["classify_compare"], page["classify_steps"]
        wait_until_idle()
        remember_now(
            "classify-explain", (text, chosen, target, compare, steps),
            lambda: submit_explain(text, chosen, target, ("ig", compare), steps),
        )
        done += 1
    return done


# -- attention: the weights of each example under the default model
def _attention_examples() -> int:
    model_key = default_model("attention").key
    for example in inputs.ATTENTION_EXAMPLES.values():
        text = example["attention_text"]
        wait_until_idle()
        remember_now("attention", (text, model_key), lambda: submit_attention(text, model_key), max_entries=ATTENTION_MEMORY)
    return len(inputs.ATTENTION_EXAMPLES)


# -- image recognition: the top classes and the "Where it looked" tab's default maps
def image_explanation_key(image_id: Hashable, values: Mapping[str, Any], model_key: str) -> tuple:
    """The page's key for its default explanation (ui/image_sections.where_it_looked)."""
    layers, default_layer = layer_choices(model_key)
    if layers:
        methods: tuple[str, ...] = (values["recognise_cam"], values["recognise_pixel"])
        layer = values["recognise_layer"] or default_layer.name
    else:
        methods, layer = (*VIT_METHODS, values["recognise_pixel"]), None
    target = None if values["recognise_class"] == -1 else values["recognise_class"]
    return image_id, target, methods, layer, values["recognise_road"], model_key


def _image_examples() -> int:
    model_key = default_model("image").key
    page = defaults(inputs.recognise())
    for name in IMAGE_EXAMPLES:  # the default photo first
        image, image_id, top_k = example_image(name), ("example", name), page["recognise_top_k"]
        wait_until_idle()
        remember_now("recognise", (image_id, top_k, model_key), lambda: submit_recognise(image, top_k, model_key, request_key=image_id))
        key = image_explanation_key(image_id, page, model_key)
        _, target, methods, layer, road, _ = key
        wait_until_idle()
        remember_now("recognise_explain", key, lambda: submit_explain_image(
            image, target, methods, layer, road=road, model_key=model_key, request_key=image_id))
    return 2 * len(IMAGE_EXAMPLES)


# -- generation: finished example generations, kept for good
def generation_settings(values: Mapping[str, Any], remote: bool = False) -> GenerationSettings:
    """The settings the generation page's widgets say (their session-state values, or defaults)."""
    chat = bool(values["generate_chat"])
    return GenerationSettings(
        max_new_tokens=int(values["generate_max_tokens"]), temperature=float(values["generate_temperature"]),
        top_k=int(values["generate_top_k"]), top_p=float(values["generate_top_p"]),
        repetition_penalty=float(values["generate_repetition"]), seed=int(values["generate_seed"]), chat=chat,
        system_prompt=values["generate_system"] if chat else "", record_attention=bool(values["generate_attention"]) and not remote,
    )


def as_left_by_a_click(examples: Mapping[str, dict[str, Any]], page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each example's widget values as its click leaves them: the example's own, and in the fields
    it does not set, the page's default or what an earlier example set there ("Once upon a time"
    turns the chat template off, and the next example leaves it off)."""
    found = []
    for title, example in examples.items():
        variants = [page | example]
        for key in dict.fromkeys(k for other in examples.values() for k in other if k not in example):
            values = dict.fromkeys([page[key], *(other[key] for other in examples.values() if key in other)])
            variants = [v | {key: value} for v in variants for value in values]
        found += [(title, v) for v in variants]
    return found


def example_generations() -> dict[tuple[str, str, GenerationSettings], str]:
    """(model key, prompt, settings) of each example as its click leaves the page -> its title."""
    model_key = default_model("generation").key
    page = defaults(inputs.generate())
    return {
        (model_key, values["generate_prompt"], generation_settings(values)): title
        for title, values in as_left_by_a_click(inputs.GENERATE_EXAMPLES, page)
    }


class _FinishedGenerations:
    """Finished generations of the examples (bounded: only example keys are kept, and at most
    `max_entries`), each the finished job the page draws as it draws one it has just followed."""

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def keep_when_finished(self, key: Hashable, job: Job) -> None:
        def settle(ended: Job) -> None:
            if ended.state != "done" or ended.outcome().stop_reason not in FINISHED:
                return
            with self._lock:
                self._jobs[key] = ended
                self._jobs.move_to_end(key)
                while len(self._jobs) > self.max_entries:
                    self._jobs.popitem(last=False)

        job.on_finish(settle)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


@st.cache_resource(show_spinner=False)
def finished_generations() -> _FinishedGenerations:
    return _FinishedGenerations()


def example_generation(model_key: str, prompt: str, settings: GenerationSettings, submit: Callable[[], Job]) -> Job:
    """The stored finished generation when (model, prompt, settings) is an example's; else the job
    `submit()` queues, kept when it finishes if it is an example's."""
    key = (model_key, prompt, settings)
    store = finished_generations()
    found = store.get(key)
    if found is not None:
        return found
    job = submit()
    if key in example_generations():
        store.keep_when_finished(key, job)
    return job


def _generation_examples() -> int:
    keys = example_generations()
    for model_key, prompt, settings in keys:
        wait_until_idle()
        job = example_generation(model_key, prompt, settings, lambda: submit_generate(prompt, settings, model_key))
        job.wait()
        job.outcome()  # raises the generation's error
    return len(keys)


# Quickest first: a visitor is likelier to find the small pages' examples ready.
PAGES: dict[str, Callable[[], int]] = {
    "classification": _classify_examples,
    "attention": _attention_examples,
    "image recognition": _image_examples,
    "generation": _generation_examples,
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
