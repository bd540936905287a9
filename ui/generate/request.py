"""The generation page's backend call, built from its input values (no Streamlit).

`values` is the page's widget values by key (`ui.generate.inputs.fields()`). A generation is not
kept in the shared memory of answers (the page follows it as it streams); its key says which
answer a page shows, and names the examples' finished generations kept since start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.generation.engines import choose_engine
from backend.generation.in_process import submit_generate
from backend.generation.openai_engine import submit_remote
from backend.generation.token_steps import GenerationSettings
from ui.core.request import Request
from ui.generate.inputs import SERVER


def is_remote(values: Mapping[str, Any]) -> bool:
    return values["generate_engine"] == SERVER


def settings(values: Mapping[str, Any]) -> GenerationSettings:
    """The sampling settings the inputs say (attention is recorded only by the in-process model)."""
    chat = bool(values["generate_chat"])
    return GenerationSettings(
        max_new_tokens=int(values["generate_max_tokens"]), temperature=float(values["generate_temperature"]),
        top_k=int(values["generate_top_k"]), top_p=float(values["generate_top_p"]),
        repetition_penalty=float(values["generate_repetition"]), seed=int(values["generate_seed"]), chat=chat,
        system_prompt=values["generate_system"] if chat else "",
        record_attention=bool(values["generate_attention"]) and not is_remote(values),
    )


def generation(values: Mapping[str, Any]) -> Request:
    """The prompt's generation on the chosen engine: the in-process model, or a server by name
    or (laptop mode) URL. Key: (engine, model key or server, prompt, settings)."""
    prompt, chosen = values["generate_prompt"], settings(values)
    if is_remote(values):
        server = values["generate_server"]
        return Request("generate", (SERVER, server, prompt, chosen),
                       lambda **owner: submit_remote(choose_engine(server), prompt, chosen, **owner))
    model_key = values["generate_model"]
    return Request("generate", (values["generate_engine"], model_key, prompt, chosen),
                   lambda **owner: submit_generate(prompt, chosen, model_key, **owner))
