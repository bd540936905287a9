"""Image recognition: a CNN's top ImageNet classes, where it looked, and how it sees."""

import hashlib

import streamlit as st

from backend.runtime.registry import image_model_spec
from backend.vision.image_decoding import (
    EXAMPLES,
    FORMATS_TEXT,
    MAX_UPLOAD_MB,
    example_image,
    load_image,
    max_pixels,
)
from backend.vision.recognition import MAX_TOP_K, submit_recognise
from ui import page_inputs as inputs
from ui.common import model_picker, shown_errors
from ui.image_sections import how_a_cnn_sees, predictions, where_it_looked
from ui.jobs import mine, remembered
from ui.state import (
    PageState,
)

SOURCES = inputs.IMAGE_SOURCES
state = PageState("recognise", inputs.recognise())
state.header("Image recognition")
state.restore()
st.write(
    "A convolutional neural network slides small learned filters over the image, layer after "
    "layer, from edges to textures to object parts, and ends with one score per ImageNet class. "
    "A softmax turns the 1000 scores into probabilities."
)

spec = model_picker("image", key="recognise_model")
model_id = st.text_input(
    "…or any image classifier by id (online only)", key="recognise_model_id",
    placeholder="timm:resnet50.a1_in1k · torchvision:resnet50 · google/vit-base-patch16-224",
)
if model_id.strip():
    with shown_errors():
        spec = image_model_spec(model_id)
c1, c2 = st.columns([2, 1])
source = c1.radio("Image", SOURCES, horizontal=True, key="recognise_source")
top_k = c2.slider("Classes shown", 1, MAX_TOP_K, key="recognise_top_k")
limits = (f"Up to {MAX_UPLOAD_MB} MB and {max_pixels() // 1_000_000} megapixels. The image is read in memory and "
          "never written to disk; it is not part of the page's link.")
image, image_id = None, None
with shown_errors():
    if source == "Example photo":
        name = st.selectbox("Example", list(EXAMPLES), key="recognise_example",
                            help="Real photos shipped inside scikit-image and matplotlib.")
        image, image_id = example_image(name), ("example", name)
    else:
        if source == "Upload":
            # Any file is taken: the app reads its bytes and says what it is (a HEIC, an SVG, a PDF…),
            # clearer than the browser's "files of this type are not allowed".
            upload = st.file_uploader("Upload an image", key="recognise_upload")
            st.caption(f"{FORMATS_TEXT}. {limits}")
        else:
            upload = st.camera_input("Take a photo", key="recognise_camera")
            st.caption("If the browser blocks the camera, allow it from the camera icon in the address bar, "
                       f"or upload a photo instead. {limits}")
        if upload is not None:
            data = upload.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            decoded = st.session_state.get("_recognise_decoded")
            if decoded is None or decoded[0] != digest:  # decoded once per upload, not on every rerun
                st.session_state.pop("_recognise_decoded", None)
                decoded = st.session_state["_recognise_decoded"] = (digest, load_image(data, upload.name))
            image, image_id = decoded[1], ("upload", digest)
state.publish()

if image is None:
    st.info("Upload an image, take a photo, or choose an example photo.", icon=":material/upload:")
else:
    with shown_errors():
        result = remembered(
            "recognise", (image_id, top_k, spec.key),
            lambda: submit_recognise(image, top_k, spec.key, request_key=image_id, **mine("recognise")),
        )
        predictions(image, result)
        # on_change="rerun": only the open tab's code runs, and the open tab survives reruns
        looked, inside = st.tabs(["Where it looked", "How a CNN sees"], key="recognise_view", on_change="rerun")
        if looked.open:
            with looked:
                where_it_looked(image, image_id, result, spec)
        if inside.open:
            with inside:
                how_a_cnn_sees(image, image_id, spec)
