"""Attention visualizer: the softmax(QK^T/sqrt(d_k)) weights of every layer and head."""

import streamlit as st

from backend.attention import submit_attention
from backend.figures import attention_heatmap
from ui.common import example_buttons, model_field, model_picker, run_caption, shown_errors
from ui.jobs import mine, remembered
from ui.state import PageState, int_field, text_field

EXAMPLES = {
    "Coreference": {"attention_text": "The cat sat on the mat because it was tired."},
    "Bank (river)": {"attention_text": "She sat on the bank of the river and watched the water."},
    "Bank (money)": {"attention_text": "He went to the bank to deposit his salary."},
}
MAX_LAYERS = MAX_HEADS = 64  # what a link may ask for; the model's own sizes are checked below

state = PageState(
    "attention",
    [
        model_field("attention", "attention_model"),
        text_field("attention_text", "text", default=EXAMPLES["Coreference"]["attention_text"]),
        int_field("attention_layer", "layer", 1, 1, MAX_LAYERS),
        int_field("attention_head", "head", 0, 0, MAX_HEADS),  # 0: the mean of all heads
    ],
)
state.header("Attention visualizer")
state.restore()
st.write(
    "In self-attention each token builds a query *Q*, and compares it with every token's key *K*: "
    "the weights are softmax(*QKᵀ* / √*d*ₖ), one row per token, each row summing to 1. Those "
    "weights mix the tokens' values *V* into the token's new representation. Every layer has "
    "several heads, each free to look for something different."
)
st.latex(r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")

spec = model_picker("attention", key="attention_model")
example_buttons(EXAMPLES, key_prefix="attention")
text = st.text_input("Text", key="attention_text")
state.publish()

if text.strip():
    with shown_errors():
        # Sliders rerun the page; the weights for a (text, model) pair are computed once.
        result = remembered("attention", (text, spec.key), lambda: submit_attention(text, spec.key, **mine("attention")))
        for key, size, what in (("attention_layer", result.n_layers, "layers"), ("attention_head", result.n_heads, "heads")):
            if st.session_state[key] > size:  # from a link, or kept from a bigger model
                state.note(f"{spec.name} has {size} {what}; showing the last one instead of {st.session_state[key]}.")
                st.session_state[key] = size
        c1, c2 = st.columns(2)
        layer = c1.slider("Layer", 1, result.n_layers, key="attention_layer") - 1
        head_choice = c2.selectbox(
            "Head", range(result.n_heads + 1), key="attention_head",
            format_func=lambda h: f"Head {h}" if h else "Mean of all heads",
        )
        head = head_choice - 1 if head_choice else None
        state.publish()
        st.plotly_chart(attention_heatmap(result, layer, head), key="attention_chart", theme=None)
        kind = "decoder: each token sees only itself and earlier tokens" if result.causal else "encoder: every token sees every token"
        st.caption(f"{len(result.tokens)} tokens · {result.n_layers} layers × {result.n_heads} heads · {kind}.")
        run_caption(result.run)
else:
    st.info("Type a sentence to see where the model looks.", icon=":material/keyboard:")
