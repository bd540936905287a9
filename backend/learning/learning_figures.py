"""The learning page's figures, from its results (pure functions: no training, no display)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from backend.learning.backprop import BackpropStep
from backend.learning.fine_tuning import FEATURES, FineTuning
from backend.learning.loss_surfaces import METHODS, SURFACES, Descent
from backend.learning.toy_data import EXTENT, ToyData, grid
from backend.learning.toy_stack import GRID, Snapshot
from backend.shared.language import t
from backend.shared.plotting import ACCENT, styled

CLASS_COLOURS = ("#e07b00", "#1f5fbf")  # class 0, class 1: orange and blue, as the boundary's two ends
BOUNDARY_SCALE = [[0.0, "#f6c28b"], [0.5, "#ffffff"], [1.0, "#8fb3e8"]]
METHOD_COLOURS = {"sgd": "#d62728", "momentum": "#2ca02c", "adam": "#1f5fbf"}
FEATURE_COLOURS = {"pretrained": "#1f5fbf", "random": "#d62728", "words": "#7f7f7f"}


def boundary_figure(snapshot: Snapshot, data: ToyData) -> go.Figure:
    """The network's probability of class 1 over the plane, its 0.5 line, and the points: training
    points filled, test points as rings. Built from plain dicts without plotly's validation: a
    running network is redrawn several times a second for every visitor following one, and
    validating the six traces took 16 of the 19 ms of each redraw."""
    axis = grid(GRID)[0]
    traces = [
        {"type": "heatmap", "x": axis, "y": axis, "z": snapshot.boundary, "zmin": 0, "zmax": 1,
         "colorscale": BOUNDARY_SCALE, "showscale": False,
         "hovertemplate": t("p(blue) = {p}", p="%{z:.2f}") + "<extra></extra>"},
        {"type": "contour", "x": axis, "y": axis, "z": snapshot.boundary,
         "contours": {"start": 0.5, "end": 0.5, "coloring": "none"}, "line": {"color": "#333333", "width": 2},
         "showscale": False, "hoverinfo": "skip", "showlegend": False},
    ]
    title = t("Epoch {epoch} of {epochs}", epoch=snapshot.epoch, epochs=snapshot.epochs)
    return _plane(traces + _points(data), title)


def data_figure(data: ToyData) -> go.Figure:
    """The data alone, before any training: what the network will have to separate."""
    title = t("The data: {train} training points, {test} test points", train=len(data.y_train), test=len(data.y_test))
    return _plane(_points(data), title)


def _points(data: ToyData) -> list[dict]:
    traces = []
    for part, points, labels, symbol in ((t("train"), data.x_train, data.y_train, "circle"),
                                         (t("test"), data.x_test, data.y_test, "circle-open")):
        for label in (0, 1):
            chosen = points[labels == label]
            ring = symbol == "circle-open"
            colour = t("blue") if label else t("orange")  # outside the f-string: the catalogue's extractor sees it
            traces.append({
                "type": "scatter", "x": chosen[:, 0], "y": chosen[:, 1], "mode": "markers",
                "name": f"{part}: {colour}", "hoverinfo": "skip",
                "marker": {"color": CLASS_COLOURS[label], "symbol": symbol, "size": 7,
                           "line": {"width": 1.5 if ring else 0.5, "color": CLASS_COLOURS[label] if ring else "#ffffff"}},
            })
    return traces


def _plane(traces: list[dict], title: str) -> go.Figure:
    axes = {"range": [-EXTENT, EXTENT], "showgrid": False, "zeroline": False}
    fig = _unchecked(traces, {"xaxis": axes, "yaxis": {**axes, "scaleanchor": "x"}, "legend": {"orientation": "h", "y": -0.08}})
    return _roomy(styled(fig, title, 520), BOUNDARY_MARGIN)


def loss_figure(snapshot: Snapshot) -> go.Figure:
    """Train and test loss after each epoch so far (plain dicts, as `boundary_figure`)."""
    epochs = list(range(len(snapshot.train_loss)))
    traces = [
        {"type": "scatter", "x": epochs, "y": _finite(snapshot.train_loss), "name": t("train loss"),
         "line": {"color": ACCENT, "width": 3}},
        {"type": "scatter", "x": epochs, "y": _finite(snapshot.test_loss), "name": t("test loss"),
         "line": {"color": "#e07b00", "width": 3, "dash": "dash"}},
    ]
    layout = {"xaxis": {"title": {"text": t("epoch")}, "range": [0, max(snapshot.epochs, 1)]},
              "yaxis": {"title": {"text": t("cross-entropy")}, "rangemode": "tozero"},
              "legend": {"orientation": "h", "y": 1.12}}
    return _roomy(styled(_unchecked(traces, layout), t("Loss"), 360), LOSS_MARGIN)


# Margins wide enough for the axes' labels and the legend (measured in Chromium, also with a
# projector's larger type): left to itself, plotly.js drew each frame of a running network twice,
# once to find that its labels push the margins and once more with them (93 -> 49 ms a boundary).
# A phone's narrower legend can still push them.
BOUNDARY_MARGIN = {"l": 64, "r": 30, "t": 70, "b": 90}
LOSS_MARGIN = {"l": 90, "r": 34, "t": 70, "b": 82}


def _roomy(fig: go.Figure, margin: dict[str, int]) -> go.Figure:
    fig.layout.margin = margin
    return fig


def _unchecked(traces: list[dict], layout: dict) -> go.Figure:
    """A figure of our own traces and layout, not validated (they are ours, and the same every redraw)."""
    return go.Figure(data=traces, layout=layout, _validate=False)


def _finite(values) -> list[float | None]:
    """Infinite or NaN losses (a diverged run) drawn as gaps."""
    return [v if np.isfinite(v) else None for v in values]


def surface_figure(descent: Descent) -> go.Figure:
    """The loss surface as contours, with each optimiser's path from the same start."""
    fig = go.Figure(go.Contour(x=descent.axis, y=descent.axis, z=descent.heights, colorscale="Greys", ncontours=30,
                               showscale=False, opacity=0.6, hoverinfo="skip"))
    for path in descent.paths:
        fig.add_trace(go.Scatter(
            x=path.points[:, 0], y=path.points[:, 1], mode="lines+markers", name=t(METHODS[path.method]),
            line={"color": METHOD_COLOURS[path.method], "width": 3}, marker={"size": 4},
            hovertemplate=t("step {step}: loss {loss}", step="%{customdata[0]}", loss="%{customdata[1]:.4f}") + "<extra></extra>",
            customdata=np.stack([np.arange(len(path.losses)), path.losses], 1),
        ))
    start = descent.paths[0].points[0]
    fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name=t("start"),
                             marker={"color": "#111111", "size": 12, "symbol": "x"}))
    fig.update_xaxes(range=[descent.axis[0], descent.axis[-1]], title="x")
    fig.update_yaxes(range=[descent.axis[0], descent.axis[-1]], title="y", scaleanchor="x")
    fig.update_layout(legend={"orientation": "h", "y": -0.12})
    return styled(fig, t(SURFACES[descent.surface][0]), 560)


