"""Entry point: page setup and navigation only. Run with `streamlit run app.py`."""

import streamlit as st

from backend.warmup import warm_up_in_background

st.set_page_config(page_title="How AI models work", page_icon=":material/neurology:", layout="wide")

# Load the offline models in a background thread once per server process, so the first
# question on each page does not wait for a model load.
warm_up_in_background()

pages = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/classify.py", title="Text classification", icon=":material/label:"),
        st.Page("pages/generate.py", title="Text generation", icon=":material/edit_note:"),
        st.Page("pages/recognise.py", title="Image recognition", icon=":material/image_search:"),
        st.Page("pages/attention.py", title="Attention visualizer", icon=":material/grid_on:"),
    ]
)
pages.run()
