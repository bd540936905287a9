"""Text generation: the decoder writes one token at a time, and the page shows how it chose each."""

import streamlit as st

from backend.generation.token_steps import time_limit_seconds
from backend.runtime.public_mode import limits
from backend.shared.language import t
from ui.core.jobs import mine
from ui.core.widgets import example_pills, model_picker, shown_errors
from ui.generate import request
from ui.generate.inputs import EXAMPLES, EXAMPLES_NOTE, IN_PROCESS, MAX_SEED, SERVER, engines
from ui.generate.kept import kept_or_submitted
from ui.generate.sections import answer
from ui.navigation import page_state

OFFERED = engines()
state = page_state("generate")
state.header(t("Text generation"))
state.restore()
st.write(t(
    "A decoder-only Transformer gives every token in its vocabulary a probability, picks one (the most likely "
    "at temperature 0, a random draw otherwise), appends it, and repeats. Each token below is coloured by the "
    "probability the model gave it; pick one to see the alternatives, where it looked, and what each layer guessed."
))
example_pills(EXAMPLES, key_prefix="generate", note=EXAMPLES_NOTE)  # before the widgets an example sets
engine = st.segmented_control(
    t("Engine"), OFFERED.engines, key="generate_engine", required=True,
    format_func=lambda e: t("In-process model") if e == IN_PROCESS else t("OpenAI-compatible server"),
)
remote = engine == SERVER
if remote and OFFERED.public:
    st.selectbox(
        t("Server"), OFFERED.server_names, key="generate_server",
        help=t(
            "The servers this deployment offers. The server samples; it returns each token's top alternatives "
            "(logprobs). One address may have {most} generation on the servers at a time here.",
            most=limits().server_generations_per_address,
        ),
    )
elif remote:
    st.text_input(
        t("Server: a configured name or a URL"), key="generate_server", placeholder="http://127.0.0.1:8080/v1",
        help=t(
            "llama.cpp's server, vLLM or TGI, by URL; or the name of a server this deployment configures. "
            "The server samples; it returns each token's top alternatives (logprobs). "
            "An API key is sent only to a configured server's own URL."
        ),
    )
    if OFFERED.server_names:
        st.caption(t("Configured: {names}", names=", ".join(f"`{name}`" for name in OFFERED.server_names)))
else:
    model_picker("generation", key="generate_model")
prompt = st.text_area(
    t("Prompt"), key="generate_prompt", height=100, max_chars=limits().text_chars,
    placeholder=t("Ask something, or click an example above."),
)
c1, c2, c3 = st.columns([2, 3, 2], vertical_alignment="center")
chat = c1.checkbox(
    t("Chat template"), key="generate_chat",
    help=t("Wrap the prompt as a user turn, as the instruct model was fine-tuned to expect. Off: raw completion."),
)
c2.text_input(t("System prompt (chat only)"), key="generate_system", disabled=not chat, placeholder=t("empty: the model's default"))
c3.checkbox(
    t("Record attention"), key="generate_attention", disabled=remote,
    help=t(
        "Keep, at every step, where the predicting position attended, so 'Where it looked' shows it live "
        "(prompt + new tokens at most {most} here). It costs little speed; "
        "without it the view runs one forward pass when opened.",
        most=limits().recorded_attention_tokens,
    ),
)
c1, c2, c3, c4, c5, c6 = st.columns(6)
c1.number_input(
    t("Max new tokens"), 1, OFFERED.max_new_tokens, key="generate_max_tokens",
    help=t("At most {most} here; a generation stops after {seconds} s.", most=OFFERED.max_new_tokens,
           seconds=f"{time_limit_seconds():.0f}"),
)
c2.number_input(t("Temperature"), 0.0, 2.0, step=0.1, key="generate_temperature",
                help=t("0 = greedy (always the most likely token)."))
c3.number_input(t("Top-k"), 0, 200, key="generate_top_k", help=t("Draw only from the k likeliest tokens; 0 = off."))
c4.number_input(t("Top-p"), 0.05, 1.0, step=0.05, key="generate_top_p",
                help=t("Draw only from the likeliest tokens that together reach p; 1 = off."))
c5.number_input(t("Repetition penalty"), 1.0, 2.0, step=0.05, key="generate_repetition",
                help=t("Above 1 makes tokens already in the text less likely."))
c6.number_input(t("Seed"), 0, MAX_SEED, step=1, key="generate_seed",
                help=t("Fixes the random draws: same seed and settings, same text."))
clicked = st.button(t("Generate"), key="generate_run", type="primary")

asked = request.generation(state.values())
job = st.session_state.get("generate_job")
opened_to_answer = state.opened_with.get("run") == "1" and job is None and prompt.strip()
if clicked or opened_to_answer:
    with shown_errors():
        # A second click while this session's generation runs returns that same generation; an
        # example with its default settings gets its finished generation, kept since start-up.
        job = kept_or_submitted(asked, **mine("generate"))
        st.session_state["generate_job"], st.session_state["generate_request"] = job, asked.key
        st.session_state.pop("generate_branch", None)
answered = job is not None and st.session_state.get("generate_request") == asked.key
state.publish({"run": "1"} if answered else None)
if job is not None:
    answer(job, answered)
