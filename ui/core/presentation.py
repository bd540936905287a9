"""Presentation mode: large type, charts that fit a 1280×720 projector, the sidebar out of the
way, developer details hidden, high contrast; in the light and the dark theme.

Turned on by the sidebar toggle or by `present=1` in a link (the link keeps saying so while it
is on, so a reload or a copied address stays in presentation mode)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from backend.shared.language import t

KEY = "present"  # the toggle's session-state key, and the link parameter
BODY_PX = 22  # body text on a projector (the issue asks for at least 20 px)
CHART_MAX_HEIGHT = 560  # a chart and its heading fit in 720 px of screen
CHART_FONT = 20


def start(params: dict[str, str]) -> bool:
    """On a session's first run, the link decides; afterwards the toggle. Returns whether on."""
    if KEY not in st.session_state:
        st.session_state[KEY] = params.get(KEY) == "1"
    return bool(st.session_state[KEY])


def presenting() -> bool:
    return bool(st.session_state.get(KEY, False))


def dark() -> bool:
    try:
        return st.context.theme.type == "dark"
    except Exception:  # no browser context (AppTest, a bare script)
        return False


def toggle() -> None:
    st.toggle(t("Presentation mode"), key=KEY, help=t("Large type, projector-sized charts, developer details hidden. "
                                                      "Add present=1 to a link to open it this way."))


def style() -> None:
    """The presentation stylesheet, on every page while presenting."""
    if not presenting():
        return
    text, background, muted = ("#ffffff", "#000000", "#e6e6e6") if dark() else ("#000000", "#ffffff", "#1a1a1a")
    st.html(f"""<style>
    .stApp, [data-testid="stAppViewContainer"], [data-testid="stHeader"] {{ background: {background}; color: {text}; }}
    [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
    [data-testid="stWidgetLabel"] p, .stTextArea textarea, .stTextInput input,
    [data-testid="stMetricLabel"] p, label p {{
        font-size: {BODY_PX}px !important; line-height: 1.45; color: {text};
    }}
    .stButton button p, [data-testid="stAlert"] p, [data-testid="stSelectbox"] div {{ font-size: {BODY_PX}px !important; }}
    [data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * {{ font-size: {BODY_PX - 2}px !important; color: {muted} !important; }}
    h1 {{ font-size: 44px !important; }} h2 {{ font-size: 36px !important; }} h3 {{ font-size: 30px !important; }}
    [data-testid="stMetricValue"] {{ font-size: 48px !important; }}
    .st-key-dev-details {{ display: none !important; }}
    [data-testid="stMainBlockContainer"] {{ padding-top: 2rem; max-width: 100%; }}
    </style>""")


def for_screen(fig: go.Figure) -> go.Figure:
    """The figure as this visitor's screen needs it: dark colours in the dark theme, and
    projector-sized (height capped, larger type) while presenting. A copy: figures may be shared."""
    if not (presenting() or dark()):
        return fig
    fig = go.Figure(fig)
    if dark():
        fig.update_layout(template="plotly_dark", paper_bgcolor="#0e1117", plot_bgcolor="#0e1117", font_color="#f5f5f5")
        if fig.layout.title and fig.layout.title.font:
            fig.layout.title.font.color = "#f5f5f5"
    if presenting():
        height = fig.layout.height or 450
        size = (fig.layout.font.size or 14) if fig.layout.font else 14
        fig.update_layout(height=min(height, CHART_MAX_HEIGHT), font_size=max(size, CHART_FONT))
    return fig
