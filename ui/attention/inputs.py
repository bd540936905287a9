"""The attention page's inputs (what its link can say), its examples and views."""

from __future__ import annotations

from backend.attention.weights import MAX_TOKENS
from ui.core.state import Field, bool_field, choice_field, int_field, text_field
from ui.core.widgets import model_field

EXAMPLES = {
    "Coreference": {"attention_text": "The cat sat on the mat because it was tired."},
    "Bank (river)": {"attention_text": "She sat on the bank of the river and watched the water."},
    "Bank (money)": {"attention_text": "He went to the bank to deposit his salary."},
}
VIEWS = ["Heatmap", "Model view", "Head view", "Rollout", "Step through one head", "The formula on a toy example"]
MAX_LAYERS = MAX_HEADS = 64  # what a link may ask for; the model's own sizes are checked on the page


def fields() -> list[Field]:
    return [
        model_field("attention", "attention_model"),
        text_field("attention_text", "text", default=EXAMPLES["Coreference"]["attention_text"]),
        int_field("attention_layer", "layer", 1, 1, MAX_LAYERS),
        int_field("attention_head", "head", 0, 0, MAX_HEADS),  # 0: all heads, combined
        choice_field("attention_combine", "combine", ["mean", "max"]),
        bool_field("attention_hide_special", "hide_special", False),
        int_field("attention_start", "start", 1, 1, MAX_TOKENS),
        int_field("attention_query", "query", 3, 0, MAX_TOKENS),
        choice_field("attention_view", "view", VIEWS),
    ]
