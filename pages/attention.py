"""Attention visualizer: the softmax(QK^T/sqrt(d_k)) weights of every layer and head."""

import streamlit as st

from backend.attention import attention
from backend.figures import attention_heatmap
from ui.common import example_buttons, model_picker, run_caption, shown_errors

EXAMPLES = {
    "Coreference": {"attention_text": "The cat sat on the mat because it was tired."},
    "Bank (river)": {"attention_text": "She sat on the bank of the river and watched the water."},
    "Bank (money)": {"attention_text": "He went to the bank to deposit his salary."},
}


@st.cache_data(max_entries=64, show_spinner=False)
def cached_attention(text: str, model_key: str):
    # Sliders rerun the page; the weights for a (text, model) pair are computed once.
    return attention(text, model_key)


st.title("Attention visualizer")
st.write(
    "In self-attention each token builds a query *Q*, and compares it with every token's key *K*: "
    "the weights are softmax(*QKᵀ* / √*d*ₖ), one row per token, each row summing to 1. Those "
    "weights mix the tokens' values *V* into the token's new representation. Every layer has "
    "several heads, each free to look for something different."
)
st.latex(r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")

spec = model_picker("attention", key="attention_model")
st.session_state.setdefault("attention_text", EXAMPLES["Coreference"]["attention_text"])
example_buttons(EXAMPLES, key_prefix="attention")
text = st.text_input("Text", key="attention_text")

if text.strip():
    with shown_errors():
        result = cached_attention(text, spec.key)
        c1, c2 = st.columns(2)
        layer = c1.slider("Layer", 1, result.n_layers, 1, key=f"attention_layer_{spec.key}") - 1
        head_options = ["Mean of all heads"] + [f"Head {h + 1}" for h in range(result.n_heads)]
        head_choice = c2.selectbox("Head", head_options, key=f"attention_head_{spec.key}")
        head = None if head_choice == head_options[0] else head_options.index(head_choice) - 1
        st.plotly_chart(attention_heatmap(result, layer, head), key="attention_chart", theme=None)
        kind = "decoder: each token sees only itself and earlier tokens" if result.causal else "encoder: every token sees every token"
        st.caption(f"{len(result.tokens)} tokens · {result.n_layers} layers × {result.n_heads} heads · {kind}.")
        run_caption(result.run)
else:
    st.info("Type a sentence to see where the model looks.", icon=":material/keyboard:")
