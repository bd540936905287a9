"""Each page's inputs (what its link can say) and its example buttons, in one place.

The pages draw their widgets from these lists; the talk deck's static export and the start-up
computation of the examples read the same lists, so a link means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.attention.weights import MAX_TOKENS
from backend.generation.engines import configured_engines
from backend.runtime.public_mode import is_public, limits
from backend.shared.token_attributions import DEFAULT_STEPS, MAX_STEPS
from backend.text.specs import DEFAULT_LABELS
from backend.text.teaching import STARTER_EXAMPLES
from backend.vision.cnn_inside import MAX_CHANNELS
from backend.vision.image_decoding import EXAMPLES as IMAGE_EXAMPLES
from backend.vision.recognition import MAX_TOP_K
from backend.vision.saliency import CAM_METHODS, PIXEL_METHODS
from ui.common import model_field
from ui.state import Field, bool_field, choice_field, float_field, int_field, text_field
from ui.text_sections import EXAMPLES_KEY, dump_examples, parse_examples

# -- text classification
CLASSIFY_MODES = {"sentiment": "Built-in sentiment", "zero-shot": "Zero-shot labels", "taught": "Teach by examples"}
TOPICS = "sports, business, politics, science"
CLASSIFY_EXAMPLES = {
    "Wonderful movie": {"classify_mode": "sentiment", "classify_text": "This movie was wonderful, the cast is brilliant and I loved every minute."},
    "Terrible service": {"classify_mode": "sentiment", "classify_text": "The food was cold and the waiter was rude. Never again."},
    "Not bad at all": {"classify_mode": "sentiment", "classify_text": "Honestly, the hotel was not bad at all."},
    "Football final": {"classify_mode": "zero-shot", "classify_text": "Messi scored twice in the final and the crowd went wild.", "classify_labels": TOPICS},
    "Earnings report": {"classify_mode": "zero-shot", "classify_text": "Shares of the company fell after its quarterly earnings report.", "classify_labels": TOPICS},
    "Support tickets": {"classify_mode": "taught", "classify_text": "I was charged twice for one order, please fix this."},
}
STARTER_ROWS = [list(row) for row in STARTER_EXAMPLES]


def classify() -> list[Field]:
    return [
        model_field("classification", "classify_model"),
        choice_field("classify_mode", "classifier", list(CLASSIFY_MODES)),
        text_field("classify_text", "text", default=CLASSIFY_EXAMPLES["Wonderful movie"]["classify_text"]),
        text_field("classify_labels", "labels", default=", ".join(DEFAULT_LABELS), max_chars=4000),
        Field(EXAMPLES_KEY, "examples", STARTER_ROWS, parse_examples, dump_examples),
        text_field("classify_target", "explain", default="", max_chars=200),
        choice_field("classify_compare", "compare", ["loo", "gxi"]),
        int_field("classify_steps", "steps", DEFAULT_STEPS, 1, min(MAX_STEPS, limits().ig_steps)),
    ]

# -- text generation
GENERATE_EXAMPLES = {
    "Once upon a time": {"generate_prompt": "Once upon a time", "generate_chat": False},
    "Explain attention": {"generate_prompt": "Explain self-attention in a Transformer in two sentences.", "generate_chat": True},
    "Capital of France": {"generate_prompt": "What is the capital of France?", "generate_chat": True},
    "Haiku": {"generate_prompt": "Write a haiku about autumn leaves.", "generate_chat": True},
}
MAX_SEED = 2**32 - 1
IN_PROCESS, SERVER = "in-process", "server"


@dataclass(frozen=True)
class Engines:
    """What the generation page offers: read from the environment on each run (tests change it)."""

    public: bool
    server_names: list[str]  # never their URLs or keys
    engines: list[str]
    max_new_tokens: int


def engines() -> Engines:
    public = is_public()
    names = [engine.name for engine in configured_engines()]
    offered = [IN_PROCESS, SERVER] if names or not public else [IN_PROCESS]
    return Engines(public, names, offered, limits().new_tokens // 2 if not public else limits().new_tokens)


def generate() -> list[Field]:
    e = engines()
    return [
        choice_field("generate_engine", "engine", e.engines),
        model_field("generation", "generate_model"),
        # public mode: a configured server's name only; a laptop: a name or a URL
        choice_field("generate_server", "server", e.server_names) if e.public and e.server_names
        else text_field("generate_server", "server", e.server_names[0] if e.server_names else "", max_chars=500),
        text_field("generate_prompt", "prompt"),
        text_field("generate_system", "system", max_chars=4000),
        int_field("generate_max_tokens", "max_tokens", 96, 1, e.max_new_tokens),
        float_field("generate_temperature", "temperature", 0.3, 0.0, 2.0),
        int_field("generate_top_k", "top_k", 0, 0, 200),
        float_field("generate_top_p", "top_p", 0.95, 0.05, 1.0),
        float_field("generate_repetition", "repetition", 1.0, 1.0, 2.0),
        bool_field("generate_chat", "chat", True),
        int_field("generate_seed", "seed", 0, 0, MAX_SEED),
        bool_field("generate_attention", "attention", False),
    ]

# -- image recognition
IMAGE_SOURCES = ("Example photo", "Upload", "Camera")


def recognise() -> list[Field]:
    return [
        model_field("image", "recognise_model"),
        text_field("recognise_model_id", "model_id", max_chars=160),
        choice_field("recognise_source", "source", IMAGE_SOURCES),
        choice_field("recognise_example", "example", list(IMAGE_EXAMPLES)),
        int_field("recognise_top_k", "top", 5, 1, MAX_TOP_K),
        int_field("recognise_class", "class", -1, -1, 99_999),
        choice_field("recognise_cam", "cam", list(CAM_METHODS)),
        choice_field("recognise_pixel", "pixel", list(PIXEL_METHODS)),
        text_field("recognise_layer", "layer", max_chars=100),
        float_field("recognise_opacity", "opacity", 0.5, 0.0, 1.0),
        bool_field("recognise_road", "road", True),
        bool_field("recognise_compare", "compare", False),
        int_field("recognise_channels", "channels", 8, 1, MAX_CHANNELS),
    ]

# -- attention
ATTENTION_EXAMPLES = {
    "Coreference": {"attention_text": "The cat sat on the mat because it was tired."},
    "Bank (river)": {"attention_text": "She sat on the bank of the river and watched the water."},
    "Bank (money)": {"attention_text": "He went to the bank to deposit his salary."},
}
ATTENTION_VIEWS = ["Heatmap", "Model view", "Head view", "Rollout", "Step through one head", "The formula on a toy example"]
MAX_LAYERS = MAX_HEADS = 64  # what a link may ask for; the model's own sizes are checked on the page


def attention() -> list[Field]:
    return [
        model_field("attention", "attention_model"),
        text_field("attention_text", "text", default=ATTENTION_EXAMPLES["Coreference"]["attention_text"]),
        int_field("attention_layer", "layer", 1, 1, MAX_LAYERS),
        int_field("attention_head", "head", 0, 0, MAX_HEADS),  # 0: all heads, combined
        choice_field("attention_combine", "combine", ["mean", "max"]),
        bool_field("attention_hide_special", "hide_special", False),
        int_field("attention_start", "start", 1, 1, MAX_TOKENS),
        int_field("attention_query", "query", 3, 0, MAX_TOKENS),
        choice_field("attention_view", "view", ATTENTION_VIEWS),
    ]

FIELDS = {"classify": classify, "generate": generate, "recognise": recognise, "attention": attention}
EXTRAS = {"generate": ["run"]}  # run=1: the link was copied from a page showing an answer; answer it again
