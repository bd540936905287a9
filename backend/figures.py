"""Plotly figures, built by pure functions of backend results (no model work, no display).

Sized for a projector: large type, high contrast, one colour that means 'probability'.
"""

from __future__ import annotations

import pandas  # noqa: F401  # plotly imports it lazily, without the import lock: two sessions
import plotly.graph_objects as go  # drawing their first figure at once saw a half-imported module

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
