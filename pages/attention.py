"""Attention visualizer: softmax(QKᵀ/√d_k) V from a toy example to every head of a real model."""

import streamlit as st

from backend.attention.matrices import VIEW_TOKENS, tensor_npz, window_for
from backend.attention.weights import MAX_TOKENS
from backend.runtime.public_mode import limits
from backend.shared.language import n_, t
from ui.attention import request
from ui.attention.inputs import COMBINE, EXAMPLES, EXAMPLES_NOTE, VIEWS
from ui.attention.sections import (
    ask_about,
    head_view,
    heatmap,
    model_grid,
    rollout,
    step_through_view,
    tokenizer_view,
    toy_example,
)
from ui.core.jobs import mine, remembered
from ui.core.widgets import example_pills, model_picker, run_caption, shown_errors, view_tabs
from ui.navigation import page_state

state = page_state("attention")
state.header(t("Attention visualizer"))
state.restore()
st.write(t(
    "In self-attention each token builds a query *Q*, and compares it with every token's key *K*: "
    "the weights are softmax(*QKᵀ* / √*d*ₖ), one row per token, each row summing to 1. Those "
    "weights mix the tokens' values *V* into the token's new representation. Every layer has "
    "several heads, each free to look for something different."
))
st.latex(r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")

example_pills(EXAMPLES, key_prefix="attention", note=EXAMPLES_NOTE)  # before the widgets an example sets
spec = model_picker("attention", key="attention_model")
text = st.text_input(
    t("Text"), key="attention_text", max_chars=limits().text_chars,
    help=t("Up to {most} tokens here; views show {shown} at a time.", most=min(MAX_TOKENS, limits().text_tokens),
           shown=VIEW_TOKENS),
)

if text.strip():
    with st.expander(t("How each model cuts this text into tokens"), icon=":material/content_cut:"):
        tokenizer_view(request.cuts(text))

toy = st.session_state.get("attention_view") == VIEWS[-1]  # the toy example needs no model
result = None
if text.strip() and not toy:
    with shown_errors():
        # Sliders rerun the page; the weights for a (text, model) pair are computed once.
        result = remembered(request.weights(state.values()), **mine("attention"))
        too_many = {
            "attention_layer": (result.n_layers,
                                n_("{model} has {size} layers; showing the last one instead of {asked}.")),
            "attention_head": (result.n_heads,
                               n_("{model} has {size} heads; showing the last one instead of {asked}.")),
        }
        for key, (size, message) in too_many.items():
            if st.session_state[key] > size:  # from a link, or kept from a bigger model
                state.note(t(message, model=spec.name, size=size, asked=st.session_state[key]))
                st.session_state[key] = size
        n = len(result.tokens)
        start = 0
        if n > VIEW_TOKENS:
            st.warning(t("The text is {n} tokens; each view shows {shown} at a time. Slide the window to move "
                         "through it (the model still read the whole text).", n=n, shown=VIEW_TOKENS),
                       icon=":material/width:")
            st.session_state["attention_start"] = min(st.session_state["attention_start"], n - VIEW_TOKENS + 1)
            start = st.slider(t("First token shown"), 1, n - VIEW_TOKENS + 1, key="attention_start") - 1
        window = window_for(n, start)
        c1, c2, c3, c4 = st.columns([3, 3, 2, 2])
        layer = c1.slider(t("Layer"), 1, result.n_layers, key="attention_layer") - 1
        head_choice = c2.selectbox(
            t("Head"), range(result.n_heads + 1), key="attention_head",
            format_func=lambda h: t("Head {head}", head=h) if h else t("All heads, combined"),
        )
        head = head_choice - 1 if head_choice else None
        combine = c3.segmented_control(t("Combine heads by"), list(COMBINE), key="attention_combine", required=True,
                                       format_func=lambda c: t(COMBINE[c]), disabled=head is not None)
        hide = c4.toggle(t("Hide special tokens"), key="attention_hide_special",
                         help=t("Leave out [CLS], [SEP] and the like, and renormalise each row to sum to 1."))
state.publish()


tabs, _ = view_tabs("attention", VIEWS)
if toy:
    with tabs[-1]:
        toy_example()
elif result is not None:
    views = {
        0: lambda: heatmap(result, layer, head, combine, hide, window),
        1: lambda: model_grid(result, layer, head, combine, hide, window),
        2: lambda: head_view(result, layer, window, hide),
        3: lambda: rollout(result, hide, window),
        4: lambda: step_through_view(text, result, spec, layer, head, window),
    }
    for index, draw in views.items():
        if tabs[index].open:
            with tabs[index], shown_errors():
                draw()
    with shown_errors():
        ask_about(result, layer, head, combine)
    sizes = {"n": n, "layers": result.n_layers, "heads": result.n_heads}
    if result.causal:
        st.caption(t("{n} tokens · {layers} layers × {heads} heads · decoder: each token sees only itself and "
                     "earlier tokens.", **sizes))
    else:
        st.caption(t("{n} tokens · {layers} layers × {heads} heads · encoder: every token sees every token.", **sizes))
    st.download_button(
        t("Attention tensor (NPZ)"), data=lambda: tensor_npz(result, window), key="attention_npz",
        file_name="attention.npz", mime="application/octet-stream", on_click="ignore", icon=":material/download:",
        help=t("weights[layer, head, query, key] for the {n} tokens in view, with the tokens.", n=window.size),
    )
    run_caption(result.run)
elif not text.strip():
    st.info(t("Type a sentence to see where the model looks."), icon=":material/keyboard:")
