"""Plotly figures, built by pure functions of backend results (no model work, no display).

Sized for a projector: large type, high contrast, one colour that means 'probability'.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas  # noqa: F401  # plotly imports it lazily, without the import lock: two sessions
import plotly.graph_objects as go  # drawing their first figure at once saw a half-imported module
from PIL import Image

FONT_SIZE = 18
ACCENT = "#1f5fbf"
HEATMAP_SCALE = "Blues"


def styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE, "color": "#111111"},
        template="plotly_white",
        height=height,
        margin={"l": 20, "r": 30, "t": 70, "b": 40},
    )
    return fig


def probability_bars(labels: list[str], probabilities: list[float], title: str) -> go.Figure:
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
    return styled(fig, title, height=120 + 55 * len(labels))


def png_source(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
