"""The presenter's side: "Ask the room" turns the answer on screen into a question with its own
QR code and short link; "N answered" rises live; Reveal sets the room's answers beside the
model's probabilities. Only this session holds the question's secret (never in a link)."""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

from backend.room.questions import Question
from backend.room.room_figures import reveal_figure
from backend.room.store import RoomStoreError, most_open, room_store
from backend.shared.language import t
from ui.core import language
from ui.core.downloads import chart
from ui.core.jobs import session_id
from ui.core.markdown import plain
from ui.core.widgets import shown_errors
from ui.talk.share import app_root, qr_png

ASKED = "room_asked"  # session state: page -> (code, secret) of the question this session asked there
PARAM = "ask"  # /?ask=<code>: the question on a phone
COUNT_SECONDS = 0.25  # how often the presenter's count is refreshed (a store read: cheap)


def question_link(code: str) -> str:
    return f"{app_root()}/?" + urlencode({PARAM: code, **language.link_params()})


def ask_the_room(page: str, build: Callable[[], Question]) -> None:
    """The button under a page's answer, and once pressed the question's panel there.
    `build` makes the question from the answer on screen."""
    asked: dict[str, tuple[str, str]] = st.session_state.setdefault(ASKED, {})
    if page not in asked:
        if not st.button(t("Ask the room"), key=f"room_ask_{page}", icon=":material/how_to_vote:",
                         help=t("Turn this answer into a question: the room answers on their phones first, then "
                                "you reveal what the model thought.")):
            return
        with shown_errors():
            secret = secrets.token_urlsafe(24)
            asked[page] = (room_store().open(build(), secret, session_id(), most_open()), secret)
        if page not in asked:
            return
        st.rerun()  # the page again, with the question's panel where the button was
    code, secret = asked[page]
    with shown_errors():
        _panel(page, code, secret)


def _close(page: str) -> None:
    code, secret = st.session_state[ASKED].pop(page)
    try:
        room_store().close(code, secret)
    except RoomStoreError:
        pass  # unreachable now: the question expires on its own


def _panel(page: str, code: str, secret: str) -> None:
    store = room_store()
    question = store.question(code)
    if question is None:
        st.session_state[ASKED].pop(page, None)
        st.info(t("The question asked here is closed or has expired."), icon=":material/timer_off:")
        return
    with st.container(border=True, key=f"room_panel_{page}"):
        left, right = st.columns([1, 2])
        link = question_link(code)
        left.image(qr_png(link), width="stretch")
        left.html(f'<p style="text-align:center;font-size:20px;font-weight:600;word-break:break-all">'
                  f'{html.escape(link)}</p>')
        with right:
            st.markdown(f"**{plain(question.prompt)}**")
            if question.context:
                st.caption(plain(question.context))
            st.markdown(" · ".join(plain(c) for c in question.choices))
            revealed = store.revealed(code)
            if not revealed:
                _count(code)
                b1, b2 = st.columns(2)
                if b1.button(t("Reveal"), key=f"room_reveal_{page}", type="primary", icon=":material/visibility:"):
                    store.reveal(code, secret)
                    st.rerun()
                b2.button(t("Close"), key=f"room_close_{page}", icon=":material/close:", on_click=_close, args=(page,))
                return
        tally = store.tally(code)
        if tally is None:
            return
        chart(reveal_figure(question, tally), f"room_reveal_chart_{page}", "room-and-model")
        c1, c2, c3 = st.columns(3)
        c1.metric(t("Answered"), f"{tally.answered}")
        c2.metric(t("Chose the model's first choice"), f"{tally.matched} / {sum(tally.counts)}",
                  help=t("The model's first choice is marked ★."))
        c3.metric(t("Overlap with the model"), "—" if tally.overlap is None else f"{tally.overlap:.0%}")
        st.caption(t("Overlap: how much the room's answers and the model's probabilities (over these choices) "
                     "coincide; 100 % means the room answered in the same proportions as the model's odds."))
        if tally.others:
            typed = ", ".join(_typed(question, w) for w in tally.typed)
            st.caption(t("{count} typed answers matched no choice: {typed}", count=tally.others, typed=typed))
        st.button(t("Close the question"), key=f"room_done_{page}", icon=":material/close:", on_click=_close,
                  args=(page,))


def _typed(question: Question, typed: str) -> str:
    """A typed guess as typed, with the model's probability of it where the model ranked it."""
    p = question.probability_of(typed)
    if p is None:
        return t("“{typed}” (not in the model's top {count})", typed=plain(typed),
                 count=len(question.choices) + len(question.known))
    return t("“{typed}” (model: {probability})", typed=plain(typed), probability=f"{p:.1%}")


@st.fragment(run_every=COUNT_SECONDS)
def _count(code: str) -> None:
    language.start({})  # a fragment's rerun does not run app.py, which sets the session's language
    with shown_errors():
        tally = room_store().tally(code)
        st.metric(t("Answered"), f"{tally.answered if tally else 0}")
