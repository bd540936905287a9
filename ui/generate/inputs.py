"""The generation page's inputs (what its link can say), its examples, and the engines it offers."""

from __future__ import annotations

from dataclasses import dataclass

from backend.generation.engines import configured_engines
from backend.runtime.public_mode import is_public, limits
from backend.shared.language import n_
from ui.core.state import (
    Field,
    bool_field,
    choice_field,
    float_field,
    int_field,
    text_field,
)
from ui.core.widgets import model_field

EXTRAS = ("run",)  # run=1: the link was copied from a page showing an answer; answer it again
# The titles are the pills' values (marked for the catalogue; the pills translate what they show).
# The prompts stay English: the models read English best.
EXAMPLES = {
    n_("Once upon a time"): {"generate_prompt": "Once upon a time", "generate_chat": False},
    n_("Explain attention"): {"generate_prompt": "Explain self-attention in a Transformer in two sentences.", "generate_chat": True},
    n_("Capital of France"): {"generate_prompt": "What is the capital of France?", "generate_chat": True},
    n_("Haiku"): {"generate_prompt": "Write a haiku about autumn leaves.", "generate_chat": True},
    n_("In Chinese"): {"generate_prompt": "用一句话解释什么是注意力机制。", "generate_chat": True},
    n_("In Chinese (Gemma 3)"): {"generate_engine": "in-process", "generate_model": "gemma3-270m", "generate_prompt": "人工智能是一门研究",
                                 "generate_chat": False},
}
EXAMPLES_NOTE = n_("SmolLM2-135M learned mostly from English text: the English examples show what it can do, and "
                   "“In Chinese” how little Chinese it learned. Gemma 3 270M learned from many languages and "
                   "continues a Chinese sentence; it is pretrained only (no chat template), so it continues text "
                   "rather than answering. It loads when first picked (1 GB, a few seconds).")
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


def fields() -> list[Field]:
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
