"""Image recognition: a CNN's top ImageNet classes, where it looked, and how it sees."""

import streamlit as st

from backend.shared.language import t
from backend.vision.recognition import MAX_TOP_K
from ui.core.jobs import mine, remembered
from ui.core.widgets import model_picker, shown_errors
from ui.navigation import page_state
from ui.recognise import request
from ui.recognise.image_input import chosen_image
from ui.recognise.inputs import SOURCES
from ui.recognise.sections import how_a_cnn_sees, predictions, where_it_looked

state = page_state("recognise")
state.header(t("Image recognition"))
state.restore()
st.write(t(
    "A convolutional neural network slides small learned filters over the image, layer after "
    "layer, from edges to textures to object parts, and ends with one score per ImageNet class. "
    "A softmax turns the 1000 scores into probabilities."
))

model_picker("image", key="recognise_model")
st.text_input(
    t("…or any image classifier by id (online only)"), key="recognise_model_id",
    placeholder="timm:resnet50.a1_in1k · torchvision:resnet50 · google/vit-base-patch16-224",
)
spec = None
with shown_errors():
    spec = request.model_spec(state.values())
c1, c2 = st.columns([2, 1])
source = c1.radio(t("Image"), SOURCES, horizontal=True, key="recognise_source", format_func=t)
c2.slider(t("Classes shown"), 1, MAX_TOP_K, key="recognise_top_k")
image, image_id = None, None
with shown_errors():
    image, image_id = chosen_image(source)
state.publish()

if image is None:
    st.info(t("Upload an image, take a photo, or choose an example photo."), icon=":material/upload:")
elif spec is not None:  # else the typed model id's message is shown above
    with shown_errors():
        result = remembered(request.recognition(state.values(), image, image_id), **mine("recognise"))
        predictions(image, result)
        # on_change="rerun": only the open tab's code runs, and the open tab survives reruns (its
        # state is its label: after a switch of language the first tab opens)
        looked, inside = st.tabs([t("Where it looked"), t("How a CNN sees")], key="recognise_view", on_change="rerun")
        if looked.open:
            with looked:
                where_it_looked(state, image, image_id, result, spec)
        if inside.open:
            with inside:
                how_a_cnn_sees(image, image_id, spec)
