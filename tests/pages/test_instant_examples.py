"""The pages' examples, computed once at start-up, are then served from memory: a click on one
asks no model (every backend submit is made to fail), and the answer is the real one."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.attention.request
import ui.classify.request
import ui.generate.request
import ui.learn.kept
import ui.recognise.request
from backend.generation.in_process import generate, submit_generate
from backend.runtime.scheduler import SCHEDULER
from ui.attention.inputs import EXAMPLES as ATTENTION_EXAMPLES
from ui.classify.inputs import EXAMPLES as CLASSIFY_EXAMPLES
from ui.core import jobs
from ui.generate import kept
from ui.startup import examples as instant

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _asked_a_model(*args, **kwargs):
    raise AssertionError("an example's answer should come from memory, not from a model")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(instant, "wait_until_idle", lambda: None)  # no visitors here to give way to


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception and not at.error
    return at


def test_an_example_stays_in_memory_however_many_answers_follow_it():
    results = jobs._Results(max_entries=3)
    results.keep("example", "kept")
    for i in range(10):
        job = SCHEDULER.submit("tests-instant", str, i)
        assert results.claim(("visitor", i), lambda job=job: job) is job
        job.wait(10)
    assert results.claim("example", _asked_a_model) == "kept"
    assert results.sizes() == (4, 0)  # the example, and the 3 most recent visitors' answers


def test_classification_examples_and_their_explanations_come_from_memory(monkeypatch):
    # Each example: the side-by-side table's four classifiers (built-in sentiment, zero-shot with the
    # default labels and with the topics an example leaves, taught by the starter rows; every
    # example's own classifier is one of them), then its explanation.
    assert instant._classify_examples() == len(CLASSIFY_EXAMPLES) * (4 + 1) == 35
    monkeypatch.setattr(ui.classify.request, "submit_classify", _asked_a_model)
    monkeypatch.setattr(ui.classify.request, "submit_explain", _asked_a_model)
    at = _page("classify")
    for title, label in (("Terrible service", "negative"), ("Football final", "sports"), ("Support tickets", None)):
        at.pills(key="classify_example").set_value(title).run()
        assert not at.exception and not at.error, title
        if label:
            assert at.metric[0].value == label
        assert any("Integrated Gradients" in m.value for m in at.markdown), title


def test_attention_examples_come_from_memory(monkeypatch):
    # every example but Gemma 3's: a server loads that model (1 GB) only once someone picks it
    assert instant._attention_examples() == len(ATTENTION_EXAMPLES) - 1 == 4
    monkeypatch.setattr(ui.attention.request, "submit_attention", _asked_a_model)
    at = _page("attention")
    at.pills(key="attention_example").set_value("Bank (money)").run()
    assert not at.exception and not at.error
    assert "deposit" in at.get("plotly_chart")[0].proto.spec


def test_an_example_photo_and_its_maps_come_from_memory(monkeypatch):
    photos = instant.IMAGE_EXAMPLES
    monkeypatch.setattr(instant, "IMAGE_EXAMPLES", {"Coffee cup": photos["Coffee cup"]})
    assert instant._image_examples() == 2
    at = _page("recognise")  # the default photo, computed now
    monkeypatch.setattr(ui.recognise.request, "submit_recognise", _asked_a_model)
    monkeypatch.setattr(ui.recognise.request, "submit_explain_image", _asked_a_model)
    at.selectbox(key="recognise_example").set_value("Coffee cup").run()
    assert not at.exception and not at.error
    charts = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    assert "espresso" in charts and "Grad-CAM" in charts  # the top class, and the default map


def _tokens(at: AppTest) -> list[int]:
    return at.session_state["generate_job"].outcome().token_ids


def test_a_generation_example_is_shown_from_memory_and_a_changed_setting_generates_live(monkeypatch):
    key = next(k for k, title in kept.example_generations().items() if title == "Capital of France")
    _engine, model_key, prompt, settings = key
    assert settings.temperature == 0.3 and settings.seed == 0  # the page's defaults
    asked = next(r for r in (ui.generate.request.generation(v) for _, v in kept.as_left_by_a_click(
        kept.inputs.EXAMPLES, instant.defaults(kept.inputs.fields()))) if r.key == key)
    stored = kept.kept_or_submitted(asked)
    stored.wait()
    assert kept.finished_generations().get(key) is stored
    fresh = generate(prompt, settings, model_key)
    list(fresh)
    assert fresh.token_ids == stored.outcome().token_ids, "seeded sampling gives the same tokens every run"

    submitted = []
    monkeypatch.setattr(ui.generate.request, "submit_generate", _asked_a_model)
    at = _page("generate")
    at.pills(key="generate_example").set_value("Capital of France").run()
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert at.session_state["generate_job"] is stored and _tokens(at) == fresh.token_ids
    assert any("Stopped by:" in c.value for c in at.caption)
    html = " ".join(element.proto.body for element in at.get("html"))
    assert "Paris" in html
    # the views of one token work on the stored generation
    assert [m.label for m in at.metric] == ["Probability", "Rank", "Entropy", "Tokens left to draw from"]
    at.session_state["generate_view"] = "Logit lens"
    at.run()
    assert not at.exception and not at.error
    assert "top guess" in " ".join(c.value for c in at.caption)

    def live(*args, **kwargs):
        submitted.append(args)
        return submit_generate(*args, **kwargs)

    monkeypatch.setattr(ui.generate.request, "submit_generate", live)
    at.number_input(key="generate_max_tokens").set_value(8)
    at.number_input(key="generate_temperature").set_value(0.0)
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert len(submitted) == 1 and at.session_state["generate_job"] is not stored
    assert kept.finished_generations().get(("in-process", model_key, prompt, submitted[0][1])) is None  # not an example's: not kept


def test_the_learning_examples_are_trained_once_and_a_preset_click_comes_from_memory(monkeypatch):
    assert instant._learning_examples() == 6  # the default run and the five presets
    monkeypatch.setattr(ui.learn.kept, "submit_training", _asked_a_model)
    at = _page("learn")
    at.pills(key="learn_example").set_value("A linear model on XOR").run()
    at.button(key="learn_train").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Epoch"] == "200 / 200"
