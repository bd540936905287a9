"""A ready-made talk: seven views through the four pages, about ten minutes in all.

Each view is a link with the page's own link parameters (each page's `inputs.py`), so the deck panel,
the deck's export and the Home page's list all open the same views. The minutes are in the titles.
"""

from __future__ import annotations

from backend.shared.language import n_, t
from ui.attention.inputs import EXAMPLES as ATTENTION_EXAMPLES
from ui.classify.inputs import EXAMPLES as CLASSIFY_EXAMPLES
from ui.classify.inputs import TOPICS
from ui.generate.inputs import EXAMPLES as GENERATE_EXAMPLES
from ui.talk.deck import Deck, checked_view, view_link

_COREFERENCE = ATTENTION_EXAMPLES["Coreference"]["attention_text"]

# (title, page, link parameters, what to say while it is on screen): titles and notes in English
# (a deck's data, the same for everyone); `shown_title` and `t(note)` where a visitor reads them
_VIEWS: tuple[tuple[str, str, dict[str, str], str], ...] = (
    (n_("1 · Sentiment, and why (2 min)"), "classify",
     {"classifier": "sentiment", "text": CLASSIFY_EXAMPLES["Not bad at all"]["classify_text"]},
     n_("A frozen pretrained encoder plus a small trained head: pretraining, then fine-tuning. A negation is a hard "
        "case: the token attributions show which words decided the label, the faithfulness table how far to trust them.")),
    (n_("2 · Zero-shot topics, nothing trained (1 min)"), "classify",
     {"classifier": "zero-shot", "text": CLASSIFY_EXAMPLES["Football final"]["classify_text"], "labels": TOPICS},
     n_("The same encoder compares the text with the label names: change the labels and it still answers.")),
    (n_("3 · Attention, the formula on a toy example (1 min)"), "attention",
     {"view": "The formula on a toy example"},
     n_("softmax(QKᵀ/√dₖ)V step by step on four tokens: every row of weights sums to 1.")),
    (n_("4 · Where does “it” look? (2 min)"), "attention",
     {"text": _COREFERENCE, "layer": "5", "view": "Heatmap"},
     n_("A real encoder's attention, layer 5, all heads combined; then try the head view and rollout.")),
    (n_("5 · Generation, one token at a time (2 min)"), "generate",
     {"prompt": GENERATE_EXAMPLES["Capital of France"]["generate_prompt"], "temperature": "0", "max_tokens": "24", "seed": "0"},
     n_("Click Generate. Greedy decoding: pick ' Paris' to see its probability, the alternatives, and the logit lens.")),
    (n_("6 · Same model, hotter (1 min)"), "generate",
     {"prompt": GENERATE_EXAMPLES["Haiku"]["generate_prompt"], "temperature": "1", "max_tokens": "40", "seed": "7"},
     n_("Click Generate. Temperature 1 with a fixed seed: the alternatives before and after the filters, and what a different token would change.")),
    (n_("7 · What a CNN sees (1 min)"), "recognise",
     {"example": "Cat (Chelsea)"},
     n_("Top-5 ImageNet classes, then where it looked (Grad-CAM, checked with ROAD) and its feature maps.")),
)

DEMO_DECK = Deck(
    n_("How AI models work: a 10-minute demo"),
    tuple(checked_view(title, view_link(page, params)) for title, page, params, _ in _VIEWS),
)
DEMO_NOTES: tuple[str, ...] = tuple(note for *_, note in _VIEWS)
DEMO_MINUTES = 10
_TITLES = frozenset((DEMO_DECK.title, *(view.title for view in DEMO_DECK.views)))


def shown_title(title: str) -> str:
    """A deck's or a view's title as the visitor reads it: the demo deck's own titles in their
    language, any other title (a visitor's own) as written."""
    return t(title) if title in _TITLES else title
