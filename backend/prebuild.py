"""The build-time warm-up: everything the app would otherwise make on a visitor's first click.

Run once while an image is built (`python -m backend.prebuild`, from `scripts/build_space_image.sh`),
so that a cold container answers each page within seconds and writes nothing:
- SmolLM2's GGUF converted to safetensors, and the sentiment head fitted (both in the cache folder);
- matplotlib's font list (its config folder), built on its first import;
- every default model exercised once by each page's own computation, so a file the image's pruning
  removed but a page needs fails the build instead of a visitor's request;
- the online models of public mode's allow-list (`DASHBOARD_ALLOWED_MODELS`) fetched into the Hub /
  torch caches when the builder is online, and reported as not fetched when it is not.

It prints one line per step and exits non-zero only when a default model fails.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from backend.attention.weights import attention
from backend.generation.in_process import generate
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import DashboardError
from backend.runtime.gguf_convert import ensure_converted
from backend.runtime.model_cache import get_model
from backend.runtime.registry import EFFICIENTNET, MINILM, SMOLLM2, allowed_keys
from backend.text.classify import classify
from backend.text.explain_text import explain_text
from backend.text.sentiment import sentiment_facts
from backend.vision.explain_image import explain_image
from backend.vision.image_decoding import EXAMPLES, example_image
from backend.vision.recognition import recognise


def _font_list() -> str:
    import matplotlib.font_manager

    return f"{len(matplotlib.font_manager.fontManager.ttflist)} fonts"


def _sentiment_head() -> str:
    facts = sentiment_facts(get_model(MINILM.key))
    return f"fitted on {facts.train_size} sentences, held-out accuracy {facts.accuracy().accuracy:.1%}"


def _classify_page() -> str:
    text = "The staff were friendly and the food was wonderful."
    answer = classify(text)[0]
    explanation = explain_text(text, steps=16)
    return f"{answer.label}, explained by {', '.join(a.method for a in explanation.attributions)}"


def _generate_page() -> str:
    settings = GenerationSettings(max_new_tokens=4, temperature=0, record_attention=True)
    stream = generate("What is the capital of France?", settings)
    return repr("".join(step.text for step in stream))


def _recognise_page() -> str:
    cat = example_image("Cat (Chelsea)")
    top = recognise(cat).top[0]
    explain_image(cat, methods=("gradcam", "ig"), steps=8)
    for name in EXAMPLES:  # each example photo decodes from the wheels it ships in
        example_image(name)
    return f"{top.label} ({top.probability:.2f}), {len(EXAMPLES)} example photos"


def _attention_page() -> str:
    shapes = [attention("The bank of the river.", key).n_layers for key in (MINILM.key, SMOLLM2.key)]
    return f"layers {shapes}"


def _fetch(key: str) -> Callable[[], str]:
    return lambda: get_model(key).spec.name


DEFAULT_STEPS: tuple[tuple[str, Callable[[], object]], ...] = (
    ("SmolLM2 converted", lambda: ensure_converted().name),
    ("matplotlib font list", _font_list),
    ("sentiment head", _sentiment_head),
    ("text classification", _classify_page),
    ("text generation", _generate_page),
    ("image recognition", _recognise_page),
    ("attention", _attention_page),
    ("EfficientNet", lambda: get_model(EFFICIENTNET.key).spec.name),
)


def _run(name: str, step: Callable[[], object]) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        outcome = step()
    except DashboardError as error:
        return False, f"{name}: not ready ({error})"
    return True, f"{name}: {outcome} [{time.perf_counter() - started:.1f} s]"


def main() -> int:
    failed = 0
    for name, step in DEFAULT_STEPS:
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
