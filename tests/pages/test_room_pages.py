"""The room's pages without a browser: a question's link that is not (or no longer) known is a
clear message; a phone sees the question, and after the presenter's reveal the model's answer."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from backend.room.questions import Question
from backend.room.store import room_store

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _phone(code: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ask"] = code
    at.run()
    assert not at.exception
    return at


def test_an_unknown_question_is_a_message_not_an_error():
    at = _phone("zzzzzz")
    assert "This question is closed or has expired" in " ".join(w.value for w in at.warning)
    assert not at.button  # nothing to answer, no sidebar panels


def test_a_phone_sees_the_question_then_after_the_reveal_the_models_answer():
    """(Tapping is the browser tests': AppTest's rerun after a click does not carry the link's
    parameters, so it would not reach the question page again.)"""
    question = Question("classification", "Which label?", "What a wonderful film", ("negative", "positive"), (0.1, 0.9))
    code = room_store().open(question, "secret", "presenter-session", 3)
    at = _phone(code)
    assert [b.label for b in at.button] == ["negative", "positive"]
    assert "Which label?" in " ".join(m.value for m in at.markdown)
    assert not room_store().reveal(code, "not the secret")
    assert room_store().reveal(code, "secret")
    at = _phone(code)
    assert "The model's first choice: **positive** (90%)" in " ".join(s.value for s in at.success)
    assert not at.button  # nothing to answer once revealed
