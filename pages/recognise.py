"""Image recognition: a CNN's top ImageNet classes for an example photo or an upload."""

import hashlib

import streamlit as st

from backend.figures import top_classes
from backend.images import ACCEPTED_EXTENSIONS, EXAMPLES, example_image, load_image
from backend.recognise import MAX_TOP_K, submit_recognise
from ui.common import model_field, model_picker, run_caption, shown_errors
from ui.jobs import mine, remembered
from ui.state import PageState, choice_field, int_field

SOURCES = ("Example photo", "Upload")
state = PageState(
    "recognise",
    [
        model_field("image", "recognise_model"),
        choice_field("recognise_source", "source", SOURCES),
        choice_field("recognise_example", "example", list(EXAMPLES)),
        int_field("recognise_top_k", "top", 5, 1, MAX_TOP_K),
    ],
)
state.header("Image recognition")
state.restore()
st.write(
    "A convolutional neural network slides small learned filters over the image, layer after "
    "layer, from edges to textures to object parts, and ends with one score per ImageNet class. "
    "A softmax turns the 1000 scores into probabilities."
)

spec = model_picker("image", key="recognise_model")
c1, c2 = st.columns([2, 1])
source = c1.radio("Image", SOURCES, horizontal=True, key="recognise_source")
top_k = c2.slider("Classes shown", 1, MAX_TOP_K, key="recognise_top_k")
image, image_id = None, None
with shown_errors():
    if source == "Example photo":
        name = st.selectbox("Example", list(EXAMPLES), key="recognise_example")
        image, image_id = example_image(name), ("example", name)
    else:
        upload = st.file_uploader(
            "PNG, JPEG, WebP, BMP or GIF (first frame)", type=list(ACCEPTED_EXTENSIONS), key="recognise_upload"
        )
        st.caption("An uploaded image stays in this browser tab: it is not part of the page's link.")
        if upload is not None:
            data = upload.getvalue()
            image, image_id = load_image(data, upload.name), ("upload", hashlib.sha256(data).hexdigest())
state.publish()

if image is None:
    st.info("Upload an image, or choose an example photo.", icon=":material/upload:")
else:
    left, right = st.columns([2, 3])
    left.image(image, caption=f"{image.width}×{image.height} pixels", width="stretch")
    with right, shown_errors():
        result = remembered(
            "recognise", (image_id, top_k, spec.key),
            lambda: submit_recognise(image, top_k, spec.key, request_key=image_id, **mine("recognise")),
        )
        st.plotly_chart(top_classes(result), key="recognise_chart", theme=None)
        run_caption(result.run)
