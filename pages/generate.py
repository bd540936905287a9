"""Text generation: the decoder writes one token at a time, and the page shows them as they come."""

import streamlit as st

from backend.generate import MAX_NEW_TOKENS, GenerationSettings, submit_generate
from ui.common import example_buttons, model_field, model_picker, run_caption, shown_errors
from ui.jobs import mine, stream_pieces
from ui.state import PageState, bool_field, float_field, int_field, text_field

EXAMPLES = {
    "Once upon a time": {"generate_prompt": "Once upon a time"},
    "Explain attention": {"generate_prompt": "Explain self-attention in a Transformer in two sentences."},
    "Capital of France": {"generate_prompt": "What is the capital of France?"},
    "Haiku": {"generate_prompt": "Write a haiku about autumn leaves."},
}
MAX_SEED = 2**32 - 1

state = PageState(
    "generate",
    [
        model_field("generation", "generate_model"),
        text_field("generate_prompt", "prompt"),
        int_field("generate_max_tokens", "max_tokens", 96, 1, MAX_NEW_TOKENS // 2),
        float_field("generate_temperature", "temperature", 0.3, 0.0, 1.5),
        bool_field("generate_chat", "chat", True),
        int_field("generate_seed", "seed", 0, 0, MAX_SEED),
    ],
    extras=["run"],  # run=1: the link was copied from a page showing an answer; answer it again
)
state.header("Text generation")
state.restore()
st.write(
    "A decoder-only Transformer predicts a probability for every token in its vocabulary, "
    "picks one (the most likely at temperature 0, a random draw otherwise), appends it, and "
    "repeats. Temperature divides the scores before the softmax: low is safe, high is adventurous. "
    "The same seed and settings give the same text."
)

spec = model_picker("generation", key="generate_model")
example_buttons(EXAMPLES, key_prefix="generate")
prompt = st.text_area("Prompt", key="generate_prompt", height=100, placeholder="Ask something, or click an example above.")
c1, c2, c3, c4 = st.columns([3, 3, 2, 2], vertical_alignment="center")
max_new_tokens = c1.slider("Max new tokens", 1, MAX_NEW_TOKENS // 2, key="generate_max_tokens")
temperature = c2.slider("Temperature", 0.0, 1.5, step=0.05, key="generate_temperature", help="0 = greedy (always the most likely token).")
seed = c3.number_input("Seed", 0, MAX_SEED, step=1, key="generate_seed", help="Fixes the random draws: same seed and settings, same text.")
chat = c4.checkbox("Use the chat template", key="generate_chat", help="Wrap the prompt as a user turn, as the instruct model was fine-tuned to expect.")
clicked = st.button("Generate", key="generate_run", type="primary")

settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, seed=int(seed), chat=chat)
request = (spec.key, prompt, settings)
job = st.session_state.get("generate_job")
opened_to_answer = state.opened_with.get("run") == "1" and job is None and prompt.strip()
if clicked or opened_to_answer:
    with shown_errors():
        # A second click while this session's generation runs returns that same generation.
        job = submit_generate(prompt, settings, spec.key, **mine("generate"))
        st.session_state["generate_job"], st.session_state["generate_request"] = job, request
answered = job is not None and st.session_state.get("generate_request") == request
state.publish({"run": "1"} if answered else None)

if job is not None:
    if job.active:
        stop = st.empty()
        stop.button("Stop", key="generate_stop", icon=":material/stop_circle:", on_click=job.cancel)
        with st.container(border=True):
            st.write_stream(stream_pieces(job))
        job.wait()
        stop.empty()
    elif job.state == "cancelled":
        st.info("You left the page while waiting, so your place in line was given up. Click Generate again.", icon=":material/logout:")
    else:
        with st.container(border=True):
            st.markdown("".join(job.pieces))
    if job.state != "cancelled":
        with shown_errors():
            last = job.outcome()
            if last.run is not None:
                run_caption(
                    last.run,
                    f"**Tokens:** {last.new_tokens} ({last.tokens_per_second:.1f}/s) · **Stopped by:** {last.stop_reason}",
                )
    if not answered:
        st.caption("The settings above changed since this answer: click Generate for a new one.")
