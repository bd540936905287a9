"""Text generation: the decoder writes one token at a time, and the page shows them as they come."""

import streamlit as st

from backend.generate import MAX_NEW_TOKENS, GenerationSettings, generate
from ui.common import example_buttons, model_picker, run_caption, shown_errors

EXAMPLES = {
    "Once upon a time": {"generate_prompt": "Once upon a time"},
    "Explain attention": {"generate_prompt": "Explain self-attention in a Transformer in two sentences."},
    "Capital of France": {"generate_prompt": "What is the capital of France?"},
    "Haiku": {"generate_prompt": "Write a haiku about autumn leaves."},
}

st.title("Text generation")
st.write(
    "A decoder-only Transformer predicts a probability for every token in its vocabulary, "
    "picks one (the most likely at temperature 0, a random draw otherwise), appends it, and "
    "repeats. Temperature divides the scores before the softmax: low is safe, high is adventurous."
)

spec = model_picker("generation", key="generate_model")
example_buttons(EXAMPLES, key_prefix="generate")
prompt = st.text_area("Prompt", key="generate_prompt", height=100, placeholder="Ask something, or click an example above.")
c1, c2, c3 = st.columns(3)
max_new_tokens = c1.slider("Max new tokens", 1, MAX_NEW_TOKENS // 2, 96, key="generate_max_tokens")
temperature = c2.slider("Temperature", 0.0, 1.5, 0.3, 0.05, key="generate_temperature", help="0 = greedy (always the most likely token).")
chat = c3.checkbox("Use the chat template", True, key="generate_chat", help="Wrap the prompt as a user turn, as the instruct model was fine-tuned to expect.")
clicked = st.button("Generate", key="generate_run", type="primary")

if clicked:
    st.session_state.pop("generate_last", None)
    with shown_errors():
        stream = generate(prompt, GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, chat=chat), spec.key)
        with st.container(border=True):
            st.write_stream(stream)
        # Kept so the answer survives the next rerun (moving a slider, switching pages).
        st.session_state["generate_last"] = stream
elif "generate_last" in st.session_state:
    with st.container(border=True):
        st.markdown(st.session_state["generate_last"].text)

last = st.session_state.get("generate_last")
if last is not None and last.run is not None:
    run_caption(
        last.run,
        f"**Tokens:** {last.new_tokens} ({last.tokens_per_second:.1f}/s) · **Stopped by:** {last.stop_reason}",
    )
