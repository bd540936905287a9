"""Home: what each page shows, which idea behind large models it makes visible, the models, and a
ready-made 10-minute demo."""

import streamlit as st

from backend.runtime.device import runtime_summary
from backend.runtime.model_cache import loaded_model_rows
from backend.shared.language import n_, t
from ui.core.state import visited
from ui.home import diagrams
from ui.navigation import BY_PATH
from ui.talk.deck_panel import open_view, use_deck
from ui.talk.demo_deck import DEMO_DECK, DEMO_MINUTES, DEMO_NOTES

visited("home")  # pages remember which page ran last (their kept inputs win when you come back)

st.title(t("How AI models work"))
st.write(t(
    "Ask a real model something and see its answer **and** why it gave it. Every model here runs on "
    "this machine, offline: nothing you type or upload leaves it. Each page below shows one kind of "
    "model at work and makes one idea behind today's large models visible."
))

# (page path, what the page shows, the idea it makes visible, its diagrams)
SECTIONS = [
    ("learn",
     n_("A small network trains live on 2-D data while its decision boundary and loss curves move; presets show "
        "a learning rate too high or too low, overfitting and L2, and a linear model that cannot learn XOR. "
        "Backpropagation is worked by hand on one example beside PyTorch's autograd, three optimisers race "
        "down a loss surface, and a head is fine-tuned on MiniLM's pretrained sentence vectors beside random "
        "ones and a bag of words."),
     n_("**How a network learns**: a loss function, gradient descent, backpropagation, regularisation against "
        "overfitting; then **pretraining and fine-tuning** (transfer learning), judged by accuracy, precision, "
        "recall and F1."),
     ()),
    ("classify",
     n_("A frozen MiniLM sentence encoder becomes a classifier three ways: **zero-shot** from label "
        "descriptions, **taught by your examples**, or the **built-in sentiment** head. Token attributions "
        "(Integrated Gradients beside leave-one-out or gradient × input) say which words decided, and "
        "deletion, comprehensiveness and sufficiency say how faithful each explanation is. Upload a CSV to "
        "classify every row and evaluate: accuracy, precision, recall, F1 and a confusion matrix."),
     n_("**Pretraining, then fine-tuning**: an encoder pretrained once on much text, kept frozen, and a small "
        "head fitted on a few labelled sentences. **Evaluation**: accuracy, precision, recall and F1 on held-out data."),
     (diagrams.pretrain_finetune_diagram, diagrams.evaluation_diagram)),
    ("generate",
     n_("SmolLM2-135M-Instruct (or Gemma 3 270M, which reads and writes Chinese) writes token by token, under "
        "your temperature, top-k, top-p, repetition penalty and seed. Pick any token to see its probability and the "
        "alternatives before and after those filters, where it looked (attention, or Integrated Gradients), the "
        "logit lens (each layer's guess), and what-if: force another token and continue. An OpenAI-compatible "
        "server can write instead."),
     n_("**Decoder-only generation**: one Transformer predicts a probability for every next token; "
        "sampling picks one, appends it, and repeats."),
     (diagrams.generation_diagram,)),
    ("recognise",
     n_("A convolutional network names the top ImageNet classes of a photo (an example, an upload or the "
        "camera). Class activation maps (Grad-CAM, Grad-CAM++, Eigen-CAM, Score-CAM) and pixel attributions "
        "show where it looked, ROAD measures how faithful each map is, and “How a CNN sees” draws the "
        "first-layer filters and feature maps from edges to object parts."),
     n_("**Deep learning and CNNs**: many layers of small learned filters, from pixels to features to classes."),
     (diagrams.cnn_diagram,)),
    ("attention",
     n_("softmax(QKᵀ/√dₖ)V step by step: on a toy example whose numbers you can edit, then with a real "
        "head's queries, keys and values. Then every layer and head of a real Transformer: heatmap, model "
        "view, head view, and rollout through all layers."),
     n_("**Transformers and self-attention**: every token weighs every other token (earlier ones only, in a "
        "decoder) and mixes what they carry."),
     (diagrams.attention_diagram,)),
]
for path, shows, idea, figures in SECTIONS:
    page = BY_PATH[path]
    with st.container(border=True):
        text, drawings = st.columns([3, 2], gap="medium")  # side by side when wide, stacked on a phone
        with text:
            st.subheader(f"{page.icon} {t(page.title)}")
            st.markdown(t(shows))
            st.markdown(t(idea))
            st.page_link(page.script, label=t("Open {page}", page=t(page.title).lower()), icon=":material/arrow_forward:")
        with drawings:
            for draw in figures:
                fig = draw()
                st.plotly_chart(fig, config={"staticPlot": True}, width="stretch", alt=fig.layout.meta["alt"])

st.subheader(t("The models"))
st.dataframe(
    loaded_model_rows(),
    hide_index=True,
    column_config={  # the headers in the reader's language; the table's own columns stay as they are
        "model": st.column_config.TextColumn(t("model")),
        "parameters (M)": st.column_config.NumberColumn(t("parameters (M)"), format="%.1f"),
        "memory (MB)": st.column_config.NumberColumn(t("memory (MB)"), format="%.0f"),
        "device": st.column_config.TextColumn(t("device")),
        "load time (s)": st.column_config.NumberColumn(t("load time (s)"), format="%.1f"),
    },
)
st.caption(t(
    "Size, device and load time are those of the models loaded in this server process; each loads when "
    "a page first needs it (reload this page to see it). “Online only” models need the Hugging Face Hub."
))
st.caption(runtime_summary())


st.subheader(t("Suggested {minutes}-minute demo", minutes=DEMO_MINUTES))
st.write(t(
    "{views} views, in order; each opens its page with the inputs set. Load them into "
    "the deck panel (sidebar) and step through them with Next, or a clicker's Page Down.",
    views=len(DEMO_DECK.views),
))
if st.button(t("Start this demo in the deck panel"), key="home_start_demo", icon=":material/slideshow:"):
    use_deck(DEMO_DECK)
    st.rerun()  # the sidebar, drawn before this page, shows the deck
for number, (view, note) in enumerate(zip(DEMO_DECK.views, DEMO_NOTES, strict=True)):
    if st.button(t(view.title), key=f"home_demo_{number}", type="tertiary", icon=":material/play_arrow:"):
        use_deck(DEMO_DECK)
        open_view(number)
    st.caption(t(note))
