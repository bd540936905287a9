"""The attention page's views: the formula on the toy example, one head step by step with the
model's numbers, the heatmap, the model view, the head view and rollout."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

from backend.attention.attention_figures import (
    head_view_html,
    keys_figure,
    label,
    model_view,
    rollout_figure,
    step_bars,
    toy_figures,
    vector_figure,
    weights_heatmap,
)
from backend.attention.matrices import Window, head_matrix, rollout_matrix, view_matrix
from backend.attention.step_through import StepThrough, submit_step_through
from backend.attention.toy_example import (
    TOY_EMBEDDINGS,
    TOY_TOKENS,
    parse_matrix,
    toy_attention,
)
from backend.attention.weights import AttentionResult
from backend.room.questions import attention_question
from backend.runtime.registry import ModelSpec
from backend.shared.language import current, t
from ui.core.downloads import chart
from ui.core.jobs import mine, remembered
from ui.core.markdown import plain
from ui.core.presentation import presenting
from ui.core.request import Request
from ui.core.widgets import run_caption, shown_errors
from ui.room.ask import ask_the_room


def sent(*figures: go.Figure | str) -> str:
    """How much this view sends to the browser (figure JSON, or HTML); nothing while presenting."""
    if presenting():
        return ""
    size = sum(len(f if isinstance(f, str) else f.to_json()) for f in figures)
    return t("this view sent {size} KB to the browser", size=f"{size / 1024:.0f}")


def _caption(*parts: str) -> None:
    """Parts joined by ' · ' as one sentence, its first letter capitalised (and only that one)."""
    line = " · ".join(part for part in parts if part)
    if not line:
        return
    # TRANSLATORS: the full stop that ends a caption
    stop = t(".")
    st.caption(line[0].upper() + line[1:] + ("" if line.endswith((".", stop)) else stop))


def _title(layer: int, head: int | None, combine: str) -> str:
    if head is not None:
        return t("Layer {layer}, head {head}", layer=layer + 1, head=head + 1)
    if combine == "max":
        return t("Layer {layer}, max of all heads", layer=layer + 1)
    return t("Layer {layer}, mean of all heads", layer=layer + 1)


def heatmap(result: AttentionResult, layer: int, head: int | None, combine: str, hide: bool, window: Window) -> None:
    matrix = head_matrix(result, layer, head, combine)
    shown, tokens, _ = view_matrix(result, matrix, hide, window)
    fig = weights_heatmap(shown, tokens, _title(layer, head, combine), result.causal)
    chart(fig, "attention_chart", f"attention-layer{layer + 1}")
    notes = [sent(fig)]
    if hide:
        notes.append(t("special tokens hidden, each row renormalised to sum to 1"))
    if result.causal:
        notes.append(t("grey: hidden by the causal mask (a decoder token sees only itself and earlier tokens)"))
    _caption(*notes)


def _open_clicked() -> None:
    event = st.session_state.get("attention_model_view")
    points = getattr(getattr(event, "selection", None), "points", None) or []
    if points and points[0].get("customdata"):
        layer, head = points[0]["customdata"][:2]
        st.session_state["attention_layer"] = int(layer)
        st.session_state["attention_head"] = int(head)


def model_grid(result: AttentionResult, layer: int, head: int | None, combine: str, hide: bool, window: Window) -> None:
    weights = result.weights[:, :, window.start:window.stop, window.start:window.stop]
    fig = model_view(weights)
    chart(fig, "attention_model_view", "attention-model-view", on_select=_open_clicked, selection_mode="points")
    _caption(t("Click a cell to open that head below"), sent(fig))
    heatmap(result, layer, head, combine, hide, window)


def head_view(result: AttentionResult, layer: int, window: Window, hide: bool) -> None:
    c1, c2 = st.columns([3, 2])
    if "attention_head_view_heads" not in st.session_state:
        st.session_state["attention_head_view_heads"] = [0, 1] if result.n_heads > 1 else [0]
    heads = c1.multiselect(
        t("Heads"), list(range(result.n_heads)), key="attention_head_view_heads",
        format_func=lambda h: t("Head {head}", head=h + 1), help=t("Each head gets its own colour."),
    )
    if "attention_threshold" not in st.session_state:
        st.session_state["attention_threshold"] = 0.05  # all n² lines of every head would be a fog
    threshold = c2.slider(t("Hide lines below weight"), 0.0, 1.0, step=0.01, key="attention_threshold")
    if not heads:
        st.info(t("Pick one or more heads."), icon=":material/info:")
        return
    matrices, tokens = [], []
    for head in heads:
        shown, tokens, _ = view_matrix(result, result.weights[layer, head], hide, window)
        matrices.append(shown)
    page = head_view_html(tokens, np.stack(matrices), heads, threshold)
    components.html(page, height=80 + 26 * len(tokens), scrolling=True)
    _caption(t("Layer {layer}. Left: the token attending; right: the tokens it reads. Line thickness is the "
               "weight. Hover a token to keep only its lines", layer=layer + 1), sent(page))


def rollout(result: AttentionResult, hide: bool, window: Window) -> None:
    st.write(t(
        "One layer's attention only says where a token looked *in that layer*. Rollout follows information "
        "through all layers: each layer's mean attention plus the identity (the residual connection), "
        "renormalised, multiplied from the first layer to the last."
    ))
    rolled = rollout_matrix(result)
    raw = result.weights[-1].mean(axis=0)
    raw_shown, tokens, _ = view_matrix(result, raw, hide, window)
    rolled_shown, _, _ = view_matrix(result, rolled, hide, window)
    fig = rollout_figure(raw_shown, rolled_shown, tokens, result.causal)
    chart(fig, "attention_rollout", "attention-rollout")
    extra = t("In a decoder both stay below the diagonal: the causal mask (grey) keeps every token from "
              "reading later ones, and rollout cannot undo that.") if result.causal else ""
    _caption(sent(fig), extra)


def step_through_view(text: str, result: AttentionResult, spec: ModelSpec, layer: int, head: int | None, window: Window) -> None:
    if head is None:
        st.info(t("The step-through follows one head: pick a head above (now head 1)."), icon=":material/info:")
        head = 0
    positions = list(range(window.start, window.stop))
    default = min(positions[-1], window.start + 2)
    if st.session_state.get("attention_query") not in positions:
        st.session_state["attention_query"] = default
    query = st.selectbox(t("Query token"), positions, key="attention_query",
                         format_func=lambda i: f"{i + 1}: {label(result.tokens[i])}")
    with shown_errors():
        step: StepThrough = remembered(Request(
            "attention_steps", (text, layer, head, query, spec.key),
            lambda **owner: submit_step_through(text, layer, head, query, spec.key, **owner),
        ), **mine("attention", "steps"))
        _draw_steps(step, window)


def _draw_steps(step: StepThrough, window: Window) -> None:
    token = label(step.tokens[step.query])  # a piece of the visitor's text
    st.latex(r"\mathrm{output}_{q} = \sum_j \mathrm{softmax}_j\!\left(\frac{q \cdot k_j}{\sqrt{d_k}}\right) v_j"
             + rf"\qquad d_k = {step.d_k}")
    facts = [t("Layer {layer}, head {head}, query token {query} “{token}”.", layer=step.layer + 1, head=step.head + 1,
               query=step.query + 1, token=plain(token))]
    if step.kv_heads != step.heads:
        facts.append(t("Grouped-query attention: {heads} query heads share {kv_heads} key/value heads, {group} per "
                       "group, so query head {head} reads key/value head {kv_head}.", heads=step.heads,
                       kv_heads=step.kv_heads, group=step.heads // step.kv_heads, head=step.head + 1,
                       kv_head=step.kv_head + 1))
    if step.rotary:
        facts.append(t("Rotary position embedding: q and every k are rotated by their position after the projection, "
                       "as the model does, so q·k depends on how far apart the tokens are."))
    if step.normed:
        facts.append(t("This model also normalises each head's q and k (RMSNorm, with learned scales) right after "
                       "the projection, before the rotation: the vectors here are taken after that norm."))
    if step.causal:
        facts.append(t("Causal mask: keys after token {query} are hidden (−∞ before the softmax).", query=step.query + 1))
    st.write(" ".join(facts))
    if step.rotary:
        c1, c2 = st.columns(2)
        with c1:
            raw = t("1a. q from the projection, normalised") if step.normed else t("1a. q from the projection")
            chart(vector_figure(step.q_before_rotary, raw), "attention_step_q_raw", "query-raw")
        with c2:
            chart(vector_figure(step.q, t("1b. q after the rotary embedding")), "attention_step_q", "query")
    else:
        chart(vector_figure(step.q, t("1. The query q of “{token}”", token=token)), "attention_step_q", "query")
    shown = range(window.start, window.stop)  # the softmax runs over every token; the figures show the window
    chart(keys_figure(step, "keys", shown), "attention_step_keys", "keys")
    c1, c2 = st.columns(2)
    with c1:
        chart(step_bars(step, step.scores, t("2. q · k for every token"), shown), "attention_step_scores", "scores")
    with c2:
        scaled = t("3. divided by √{d_k} = {root}", d_k=step.d_k, root=f"{np.sqrt(step.d_k):.2f}")
        chart(step_bars(step, step.scaled, scaled, shown),
              "attention_step_scaled", "scaled")
    chart(step_bars(step, step.weights, t("4. softmax: the weights (they sum to 1)"), shown), "attention_step_weights", "weights")
    if window.size < len(step.tokens):
        outside = 1 - float(step.weights[window.start:window.stop].sum())
        st.caption(t("Tokens {first}–{last} of {n} are drawn; the softmax and the output use all of them. The weights "
                     "of the tokens outside the window add up to {outside}.", first=window.start + 1, last=window.stop,
                     n=len(step.tokens), outside=f"{outside:.3f}"))
    chart(keys_figure(step, "values", shown), "attention_step_values", "values")
    chart(vector_figure(step.output, t("5. Σ weight × v: the head's output for this token")), "attention_step_output", "head-output")
    c1, c2, c3 = st.columns(3)
    c1.metric(t("Largest difference, weights"), f"{step.weights_difference:.1e}",
              help=t("Against the model's own attention weights"))
    c2.metric(t("Largest difference, head output"), f"{step.output_difference:.1e}",
              help=t("Against the input of the model's output projection"))
    c3.metric(t("Step-through hooks left on the model"), step.hooks_left)
    run_caption(step.run)


def _table(name: str, default: list[list[float]], rows: list[str], columns: list[str]) -> list[list[object]]:
    frame = pd.DataFrame([[str(v) for v in row] for row in default], index=rows, columns=columns)
    edited = st.data_editor(frame, key=f"attention_toy_{name}", width="stretch",
                            column_config={c: st.column_config.TextColumn(c) for c in columns})
    return edited.to_numpy().tolist()


def toy_example() -> None:
    st.write(t(
        "The overview articles' example: 我爱学习编程 split into four tokens, each a 3-number embedding. Edit "
        "any cell (the projections start as the identity) and every step below follows."
    ))
    dims = ["d1", "d2", "d3"]
    identity = np.eye(3).tolist()
    c1, c2, c3, c4 = st.columns([4, 3, 3, 3])
    with c1:
        st.markdown(t("**X**: embeddings"))
        x = _table("x", [list(r) for r in TOY_EMBEDDINGS], list(TOY_TOKENS), dims)
    tables = {}
    for column, name in ((c2, "W_Q"), (c3, "W_K"), (c4, "W_V")):
        with column:
            st.markdown(f"**{name}**")
            tables[name] = _table(name.lower(), identity, dims, dims)
    if st.button(t("Back to the articles' numbers"), key="attention_toy_reset"):
        for name in ("x", "w_q", "w_k", "w_v"):
            st.session_state.pop(f"attention_toy_{name}", None)
        st.rerun()
    with shown_errors():
        steps = toy_attention(
            parse_matrix(x, "X", 3), parse_matrix(tables["W_Q"], "W_Q", 3), parse_matrix(tables["W_K"], "W_K", 3),
            parse_matrix(tables["W_V"], "W_V", 3),
        )
        figures = toy_figures(steps)
        c1, c2, c3 = st.columns(3)
        for column, key in ((c1, "q"), (c2, "k"), (c3, "v")):
            with column:
                chart(figures[key], f"attention_toy_fig_{key}", f"toy-{key}")
        c1, c2 = st.columns(2)
        with c1:
            chart(figures["scores"], "attention_toy_fig_scores", "toy-scores")
        with c2:
            chart(figures["scaled"], "attention_toy_fig_scaled", "toy-scaled")
        c1, c2 = st.columns(2)
        with c1:
            chart(figures["weights"], "attention_toy_fig_weights", "toy-weights")
        with c2:
            chart(figures["output"], "attention_toy_fig_output", "toy-output")
        first = steps.weights[0]
        favourite = [steps.tokens[int(i)] for i in steps.weights.argmax(axis=1)]
        st.caption(t(
            "Row “{token}”: its weights {weights} sum to {total}; its output is {output}. Each token's largest "
            "weight goes to: {favourites}.", token=steps.tokens[0], weights=", ".join(f"{w:.3f}" for w in first),
            total=f"{first.sum():.3f}", output=", ".join(f"{v:.3f}" for v in steps.output[0]),
            favourites=", ".join(f"{token} → {f}" for token, f in zip(steps.tokens, favourite, strict=True)),
        ))


def _chips(tokens: tuple[str, ...]) -> str:
    """Tokens as chips (escaped; a space shown as ·); [UNK] in orange."""
    out = []
    for token in tokens:
        shown = html.escape(token.replace(" ", "·") or "∅")
        colour = "#ffd8a8" if token == "[UNK]" else "#e7f0fb"
        out.append(f'<span style="background:{colour};border-radius:4px;padding:1px 5px;margin:2px;'
                   f'display:inline-block;font-family:monospace">{shown}</span>')
    return "".join(out)


def tokenizer_view(requests: list[Request]) -> None:
    """The text as each compared model cuts it: counts, unknown tokens, and the tokens themselves."""
    st.caption(t("An English WordPiece vocabulary turns most Chinese characters into [UNK], which the "
                 "encoder cannot read at all; a byte-level BPE reads any text, but spends two or three "
                 "tokens on one Chinese character (shown whole, with its parts marked 1/2, 2/2); a vocabulary "
                 "built from many languages holds whole Chinese words."))
    for i, request in enumerate(requests):
        with shown_errors():
            found = remembered(request, **mine("attention", f"cut-{i}"))
            st.markdown(t("**{model}**, {kind}: **{count}** tokens for {characters} characters, "
                          "{unknown} unknown ([UNK]).", model=plain(found.model), kind=t(found.kind),
                          count=found.count, characters=found.characters, unknown=found.unknown))
            st.html(f'<div style="line-height:2">{_chips(found.tokens)}</div>')


def ask_about(result: AttentionResult, layer: int, head: int | None, combine: str) -> None:
    """'Ask the room' which token a chosen token attends to most, in this layer and head."""
    choices = [i for i, token in enumerate(result.tokens) if token.strip()]
    if len(choices) < 3:
        return
    query = st.selectbox(t("Ask the room about the token"), choices, index=len(choices) - 1, key="attention_ask_token",
                         format_func=lambda i: f"{i + 1}: {result.tokens[i]}")
    which = t("head {head}", head=head + 1) if head is not None else t("all heads, combined")
    row = head_matrix(result, layer, head, combine)[query]
    ask_the_room("attention", lambda: attention_question(
        t("Layer {layer}, {which}: which token does “{token}” look at most?", layer=layer + 1, which=which,
          token=result.tokens[query]), result.tokens, row.tolist(), language=current()))

