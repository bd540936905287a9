"""Figures and HTML for the generation page: pure functions of the steps, never displayed here."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.generation.logit_lens import LogitLens
from backend.generation.token_steps import Candidate, Step
from backend.shared.language import t
from backend.shared.plotting import FONT_SIZE, HEATMAP_SCALE, styled
from backend.shared.tokens import characters

CHOSEN = "#1f5fbf"
OTHER = "#9db4d6"
REMOVED = "#d9480f"


def shown(token: str) -> str:
    """A token as a label: spaces and line breaks made visible."""
    return token.replace("\n", "↵").replace("\t", "⇥") if token.strip() else repr(token)[1:-1] or "∅"


def _probability_colour(p: float) -> str:
    """Likely tokens pale, unlikely ones strong orange: the eye goes to the surprises."""
    if np.isnan(p):
        return "rgba(200,200,200,0.3)"
    strength = 1.0 - min(max(p, 0.0), 1.0)
    return f"rgba(217,72,15,{0.06 + 0.74 * strength ** 1.5:.2f})"


def _tooltip(step: Step) -> str:
    top = ", ".join(f"{shown(c.text)} {c.probability:.0%}" for c in step.before[:3])
    parts = [
        f"#{step.index + 1} p={step.probability:.1%}",
        t("rank {rank}", rank=step.rank) if step.rank else t("rank > listed"),
        t("forced") if step.forced else "",
        t("top: {tokens}", tokens=top),
    ]
    return " · ".join(part for part in parts if part)


def step_texts(steps: Sequence[Step]) -> list[str]:
    """Each step's token as text, read as characters across the steps when the tokenizer is byte
    level (a Chinese character split over two tokens shows on the second, and "字 1/2" on the
    first: `backend/shared/tokens.characters`); an end marker as ⟨end⟩."""
    if steps and all(step.raw is not None for step in steps):
        texts = characters([step.raw for step in steps])
    else:
        texts = [step.text for step in steps]
    return ["⟨end⟩" if step.special else text for step, text in zip(steps, texts, strict=True)]


def steps_html(steps: Sequence[Step], selected: int | None = None) -> str:
    """The generated text, each token coloured by the model's probability for it (escaped)."""
    spans = []
    for step, text in zip(steps, step_texts(steps), strict=True):
        body = html.escape(text).replace("\n", "↵<br>")
        style = f"background:{_probability_colour(step.probability)};border-radius:3px;padding:1px 0;"
        if step.special:
            style += "color:#666;font-size:0.8em;"
        if step.forced:
            style += "outline:2px dashed #862e9c;"
        if step.index == selected:
            style += "box-shadow:0 0 0 2px #1f5fbf;"
        spans.append(f'<span title="{html.escape(_tooltip(step), quote=True)}" style="{style}">{body}</span>')
    return f'<div style="font-size:1.25rem;line-height:1.9;white-space:pre-wrap">{"".join(spans)}</div>'


def legend_html() -> str:
    cells = "".join(
        f'<span style="background:{_probability_colour(p)};padding:1px 6px;border-radius:3px">{p:.0%}</span> '
        for p in (1.0, 0.75, 0.5, 0.25, 0.05)
    )
    said = t("Colour = the model's probability for the token it wrote: {cells}", cells=cells)
    return f'<div style="font-size:0.9rem">{said}</div>'


def alternatives_chart(step: Step) -> go.Figure:
    """The top candidates before sampling (the model) and after (what the draw could pick)."""
    order: list[Candidate] = list(step.before)
    known = {c.token_id for c in order}
    order += [c for c in step.after if c.token_id not in known]
    after = {c.token_id: c.probability for c in step.after}
    after_text = [f"{after[c.token_id]:.1%}" if c.token_id in after else t("removed") for c in order]
    labels = [f"{shown(c.text)}" + (" ✔" if c.token_id == step.token_id and c.text == step.text else "") for c in order]
    fig = go.Figure()
    fig.add_bar(
        y=labels, x=[c.probability for c in order], orientation="h", name=t("model (before sampling)"),
        marker_color=[CHOSEN if c.token_id == step.token_id and c.text == step.text else OTHER for c in order],
        text=[f"{c.probability:.1%}" for c in order], textposition="outside",
    )
    if step.after:
        fig.add_bar(
            y=labels, x=[after.get(c.token_id, 0.0) for c in order], orientation="h",
            name=t("after temperature / top-k / top-p"),
            marker_color=REMOVED, opacity=0.75, text=after_text, textposition="outside",
        )
    fig.update_layout(barmode="group", yaxis={"autorange": "reversed"}, xaxis={"range": [0, 1.18], "tickformat": ".0%"},
                      legend={"orientation": "h", "y": -0.12})
    title = t("Step {step}: the candidates for the next token", step=step.index + 1)
    return styled(fig, title, height=170 + 52 * len(order))


