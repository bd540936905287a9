"""Small diagrams of the ideas the pages make visible, for the Home page.

Pure functions returning Plotly figures (no display, no images): boxes, arrows and a few words on
a 100 × 100 canvas that stretches to the column, so each reads on a phone (about 340 px) and on
a projector. Backgrounds are transparent and the text colour is left to Streamlit's theme, so
they look right in light and dark themes; fills are translucent for the same reason.
"""

from __future__ import annotations

import plotly.graph_objects as go

from backend.shared.language import n_, t

HEIGHT = 220
BLUE = "rgba(74, 143, 231, {a})"  # one hue; only its opacity changes
GREY = "#8a8f98"  # lines and arrows: readable on white and on Streamlit's dark background
TEXT_SIZE = 14
SMALL_SIZE = 12


def _canvas(alt: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 4, "r": 4, "t": 4, "b": 4},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"size": TEXT_SIZE},
        xaxis={"range": [0, 100], "visible": False, "fixedrange": True},
        yaxis={"range": [0, 100], "visible": False, "fixedrange": True},
        showlegend=False,
        hovermode=False,
        dragmode=False,
        meta={"alt": alt},  # what the diagram says, for tests and screen-reader text
    )
    return fig


def _box(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, opacity: float = 0.25, dash: str = "solid") -> None:
    fig.add_shape(
        type="rect", x0=x0, y0=y0, x1=x1, y1=y1,
        fillcolor=BLUE.format(a=opacity), line={"color": GREY, "width": 1, "dash": dash},
    )


def _text(fig: go.Figure, x: float, y: float, text: str, size: int = TEXT_SIZE, **kwargs) -> None:
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": size}, **kwargs)


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float) -> None:
    fig.add_annotation(
        x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
        showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=1.5, arrowcolor=GREY,
    )


def cnn_diagram() -> go.Figure:
    """Pixels -> learned filters -> feature maps, layer after layer -> one score per class."""
    fig = _canvas(t("A CNN: filters slide over the pixels, layer after layer, and end in one score per class."))
    for row in range(4):  # the image: a 4 × 4 grid of pixels
        for col in range(4):
            _box(fig, 2 + col * 5, 40 + row * 9, 7 + col * 5, 49 + row * 9, opacity=0.1 + 0.15 * ((row + col) % 3))
    _box(fig, 2, 67, 12, 85, opacity=0.0, dash="dot")  # the filter, sliding
    _text(fig, 12, 28, t("pixels"))
    _arrow(fig, 24, 58, 31, 58)
    for i in range(3):  # feature maps: many channels
        _box(fig, 33 + i * 3, 42 - i * 4, 47 + i * 3, 72 - i * 4, opacity=0.2)
    _text(fig, 43, 22, t("features"))
    _arrow(fig, 55, 58, 60, 58)
    for i in range(4):  # deeper: smaller maps, more channels
        _box(fig, 62 + i * 2, 48 - i * 3, 68 + i * 2, 62 - i * 3, opacity=0.3)
    _text(fig, 68, 28, t("deeper"))
    for i, (name, score) in enumerate(((n_("cat"), 0.9), (n_("dog"), 0.4), (n_("car"), 0.1))):
        y = 78 - i * 14
        _box(fig, 87, y - 4, 87 + 11 * score, y + 4, opacity=0.7)
        _text(fig, 86, y, t(name), SMALL_SIZE, xanchor="right")
    _text(fig, 99, 28, t("classes"), SMALL_SIZE, xanchor="right")
    _text(fig, 50, 95, t("edges → textures → parts → classes"), SMALL_SIZE)
    _text(fig, 50, 8, t("a filter slides over the image"), SMALL_SIZE)
    return fig


def attention_diagram() -> go.Figure:
    """One token's query against every token's key: softmax(QKᵀ/√dₖ) weights, then a mix of V."""
    fig = _canvas(t("Self-attention: the token '{query}' weighs every token; most weight goes to '{most}'.", query="it", most="cat"))
    tokens = ["the", "cat", "sat", "because", "it"]  # tokens of an English sentence: not translated
    weights = [0.05, 0.62, 0.08, 0.05, 0.20]
    xs = [10 + i * 20 for i in range(len(tokens))]
    query = xs[-1]
    for x, token, weight in zip(xs, tokens, weights, strict=True):
        fig.add_shape(
            type="line", x0=query, y0=70, x1=x, y1=32,
            line={"color": BLUE.format(a=0.25 + 0.75 * weight / max(weights)), "width": 1 + 12 * weight},
        )
        _text(fig, x, 22, token)
        _text(fig, x, 8, f"{weight:.2f}", SMALL_SIZE)
    _text(fig, query, 80, t("<b>{token}</b> (query)", token=tokens[-1]))
    _text(fig, 38, 80, "softmax(QKᵀ/√dₖ)", SMALL_SIZE)
    _text(fig, 50, 95, t("weights sum to 1; they mix the values V"), SMALL_SIZE)
    return fig


