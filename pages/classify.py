"""Text classification: zero-shot labels from a sentence encoder, with the similarities behind them."""

import streamlit as st

from backend.classify import DEFAULT_LABELS, SIMILARITY_SCALE, submit_classify
from backend.figures import label_probabilities
from ui.common import example_buttons, model_field, model_picker, run_caption, shown_errors
from ui.jobs import await_job, mine
from ui.state import PageState, text_field

SENTIMENT = ", ".join(DEFAULT_LABELS)
TOPICS = "sports, business, politics, science"
EXAMPLES = {
    "Wonderful movie": {"classify_text": "This movie was wonderful, the cast is brilliant and I loved every minute.", "classify_labels": SENTIMENT},
    "Terrible service": {"classify_text": "The food was cold and the waiter was rude. Never again.", "classify_labels": SENTIMENT},
    "Football final": {"classify_text": "Messi scored twice in the final and the crowd went wild.", "classify_labels": TOPICS},
    "Earnings report": {"classify_text": "Shares of the company fell after its quarterly earnings report.", "classify_labels": TOPICS},
}

state = PageState(
    "classify",
    [
        model_field("classification", "classify_model"),
        text_field("classify_text", "text", default=EXAMPLES["Wonderful movie"]["classify_text"]),
        text_field("classify_labels", "labels", default=SENTIMENT, max_chars=2000),
    ],
)
state.header("Text classification")
state.restore()
st.write(
    "A pretrained sentence encoder turns the text and a few descriptions of each label into "
    "vectors. The label whose vectors point the same way as the text's (highest cosine "
    "similarity) wins: **zero-shot** classification, with no training on these labels."
)

spec = model_picker("classification", key="classify_model")
example_buttons(EXAMPLES, key_prefix="classify")
text = st.text_area("Text", key="classify_text", height=110, placeholder="Type a sentence, or click an example above.")
labels = st.text_input(
    "Labels (comma-separated)", key="classify_labels",
    disabled=spec.kind == "sequence-classifier",
    help="Any labels you like, e.g. 'sports, politics, science'. A fine-tuned model has its own fixed labels.",
)
st.button("Classify", key="classify_run", type="primary")
state.publish()

if text.strip():
    with shown_errors():
        result = await_job(submit_classify(text, labels, spec.key, **mine("classify")))
        left, right = st.columns([3, 2])
        with right:
            st.metric("Prediction", result.label, f"{result.scores[0].probability:.1%} probability", delta_color="off")
            if result.scores[0].similarity is not None:
                st.markdown(
                    "**Why:** the cosine similarity of the text to each label's descriptions, "
                    f"turned into probabilities by softmax(similarity × {SIMILARITY_SCALE:g})."
                )
                st.table(  # a plain table: light for the browser, readable on a projector
                    [
                        {"label": s.label, "cosine similarity": f"{s.similarity:.3f}", "probability": f"{s.probability:.1%}"}
                        for s in result.scores
                    ],
                )
        with left:  # drawn after the answer beside it: the label shows while the chart loads
            st.plotly_chart(label_probabilities(result), key="classify_chart", theme=None)
        run_caption(result.run)
else:
    st.info("Type a text or click an example to see the prediction.", icon=":material/keyboard:")
