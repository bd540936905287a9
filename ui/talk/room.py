"""What every page has for a talk, drawn once by the router: presentation mode, 'let the room
follow', the talk deck, the phone layout, and the app's own link parameters."""

from __future__ import annotations

import streamlit as st

from backend.shared.language import t
from ui.core import language, presentation
from ui.core.markdown import plain
from ui.core.state import APP_LINK, APP_PARAMS
from ui.talk import deck_panel, phone, share


def controls(params: dict[str, str]) -> None:
    """After `st.navigation`, before the page runs. `params`: the link the run started with."""
    share.follow_short_link(params)  # /?go=code: the view a presenter's QR code stands for
    problem = deck_panel.load_from_link(params)
    with st.sidebar:
        language.switch()
        presentation.toggle()
        if st.button(t("Let the room follow"), key="share_room", icon=":material/qr_code_2:", width="stretch",
                     help=t("A QR code and a short link that open this view on the audience's phones.")):
            share.show_room_link(deck_panel.current_view_link())
        deck_panel.panel()
    presentation.style()
    phone.style()
    # The app's own link parameters: presentation mode, the deck and the language stay in the address bar.
    own = st.session_state[APP_LINK] = {**({"present": "1"} if presentation.presenting() else {}),
                                        **deck_panel.link_params(), **language.link_params()}
    for name in APP_PARAMS:
        if name in st.query_params and st.query_params[name] != own.get(name):
            del st.query_params[name]
    for name, value in own.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    if problem:
        st.warning(plain(problem), icon=":material/link_off:")
