"""The classification page's backend calls, built from its input values (no Streamlit).

`values` is the page's widget values by key (`ui.classify.inputs.fields()`): the page passes its
session state, the start-up examples and the static site pass a link's or the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backend.runtime.errors import InputError
from backend.runtime.registry import MODELS
from backend.shared.language import t
from backend.text.classify import submit_classify
from backend.text.explain_text import submit_explain
from backend.text.specs import SENTIMENT, ClassifierSpec, zero_shot
from backend.text.teaching import teaching_set
from ui.classify.inputs import EXAMPLES_KEY
from ui.core.request import Request


def classifier(values: Mapping[str, Any]) -> ClassifierSpec:
    """The classifier the inputs choose: a fine-tuned Hub model's own head, or the encoder with the
    built-in sentiment head, zero-shot labels, or a head taught by the examples table. Raises
    `InputError` when the labels or examples cannot be used."""
    model = MODELS[values["classify_model"]]
    if model.kind == "sequence-classifier":
        return ClassifierSpec("fine-tuned", model.key)
    if values["classify_mode"] == "sentiment":
        return SENTIMENT
    if values["classify_mode"] == "zero-shot":
        return zero_shot(values["classify_labels"], model.key)
    return teaching_set({"text": text, "label": lab} for text, lab in values[EXAMPLES_KEY]).spec(model.key)


def every_classifier(values: Mapping[str, Any]) -> dict[str, ClassifierSpec]:
    """The page's side-by-side table: the built-in head, zero-shot with the labels typed, and the
    head taught by the table, each when its inputs can be used (by name, in the current language)."""
    specs = {}
    for name, mode in ((t("Built-in sentiment"), "sentiment"),
                       (t("Zero-shot ({labels})", labels=values["classify_labels"][:40]), "zero-shot"),
                       (t("Taught by your examples"), "taught")):
        try:
            specs[name] = classifier({**values, "classify_mode": mode})
        except InputError:
            pass
    return specs


def answer(text: str, chosen: ClassifierSpec) -> Request:
    """The label probabilities of `text` under `chosen` (the page's answer, and each row of its
    side-by-side table)."""
    return Request("classify", (text, chosen), lambda **owner: submit_classify(text, chosen, **owner))


def explanation(values: Mapping[str, Any], chosen: ClassifierSpec, labels: Sequence[str]) -> Request:
    """Integrated Gradients beside the compared method, for the asked label when the answer has it
    (else the predicted one)."""
    text, compare, steps = values["classify_text"], values["classify_compare"], int(values["classify_steps"])
    target = values["classify_target"] if values["classify_target"] in labels else None
    return Request(
        "classify-explain", (text, chosen, target, compare, steps),
        lambda **owner: submit_explain(text, chosen, target, ("ig", compare), steps, **owner),
    )
