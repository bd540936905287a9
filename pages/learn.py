"""How it learns: a network trained live, backpropagation by hand, optimisers on a loss surface,
and fine-tuning on pretrained features."""

import streamlit as st

from backend.shared.language import t
from ui.learn.inputs import VIEWS
from ui.core.widgets import view_tabs
from ui.learn.sections import backprop_view, descent_view, fine_tuning_view, toy_view
from ui.navigation import page_state

state = page_state("learn")
state.header(t("How it learns"))
state.restore()
st.write(t(
    "A network learns by gradient descent: it measures its mistakes with a loss function, backpropagation "
    "finds how each weight moved the loss (the chain rule, layer by layer), and every weight takes a small "
    "step downhill. Repeat for many batches of examples. Pretrained networks did this on huge data once; "
    "fine-tuning starts from what they learned."
))

tabs, view = view_tabs("learn", VIEWS)  # only the open view runs: a training run is followed where it is seen
opened_to_run = state.opened_with.get("run") == "1"
if view == VIEWS[0]:
    with tabs[0]:
        toy_view(opened_to_run)
elif view == VIEWS[1]:
    with tabs[1]:
        backprop_view()
elif view == VIEWS[2]:
    with tabs[2]:
        descent_view()
else:
    with tabs[3]:
        fine_tuning_view()
state.publish({"run": "1"} if st.session_state.get("learn_job") is not None else None)
