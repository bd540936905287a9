"""Each page's request is built in one place: a changed input default reaches the page, the
start-up examples, the static site and the first calls at server start alike."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.classify.inputs
import ui.classify.request
from backend.text.explain_text import submit_explain
from ui.startup import examples, first_calls
from ui.talk.deck import View
from ui.talk.static_site import render_view

APP = str(Path(__file__).resolve().parents[2] / "app.py")
CHANGED_STEPS = 7  # Integrated Gradients' steps; the shipped default is another number


@pytest.fixture
def asked_steps(monkeypatch) -> list[int]:
    """The IG steps of every classification explanation asked for while the default is changed."""
    assert ui.classify.inputs.DEFAULT_STEPS != CHANGED_STEPS
    monkeypatch.setattr(ui.classify.inputs, "DEFAULT_STEPS", CHANGED_STEPS)
    monkeypatch.setattr(examples, "wait_until_idle", lambda: None)
    monkeypatch.setattr(first_calls, "wait_until_idle", lambda: None)
    asked = []

    def recording(text, classifier, target, methods, steps, **owner):
        asked.append(steps)
        return submit_explain(text, classifier, target, methods, steps, **owner)

    monkeypatch.setattr(ui.classify.request, "submit_explain", recording)
    return asked


def test_a_changed_default_reaches_the_page(asked_steps):
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/classify.py")
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["classify_steps"] == CHANGED_STEPS
    assert asked_steps == [CHANGED_STEPS]
    assert any(f"{CHANGED_STEPS} steps" in c.value for c in at.caption)  # the explanation drawn says so


def test_a_changed_default_reaches_the_examples_the_static_site_and_the_first_calls(asked_steps):
    examples._classify_examples()
    assert asked_steps and set(asked_steps) == {CHANGED_STEPS}
    asked_steps.clear()
    html = render_view(View("A review", "/classify?text=The+soup+was+cold+and+bland."))
    assert "Prediction: negative" in html and asked_steps == [CHANGED_STEPS]
    asked_steps.clear()
    first_calls._classify_page()
    assert asked_steps == [CHANGED_STEPS]
