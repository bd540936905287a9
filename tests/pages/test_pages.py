"""One AppTest per page: it runs without an exception and shows a real answer."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception
    return at


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_home_lists_pages_and_models(app):
    at = _open(app, "home")
    assert at.title[0].value == "How AI models work"
    table = at.dataframe[0].value
    assert "SmolLM2-135M-Instruct (decoder)" in set(table["model"])
    assert any("Models run on: CPU" in c.value or "Models run on: CUDA" in c.value for c in at.caption)


def test_classification_example_is_positive(app):
    at = _open(app, "classify")
    at.button(key="classify_example_0").click().run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "positive"
    assert any("all-MiniLM-L6-v2" in c.value and "ms" in c.value for c in at.caption)


def test_classification_custom_labels_and_a_mistake(app):
    at = _open(app, "classify")
    at.text_area(key="classify_text").input("Messi scored twice in the final.")
    at.text_input(key="classify_labels").input("sports, business, politics").run()
    assert at.metric[0].value == "sports"
    at.text_input(key="classify_labels").input("sports").run()
    assert not at.exception
    assert "at least two" in at.error[0].value


def test_generation_streams_an_answer(app):
    at = _open(app, "generate")
    at.button(key="generate_example_2").click().run()
    at.slider(key="generate_max_tokens").set_value(24)
    at.slider(key="generate_temperature").set_value(0.0)
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert any("Paris" in m.value for m in at.markdown)
    assert any("Tokens:" in c.value and "SmolLM2" in c.value for c in at.caption)


def test_image_recognition_of_the_example_cat(app):
    at = _open(app, "recognise")
    assert at.radio(key="recognise_source").value == "Example photo"
    at.selectbox(key="recognise_example").set_value("Coffee cup").run()
    assert not at.exception and not at.error
    chart = at.get("plotly_chart")[0].proto.spec
    assert "espresso" in chart
    assert any("EfficientNet-Lite0" in c.value for c in at.caption)


def test_hub_model_offline_shows_a_message_not_a_traceback(app, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _open(app, "recognise")
    at.selectbox(key="recognise_model").select_index(1).run()
    assert not at.exception
    assert "Hugging Face Hub" in at.error[0].value


def test_attention_heatmap_for_the_default_sentence(app):
    at = _open(app, "attention")
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"heatmap"' in chart and "mat" in chart
    at.slider(key="attention_layer_minilm-l6").set_value(6).run()
    assert not at.exception
    assert "Layer 6" in at.get("plotly_chart")[0].proto.spec
    at.selectbox(key="attention_model").select_index(1).run()
    assert not at.exception and not at.error
    assert any("30 layers × 9 heads" in c.value for c in at.caption)
