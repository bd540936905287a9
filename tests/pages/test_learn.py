"""The "How it learns" page: a link with run=1 trains, the presets and buttons work, each view
answers, the public caps are a message, and the static export draws a run's final boundary."""

from pathlib import Path
from urllib.parse import urlencode

import pytest
from streamlit.testing.v1 import AppTest

from backend.learning.toy_training import ToySettings, final
from ui.talk.deck import checked_view
from ui.talk.static_site import render_view

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _learn(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(params or {})
    at.switch_page("pages/learn.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_link_with_run_trains_as_it_says_and_shows_the_boundary_and_accuracies():
    at = _learn({"data": "blobs", "epochs": "40", "seed": "3", "run": "1"})
    expected = final(ToySettings(dataset="blobs", epochs=40, seed=3))
    shown = _metrics(at)
    assert shown["Epoch"] == "40 / 40"
    assert shown["Test accuracy"] == f"{expected.test_accuracy:.1%}" and shown["Train accuracy"] == f"{expected.train_accuracy:.1%}"
    assert {"learn_boundary", "learn_loss"} <= {c.key.rsplit("_", 1)[0] for c in at.get("plotly_chart") if c.key}


def test_pause_step_reset_and_a_preset():
    at = _learn({"epochs": "30"})
    at.button(key="learn_step").click().run()
    assert _metrics(at)["Epoch"] == "1 / 30"
    at.button(key="learn_step").click().run()
    assert _metrics(at)["Epoch"] == "2 / 30"
    at.button(key="learn_train").click().run()  # goes on from epoch 2, to the same curves as a run never paused
    whole = final(ToySettings(epochs=30))
    assert _metrics(at)["Epoch"] == "30 / 30" and _metrics(at)["Test accuracy"] == f"{whole.test_accuracy:.1%}"
    at.button(key="learn_reset").click().run()
    assert "Epoch" not in _metrics(at)
    at.pills(key="learn_example").set_value("A linear model on XOR").run()
    assert at.session_state["learn_depth"] == 0 and at.session_state["learn_dataset"] == "xor"
    at.button(key="learn_train").click().run()
    assert not at.exception and not at.error
    assert float(_metrics(at)["Test accuracy"].rstrip("%")) < 70


def test_too_large_a_run_in_public_mode_is_a_message(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    at = _learn({"width": "32", "depth": "4"})
    at.button(key="learn_train").click().run()
    assert not at.exception
    assert "at most 64 units in all; 4 x 32 = 128" in at.error[0].value
    # a link past a cap is reset with a notice, not quietly clamped by the widget
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"epochs": "1001", "points": "4000"})
    at.switch_page("pages/learn.py")
    at.run()
    notice = " ".join(w.value for w in at.warning)
    assert "epochs='1001' (not between 1 and 1000)" in notice and "points='4000' (not between 20 and 1000)" in notice
    assert at.session_state["learn_epochs"] == 300 and at.session_state["learn_points"] == 500


@pytest.mark.parametrize(("view", "shown"), [
    ("Backpropagation by hand", "Largest difference from autograd"),
    ("Gradient descent", "steps"),
    ("Pretraining, then fine-tuning", "Held out"),
])
def test_every_view_answers(view, shown):
    at = _learn({"view": view})
    text = " ".join([*(m.value for m in at.markdown), *(m.label for m in at.metric)])
    assert shown in text
    if view == "Backpropagation by hand":
        assert float(_metrics(at)["Largest difference from autograd"]) < 1e-6


def test_the_static_export_of_a_training_run_shows_its_final_boundary():
    view = checked_view("XOR", "/learn?" + urlencode({"data": "xor", "epochs": "50", "depth": "2"}))
    page = render_view(view)
    expected = final(ToySettings(dataset="xor", epochs=50))
    assert f"Epoch 50: train accuracy {expected.train_accuracy:.1%}, test accuracy {expected.test_accuracy:.1%}" in page
    assert page.count("plotly-graph-div") == 2  # the boundary and the loss curves
