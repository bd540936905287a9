"""The attention page's inputs (what its link can say), its examples and views."""

from __future__ import annotations

from backend.attention.weights import MAX_TOKENS
from backend.shared.language import n_
from ui.core.state import Field, bool_field, choice_field, int_field, text_field
from ui.core.widgets import model_field

# Names and views are English inside (session state, links); t() translates them where they are shown.
EXAMPLES = {
    n_("Coreference"): {"attention_text": "The cat sat on the mat because it was tired."},
    n_("Bank (river)"): {"attention_text": "She sat on the bank of the river and watched the water."},
    n_("Bank (money)"): {"attention_text": "He went to the bank to deposit his salary."},
    n_("Chinese (SmolLM2)"): {"attention_text": "我爱学习编程，因为它很有趣。", "attention_model": "smollm2-135m"},
    n_("Chinese (Gemma 3)"): {"attention_text": "我爱学习编程，因为它很有趣。", "attention_model": "gemma3-270m"},
}
EXAMPLES_NOTE = n_("The English examples suit every model; the Chinese ones open SmolLM2, whose byte-level tokens "
                   "spell any character but learned little Chinese, and Gemma 3, whose vocabulary from many "
                   "languages holds whole Chinese words (MiniLM reads most Chinese characters as [UNK]). Gemma 3 "
                   "loads when first picked (1 GB, a few seconds).")
VIEWS = [n_("Heatmap"), n_("Model view"), n_("Head view"), n_("Rollout"), n_("Step through one head"),
         n_("The formula on a toy example")]
COMBINE = {"mean": n_("mean"), "max": n_("max")}  # how the heads of a layer combine: option -> its name
MAX_LAYERS = MAX_HEADS = 64  # what a link may ask for; the model's own sizes are checked on the page


def fields() -> list[Field]:
    return [
        model_field("attention", "attention_model"),
        text_field("attention_text", "text", default=EXAMPLES["Coreference"]["attention_text"]),
        int_field("attention_layer", "layer", 1, 1, MAX_LAYERS),
        int_field("attention_head", "head", 0, 0, MAX_HEADS),  # 0: all heads, combined
        choice_field("attention_combine", "combine", list(COMBINE)),
        bool_field("attention_hide_special", "hide_special", False),
        int_field("attention_start", "start", 1, 1, MAX_TOKENS),
        int_field("attention_query", "query", 3, 0, MAX_TOKENS),
        choice_field("attention_view", "view", VIEWS),
    ]