def descent_losses_figure(descent: Descent) -> go.Figure:
    fig = go.Figure()
    for path in descent.paths:
        fig.add_trace(go.Scatter(y=path.losses, name=t(METHODS[path.method]), line={"color": METHOD_COLOURS[path.method], "width": 3}))
    fig.update_xaxes(title=t("step"))
    fig.update_yaxes(title=t("loss"))
    fig.update_layout(legend={"orientation": "h", "y": 1.15})
    return styled(fig, t("Loss along each path"), 340)


def network_figure(step: BackpropStep) -> go.Figure:
    """The 2-3-1 network with every forward value on its node and every weight (and its gradient)
    on its edge."""
    inputs = [(0.0, 0.75), (0.0, 0.25)]
    hidden = [(1.0, 0.85), (1.0, 0.5), (1.0, 0.15)]
    output = (2.0, 0.5)
    fig = go.Figure()
    # each label near its edge's source, where the edges fan out (the middle is where they cross)
    edges = [(inputs[j], hidden[i], step.weights.w1[i, j], step.d_w1[i, j], 0.3) for i in range(3) for j in range(2)]
    edges += [(hidden[i], output, step.weights.w2[i], step.d_w2[i], 0.45) for i in range(3)]
    for (x0, y0), (x1, y1), weight, grad, along in edges:
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="skip", showlegend=False,
                                 line={"color": "#1f5fbf" if weight >= 0 else "#d62728", "width": 1 + 3 * min(abs(weight), 1.5)}))
        fig.add_annotation(x=x0 + along * (x1 - x0), y=y0 + along * (y1 - y0), showarrow=False, font={"size": 12},
                           text=f"w {weight:.2f} · ∂ {grad:.3f}", bgcolor="rgba(255,255,255,0.85)")
    nodes = [(*inputs[0], f"x₁ = {step.x[0]:.2f}"), (*inputs[1], f"x₂ = {step.x[1]:.2f}")]
    nodes += [(*hidden[i], f"a{i + 1} = σ({step.z1[i]:.2f}) = {step.a1[i]:.3f}") for i in range(3)]
    nodes.append((*output, f"ŷ = σ({step.z2:.2f}) = {step.y_hat:.3f}"))
    fig.add_trace(go.Scatter(x=[n[0] for n in nodes], y=[n[1] for n in nodes], mode="markers+text", showlegend=False,
                             text=[n[2] for n in nodes], textposition="top center", hoverinfo="skip",
                             marker={"size": 26, "color": "#ffffff", "line": {"width": 2, "color": "#111111"}}))
    fig.update_xaxes(visible=False, range=[-0.35, 2.45])
    fig.update_yaxes(visible=False, range=[0.0, 1.05])
    return styled(fig, t("Forward values on the units, weights and their gradients on the connections"), 460)