def pretrain_finetune_diagram() -> go.Figure:
    """Pretraining on much text once; then only a small head is fitted on a few labelled examples."""
    fig = _canvas(t("Pretraining, then fine-tuning: a frozen pretrained encoder and a small trained head."))
    for i in range(3):  # a pile of text
        _box(fig, 2 + i * 2, 40 - i * 4, 16 + i * 2, 66 - i * 4, opacity=0.08)
    _text(fig, 11, 22, t("much text"))
    _arrow(fig, 22, 52, 29, 52)
    _box(fig, 31, 30, 59, 74, opacity=0.3)
    _text(fig, 45, 58, t("encoder"))
    _text(fig, 45, 44, t("frozen"), SMALL_SIZE)
    _arrow(fig, 60, 52, 67, 52)
    _box(fig, 69, 40, 81, 64, opacity=0.6)
    _text(fig, 75, 52, t("head"))
    _arrow(fig, 82, 52, 87, 52)
    _text(fig, 88, 60, t("pos"), SMALL_SIZE, xanchor="left")
    _text(fig, 88, 44, t("neg"), SMALL_SIZE, xanchor="left")
    _text(fig, 22, 92, t("1 · pretraining"), SMALL_SIZE)
    _text(fig, 75, 92, t("2 · fine-tuning"), SMALL_SIZE)
    _text(fig, 75, 22, t("few labels"), SMALL_SIZE)
    fig.add_shape(type="line", x0=62, y0=14, x1=62, y1=98, line={"color": GREY, "width": 1, "dash": "dot"})
    return fig


def evaluation_diagram() -> go.Figure:
    """A confusion matrix, and precision, recall and F1 read from it."""
    fig = _canvas(t("Evaluation: a confusion matrix; precision, recall and F1 from its cells."))
    cells = {(0, 0): ("TP", 0.6), (0, 1): ("FP", 0.15), (1, 0): ("FN", 0.15), (1, 1): ("TN", 0.6)}
    for (row, col), (name, opacity) in cells.items():
        x0, y0 = 14 + col * 16, 48 - row * 30
        _box(fig, x0, y0, x0 + 16, y0 + 28, opacity=opacity)
        _text(fig, x0 + 8, y0 + 14, f"<b>{name}</b>")
    _text(fig, 30, 95, t("predicted"), SMALL_SIZE)
    _text(fig, 22, 83, t("yes"), SMALL_SIZE)
    _text(fig, 38, 83, t("no"), SMALL_SIZE)
    _text(fig, 8, 62, t("yes"), SMALL_SIZE)
    _text(fig, 8, 32, t("no"), SMALL_SIZE)
    _text(fig, 2, 47, t("true"), SMALL_SIZE, textangle=-90)
    for i, (name, formula) in enumerate((
        (n_("precision"), "TP / (TP + FP)"), (n_("recall"), "TP / (TP + FN)"), (n_("F1"), n_("their harmonic mean")),
    )):
        y = 80 - i * 28
        _text(fig, 52, y + 5, f"<b>{t(name)}</b>", xanchor="left")
        _text(fig, 52, y - 6, t(formula), SMALL_SIZE, xanchor="left")
    return fig


def generation_diagram() -> go.Figure:
    """Decoder-only generation: probabilities for the next token, pick one, append, repeat."""
    fig = _canvas(t("Decoder-only generation: the next token's probabilities, one picked and appended, again."))
    _box(fig, 2, 44, 24, 64, opacity=0.1)
    _text(fig, 13, 54, "The cat")
    _arrow(fig, 25, 54, 31, 54)
    _box(fig, 33, 38, 53, 70, opacity=0.3)
    _text(fig, 43, 54, t("decoder"))
    _arrow(fig, 54, 54, 60, 54)
    for i, (token, p) in enumerate((("sat", 0.55), ("is", 0.25), ("ran", 0.12))):
        y = 70 - i * 14
        _text(fig, 70, y, token, SMALL_SIZE, xanchor="right")
        _box(fig, 71, y - 4, 71 + 32 * p, y + 4, opacity=0.8 if i == 0 else 0.3)
        _text(fig, 72 + 32 * p, y, f"{p:.2f}", SMALL_SIZE, xanchor="left")
    fig.add_shape(  # append the picked token and go again
        type="path", path="M 80 82 Q 45 104 13 66", line={"color": GREY, "width": 1.5, "dash": "dot"},
    )
    _text(fig, 45, 94, t("append “{token}”, repeat", token="sat"), SMALL_SIZE)
    _text(fig, 43, 18, t("temperature, top-k, top-p reshape the bars"), SMALL_SIZE)
    return fig


IDEA_DIAGRAMS = {
    "cnn": cnn_diagram,
    "attention": attention_diagram,
    "pretrain": pretrain_finetune_diagram,
    "evaluation": evaluation_diagram,
    "generation": generation_diagram,
}
