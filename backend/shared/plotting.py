"""Plotly figures, built by pure functions of backend results (no model work, no display).

Sized for a projector: large type, high contrast, one colour that means 'probability'.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas  # noqa: F401  # plotly imports it lazily, without the import lock: two sessions
import plotly.graph_objects as go  # drawing their first figure at once saw a half-imported module
import plotly.io as pio
from PIL import Image

from backend.shared.language import t

FONT_SIZE = 18
ACCENT = "#1f5fbf"
HEATMAP_SCALE = "Blues"


def plotly_text(value: str) -> str:
    """A string as Plotly shows it literally: Plotly reads <b>, <a href=...> and entities in
    labels and titles, and tokens, labels and class names may come from strangers."""
    return html.escape(str(value), quote=False)


def _escaped(values: object) -> object:
    """Strings in (nested) lists and tuples escaped; numbers and arrays of numbers as they are."""
    if isinstance(values, str):
        return plotly_text(values)
    if isinstance(values, (list, tuple)):
        return type(values)(_escaped(v) for v in values)
    if isinstance(values, np.ndarray) and values.dtype.kind in "OUS":
        return np.vectorize(lambda v: plotly_text(v) if isinstance(v, str) else v, otypes=[object])(values)
    return values


def _escape_labels(fig: go.Figure) -> None:
    """Category labels (x, y, tick texts and values), trace names and subplot titles escaped in
    place; `text`, `hovertext` and templates are the figure functions' own (they escape what
    they put there)."""
    for trace in fig.data:
        for attribute in ("x", "y", "labels", "name"):
            if attribute in trace and trace[attribute] is not None:
                trace[attribute] = _escaped(trace[attribute])
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        if axis.ticktext is not None:
            axis.ticktext = _escaped(axis.ticktext)
        if axis.tickvals is not None:
            axis.tickvals = _escaped(axis.tickvals)
    for annotation in fig.layout.annotations:  # subplot titles
        annotation.text = plotly_text(annotation.text) if annotation.text else annotation.text


def styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    _escape_labels(fig)
    fig.update_layout(
        title={"text": plotly_text(title), "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE, "color": "#111111"},
        template=pio.templates["plotly_white"],  # the template itself: a figure built unvalidated keeps a name as a name
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
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title=t("probability"))
    fig.update_yaxes(automargin=True)
    return styled(fig, title, height=120 + 55 * len(labels))


def png_source(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