def head_curves_figure(tuning: FineTuning) -> go.Figure:
    """Held-out accuracy after each epoch for each kind of features (train accuracy dotted)."""
    fig = go.Figure()
    for run in tuning.runs:
        colour = FEATURE_COLOURS[run.features]
        fig.add_trace(go.Scatter(y=run.heldout_accuracy, name=t("{features}: held out", features=t(FEATURES[run.features])),
                                 line={"color": colour, "width": 3}))
        fig.add_trace(go.Scatter(y=run.train_accuracy, name=t("{features}: training", features=t(FEATURES[run.features])),
                                 line={"color": colour, "width": 2, "dash": "dot"}))
    fig.update_xaxes(title=t("epoch"))
    fig.update_yaxes(title=t("accuracy"), range=[0.4, 1.02], tickformat=".0%")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return styled(fig, t("A linear head trained on {size} labelled sentences", size=tuning.size), 440)


def learning_curve_figure(tuning: FineTuning) -> go.Figure:
    """Held-out accuracy against the number of labelled training sentences, per kind of features."""
    fig = go.Figure()
    for kind, accuracies in tuning.curve.items():
        fig.add_trace(go.Scatter(x=list(tuning.sizes), y=list(accuracies), mode="lines+markers", name=t(FEATURES[kind]),
                                 line={"color": FEATURE_COLOURS[kind], "width": 3}))
    fig.add_vline(x=tuning.size, line={"color": "#999999", "dash": "dot"})
    fig.update_xaxes(title=t("labelled training sentences"), type="log", tickvals=list(tuning.sizes))
    fig.update_yaxes(title=t("held-out accuracy"), range=[0.4, 1.02], tickformat=".0%")
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return styled(fig, t("Accuracy against the number of labelled examples"), 420)
