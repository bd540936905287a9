"""Which language a session reads, and the switch in the sidebar.

On a session's first run, `lang=zh` / `lang=en` in its link decides; without one, the browser's
preferred language (Chinese when it prefers any form of Chinese to English), else English.
Afterwards the sidebar switch decides. Once chosen (by the link or the switch), or whenever it is
not English, the language stays in the address bar as `lang=`, so a reload, a copied link, the
room's QR code and short links, a deck and its static export open in it.
"""

from __future__ import annotations

import streamlit as st

from backend.shared.language import DEFAULT, LANGUAGES, current, preferred, set_current, t

KEY = "language"  # the switch's session-state key
CHOSEN = "language_chosen"  # True once the link or the switch named a language
PARAM = "lang"


def _browser() -> str | None:
    try:
        return preferred(st.context.locale) or preferred(st.context.headers.get("Accept-Language"))
    except Exception:  # no browser context (AppTest, a bare script)
        return None


def start(params: dict[str, str]) -> str:
    """First thing in each script run: the language of this run (set for everything it calls)."""
    if KEY not in st.session_state:
        asked = params.get(PARAM)
        st.session_state[CHOSEN] = asked in LANGUAGES
        st.session_state[KEY] = asked if asked in LANGUAGES else (_browser() or DEFAULT)
    if st.session_state[KEY] not in LANGUAGES:
        st.session_state[KEY] = DEFAULT
    set_current(st.session_state[KEY])
    return st.session_state[KEY]


def _chosen() -> None:
    st.session_state[CHOSEN] = True
    set_current(st.session_state[KEY])


def _name(code: str) -> str:
    return LANGUAGES[code]


def switch() -> None:
    """The language switch (in the sidebar)."""
    st.segmented_control(
        t("Language"), list(LANGUAGES), key=KEY, format_func=_name, on_change=_chosen,
        required=True, help=t("Add lang=zh or lang=en to a link to open it in that language."),
    )


def link_params() -> dict[str, str]:
    """`lang=` for the address bar and every link made from this view (empty: the browser decides)."""
    chosen = st.session_state.get(CHOSEN, False) or current() != DEFAULT
    return {PARAM: current()} if chosen else {}
