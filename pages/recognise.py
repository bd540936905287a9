"""Image recognition: a CNN's top-5 ImageNet classes for an example photo or an upload."""

import streamlit as st

from backend.figures import top_classes
from backend.images import ACCEPTED_EXTENSIONS, EXAMPLES, example_image, load_image
from backend.recognise import recognise
from ui.common import model_picker, run_caption, shown_errors

st.title("Image recognition")
st.write(
    "A convolutional neural network slides small learned filters over the image, layer after "
    "layer, from edges to textures to object parts, and ends with one score per ImageNet class. "
    "A softmax turns the 1000 scores into probabilities."
)

spec = model_picker("image", key="recognise_model")
source = st.radio("Image", ["Example photo", "Upload"], horizontal=True, key="recognise_source")
image = None
with shown_errors():
    if source == "Example photo":
        name = st.selectbox("Example", list(EXAMPLES), key="recognise_example")
        image = example_image(name)
    else:
        upload = st.file_uploader(
            "PNG, JPEG, WebP, BMP or GIF (first frame)", type=list(ACCEPTED_EXTENSIONS), key="recognise_upload"
        )
        if upload is not None:
            image = load_image(upload.getvalue(), upload.name)

if image is None:
    st.info("Upload an image, or choose an example photo.", icon=":material/upload:")
else:
    left, right = st.columns([2, 3])
    left.image(image, caption=f"{image.width}×{image.height} pixels", width="stretch")
    with right, shown_errors():
        result = recognise(image, top_k=5, model_key=spec.key)
        st.plotly_chart(top_classes(result), key="recognise_chart", theme=None)
        run_caption(result.run)
