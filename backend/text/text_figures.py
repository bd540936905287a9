"""Figures for the classification page's explanations and evaluation (pure functions, no model work).

Attribution colours: blue pushes toward the explained label, orange pushes away from it.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from backend.shared.language import t
from backend.shared.plotting import (
    FONT_SIZE,
    HEATMAP_SCALE,
    plotly_text,
    probability_bars,
    styled,
)
from backend.text.classify import Classification
from backend.text.evaluation import Metrics
from backend.text.explain_text import TextExplanation
from backend.text.faithfulness import RANDOM_ORDER

TOWARD = "#1f5fbf"
AGAINST = "#d9480f"
RANDOM = "#777777"
METHOD_COLOURS = {"Integrated Gradients": TOWARD, "Leave one out": "#2b8a3e", "Gradient × input": "#862e9c"}


def shown_tokens(tokens: list[str]) -> list[str]:
    """Word pieces as a reader sees them: '##ing' -> '…ing'."""
    return [f"…{token[2:]}" if token.startswith("##") else token for token in tokens]


def attribution_bars(explanation: TextExplanation, method: str) -> go.Figure:
    found = explanation.attribution(method)
    labels = [f"{i + 1}. {token}" for i, token in enumerate(shown_tokens(explanation.tokens))]
    scores = found.scores
    fig = go.Figure(
        go.Bar(
            x=scores, y=labels, orientation="h",
            marker_color=[TOWARD if s >= 0 else AGAINST for s in scores],
            hovertemplate="%{y}: %{x:+.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True, tickfont={"size": max(11, FONT_SIZE - len(labels) // 8)})
    fig.update_xaxes(title=t("effect on p({label})", label=plotly_text(explanation.target)), zeroline=True,
                     zerolinecolor="#111111")
    name = t(found.name)
    title = name if found.delta is None else t("{method} · Δ {delta:.1e}", method=name, delta=found.delta)
    return styled(fig, title, height=140 + 26 * len(labels))


def deletion_curves(explanation: TextExplanation) -> go.Figure:
    """p(label) as the most important tokens (by each method, or at random) are deleted."""
    fig = go.Figure()
    for measured in explanation.faithfulness:
        x = measured.deleted
        is_random = measured.name == RANDOM_ORDER
        fig.add_trace(
            go.Scatter(
                x=x, y=measured.curve, mode="lines+markers",
                name=t("{method} (area {area:.2f})", method=t(measured.name), area=measured.deletion_area),
                line={"color": RANDOM if is_random else METHOD_COLOURS.get(measured.name, TOWARD),
                      "dash": "dash" if is_random else "solid", "width": 3},
                hovertemplate=t("%{x:.0%} deleted: p = %{y:.3f}") + "<extra></extra>",
            )
        )
    fig.update_xaxes(title=t("share of tokens deleted, most important first"), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=f"p({plotly_text(explanation.target)})", range=[0, 1.02])  # a label may be a stranger's
    fig.update_layout(legend={"orientation": "h", "y": -0.3, "x": 0})
    return styled(fig, t("Deletion curve: lower area = more faithful"), height=460)


def confusion_heatmap(metrics: Metrics) -> go.Figure:
    counts = metrics.confusion
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    text = [[f"{counts[i, j]}<br>{share[i, j]:.0%}" for j in range(len(metrics.labels))] for i in range(len(metrics.labels))]
    fig = go.Figure(
        go.Heatmap(
            z=share, x=metrics.labels, y=metrics.labels, text=text, texttemplate="%{text}",
            colorscale=HEATMAP_SCALE, zmin=0, zmax=1, colorbar={"title": t("share of row")},
            hovertemplate=t("true %{y}, predicted %{x}: %{text}") + "<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("predicted label"), type="category")
    fig.update_yaxes(title=t("true label"), autorange="reversed", type="category")
    side = 260 + 60 * len(metrics.labels)
    return styled(fig, t("Confusion matrix ({count} rows)", count=metrics.n), height=min(side, 900))


def tokens_html(tokens: list[str], scores: np.ndarray) -> str:
    """The text as coloured tokens (escaped: user text never becomes markup)."""
    peak = float(np.abs(scores).max()) or 1.0
    spans = []
    for token, score in zip(tokens, scores, strict=True):
        strength = min(1.0, abs(float(score)) / peak)
        rgb = (31, 95, 191) if score >= 0 else (217, 72, 15)
        glue = token.startswith("##")
        shown = html.escape(token[2:] if glue else token)
        spans.append(
            f'{"" if glue or not spans else " "}<span title="{score:+.4f}" style="background:rgba({rgb[0]},{rgb[1]},{rgb[2]},'
            f'{0.08 + 0.72 * strength:.2f});color:{"#fff" if strength > 0.6 else "#111"};padding:2px 3px;'
            f'border-radius:4px;line-height:2.1">{shown}</span>'
        )
    return f'<div style="font-size:1.3rem">{"".join(spans)}</div>'


def label_probabilities(result: Classification) -> go.Figure:
    return probability_bars(
        [s.label for s in result.scores],
        [s.probability for s in result.scores],
        t("Predicted: {label}", label=result.label),
    )
