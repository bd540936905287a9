"""Text classification: a pretrained encoder becomes a classifier (zero-shot, taught by examples,
or the built-in sentiment head), with token attributions, their faithfulness, and evaluation."""

import streamlit as st

from backend.runtime.public_mode import limits
from backend.shared.language import t
from backend.text.text_figures import label_probabilities
from backend.text.zero_shot_head import SIMILARITY_SCALE
from ui.classify import request
from ui.classify import sections as views
from ui.classify.inputs import EXAMPLES, EXAMPLES_NOTE, MODES
from ui.core.downloads import chart
from ui.core.jobs import mine, remembered
from ui.core.markdown import plain
from ui.core.state import hand_over
from ui.core.widgets import example_pills, model_picker, run_caption, shown_errors
from ui.navigation import BY_PATH, page_state

state = page_state("classify")
state.header(t("Text classification"))
state.restore()
st.write(t(
    "A pretrained encoder turns a text into a vector of 384 numbers; a small **head** turns the vector into label "
    "probabilities. Zero-shot, the head is built from descriptions of the labels (nothing trained). Taught by "
    "examples, and in the built-in sentiment classifier, its weights are fitted on labelled sentences while the "
    "encoder stays frozen: pretraining, then fine-tuning."
))

spec = model_picker("classification", key="classify_model")
fine_tuned = spec.kind == "sequence-classifier"
example_pills(EXAMPLES, key_prefix="classify", note=EXAMPLES_NOTE)  # before the widgets an example sets
mode = st.radio(
    t("Classifier"), list(MODES), key="classify_mode", horizontal=True, format_func=lambda m: t(MODES[m]),
    disabled=fine_tuned, help=t("A fine-tuned Hub model has its own trained output layer and fixed labels."),
)
usable = True
if mode == "zero-shot" and not fine_tuned:
    st.text_area(
        t("Labels: separated by commas, or one per line as `label: description`"), key="classify_labels", height=90,
        help=t("A description tells the encoder what the label means, e.g. 'urgent: needs an answer today'."),
    )
    st.caption(t("Probabilities are softmax(cosine similarity × {scale:g}) over your labels.", scale=SIMILARITY_SCALE))
elif mode == "taught" and not fine_tuned:
    usable = views.teaching_table() is not None
    if "classify_teach_error" in st.session_state:
        st.error(plain(st.session_state["classify_teach_error"]), icon=":material/error:")
text = st.text_area(
    t("Text"), key="classify_text", height=100, max_chars=limits().text_chars,
    placeholder=t("Type a sentence, or click an example above."),
)
st.button(t("Classify"), key="classify_run", type="primary")
state.publish()
values = state.values()
classifier = None
with shown_errors():  # labels or examples that cannot be used say why
    classifier = request.classifier(values) if usable else None

explain_tab, batch_tab = st.tabs([t("Classify and explain one text"), t("Classify a CSV and evaluate")])
with explain_tab:
    if not text.strip():
        st.info(t("Type a text or click an example to see the prediction."), icon=":material/keyboard:")
    elif classifier is not None:
        with shown_errors():
            # Shared with the side-by-side table below and with every session asking the same.
            result = remembered(request.answer(text, classifier), **mine("classify"))
            left, right = st.columns([3, 2])
            with right:
                views.answer(result)
            with left:  # drawn after the answer beside it: the label shows while the chart loads
                chart(label_probabilities(result), "classify_chart", "label-probabilities")
            run_caption(result.run)
            if not fine_tuned:
                with st.expander(t("The same text through every classifier"), icon=":material/compare_arrows:"):
                    views.side_by_side(text, request.every_classifier(values), "classify")
            if st.button(t("Open this text on the attention page"), icon=":material/grid_on:", key="classify_to_attention"):
                hand_over("attention", BY_PATH["attention"].script, {"attention_text": text}, {"text": text})
            st.divider()
            views.explanation_controls([s.label for s in result.scores])
            found = remembered(request.explanation(state.values(), classifier, [s.label for s in result.scores]),
                               **mine("classify", "explain"))
            views.explanation(found, st.session_state["classify_compare"])
with batch_tab:
    if classifier is not None:
        with shown_errors():
            views.batch(classifier, "classify")
