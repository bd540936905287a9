"""The image page's inputs (what its link can say)."""

from __future__ import annotations

from backend.shared.language import n_
from backend.vision.cnn_inside import MAX_CHANNELS
from backend.vision.image_decoding import EXAMPLES as IMAGE_EXAMPLES
from backend.vision.recognition import MAX_TOP_K
from backend.vision.saliency import CAM_METHODS, PIXEL_METHODS
from ui.core.state import (
    Field,
    bool_field,
    choice_field,
    float_field,
    int_field,
    text_field,
)
from ui.core.widgets import model_field

SOURCES = (n_("Example photo"), n_("Upload"), n_("Camera"))  # link values; `t(source)` where shown


def fields() -> list[Field]:
    return [
        model_field("image", "recognise_model"),
        text_field("recognise_model_id", "model_id", max_chars=160),
        choice_field("recognise_source", "source", SOURCES),
        choice_field("recognise_example", "example", list(IMAGE_EXAMPLES)),
        int_field("recognise_top_k", "top", 5, 1, MAX_TOP_K),
        int_field("recognise_class", "class", -1, -1, 99_999),
        choice_field("recognise_cam", "cam", list(CAM_METHODS)),
        choice_field("recognise_pixel", "pixel", list(PIXEL_METHODS)),
        text_field("recognise_layer", "layer", max_chars=100),
        float_field("recognise_opacity", "opacity", 0.5, 0.0, 1.0),
        bool_field("recognise_road", "road", True),
        bool_field("recognise_compare", "compare", False),
        int_field("recognise_channels", "channels", 8, 1, MAX_CHANNELS),
    ]
