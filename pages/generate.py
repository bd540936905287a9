"""Text generation: the decoder writes one token at a time, and the page shows how it chose each."""

import streamlit as st

from backend.generation.engines import choose_engine
from backend.generation.generation_figures import legend_html
from backend.generation.in_process import GenerationStream, submit_generate
from backend.generation.openai_engine import submit_remote
from backend.generation.token_steps import GenerationSettings
from backend.runtime.public_mode import limits
from ui import page_inputs as inputs
from ui.common import (
    example_pills,
    model_picker,
    run_caption,
    shown_errors,
)
from ui.generation_sections import (
    alternatives,
    draw_steps,
    follow,
    lens,
    pick_step,
    what_if,
    where_it_looked,
)
from ui.instant_examples import example_generation
from ui.jobs import mine, session_id
from ui.state import PageState

EXAMPLES, IN_PROCESS, SERVER = inputs.GENERATE_EXAMPLES, inputs.IN_PROCESS, inputs.SERVER
OFFERED = inputs.engines()
ENGINES, SERVER_NAMES, PUBLIC, MAX_TOKENS = OFFERED.engines, OFFERED.server_names, OFFERED.public, OFFERED.max_new_tokens
MAX_SEED = inputs.MAX_SEED

state = PageState("generate", inputs.generate(), extras=inputs.EXTRAS["generate"])
state.header("Text generation")
state.restore()
st.write(
    "A decoder-only Transformer gives every token in its vocabulary a probability, picks one (the most likely "
    "at temperature 0, a random draw otherwise), appends it, and repeats. Each token below is coloured by the "
    "probability the model gave it; pick one to see the alternatives, where it looked, and what each layer guessed."
)

engine = st.segmented_control(
    "Engine", ENGINES, key="generate_engine", required=True,
    format_func=lambda e: "In-process model" if e == IN_PROCESS else "OpenAI-compatible server",
)
remote = engine == SERVER
if remote and PUBLIC:
    server = st.selectbox(
        "Server", SERVER_NAMES, key="generate_server",
        help="The servers this deployment offers. The server samples; it returns each token's top alternatives (logprobs).",
    )
    spec = None
elif remote:
    server = st.text_input(
        "Server: a configured name or a URL", key="generate_server", placeholder="http://127.0.0.1:8080/v1",
        help="llama.cpp's server, vLLM or TGI, by URL; or the name of a server configured in the environment "
        "(README: Serving). The server samples; it returns each token's top alternatives (logprobs). "
        "An API key is sent only to a configured server's own URL.",
    )
    if SERVER_NAMES:
        st.caption("Configured: " + ", ".join(f"`{name}`" for name in SERVER_NAMES))
    spec = None
else:
    spec = model_picker("generation", key="generate_model")
example_pills(EXAMPLES, key_prefix="generate")
prompt = st.text_area("Prompt", key="generate_prompt", height=100, max_chars=limits().text_chars, placeholder="Ask something, or click an example above.")
c1, c2, c3 = st.columns([2, 3, 2], vertical_alignment="center")
chat = c1.checkbox("Chat template", key="generate_chat", help="Wrap the prompt as a user turn, as the instruct model was fine-tuned to expect. Off: raw completion.")
system = c2.text_input("System prompt (chat only)", key="generate_system", disabled=not chat, placeholder="empty: the model's default")
record = c3.checkbox(
    "Record attention", key="generate_attention", disabled=remote,
    help="Keep, at every step, where the predicting position attended, so 'Where it looked' shows it live "
    f"(prompt + new tokens at most {limits().recorded_attention_tokens} here). "
    "Measured at 0–4% speed here (bench/generation.py); without it the view runs one forward pass when opened.",
)
c1, c2, c3, c4, c5, c6 = st.columns(6)
max_new_tokens = c1.number_input("Max new tokens", 1, MAX_TOKENS, key="generate_max_tokens", help=f"At most {MAX_TOKENS} here.")
temperature = c2.number_input("Temperature", 0.0, 2.0, step=0.1, key="generate_temperature", help="0 = greedy (always the most likely token).")
top_k = c3.number_input("Top-k", 0, 200, key="generate_top_k", help="Draw only from the k likeliest tokens; 0 = off.")
top_p = c4.number_input("Top-p", 0.05, 1.0, step=0.05, key="generate_top_p", help="Draw only from the likeliest tokens that together reach p; 1 = off.")
repetition = c5.number_input("Repetition penalty", 1.0, 2.0, step=0.05, key="generate_repetition", help="Above 1 makes tokens already in the text less likely.")
seed = c6.number_input("Seed", 0, MAX_SEED, step=1, key="generate_seed", help="Fixes the random draws: same seed and settings, same text.")
clicked = st.button("Generate", key="generate_run", type="primary")

