"""Everything a first visitor would otherwise wait for: made at build time, paid at server start.

`python -m ui.startup.first_calls` runs once while an image is built (`scripts/build_space_image.sh`),
so that a cold container answers each page within seconds and writes nothing:
- SmolLM2's and Gemma 3's GGUF files converted to safetensors, the sentiment head fitted, and the
  learning page's sentence vectors computed (all in the cache folder);
- matplotlib's font list (its config folder), built on its first import;
- every default model exercised once by each page's own request (the page's `request.py`), so a
  file the image's pruning removed but a page needs fails the build instead of a visitor's request;
  Gemma 3 (no page's default) likewise, with the tokenizer view that reads its tokenizer alone;
- the online models of public mode's allow-list (`DASHBOARD_ALLOWED_MODELS`) fetched into the Hub /
  torch caches when the builder is online, and reported as not fetched when it is not.

It prints one line per step and exits non-zero only when a default model fails.

`exercise` runs a short version of each page's request once when the server starts (app.py),
as soon as the page's model has loaded and no visitor's request computes: what a process
pays on the first call of each (Captum's and grad-cam's first use, oneDNN's kernels, the sentiment
head read from disk) is then paid before the first visitor asks, not by them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from backend.runtime.errors import DashboardError
from backend.learning.fine_tuning import features as fine_tuning_features
from backend.runtime.gguf_convert import GEMMA3_GGUF, ensure_converted
from backend.runtime.model_cache import get_model
from backend.runtime.registry import EFFICIENTNET, GEMMA3, MINILM, SMOLLM2, allowed_keys
from backend.text.sentiment import sentiment_facts
from backend.vision.image_decoding import EXAMPLES
from ui.attention import inputs as attention_inputs
from ui.attention import request as attention_request
from ui.classify import inputs as classify_inputs
from ui.classify import request as classify_request
from ui.core.request import Request
from ui.core.state import defaults
from ui.generate import inputs as generate_inputs
from ui.generate import request as generate_request
from ui.recognise import inputs as recognise_inputs
from ui.recognise import request as recognise_request
from ui.startup.model_loading import wait_until_idle

log = logging.getLogger(__name__)


def _answer(request: Request) -> Any:
    job = request.submit()
    job.wait()
    return job.outcome()


def _font_list() -> str:
    import matplotlib.font_manager  # its first import builds the font list: that is the step

    return f"{len(matplotlib.font_manager.fontManager.ttflist)} fonts"


def _sentiment_head() -> str:
    facts = sentiment_facts(get_model(MINILM.key))
    return f"fitted on {facts.train_size} sentences, held-out accuracy {facts.accuracy().accuracy:.1%}"


def _classify_page(light: bool = False) -> str:
    values = defaults(classify_inputs.fields()) | {"classify_text": "The staff were friendly and the food was wonderful."}
    if light:
        values["classify_steps"] = 4
    chosen = classify_request.classifier(values)
    answer = _answer(classify_request.answer(values["classify_text"], chosen))
    explanation = _answer(classify_request.explanation(values, chosen, [s.label for s in answer.scores]))
    return f"{answer.label}, explained by {', '.join(a.method for a in explanation.attributions)}"


def _generate_page(light: bool = False) -> str:
    values = defaults(generate_inputs.fields()) | {
        "generate_prompt": "What is the capital of France?", "generate_max_tokens": 2 if light else 4,
        "generate_temperature": 0.0, "generate_attention": not light,
    }
    stream = _answer(generate_request.generation(values))
    return repr("".join(step.text for step in stream.steps))


def _gemma() -> str:
    """Gemma 3 on the pages that offer it: a short generation, its attention, the tokenizer view."""
    values = defaults(generate_inputs.fields()) | {
        "generate_model": GEMMA3.key, "generate_prompt": "人工智能是", "generate_max_tokens": 2, "generate_temperature": 0.0,
    }
    stream = _answer(generate_request.generation(values))
    page = defaults(attention_inputs.fields()) | {"attention_text": "我爱学习编程。", "attention_model": GEMMA3.key}
    layers = _answer(attention_request.weights(page)).n_layers
    counts = [_answer(request).count for request in attention_request.cuts(page["attention_text"])]
    return f"{''.join(step.text for step in stream.steps)!r}, {layers} layers, tokens per tokenizer {counts}"


def _recognise_page(light: bool = False) -> str:
    values = defaults(recognise_inputs.fields()) | {"recognise_example": "Cat (Chelsea)"}
    if light:  # one backward pass for the pixel map, and no ROAD: the model is held briefly
        values |= {"recognise_pixel": "gxi", "recognise_road": False}
    image, image_id = recognise_request.example(values)
    top = _answer(recognise_request.recognition(values, image, image_id)).top[0]
    _answer(recognise_request.explanation(values, image, image_id))  # the page's default methods (and ROAD)
    if light:
        return top.label
    for name in EXAMPLES:  # each example photo decodes from the wheels it ships in
        recognise_request.example(values | {"recognise_example": name})
    return f"{top.label} ({top.probability:.2f}), {len(EXAMPLES)} example photos"


def _attention_page() -> str:
    page = defaults(attention_inputs.fields()) | {"attention_text": "The bank of the river."}
    shapes = [_answer(attention_request.weights(page | {"attention_model": key})).n_layers for key in (MINILM.key, SMOLLM2.key)]
    return f"layers {shapes}"


def _fetch(key: str) -> Callable[[], str]:
    return lambda: get_model(key).spec.name


Steps = tuple[tuple[str, Callable[[], object]], ...]
# Each page's default computation, quickest model first (the order the warm-up loads them in).
PAGE_STEPS: Steps = (
    ("sentiment head", _sentiment_head),
    ("text classification", _classify_page),
    ("image recognition", _recognise_page),
    ("text generation", _generate_page),
    ("attention", _attention_page),
)
BUILD_STEPS: Steps = (
    ("SmolLM2 converted", lambda: ensure_converted().name),
    ("Gemma 3 converted", lambda: ensure_converted(GEMMA3_GGUF).name),
    ("matplotlib font list", _font_list),
    *PAGE_STEPS,
    ("Gemma 3", _gemma),
    ("fine-tuning features", lambda: f"{len(fine_tuning_features()['targets'][0])} training sentences, three kinds"),
    ("EfficientNet", lambda: get_model(EFFICIENTNET.key).spec.name),
)


def _run(name: str, step: Callable[[], object]) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        outcome = step()
    except DashboardError as error:
        return False, f"{name}: not ready ({error})"
    return True, f"{name}: {outcome} [{time.perf_counter() - started:.1f} s]"


# At server start, short versions of the same calls, each run as soon as its model has loaded: each
# holds its model for under a second, so a visitor who arrives meanwhile hardly waits, and the
# first-call costs are paid all the same.
LIGHT_STEPS: dict[str, Steps] = {
    MINILM.key: (("sentiment head", _sentiment_head), ("text classification", lambda: _classify_page(light=True))),
    EFFICIENTNET.key: (("image recognition", lambda: _recognise_page(light=True)),),
    SMOLLM2.key: (("text generation", lambda: _generate_page(light=True)), ("attention", _attention_page)),
}


def exercise(model_key: str) -> None:
    """The pages' computations on a model that has just loaded, once, briefly, each when no
    visitor's request computes (server start; errors are left to the pages)."""
    for name, step in LIGHT_STEPS.get(model_key, ()):
        wait_until_idle()
        try:
            log.info("Warm start: %s", _run(name, step)[1])
        except Exception:  # the page that needs it shows its own message
            log.exception("Warm start: %s failed", name)


def main() -> int:
    failed = 0
    for name, step in BUILD_STEPS:
        ok, line = _run(name, step)
        failed += not ok
        print(line, flush=True)
    for key in allowed_keys():
        ok, line = _run(f"allowed model {key}", _fetch(key))
        # An allowed model that cannot be fetched (an offline builder) is reported, not fatal:
        # the page says so when a visitor picks it.
        print(line if ok else f"{line} - not fetched", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
