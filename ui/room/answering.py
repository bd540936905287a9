"""A question on a phone (`/?ask=<code>`): the question alone, large choices, one tap to answer;
tapping another changes the answer until the reveal; after it, the model's answer and the room's."""

from __future__ import annotations

import streamlit as st

from backend.room.questions import Question
from backend.room.room_figures import reveal_figure
from backend.room.store import (CHANGED, COUNTED, FULL, OTHER, REFUSED, REVEALED, UNCHANGED, UNKNOWN,
                                RoomStoreError, answers_per_address, room_store)
from backend.shared.language import n_, t
from ui.core import language
from ui.core.downloads import chart
from ui.core.jobs import client_address
from ui.core.markdown import plain
from ui.core.widgets import shown_errors
from ui.room.voter import voter_id

WAIT_SECONDS = 1.0  # how often a phone looks for the reveal
_SAID = {
    COUNTED: n_("Counted. Tap another choice to change your answer before the reveal."),
    CHANGED: n_("Changed. Your new answer counts instead of the old one."),
    UNCHANGED: n_("Already counted."),
    REVEALED: n_("Too late: the answers are revealed."),
    UNKNOWN: n_("This question is closed or has expired."),
    REFUSED: n_("Too many answers came from your network for this question."),
    FULL: n_("This question has all the answers it can take."),
}


def question_page(code: str) -> None:
    """The whole page for a phone that opened a question's link."""
    with shown_errors():
        question = room_store().question(code[:16])
        if question is None:
            st.warning(t("This question is closed or has expired. Ask the presenter for the new code."),
                       icon=":material/timer_off:")
            return
        st.markdown(f"### {plain(question.prompt)}")
        if question.image:
            st.image(question.image, width="stretch")
        if question.context:
            st.markdown(plain(question.context))
        _choices(code[:16], question)


def _answer(code: str, choice: int, typed: str = "") -> None:
    try:
        outcome = room_store().answer(code, voter_id(), choice, client_address() or "unknown", answers_per_address(),
                                      typed)
    except RoomStoreError as exc:  # a callback's error would not reach `shown_errors`
        st.session_state["room_problem"] = str(exc)
        return
    st.session_state["room_said"] = outcome


def _choices(code: str, question: Question) -> None:
    store = room_store()
    if store.revealed(code):
        _revealed(code, question)
        return
    mine = store.mine(code, voter_id())
    for i, choice in enumerate(question.choices):
        st.button(plain(choice), key=f"room_choice_{i}", width="stretch",
                  type="primary" if mine == i else "secondary", on_click=_answer, args=(code, i),
                  icon=":material/check_circle:" if mine == i else None)
    if question.free_text:
        with st.form("room_typed", clear_on_submit=True, border=False):
            typed = st.text_input(t("Or type your guess"), max_chars=40, key="room_typed_text")
            if st.form_submit_button(t("Send"), width="stretch") and typed.strip():
                matched = question.match(typed)
                _answer(code, OTHER if matched is None else matched, typed)
                st.rerun()
    said = st.session_state.pop("room_said", None)
    problem = st.session_state.pop("room_problem", None)
    if problem:
        st.error(plain(problem), icon=":material/error:")
    elif said:
        (st.success if said in (COUNTED, CHANGED, UNCHANGED) else st.warning)(t(_SAID[said]))
    elif mine == OTHER:
        st.info(t("Your typed answer is counted."))
    _wait_for_reveal(code)


@st.fragment(run_every=WAIT_SECONDS)
def _wait_for_reveal(code: str) -> None:
    language.start({})  # a fragment's rerun does not run app.py, which sets the session's language
    st.caption(t("Waiting for the presenter to reveal the model's answer…"))
    revealed = False
    with shown_errors():
        revealed = room_store().revealed(code)
    if revealed is not False:
        st.rerun()  # revealed, or gone: the whole page says which


def _revealed(code: str, question: Question) -> None:
    tally = room_store().tally(code)
    if tally is None:
        return
    st.success(t("The model's first choice: **{choice}** ({probability:.0%})", choice=plain(question.choices[tally.model_choice]),
                 probability=tally.model_shares[tally.model_choice]))
    mine = room_store().mine(code, voter_id())
    if mine is not None and mine >= 0:
        st.markdown(t("Your answer: **{choice}**", choice=plain(question.choices[mine])))
    chart(reveal_figure(question, tally), "room_phone_reveal", "room-and-model", download=False)