settings = GenerationSettings(
    max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
    repetition_penalty=float(repetition), seed=int(seed), chat=chat, system_prompt=system if chat else "",
    record_attention=record and not remote,
)
request = (engine, server if remote else spec.key, prompt, settings)
job = st.session_state.get("generate_job")
opened_to_answer = state.opened_with.get("run") == "1" and job is None and prompt.strip()
if clicked or opened_to_answer:
    with shown_errors():
        # A second click while this session's generation runs returns that same generation.
        if remote:
            job = submit_remote(choose_engine(server), prompt, settings, **mine("generate"))
        else:  # an example with its default settings: its finished generation, kept since start-up
            job = example_generation(spec.key, prompt, settings, lambda: submit_generate(prompt, settings, spec.key, **mine("generate")))
        st.session_state["generate_job"], st.session_state["generate_request"] = job, request
        st.session_state.pop("generate_branch", None)
answered = job is not None and st.session_state.get("generate_request") == request
state.publish({"run": "1"} if answered else None)


def _stop(job) -> None:
    """Stop following: the generation ends unless others who opened the same link still follow it."""
    if not job.leave(session_id()):
        st.session_state["generate_left"] = job.id


if job is not None:
    st.html(legend_html())
    box = st.empty()
    if job.active and st.session_state.get("generate_left") == job.id:
        draw_steps(box, list(job.pieces), True)
        st.info(f"Stopped for you after {len(job.pieces)} tokens. The same generation goes on for the others who opened "
                "this link; click Generate for your own.", icon=":material/stop_circle:")
        st.stop()
    if job.active:
        stop = st.empty()
        stop.button("Stop", key="generate_stop", icon=":material/stop_circle:", on_click=_stop, args=(job,))
        if len(job.owners) > 1:
            st.caption(f"{len(job.owners)} visitors follow this same generation (same prompt and settings, one run).")
        follow(job, box)
        stop.empty()
    if job.state == "cancelled" and not job.pieces:
        st.info("You left the page while waiting, so your place in line was given up. Click Generate again.", icon=":material/logout:")
    else:
        with shown_errors():
            stream = job.outcome()
            step_at = pick_step(stream.steps, f"generate_step_{job.id}") if stream.steps else None
            draw_steps(box, stream.steps, True, step_at)
            if stream.run is not None:
                run_caption(stream.run, f"**Stopped by:** {stream.stop_reason}")
            if not answered:
                st.caption("The settings above changed since this answer: click Generate for a new one.")
            if step_at is not None:
                step = stream.steps[step_at]
                in_process = isinstance(stream, GenerationStream)
                # on_change="rerun": only the open tab's code runs, and the open tab survives reruns
                alt, looked, lens_tab, branch = st.tabs(
                    ["Alternatives", "Where it looked", "Logit lens", "What if"], key="generate_view", on_change="rerun"
                )
                if alt.open:
                    with alt:
                        alternatives(step, stream.settings, remote=not in_process)
                elif not in_process:
                    st.info("This view needs the in-process model: a server sends tokens and their odds, "
                            "not attention, gradients or hidden states.", icon=":material/dns:")
                elif looked.open:
                    with looked:
                        where_it_looked(stream, step)
                elif lens_tab.open:
                    with lens_tab:
                        lens(stream, step)
                elif branch.open:
                    with branch:
                        what_if(stream, step)
