"""Home: what the dashboard shows and where to start."""

import streamlit as st

from backend.runtime.device import runtime_summary
from backend.runtime.registry import MODELS
from ui.state import visited

visited("home")  # pages remember which page ran last (their kept inputs win when you come back)

st.title("How AI models work")
st.write(
    "Ask a real model something, and see both its answer and *why*: the probabilities behind a "
    "label, the tokens a text generator picks one by one, the classes an image network sees, and "
    "where a Transformer's attention goes. Every model here runs on this machine, offline."
)

cards = [
    ("pages/classify.py", "Text classification", ":material/label:", "A pretrained encoder becomes a classifier (zero-shot, taught by your examples, or fine-tuned for sentiment); token attributions and how faithful they are."),
    ("pages/generate.py", "Text generation", ":material/edit_note:", "A small instruct-tuned decoder writes token by token; temperature controls the sampling."),
    ("pages/recognise.py", "Image recognition", ":material/image_search:", "A convolutional network (CNN) names what is in a photo, shows where it looked (CAMs, with how far to trust them) and how it sees."),
    ("pages/attention.py", "Attention visualizer", ":material/grid_on:", "softmax(QKᵀ/√dₖ)V step by step, on a toy example and with a real head's numbers, then every layer and head."),
]
columns = st.columns(len(cards))
for column, (page, title, icon, blurb) in zip(columns, cards, strict=True):
    with column.container(border=True):
        st.page_link(page, label=title, icon=icon)
        st.write(blurb)

st.subheader("The models")
st.dataframe(
    [
        {"model": s.name, "source": "ships with the app" if s.source == "package" else "Hugging Face Hub (online only)",
         "package / id": s.location, "parameters (M)": s.params_millions}
        for s in MODELS.values()
    ],
    hide_index=True,
)
st.caption(runtime_summary())
