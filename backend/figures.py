"""Plotly figures, built by pure functions of backend results (no model work, no display).

Sized for a projector: large type, high contrast, one colour that means 'probability'.
"""

from __future__ import annotations

import numpy as np
import pandas  # noqa: F401  # plotly imports it lazily, without the import lock: two sessions
import plotly.graph_objects as go  # drawing their first figure at once saw a half-imported module

from backend.attention import AttentionResult
from backend.classify import Classification
from backend.recognise import Recognition

FONT_SIZE = 18
ACCENT = "#1f5fbf"
HEATMAP_SCALE = "Blues"


def _styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE, "color": "#111111"},
        template="plotly_white",
        height=height,
        margin={"l": 20, "r": 30, "t": 70, "b": 40},
    )
    return fig


def _probability_bars(labels: list[str], probabilities: list[float], title: str) -> go.Figure:
    # Plotly draws horizontal bars bottom-up; reverse so the most likely label is on top.
    labels, probabilities = labels[::-1], probabilities[::-1]
    fig = go.Figure(
        go.Bar(
            x=probabilities,
            y=labels,
            orientation="h",
            marker_color=ACCENT,
            text=[f"{p:.1%}" for p in probabilities],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title="probability")
    fig.update_yaxes(automargin=True)
    return _styled(fig, title, height=120 + 55 * len(labels))


def label_probabilities(result: Classification) -> go.Figure:
    return _probability_bars(
        [s.label for s in result.scores],
        [s.probability for s in result.scores],
        f"Predicted: {result.label}",
    )


def top_classes(result: Recognition) -> go.Figure:
    return _probability_bars(
        [c.label for c in result.top],
        [c.probability for c in result.top],
        f"Top-{len(result.top)} ImageNet classes",
    )


def attention_matrix(result: AttentionResult, layer: int, head: int | None) -> np.ndarray:
    """One head's [query, key] matrix, or the mean over heads when `head` is None."""
    if not 0 <= layer < result.n_layers:
        raise ValueError(f"layer must be in 0..{result.n_layers - 1}")
    if head is None:
        return result.weights[layer].mean(axis=0)
    if not 0 <= head < result.n_heads:
        raise ValueError(f"head must be in 0..{result.n_heads - 1}")
    return result.weights[layer, head]


def attention_heatmap(result: AttentionResult, layer: int, head: int | None) -> go.Figure:
    """Heatmap of attention weights: rows are queries (the token reading), columns are keys."""
    matrix = attention_matrix(result, layer, head)
    # Tokens repeat ('the' twice); categorical axes would merge them, so plot by position.
    positions = list(range(len(result.tokens)))
    labels = [f"{t.strip() or repr(t)}" for t in result.tokens]
    hover = [[f"{labels[q]} → {labels[k]}" for k in positions] for q in positions]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=positions,
            y=positions,
            customdata=hover,
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            zmax=float(matrix.max()) or 1.0,
            colorbar={"title": "weight"},
            hovertemplate="%{customdata}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    tick_font = max(10, FONT_SIZE - len(labels) // 6)
    fig.update_xaxes(
        tickvals=positions, ticktext=labels, tickangle=-60, title="key (token attended to)",
        tickfont={"size": tick_font}, side="bottom",
    )
    fig.update_yaxes(
        tickvals=positions, ticktext=labels, autorange="reversed",
        title="query (token attending)", tickfont={"size": tick_font},
    )
    which = "mean of all heads" if head is None else f"head {head + 1}"
    side = max(520, min(900, 200 + 28 * len(labels)))
    return _styled(fig, f"Layer {layer + 1}, {which}", height=side)
