"""The classification page's inputs (what its link can say) and its examples."""

from __future__ import annotations

import json

from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.shared.language import n_
from backend.shared.token_attributions import DEFAULT_STEPS, MAX_STEPS
from backend.text.specs import DEFAULT_LABELS
from backend.text.teaching import MAX_EXAMPLES, STARTER_EXAMPLES
from ui.core.state import Field, choice_field, int_field, text_field
from ui.core.widgets import model_field

EXAMPLES_KEY = "classify_examples"  # the teaching rows: [[text, label], ...]


def parse_examples(raw: str) -> list[list[str]]:
    """The teaching table from a link: a JSON list of [text, label] pairs, no longer in all than
    one typed text may be (each example is then checked as a text: `teaching_set`)."""
    most = limits().text_chars
    if len(raw) > most:  # InputError is a ValueError that translates where the notice is shown
        raise InputError("{count:,} characters; a link's examples may have at most {most:,}", count=len(raw), most=most)
    try:
        rows = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: lists nested thousands deep
        raise InputError("not a list of [text, label] pairs") from None
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 2 and all(isinstance(v, str) for v in r) for r in rows
    ):
        raise InputError("not a list of [text, label] pairs")
    if len(rows) > MAX_EXAMPLES:
        raise InputError("more than {most} examples", most=MAX_EXAMPLES)
    return rows


def dump_examples(rows: list[list[str]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


MODES = {"sentiment": n_("Built-in sentiment"), "zero-shot": n_("Zero-shot labels"), "taught": n_("Teach by examples")}
TOPICS = "sports, business, politics, science"
# The example names are keys (the pill's value, a deck's `example=`): `t(name)` where one is shown.
# The texts and labels stay English: they are what the English encoder reads.
EXAMPLES = {
    n_("Wonderful movie"): {"classify_mode": "sentiment", "classify_text": "This movie was wonderful, the cast is brilliant and I loved every minute."},
    n_("Terrible service"): {"classify_mode": "sentiment", "classify_text": "The food was cold and the waiter was rude. Never again."},
    n_("Not bad at all"): {"classify_mode": "sentiment", "classify_text": "Honestly, the hotel was not bad at all."},
    n_("Football final"): {"classify_mode": "zero-shot", "classify_text": "Messi scored twice in the final and the crowd went wild.", "classify_labels": TOPICS},
    n_("Earnings report"): {"classify_mode": "zero-shot", "classify_text": "Shares of the company fell after its quarterly earnings report.", "classify_labels": TOPICS},
    n_("Support tickets"): {"classify_mode": "taught", "classify_text": "I was charged twice for one order, please fix this."},
    n_("In Chinese (it cannot read it)"): {"classify_mode": "sentiment", "classify_text": "这部电影太精彩了，我非常喜欢！"},
}
# Which languages the examples are in, and why (shown under them).
EXAMPLES_NOTE = n_("The examples are in English: MiniLM's vocabulary is English, and most Chinese characters are "
                   "unknown to it. The Chinese example shows what the page says then.")
STARTER_ROWS = [list(row) for row in STARTER_EXAMPLES]


def fields() -> list[Field]:
    return [
        model_field("classification", "classify_model"),
        choice_field("classify_mode", "classifier", list(MODES)),
        text_field("classify_text", "text", default=EXAMPLES["Wonderful movie"]["classify_text"]),
        text_field("classify_labels", "labels", default=", ".join(DEFAULT_LABELS), max_chars=4000),
        Field(EXAMPLES_KEY, "examples", STARTER_ROWS, parse_examples, dump_examples),
        text_field("classify_target", "explain", default="", max_chars=200),
        choice_field("classify_compare", "compare", ["loo", "gxi"]),
        int_field("classify_steps", "steps", DEFAULT_STEPS, 1, min(MAX_STEPS, limits().ig_steps)),
    ]
