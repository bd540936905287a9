"""Figures of the image page, built by pure functions of backend results.

Pictures travel to the browser as PNG data (tens of kilobytes) rather than as arrays of numbers;
maps meant for hovering are heatmaps at half resolution, rounded to two decimals. Their texts
are in the current language (the page draws them); titles passed in are already translated.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from matplotlib import colormaps
from plotly.subplots import make_subplots

from backend.shared.language import n_, t
from backend.shared.plotting import (
    ACCENT,
    FONT_SIZE,
    png_source,
    probability_bars,
    styled,
)
from backend.vision.cnn_inside import FeatureMaps, Filters
from backend.vision.introspection import Stage
from backend.vision.recognition import Recognition
from backend.vision.road import BASELINE_NAMES, RoadScores

SALIENCY_SCALE = "turbo"  # blue (ignored) to red (looked at); vivid on a projector
_GREYS = {"random": "#9a9a9a", "edges": "#5f5f5f"}
_COLOURS = ["#1f5fbf", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
DEPTH_NAMES = {"early": n_("Early"), "middle": n_("Middle"), "late": n_("Late")}  # cnn_inside.DEPTHS


def overlay_pixels(seen: np.ndarray, values: np.ndarray, opacity: float) -> np.ndarray:
    """The picture with the map painted over it (`opacity` 0: the picture, 1: the map)."""
    colours = colormaps[SALIENCY_SCALE](np.clip(values, 0, 1))[..., :3] * 255
    mixed = seen.astype(np.float32) * (1 - opacity) + colours * opacity
    return mixed.round().clip(0, 255).astype(np.uint8)


def _picture(fig: go.Figure, pixels: np.ndarray, row: int | None = None, col: int | None = None) -> None:
    fig.add_trace(go.Image(source=png_source(pixels), hoverinfo="skip"), row=row, col=col)


def _bare_axes(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig


def picture(pixels: np.ndarray, title: str, height: int = 420) -> go.Figure:
    fig = go.Figure()
    _picture(fig, pixels)
    return _bare_axes(styled(fig, title, height))


def saliency_overlay(seen: np.ndarray, values: np.ndarray, opacity: float, title: str) -> go.Figure:
    """The map over the picture the network saw."""
    return picture(overlay_pixels(seen, values, opacity), title)


def saliency_alone(values: np.ndarray, title: str) -> go.Figure:
    """The map by itself, with each region's value on hover (half resolution)."""
    half = values[::2, ::2]
    fig = go.Figure(
        go.Heatmap(
            z=np.round(half, 2), colorscale=SALIENCY_SCALE, zmin=0, zmax=1,
            colorbar={"title": {"text": t("weight")}, "thickness": 14},
            hovertemplate=t("x %{x} · y %{y}<br>weight %{z:.2f}<extra></extra>"),
            x=np.arange(half.shape[1]) * 2, y=np.arange(half.shape[0]) * 2,
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    return styled(fig, title, 420)


def road_chart(road: RoadScores, names: dict[str, str]) -> go.Figure:
    """Probability drop when each map's top 10 / 20 / 50 % is removed: higher is more faithful.
    `names`: each map's name as shown (translated)."""
    fig = go.Figure()
    labels = [t("top {fraction} % removed", fraction=f) for f in road.fractions]
    hover = t("%{fullData.name}<br>%{x}: −%{y:.1f} points<extra></extra>")
    for i, (key, drops) in enumerate(road.drops.items()):
        baseline = key in BASELINE_NAMES
        fig.add_trace(
            go.Bar(
                name=t(BASELINE_NAMES[key]) if baseline else names.get(key, key), x=labels, y=[d * 100 for d in drops],
                marker_color=_GREYS.get(key, _COLOURS[i % len(_COLOURS)]),
                marker_pattern_shape="/" if baseline else "",
                text=[f"{d * 100:.0f}" for d in drops], textposition="outside", cliponaxis=False,
                hovertemplate=hover,
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.18})
    fig.update_yaxes(title=t("probability drop (points)"), zeroline=True)
    title = t("How far to trust each map (ROAD): p = {probability:.1%} with nothing removed", probability=road.probability)
    return styled(fig, title, 460)


def filters_figure(filters: Filters, columns: int = 8, scale: int = 16) -> go.Figure:
    """The first layer's filters, each a little RGB picture (scaled on its own)."""
    count, kh, kw, _ = filters.images.shape
    rows = -(-count // columns)
    gap = 3
    mosaic = np.full((rows * (kh * scale + gap) + gap, columns * (kw * scale + gap) + gap, 3), 255, np.uint8)
    for i, image in enumerate(filters.images):
        r, c = divmod(i, columns)
        big = np.kron((image * 255).round().astype(np.uint8), np.ones((scale, scale, 1), np.uint8))
        top, left = gap + r * (kh * scale + gap), gap + c * (kw * scale + gap)
        mosaic[top:top + kh * scale, left:left + kw * scale] = big
    sizes = {"layer": filters.layer, "count": count, "total": filters.count, "height": filters.kernel[0],
             "width": filters.kernel[1], "stride": filters.stride[0]}
    if count < filters.count:
        title = t("First layer ({layer}): {count} of {total} filters, {height}×{width}×3, stride {stride}", **sizes)
    else:
        title = t("First layer ({layer}): all {count} filters, {height}×{width}×3, stride {stride}", **sizes)
    return picture(mosaic, title, height=140 + 50 * rows)


def feature_maps_figure(found: FeatureMaps, columns: int = 8) -> go.Figure:
    """A few channels of one depth, each as a heat picture (scaled on its own)."""
    count = len(found.channels)
    cols = min(columns, count)
    rows = -(-count // cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[f"#{c}" for c in found.channels],
        horizontal_spacing=0.01, vertical_spacing=0.08,
    )
    cmap = colormaps["viridis"]
    for i, values in enumerate(found.maps):
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        pixels = (cmap(scaled)[..., :3] * 255).round().astype(np.uint8)
        if pixels.shape[0] < 56:  # draw tiny maps as visible blocks
            factor = -(-56 // pixels.shape[0])
            pixels = np.kron(pixels, np.ones((factor, factor, 1), np.uint8))
        _picture(fig, pixels, row=i // cols + 1, col=i % cols + 1)
    stage = found.stage
    title = t("{depth} ({layer}): {height}×{width} maps, {count} of {channels} channels",
              depth=t(DEPTH_NAMES[found.depth]), layer=stage.name, height=stage.height, width=stage.width,
              count=count, channels=stage.channels)
    _bare_axes(fig)
    fig.update_annotations(font_size=FONT_SIZE - 4)
    return styled(fig, title, 120 + 150 * rows)


def stage_sizes_figure(every: list[Stage], input_size: int, highlight: list[str]) -> go.Figure:
    """The resolution shrinking while channels grow, stage by stage."""
    names = [t("input")] + [stage.name for stage in every]
    sizes = [input_size] + [stage.height for stage in every]
    channels = [3] + [stage.channels for stage in every]
    colours = ["#9a9a9a"] + [ACCENT if stage.name in highlight else "#9fb8e0" for stage in every]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=names, y=sizes, name=t("map size (pixels per side)"), marker_color=colours,
               text=[str(s) for s in sizes], textposition="outside", cliponaxis=False,
               hovertemplate=t("%{x}: %{y}×%{y} maps<extra></extra>")),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=names, y=channels, name=t("channels (log scale)"), mode="lines+markers+text",
                   line={"color": "#d62728", "width": 3}, text=[str(c) for c in channels],
                   textposition="top center", textfont={"color": "#d62728", "size": FONT_SIZE - 4},
                   hovertemplate=t("%{x}: %{y} channels<extra></extra>")),
        secondary_y=True,
    )
    fig.update_yaxes(title=t("map size (pixels per side)"), range=[0, max(sizes) * 1.15], secondary_y=False)
    ticks = [tick for tick in (3, 10, 30, 100, 300, 1000, 3000) if tick <= max(channels) * 2]
    fig.update_yaxes(title=t("channels"), type="log", tickvals=ticks, range=[0, np.log10(max(channels) * 3)],
                     secondary_y=True, showgrid=False)
    fig.update_xaxes(tickangle=-40, automargin=True)
    fig.update_layout(legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return styled(fig, t("Resolution shrinks, channels grow"), 520)


def top_classes(result: Recognition) -> go.Figure:
    return probability_bars(
        [c.label for c in result.top],
        [c.probability for c in result.top],
        t("Top-{count} ImageNet classes", count=len(result.top)),
    )