def weights_html(tokens: Sequence[str], weights: np.ndarray, n_prompt: int) -> str:
    """Context tokens shaded by a weight (attention or attribution), prompt and output apart."""
    peak = float(np.abs(weights).max()) or 1.0
    spans = []
    for i, (token, w) in enumerate(zip(tokens, weights, strict=True)):
        strength = min(1.0, abs(float(w)) / peak)
        rgb = "31,95,191" if w >= 0 else "217,72,15"
        if i == n_prompt:
            spans.append('<span style="color:#888"> ‖ </span>')
        body = html.escape(token).replace("\n", "↵<br>")
        spans.append(
            f'<span title="{float(w):+.4f}" style="background:rgba({rgb},{0.05 + 0.8 * strength:.2f});'
            f'color:{"#fff" if strength > 0.6 else "#111"};border-radius:3px">{body}</span>'
        )
    return f'<div style="font-size:1.1rem;line-height:1.9;white-space:pre-wrap">{"".join(spans)}</div>'


def looked_chart(tokens: Sequence[str], attention: np.ndarray, n_prompt: int, target: str,
                 attribution: dict[int, float] | None = None, what: str = "") -> go.Figure:
    """Attention of the predicting position over the context (and, when given, IG scores). `what`
    names the layers and heads shown, in the reader's language."""
    what = what or t("mean over heads")
    labels = [f"{i}:{shown(token)}" for i, token in enumerate(tokens)]
    colours = [OTHER if i < n_prompt else CHOSEN for i in range(len(tokens))]
    rows = 2 if attribution is not None else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[t("attention ({what})", what=what), t("Integrated Gradients: share of p(token)")][:rows])
    fig.add_bar(x=labels, y=attention, marker_color=colours, name=t("attention"), row=1, col=1)
    if attribution is not None:
        scores = [attribution.get(i, 0.0) for i in range(len(tokens))]
        fig.add_bar(x=labels, y=scores, marker_color=[CHOSEN if s >= 0 else REMOVED for s in scores], name="IG", row=2, col=1)
    fig.update_layout(showlegend=False, bargap=0.15)
    fig.update_xaxes(tickangle=-60, tickfont={"size": max(10, FONT_SIZE - 6)})
    title = t("Where “{token}” looked (pale: prompt, dark: earlier output)", token=shown(target))
    return styled(fig, title, height=330 + 220 * (rows - 1))


def logit_lens_heatmap(lens: LogitLens) -> go.Figure:
    """Layer × step: each cell's text is that layer's top guess, its colour the probability the
    layer gives the token finally chosen."""
    columns = [
        f"{'▶' if i == lens.selected else ''}{s + 1}:{shown(token)}"
        for i, (s, token) in enumerate(zip(lens.steps, lens.chosen, strict=True))
    ]
    rows = [t("layer {layer}", layer=i + 1) for i in range(lens.n_layers)]
    text = [[shown(token)[:10] for token in row] for row in lens.top_tokens]
    hover = [
        [t("layer {layer}, step {step}<br>top guess: {top} ({top_p})<br>finally chosen {chosen}: {chosen_p}, rank {rank}",
           layer=li + 1, step=lens.steps[ci] + 1, top=html.escape(shown(lens.top_tokens[li][ci])),
           top_p=f"{lens.top_probabilities[li, ci]:.1%}", chosen=html.escape(shown(lens.chosen[ci])),
           chosen_p=f"{lens.chosen_probabilities[li, ci]:.1%}", rank=int(lens.chosen_ranks[li, ci]))
         for ci in range(len(columns))]
        for li in range(lens.n_layers)
    ]
    fig = go.Figure(go.Heatmap(
        z=lens.chosen_probabilities, x=columns, y=rows, text=text, texttemplate="%{text}", hovertext=hover,
        hoverinfo="text", colorscale=HEATMAP_SCALE, zmin=0, zmax=1, colorbar={"title": t("p(chosen)"), "tickformat": ".0%"},
        textfont={"size": max(9, FONT_SIZE - 8)},
    ))
    fig.update_layout(yaxis={"autorange": "reversed"}, xaxis={"side": "bottom", "tickangle": -45})
    return styled(fig, t("Logit lens: each layer's top guess"), height=300 + 24 * lens.n_layers)


def rank_by_layer_chart(lens: LogitLens) -> go.Figure:
    """How the selected step's chosen token climbs to rank 1 through the layers."""
    ranks = lens.chosen_ranks[:, lens.selected]
    fig = go.Figure(go.Scatter(x=list(range(1, lens.n_layers + 1)), y=ranks, mode="lines+markers", line={"color": CHOSEN}))
    fig.update_layout(yaxis={"type": "log", "autorange": "reversed", "title": t("rank (1 = top)")}, xaxis={"title": t("layer")})
    return styled(fig, t("Rank of “{token}” at each layer", token=shown(lens.chosen[lens.selected])), height=330)


def step_probabilities_chart(steps: Sequence[Step]) -> go.Figure:
    """Each generated token's probability under the model, in the order written (the colours of
    `steps_html` as bars: the low ones are where the model hesitated)."""
    labels = [f"{step.index + 1}. {shown(text)}" for step, text in zip(steps, step_texts(steps), strict=True)]
    probabilities = [step.probability for step in steps]
    fig = go.Figure(
        go.Bar(
            x=labels, y=probabilities, marker_color=[_probability_colour(p) for p in probabilities],
            marker_line={"color": "#d9480f", "width": 1},
            hovertemplate="%{x}: p = %{y:.1%}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title=t("probability"))
    fig.update_xaxes(tickangle=-60, type="category", tickfont={"size": max(10, FONT_SIZE - len(labels) // 10)})
    return styled(fig, t("The model's probability for each token it wrote"), height=420)
