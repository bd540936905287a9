"""Figures of the attention page, built by pure functions (numbers in, Plotly or HTML out).

Token labels go into Plotly as data (it escapes them) and into HTML only through html.escape /
JSON, so a token such as "<script>" is drawn, never run.
"""

from __future__ import annotations

import html
import json

import numpy as np
import plotly.graph_objects as go
from matplotlib import colormaps
from plotly.subplots import make_subplots

from backend.attention.step_through import StepThrough
from backend.attention.toy_example import ToySteps
from backend.shared.language import t
from backend.shared.plotting import (
    ACCENT,
    FONT_SIZE,
    HEATMAP_SCALE,
    png_source,
    styled,
)

MASKED_COLOUR = "#d9d9d9"
HEAD_COLOURS = ["#1f5fbf", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"]


def label(token: str) -> str:
    """A token as a readable axis label (a space-only token shows as ␣)."""
    return token.strip() or "␣" * max(1, len(token))


def weights_heatmap(matrix: np.ndarray, tokens: list[str], title: str, causal: bool) -> go.Figure:
    """Rows are queries (the token reading), columns keys; a decoder's hidden cells are grey."""
    labels = [label(token) for token in tokens]
    positions = list(range(len(labels)))
    z = np.round(np.asarray(matrix, dtype=np.float64), 4)
    if causal:
        z = np.where(np.triu(np.ones_like(z, dtype=bool), k=1), np.nan, z)  # the causal mask
    hover = [[f"{labels[q]} → {labels[k]}" for k in positions] for q in positions]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=positions, y=positions, customdata=hover, colorscale=HEATMAP_SCALE, zmin=0.0,
            zmax=float(np.nanmax(z)) if np.isfinite(np.nanmax(z)) and np.nanmax(z) > 0 else 1.0,
            colorbar={"title": t("weight")}, hoverongaps=False,
            hovertemplate="%{customdata}<br>" + t("weight {weight}", weight="%{z:.3f}") + "<extra></extra>",
        )
    )
    tick_font = max(10, FONT_SIZE - len(labels) // 6)
    fig.update_xaxes(tickvals=positions, ticktext=labels, tickangle=-60, title=t("key (token attended to)"),
                     tickfont={"size": tick_font}, showgrid=False)
    fig.update_yaxes(tickvals=positions, ticktext=labels, autorange="reversed", title=t("query (token attending)"),
                     tickfont={"size": tick_font}, showgrid=False)
    fig.update_layout(plot_bgcolor=MASKED_COLOUR if causal else "white")
    side = max(520, min(900, 200 + 28 * len(labels)))
    return styled(fig, title, height=side)


def model_view(weights: np.ndarray, cell: int = 24) -> go.Figure:
    """Every layer (rows) x every head (columns) as a small heatmap; click one to open it.
    One PNG for all cells, and one invisible marker per cell that Streamlit reports on click."""
    layers, heads, n, _ = weights.shape
    step = max(1, -(-n // cell))
    gap = 3
    size = -(-n // step)
    mosaic = np.ones((layers * (size + gap) + gap, heads * (size + gap) + gap, 3))
    cmap = colormaps["Blues"]
    for layer in range(layers):
        for head in range(heads):
            block = weights[layer, head]
            if step > 1:  # max-pool long inputs down to the cell size
                padded = np.zeros((size * step, size * step), dtype=block.dtype)
                padded[:n, :n] = block
                block = padded.reshape(size, step, size, step).max(axis=(1, 3))
            top = float(block.max()) or 1.0
            y, x = gap + layer * (size + gap), gap + head * (size + gap)
            mosaic[y:y + size, x:x + size] = cmap(block / top)[..., :3]
    scale = max(1, 48 // size)
    pixels = (np.kron(mosaic, np.ones((scale, scale, 1))) * 255).round().astype(np.uint8)
    fig = go.Figure(go.Image(source=png_source(pixels), hoverinfo="skip"))
    centres_x = [(gap + h * (size + gap) + size / 2) * scale for layer in range(layers) for h in range(heads)]
    centres_y = [(gap + layer * (size + gap) + size / 2) * scale for layer in range(layers) for _ in range(heads)]
    fig.add_trace(
        go.Scatter(
            x=centres_x, y=centres_y, mode="markers",
            marker={"size": max(8, (size * scale) * 0.9), "symbol": "square", "opacity": 0.01, "color": ACCENT},
            customdata=[[layer + 1, h + 1] for layer in range(layers) for h in range(heads)],
            hovertemplate=t("layer {layer}, head {head}", layer="%{customdata[0]}", head="%{customdata[1]}")
            + "<br>" + t("click to open") + "<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, range=[0, pixels.shape[1]])
    fig.update_yaxes(visible=False, range=[pixels.shape[0], 0], scaleanchor="x")
    fig.update_layout(clickmode="event+select", dragmode=False, showlegend=False)
    height = min(1400, max(420, 120 + pixels.shape[0] * 900 // max(pixels.shape[1], 1)))
    return styled(fig, t("Model view: {layers} layers × {heads} heads (rows: layers, top = layer 1)", layers=layers,
                         heads=heads), height)


def head_view_html(tokens: list[str], weights: np.ndarray, heads: list[int], threshold: float) -> str:
    """BertViz-style lines from each token (left) to the tokens it attends to (right), one colour
    per head, thickness = weight; lines under `threshold` are left out. Hover a token to see only
    its lines. Self-contained HTML: the data goes in as JSON, the labels through html.escape."""
    n = len(tokens)
    row = 26
    width, height = 760, 40 + row * n
    lines = []
    for colour_index, head in enumerate(heads):
        matrix = weights[colour_index]
        for q in range(n):
            for k in range(n):
                w = float(matrix[q, k])
                if w >= threshold:
                    lines.append([q, k, round(w, 3), HEAD_COLOURS[colour_index % len(HEAD_COLOURS)], head + 1])
    left = "".join(
        f'<text x="230" y="{30 + i * row}" text-anchor="end" class="tok" data-side="q" data-i="{i}">{html.escape(label(token))}</text>'
        for i, token in enumerate(tokens)
    )
    right = "".join(
        f'<text x="530" y="{30 + i * row}" class="tok" data-side="k" data-i="{i}">{html.escape(label(token))}</text>'
        for i, token in enumerate(tokens)
    )
    names = [html.escape(t("head {head}", head=h + 1)) for h in heads]
    legend = " ".join(
        f'<span style="color:{HEAD_COLOURS[i % len(HEAD_COLOURS)]};font-weight:600">■ {name}</span>'
        for i, name in enumerate(names)
    )
    data = json.dumps(lines)
    summary = html.escape(t("{count} lines at weight ≥ {threshold}", count=len(lines), threshold=f"{threshold:.2f}"))
    hint = html.escape(t("hover a token"))
    # each line's tooltip, filled in by the script ("</" kept out of the script element)
    tooltip = json.dumps(t("head {head}: {weight}")).replace("</", "<\\/")
    return f"""<div style="font-family:sans-serif;font-size:{FONT_SIZE - 2}px">
<div style="margin-bottom:6px">{legend} · {summary} · {hint}</div>
<svg id="hv" width="{width}" height="{height}" viewBox="0 0 {width} {height}" style="max-width:100%;height:auto">
<style>.tok{{font-size:{FONT_SIZE - 2}px;cursor:pointer;fill:#111}} .tok:hover{{font-weight:700}}</style>
<g id="lines"></g>{left}{right}</svg></div>
<script>
const data = {data};
const g = document.getElementById("lines");
function draw(side, index) {{
  g.innerHTML = "";
  for (const [q, k, w, colour, head] of data) {{
    if (side === "q" && q !== index) continue;
    if (side === "k" && k !== index) continue;
    const l = document.createElementNS("http://www.w3.org/2000/svg", "line");
    l.setAttribute("x1", 240); l.setAttribute("y1", 25 + q * {row});
    l.setAttribute("x2", 520); l.setAttribute("y2", 25 + k * {row});
    l.setAttribute("stroke", colour); l.setAttribute("stroke-width", Math.max(0.5, 8 * w));
    l.setAttribute("stroke-opacity", side ? 0.9 : Math.min(0.9, 0.25 + w));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = {tooltip}.replace("{{head}}", head).replace("{{weight}}", w.toFixed(3));
    l.appendChild(t); g.appendChild(l);
  }}
}}
for (const el of document.querySelectorAll(".tok")) {{
  el.addEventListener("mouseenter", () => draw(el.dataset.side, Number(el.dataset.i)));
  el.addEventListener("mouseleave", () => draw(null, -1));
}}
draw(null, -1);
const hv = document.getElementById("hv");  // narrower than drawn (a phone): show the drawing's own extent, scaled
if (hv.getBoundingClientRect().width < {width}) {{ const b = hv.getBBox(); hv.setAttribute("viewBox", [b.x - 4, 0, b.width + 8, {height}].join(" ")); }}
</script>"""


def rollout_figure(raw: np.ndarray, rolled: np.ndarray, tokens: list[str], causal: bool) -> go.Figure:
    """Raw attention of the last layer beside rollout through all layers (mean over heads)."""
    labels = [label(token) for token in tokens]
    positions = list(range(len(labels)))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[t("Raw attention, last layer (baseline)"), t("Rollout, all layers")],
                        horizontal_spacing=0.12)
    hover = t("query {query} → key {key}: {weight}", query="%{y}", key="%{x}", weight="%{z:.3f}") + "<extra></extra>"
    for col, matrix in ((1, raw), (2, rolled)):
        z = np.round(np.asarray(matrix, dtype=np.float64), 4)
        if causal:
            z = np.where(np.triu(np.ones_like(z, dtype=bool), k=1), np.nan, z)
        fig.add_trace(go.Heatmap(z=z, x=positions, y=positions, colorscale=HEATMAP_SCALE, zmin=0, showscale=col == 2,
                                 hoverongaps=False, hovertemplate=hover),
                      row=1, col=col)
        fig.update_xaxes(tickvals=positions, ticktext=labels, tickangle=-60, row=1, col=col,
                         tickfont={"size": max(9, FONT_SIZE - 4 - len(labels) // 6)})
        fig.update_yaxes(tickvals=positions, ticktext=labels, autorange="reversed", row=1, col=col,
                         tickfont={"size": max(9, FONT_SIZE - 4 - len(labels) // 6)})
    fig.update_layout(plot_bgcolor=MASKED_COLOUR if causal else "white")
    return styled(fig, t("Where each token's information comes from"), max(520, min(900, 220 + 24 * len(labels))))


def matrix_figure(values: np.ndarray, rows: list[str], columns: list[str], title: str, scale: str = "RdBu") -> go.Figure:
    """A small matrix with every number written in its cell (the toy example's steps)."""
    values = np.asarray(values, dtype=np.float64)
    text = [[f"{v:.3f}" for v in row] for row in values]
    limit = float(np.abs(values).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(z=values, x=columns, y=rows, text=text, texttemplate="%{text}", textfont={"size": FONT_SIZE - 2},
                   colorscale=scale, zmid=0 if scale == "RdBu" else None, zmin=None if scale == "RdBu" else 0,
                   zmax=None if scale == "RdBu" else max(limit, 1e-12), showscale=False,
                   hovertemplate="%{y}, %{x}: %{z:.6g}<extra></extra>")
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    return styled(fig, title, 110 + 48 * len(rows))


def toy_figures(steps: ToySteps) -> dict[str, go.Figure]:
    tokens = list(steps.tokens)
    dims = [f"d{j + 1}" for j in range(steps.q.shape[1])]
    return {
        "q": matrix_figure(steps.q, tokens, dims, "Q = X W_Q"),
        "k": matrix_figure(steps.k, tokens, dims, "K = X W_K"),
        "v": matrix_figure(steps.v, tokens, [f"d{j + 1}" for j in range(steps.v.shape[1])], "V = X W_V"),
        "scores": matrix_figure(steps.scores, tokens, tokens, t("Q Kᵀ (query rows, key columns)")),
        "scaled": matrix_figure(steps.scaled, tokens, tokens, f"Q Kᵀ / √d_k  (√{steps.d_k} = {np.sqrt(steps.d_k):.3f})"),
        "weights": matrix_figure(steps.weights, tokens, tokens, t("softmax by row: the attention weights"), "Blues"),
        "output": matrix_figure(steps.output, tokens, [f"d{j + 1}" for j in range(steps.output.shape[1])], "softmax(Q Kᵀ / √d_k) V"),
    }


def vector_figure(values: np.ndarray, title: str) -> go.Figure:
    """One vector (a query, or a head's output) as a strip of coloured cells."""
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure(go.Heatmap(z=[np.round(values, 4)], colorscale="RdBu", zmid=0, showscale=False,
                               hovertemplate=t("dimension {index}: {value}", index="%{x}", value="%{z:.4f}")
                               + "<extra></extra>"))
    fig.update_yaxes(visible=False)
    fig.update_xaxes(title=t("dimension"))
    return styled(fig, title, 170)


def step_bars(step: StepThrough, values: np.ndarray, title: str, shown: range | None = None, fmt: str = ".3f") -> go.Figure:
    """One number per key token (q·k, scaled, weight), for the tokens in `shown` (default all);
    keys hidden by the causal mask are grey."""
    positions = list(shown if shown is not None else range(len(step.tokens)))
    labels = [f"{i + 1}: {label(step.tokens[i])}" for i in positions]
    masked = step.masked[positions]
    picked = np.where(masked, 0.0, values[positions])
    colours = [MASKED_COLOUR if m else ACCENT for m in masked]
    fig = go.Figure(go.Bar(x=labels, y=np.round(picked, 5), marker_color=colours,
                           text=[t("masked") if m else format(v, fmt) for v, m in zip(values[positions], masked, strict=True)],
                           textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{y:.5f}<extra></extra>"))
    fig.update_xaxes(tickangle=-50)
    return styled(fig, title, 380)


def keys_figure(step: StepThrough, which: str, shown: range | None = None) -> go.Figure:
    """The keys (after the rotary embedding, for a Llama-style model) or the values, one row per
    token in `shown` (default all)."""
    positions = list(shown if shown is not None else range(len(step.tokens)))
    matrix = (step.keys if which == "keys" else step.values)[positions]
    labels = [f"{i + 1}: {label(step.tokens[i])}" for i in positions]
    fig = go.Figure(go.Heatmap(z=np.round(matrix, 4), y=labels, colorscale="RdBu", zmid=0,
                               hovertemplate=t("{token}, dimension {index}: {value}", token="%{y}", index="%{x}",
                                               value="%{z:.4f}") + "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", tickmode="array", tickvals=labels, ticktext=labels)
    fig.update_xaxes(title=t("dimension"))
    if which != "keys":
        title = t("V (values): one row per token")
    elif step.rotary:
        title = t("K (keys, after the rotary embedding): one row per token")
    else:
        title = t("K (keys): one row per token")
    return styled(fig, title, max(260, 120 + 22 * len(labels)))
