"""The image page's views: the predictions, where the network looked, and how a CNN sees."""

from __future__ import annotations

import io

from collections.abc import Hashable

import pandas as pd
import streamlit as st
from PIL import Image

from backend.room.questions import class_question
from backend.runtime.public_mode import limits
from backend.runtime.registry import ModelSpec
from backend.shared.language import current, t
from backend.vision.cnn_inside import MAX_CHANNELS, submit_look_inside
from backend.vision.explain_image import (
    ImageExplanation,
    categories,
    layer_choices,
)
from backend.vision.image_figures import (
    feature_maps_figure,
    filters_figure,
    road_chart,
    saliency_alone,
    saliency_overlay,
    stage_sizes_figure,
    top_classes,
)
from backend.vision.recognition import Recognition
from backend.vision.road import BASELINE_NAMES, FRACTIONS
from backend.vision.saliency import CAM_METHODS, PIXEL_METHODS
from ui.core.downloads import chart, table_downloads
from ui.core.jobs import mine, remembered
from ui.core.markdown import plain
from ui.core.request import Request
from ui.core.state import PageState
from ui.core.widgets import run_caption, shown_errors
from ui.recognise import request
from ui.room.ask import ask_the_room


def predictions(original: Image.Image, result: Recognition) -> None:
    left, middle, right = st.columns([2, 2, 3])
    left.image(original, caption=t("Your image: {width}×{height} pixels", width=original.width, height=original.height),
               width="stretch")
    if result.seen is not None:
        middle.image(result.seen, caption=t("As the network saw it"), width="stretch")
        middle.caption(str(result.preprocessing))
    with right:
        chart(top_classes(result), "recognise_chart", "predictions")
        # a download only: its keys are data, not text to translate
        frame = lambda: pd.DataFrame(  # noqa: E731
            [{"rank": i + 1, "class": c.label, "class_index": c.index, "probability": c.probability}
             for i, c in enumerate(result.top)]
        )
        table_downloads("predictions", "recognise_predictions", frame)
        run_caption(result.run)
    if len(result.top) >= 2:
        ask_the_room("recognise", lambda: class_question(
            t("What is in this photo?"), [(c.label, c.probability) for c in result.top], _thumbnail(original),
            language=current()))


def _thumbnail(image: Image.Image) -> bytes:
    """The photo as a phone shows it with the question: a small JPEG."""
    small = image.convert("RGB")
    small.thumbnail((480, 480))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _map_names(found: ImageExplanation) -> dict[str, str]:
    """Each map's name as shown: the method's (proper names stay), or a baseline's."""
    return {key: t(m.name) for key, m in found.maps.items()} | {key: t(name) for key, name in BASELINE_NAMES.items()}


def _road_table(found: ImageExplanation) -> pd.DataFrame:
    names = _map_names(found)
    rows = []
    for key, drops in found.road.drops.items():
        row = {t("map"): names[key]}
        row.update({t("drop, top {fraction} % removed (points)", fraction=f): round(d * 100, 1)
                    for f, d in zip(found.road.fractions, drops, strict=True)})
        row[t("mean drop (points)")] = round(found.road.mean_drop(key) * 100, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def where_it_looked(state: PageState, image: Image.Image, image_id: Hashable, result: Recognition, spec: ModelSpec) -> None:
    st.write(t(
        "A **class activation map** (CAM) weighs the last feature maps by how much each one matters for the class "
        "and paints the sum over the picture: red is where the evidence was. A **pixel attribution** (Captum) "
        "asks the same question of every single pixel. Pick any class, not just the winner."
    ))
    layers, _ = layer_choices(spec.key)  # the model is loaded: recognition ran
    is_cnn = bool(layers)
    labels = {c.index: f"{c.label} ({c.probability:.1%})" for c in result.top}
    chosen = st.session_state.get("recognise_class", -1)
    if chosen >= 0 and chosen not in labels:  # from a link, or the top-k of another photo
        names = categories(spec.key)
        labels[chosen] = (t("{label} (not in the top {count})", label=names[chosen], count=len(result.top))
                          if chosen < len(names) else t("class #{index}", index=chosen))
    # Segmented controls do not wrap: the four CAM names need about 430 px, so they get a row's
    # wider half (also on a 1280-pixel projector), with the pixel methods beside them.
    top_left, top_right = st.columns(2)
    top_left.selectbox(
        t("Explain the class"), [-1, *labels], key="recognise_class",
        format_func=lambda i: t("Top class: {label}", label=result.label) if i == -1 else labels[i],
    )
    left, right = st.columns([5, 4])
    if is_cnn:
        method = left.segmented_control(t("Class activation map"), list(CAM_METHODS), key="recognise_cam",
                                        format_func=CAM_METHODS.get, required=True)
        by_name = {stage.name: stage for stage in layers}
        asked = st.session_state.get("recognise_layer")
        layer, found_asked = request.cam_layer(state.values())
        if not found_asked:  # from a link, or kept from another model
            st.warning(t("This model has no CAM layer '{asked}'; showing {layer}.", asked=plain(asked), layer=plain(layer)),
                       icon=":material/link_off:")
        st.session_state["recognise_layer"] = layer
        layer = top_right.selectbox(
            t("Layer"), list(by_name), key="recognise_layer", format_func=lambda n: by_name[n].describe,
            help=t("Deeper layers: coarser maps about whole objects. Score-CAM runs one forward pass per channel."),
        )
        if method == "scorecam":
            st.caption(t("Score-CAM masks the image with each of the layer's channels and runs the network on "
                         "every masked copy: {passes} forward passes (at most {most} here).",
                         passes=by_name[layer].channels, most=limits().score_cam_channels))
    else:
        left.info(t("A Vision Transformer has no feature maps, so no CAM: its view is attention rollout."),
                  icon=":material/info:")
    right.segmented_control(t("Pixel attribution (Captum)"), list(PIXEL_METHODS), key="recognise_pixel",
                            format_func=lambda k: t(PIXEL_METHODS[k]), required=True)
    c1, c2, c3 = st.columns([3, 2, 2])
    opacity = c1.slider(t("Map opacity"), 0.0, 1.0, step=0.05, key="recognise_opacity")
    c2.toggle(t("Measure trust (ROAD)"), key="recognise_road",
              help=t("Remove each map's most important pixels and see how far the probability falls."))
    c3.toggle(t("Every method"), key="recognise_compare",
              help=t("All four CAMs and both pixel methods, with their ROAD numbers (Score-CAM makes it slow)."))
    values = state.values()
    with shown_errors():
        found: ImageExplanation = remembered(request.explanation(values, image, image_id), **mine("recognise", "explain"))
        _draw_maps(found, request.methods(values, is_cnn), opacity)
        run_caption(found.run, t("**Class:** {label} ({probability:.1%})", label=plain(found.label),
                                 probability=found.probability))
        if found.road is not None:
            _draw_road(found)


def _draw_maps(found: ImageExplanation, methods: tuple[str, ...], opacity: float) -> None:
    first, *rest = methods
    main = found.maps[first]
    name = t(main.name)
    title = t("{method} at {layer}", method=name, layer=found.layer.name) if found.layer else name
    columns = st.columns(3)
    with columns[0]:
        chart(saliency_overlay(found.seen, main.values, opacity, title), "recognise_map_main", f"{first}-overlay")
        st.caption(f"{main.seconds * 1000:.0f} ms")
    with columns[1]:
        chart(saliency_alone(main.values, t("{method}, alone", method=name)), "recognise_map_alone", f"{first}-map")
    for i, key in enumerate(rest):
        shown = found.maps[key]
        with columns[(i + 2) % 3]:
            chart(saliency_overlay(found.seen, shown.values, opacity, t(shown.name)), f"recognise_map_{key}", f"{key}-overlay")
            ms = f"{shown.seconds * 1000:.0f}"
            if shown.delta is None:
                st.caption(f"{ms} ms")
            else:
                st.caption(t("{ms} ms · the attributions add up to the probability's rise from a black image within "
                             "{delta:.3f} (convergence delta)", ms=ms, delta=shown.delta))


def _draw_road(found: ImageExplanation) -> None:
    fractions = " / ".join(f"{f} %" for f in FRACTIONS)
    st.write(t(
        "ROAD removes each map's most highlighted {fractions} of the pixels (filled in smoothly from their "
        "neighbours, so the hole itself is no clue) and measures the class probability again. A map that shows "
        "what the network used makes it **fall further** than a random map or an edge detector does. A negative "
        "drop means the probability rose. Pixel maps often score low here: their scattered pixels are easy "
        "to fill in from the neighbours, so removing them changes little.", fractions=fractions,
    ))
    chart(road_chart(found.road, _map_names(found)), "recognise_road_chart", "road")
    table = _road_table(found)
    st.dataframe(table, hide_index=True, width="stretch")
    table_downloads("road", "recognise_road", lambda: table)
    st.caption(t("ROAD took {seconds:.1f} s ({count} imputations).", seconds=found.road.seconds,
                 count=len(found.road.drops) * len(FRACTIONS)))


def how_a_cnn_sees(image: Image.Image, image_id: Hashable, spec: ModelSpec) -> None:
    st.write(t(
        "A convolution slides small learned filters over the image; each filter gives one **feature map**. "
        "Layer after layer the maps get smaller (strided convolutions and pooling keep one value per "
        "neighbourhood) and more numerous, and what they respond to goes from edges and colours to parts of "
        "objects. At the end, global average pooling turns each map into one number, and a linear layer turns "
        "those into the 1000 class scores."
    ))
    channels = st.slider(t("Channels per depth"), 1, MAX_CHANNELS, key="recognise_channels",
                         help=t("The most active channels for this photo are drawn."))
    with shown_errors():
        inside = remembered(Request(
            "recognise_inside", (image_id, channels, spec.key),
            lambda **owner: submit_look_inside(image, channels, spec.key, request_key=image_id, **owner),
        ), **mine("recognise", "inside"))
        if inside.filters is not None:
            left, right = st.columns([3, 2])
            with left:
                chart(filters_figure(inside.filters), "recognise_filters", "first-layer-filters")
            right.write(t(
                "Each square is one filter of the first convolution, its weights drawn as colours (scaled on its "
                "own). The filter responds most where a patch of the image looks like it; the **early** maps "
                "below are these filters' responses (after batch normalisation and ReLU6), one map per filter."
            ))
        highlight = [found.stage.name for found in inside.depths]
        chart(stage_sizes_figure(inside.stages, inside.seen.shape[0], highlight), "recognise_sizes", "stage-sizes")
        if not inside.depths:
            st.info(t("{model} has no stack of convolutional feature maps to show.", model=plain(spec.name)),
                    icon=":material/info:")
        for found in inside.depths:
            chart(feature_maps_figure(found), f"recognise_depth_{found.depth}", f"feature-maps-{found.depth}")
        run_caption(inside.run)
