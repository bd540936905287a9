"""One AppTest per page: it runs without an exception and shows a real answer."""

import json
import re
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


def shown_as(markdown: str) -> str:
    """What a visitor reads: the Markdown source without the escapes and the invisible word joiners
    (in "://", "www." and "@": no autolink) that keep strangers' text literal."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _open_tab(at: AppTest, page: str, view: str) -> AppTest:
    """Open one of a page's stateful tabs (only the open tab's code runs)."""
    at.session_state[f"{page}_view"] = view
    at.run()
    assert not at.exception and not at.error, view
    return at


def test_home_lists_pages_and_models(app):
    at = _open(app, "home")
    assert at.title[0].value == "How AI models work"
    table = at.dataframe[0].value
    assert "SmolLM2-135M-Instruct (decoder)" in set(table["model"])
    assert any("Models run on: CPU" in c.value or "Models run on: CUDA" in c.value for c in at.caption)


def test_classification_example_is_positive(app):
    at = _open(app, "classify")
    at.pills(key="classify_example").set_value("Wonderful movie").run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "positive"
    assert any("all-MiniLM-L6-v2" in c.value and "ms" in c.value for c in at.caption)


def test_classification_custom_labels_and_a_mistake(app):
    at = _open(app, "classify")
    at.radio(key="classify_mode").set_value("zero-shot").run()
    at.text_area(key="classify_text").input("Messi scored twice in the final.")
    at.text_area(key="classify_labels").input("sports, business, politics").run()
    assert at.metric[0].value == "sports"
    at.text_area(key="classify_labels").input("sports").run()
    assert not at.exception
    assert "at least two" in at.error[0].value


def test_classification_explains_with_ig_and_a_faithfulness_table(app):
    at = _open(app, "classify")
    at.text_area(key="classify_text").input("The movie was great").run()
    assert at.metric[0].value == "positive"
    captions = " ".join(c.value for c in at.caption)
    assert "Held-out accuracy on 600 real review sentences" in captions
    assert re.search(r"32 steps · sum [+-]\d\.\d{3} = p\(text\) − p\(baseline\)", captions)
    faithfulness = next(t.value for t in at.table if "order" in t.value.columns)
    assert list(faithfulness["order"]) == ["Integrated Gradients", "Leave one out", "Random order"]
    at.selectbox(key="classify_target").set_value("negative").run()
    assert "Why negative?" in " ".join(m.value for m in at.markdown)


def test_classification_warns_on_text_the_encoder_cannot_read(app):
    at = _open(app, "classify")
    at.text_area(key="classify_text").input("这部电影很糟糕").run()
    assert not at.exception and not at.error
    assert "was trained on English text" in at.warning[0].value and "CJK" in at.warning[0].value


def test_teaching_by_examples_classifies_and_explains(app):
    at = _open(app, "classify")
    at.pills(key="classify_example").set_value("Support tickets").run()  # "Support tickets": the starter table
    assert not at.exception and not at.error
    assert at.metric[0].value == "complaint"
    assert any("complaint** 3" in c.value for c in at.caption)
    assert any("fitted on your 9 examples" in c.value for c in at.caption)
    assert "Why complaint?" in " ".join(m.value for m in at.markdown)


def _generated_html(at: AppTest) -> str:
    return " ".join(element.proto.body for element in at.get("html"))


def test_generation_streams_an_answer_and_opens_every_view_of_a_token(app):
    at = _open(app, "generate")
    at.pills(key="generate_example").set_value("Capital of France").run()
    at.number_input(key="generate_max_tokens").set_value(24)
    at.number_input(key="generate_temperature").set_value(0.0)
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert "Paris" in _generated_html(at)
    assert any("Tokens:" in c.value and "Perplexity:" in c.value for c in at.caption)
    assert any("Stopped by:** end of answer" in c.value and "SmolLM2" in c.value for c in at.caption)
    # the inspector starts at the least likely token; pick " Paris"
    steps = at.select_slider[0].options
    paris = next(i for i, label in enumerate(steps) if "Paris" in label)
    at.select_slider[0].set_value(paris).run()
    assert [m.label for m in at.metric] == ["Probability", "Rank", "Entropy", "Tokens left to draw from"]
    assert at.metric[1].value == "1"  # greedy
    _open_tab(at, "generate", "Where it looked")
    assert "Attention of the position that chose “ Paris”" in " ".join(c.value for c in at.caption)
    at.toggle(key="generate_look_ig").set_value(True).run()
    assert not at.exception and not at.error
    assert "the shares add up" in " ".join(c.value for c in at.caption)
    _open_tab(at, "generate", "Logit lens")
    assert "becomes the top guess at layer" in " ".join(c.value for c in at.caption)
    # what if: a typed token that is two tokens is refused; a real one continues
    _open_tab(at, "generate", "What if")
    at.text_input(key="generate_whatif_typed").input("London is")
    at.button(key="generate_whatif_run").click().run()
    assert "not one" in at.error[0].value
    at.text_input(key="generate_whatif_typed").input(" London")
    at.button(key="generate_whatif_run").click().run()
    assert not at.exception and not at.error
    assert "London" in _generated_html(at)
    assert any("What if" in m.value for m in at.markdown)


def test_gemma_continues_a_chinese_sentence_and_steps_through_its_normalised_heads(app):
    at = _open(app, "generate")
    at.pills(key="generate_example").set_value("In Chinese (Gemma 3)").run()
    at.number_input(key="generate_max_tokens").set_value(12)
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    html = _generated_html(at)
    assert re.search(r"[\u4e00-\u9fff]{2}", html) and "\ufffd" not in html  # Chinese, whole words
    assert any("Stopped by:" in c.value and "Gemma 3 270M" in c.value for c in at.caption)
    _open_tab(at, "generate", "Logit lens")
    assert "top guess" in " ".join(c.value for c in at.caption)
    at = _open(at, "attention")
    at.pills(key="attention_example").set_value("Chinese (Gemma 3)").run()
    assert not at.exception and not at.error
    tokens = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["xaxis"]["ticktext"]
    assert "学习" in tokens and "编程" in tokens, tokens  # whole words: Gemma's vocabulary holds them
    _open_tab(at, "attention", "Step through one head")
    assert "normalises each head's q and k" in " ".join(m.value for m in at.markdown)
    assert float(at.metric[0].value) < 1e-5 and float(at.metric[1].value) < 1e-4


def test_generation_through_a_server_that_refuses_is_a_clear_message(app):
    at = _open(app, "generate")
    at.segmented_control(key="generate_engine").set_value("server").run()
    at.text_input(key="generate_server").input("http://127.0.0.1:9")
    at.text_area(key="generate_prompt").input("Hi")
    at.button(key="generate_run").click().run()
    assert not at.exception
    assert "http://127.0.0.1:9/v1 refused the connection" in shown_as(at.error[0].value)


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


def _chart_titles(at: AppTest) -> str:
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    return " | ".join(layout.get("title", {}).get("text", "") for layout in layouts)


def test_image_page_shows_where_the_network_looked_and_how_far_to_trust_it(app):
    at = _open(app, "recognise")
    at.selectbox(key="recognise_example").set_value("Coffee cup").run()
    assert not at.exception and not at.error
    assert any("As the network saw it" in c.value or "Resized and centre-cropped to 224×224" in c.value for c in at.caption)
    titles = _chart_titles(at)
    assert "Grad-CAM at blocks.6" in titles and "Integrated Gradients" in titles
    road = at.dataframe[0].value
    assert list(road["map"]) == ["Grad-CAM", "Integrated Gradients", "Random map (baseline)", "Edge detector (baseline)"]
    drops = dict(zip(road["map"], road["mean drop (points)"], strict=True))
    assert drops["Grad-CAM"] > drops["Edge detector (baseline)"]
    # any class, any method, any layer
    at.selectbox(key="recognise_class").set_value(968).run()
    assert not at.exception and not at.error
    assert any("**Class:** cup" in c.value for c in at.caption)
    at.segmented_control(key="recognise_cam").set_value("eigencam").run()
    at.selectbox(key="recognise_layer").set_value("bn2").run()
    at.toggle(key="recognise_road").set_value(False).run()
    assert not at.exception and not at.error
    assert "Eigen-CAM at bn2" in _chart_titles(at) and not at.dataframe
    assert "'class': '968'" in str(at.query_params)


def test_image_page_how_a_cnn_sees(app):
    at = _open(app, "recognise")
    _open_tab(at, "recognise", "How a CNN sees")
    titles = _chart_titles(at)
    assert "First layer (conv_stem): all 32 filters, 3×3×3, stride 2" in titles
    for expected in ("Early (bn1): 112×112 maps", "Middle (blocks.2): 28×28 maps", "Late (blocks.6): 7×7 maps"):
        assert expected in titles
    assert "Resolution shrinks, channels grow" in titles
    at.slider(key="recognise_channels").set_value(4).run()
    assert "4 of 32 channels" in _chart_titles(at)


def test_image_page_model_ids_and_a_bad_layer_in_a_link(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _opened_by_link("recognise", {"model_id": "timm:resnet50.a1_in1k"})
    assert "cannot be reached" in at.error[0].value
    at.text_input(key="recognise_model_id").input("foo:bar").run()
    assert not at.exception and "not a model source" in at.error[0].value
    linked = _opened_by_link("recognise", {"layer": "nope", "cam": "gradcam++", "example": "Coffee cup"})
    assert not linked.error
    assert "no CAM layer 'nope'" in linked.warning[0].value
    assert "Grad-CAM++ at blocks.6" in _chart_titles(linked)


def test_image_page_camera_waits_for_a_photo(app):
    at = _open(app, "recognise")
    at.radio(key="recognise_source").set_value("Camera").run()
    assert not at.exception and not at.error
    assert "take a photo" in at.info[0].value
    assert any("allow it from the camera icon" in c.value for c in at.caption)


def test_attention_heatmap_for_the_default_sentence(app):
    at = _open(app, "attention")
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"heatmap"' in chart and "mat" in chart
    at.slider(key="attention_layer").set_value(6).run()
    assert not at.exception
    assert "Layer 6" in at.get("plotly_chart")[0].proto.spec
    at.selectbox(key="attention_model").select_index(1).run()
    assert not at.exception and not at.error
    assert any("30 layers × 9 heads" in c.value for c in at.caption)


def test_attention_page_every_view_and_a_long_text(app):
    at = _open(app, "attention")
    for view in ("Model view", "Head view", "Rollout", "Step through one head"):
        _open_tab(at, "attention", view)
    assert [m.label for m in at.metric][:2] == ["Largest difference, weights", "Largest difference, head output"]
    assert all(float(m.value) < 1e-5 for m in at.metric[:2]) and at.metric[2].value == "0"
    at.selectbox(key="attention_model").select_index(1).run()  # SmolLM2: rotary, grouped-query
    at.selectbox(key="attention_head").set_value(6).run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "query head 6 reads key/value head 2" in text and "Rotary position embedding" in text
    at.session_state["attention_view"] = "Heatmap"
    at.text_input(key="attention_text").input("the cat sat on the mat " * 20).run()
    assert not at.exception and not at.error
    assert "each view shows 64 at a time" in at.warning[0].value
    at.slider(key="attention_start").set_value(40).run()
    assert "Layer 1, head 6" in _chart_titles(at)
    _open_tab(at, "attention", "Step through one head")
    assert any("are drawn; the softmax and the output use all of them" in c.value for c in at.caption)
    assert float(at.metric[0].value) < 1e-5
    at.text_input(key="attention_text").input("word " * 300).run()
    assert "at most 256" in at.error[0].value


def test_attention_toy_example_shows_every_step(app):
    at = _open(app, "attention")
    _open_tab(at, "attention", "The formula on a toy example")
    titles = _chart_titles(at)
    for title in ("Q = X W_Q", "Q Kᵀ (query rows, key columns)", "softmax by row: the attention weights", "softmax(Q Kᵀ / √d_k) V"):
        assert title in titles
    assert any("Row “我”: its weights 0.212, 0.236, 0.262, 0.290 sum to 1.000" in c.value for c in at.caption)


# --- page state: kept across pages, written to the URL, read back from a copied link ---


def _opened_by_link(page: str, params: dict[str, str]) -> AppTest:
    """A new session whose first request is the page's link with `params` (as a copied URL)."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(f"pages/{page}.py")
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def test_inputs_survive_a_visit_to_another_page_and_are_in_the_url(app):
    at = _open(app, "classify")
    at.radio(key="classify_mode").set_value("zero-shot").run()
    at.text_area(key="classify_text").input("Messi scored twice in the final.")
    at.text_area(key="classify_labels").input("sports, business, politics").run()
    assert at.query_params["text"] == "Messi scored twice in the final."
    assert at.query_params["labels"] == "sports, business, politics"
    assert at.query_params["classifier"] == "zero-shot"
    _open(at, "attention")
    at.text_input(key="attention_text").input("Queues are fair.").run()
    _open(at, "classify")
    assert at.text_area(key="classify_text").value == "Messi scored twice in the final."
    assert at.text_area(key="classify_labels").value == "sports, business, politics"
    assert at.metric[0].value == "sports"
    _open(at, "attention")
    assert at.text_input(key="attention_text").value == "Queues are fair."


def test_a_copied_link_reopens_the_same_view():
    first = _opened_by_link("attention", {})
    first.text_input(key="attention_text").input("Links remember the layer and head.").run()
    first.slider(key="attention_layer").set_value(4).run()
    first.selectbox(key="attention_head").set_value(3).run()
    params = dict(first.query_params)
    assert params == {"text": "Links remember the layer and head.", "layer": "4", "head": "3"}
    again = _opened_by_link("attention", params)
    assert not again.warning
    assert again.slider(key="attention_layer").value == 4
    assert again.selectbox(key="attention_head").value == 3
    assert again.get("plotly_chart")[0].proto.spec == first.get("plotly_chart")[0].proto.spec


def test_a_classification_link_gives_the_same_answer():
    params = {"classifier": "zero-shot", "text": "Shares fell after the earnings report.", "labels": "sports, business"}
    at = _opened_by_link("classify", params)
    assert not at.error and not at.warning
    assert at.metric[0].value == "business"
    codes = [c.value for c in at.code]
    assert any(code.endswith("/classify?classifier=zero-shot&text=Shares+fell+after+the+earnings+report.&labels=sports%2C+business") for code in codes), codes


def test_a_teaching_table_travels_in_the_link():
    rows = [["I adore this", "love"], ["Best day ever", "love"], ["I loathe this", "hate"], ["Worst day ever", "hate"]]
    at = _opened_by_link("classify", {"classifier": "taught", "examples": json.dumps(rows), "text": "I adore days like this"})
    assert not at.error and not at.warning
    assert at.metric[0].value == "love"
    assert json.loads(at.query_params["examples"]) == rows
    bad = _opened_by_link("classify", {"classifier": "taught", "examples": "[1, 2"})
    assert "examples='[1, 2' (not a list of [text, label] pairs)" in shown_as(bad.warning[0].value)


def test_bad_or_unknown_link_values_fall_back_to_defaults_with_a_notice():
    at = _opened_by_link("attention", {"layer": "abc", "head": "-3", "model": "nonsense", "colour": "red"})
    assert not at.error
    notice = shown_as(at.warning[0].value)
    assert "layer='abc'" in notice and "head='-3'" in notice and "model='nonsense'" in notice
    assert "colour='red' (unknown setting)" in notice
    assert at.slider(key="attention_layer").value == 1
    assert at.selectbox(key="attention_model").value == "minilm-l6"
    assert '"heatmap"' in at.get("plotly_chart")[0].proto.spec


def test_a_layer_the_model_does_not_have_is_clamped_with_a_notice():
    at = _opened_by_link("attention", {"layer": "40", "head": "12"})
    assert not at.error
    assert "has 6 layers" in at.warning[0].value
    assert at.slider(key="attention_layer").value == 6
    assert at.selectbox(key="attention_head").value == 12


def test_generation_link_with_run_answers_again_with_the_same_text():
    params = {"prompt": "What is the capital of France?", "max_tokens": "12", "temperature": "0.7", "seed": "7", "run": "1"}
    one = _opened_by_link("generate", params)
    two = _opened_by_link("generate", params)
    texts = [_generated_html(at) for at in (one, two)]
    assert "Paris" in texts[0] and texts[0] == texts[1]
    assert one.query_params["run"] == "1"


def test_recognition_settings_from_a_link():
    at = _opened_by_link("recognise", {"example": "Coffee cup", "top": "3"})
    assert at.selectbox(key="recognise_example").value == "Coffee cup"
    spec = at.get("plotly_chart")[0].proto.spec
    assert "espresso" in spec
    bad = _opened_by_link("recognise", {"example": "Moon", "top": "99"})
    assert "example='Moon'" in shown_as(bad.warning[0].value) and "top='99'" in bad.warning[0].value
    assert bad.slider(key="recognise_top_k").value == 5


def test_a_text_too_long_for_a_link_is_left_out_of_it_and_the_page_says_so():
    at = _opened_by_link("generate", {"max_tokens": "12"})
    long_prompt = "Tell me about the sea. " * 70  # 1610 characters, over the 1500 a link carries
    at.text_area(key="generate_prompt").input(long_prompt).run()
    assert not at.exception
    assert "prompt" not in at.query_params and at.query_params["max_tokens"] == "12"
    links = [c.value for c in at.code if "/generate" in c.value]
    assert links and all("Tell+me" not in link for link in links)
    assert any("Left out of the link because too long for a URL: prompt" in c.value for c in at.caption)
    short = _opened_by_link("generate", {})
    short.text_area(key="generate_prompt").input("Tell me about the sea.").run()
    assert short.query_params["prompt"] == "Tell me about the sea."


def test_an_example_is_not_undone_by_a_click_that_carries_the_old_text(app):
    at = _open(app, "generate")
    at.pills(key="generate_example").set_value("Capital of France").run()
    assert at.text_area(key="generate_prompt").value == "What is the capital of France?"
    at.number_input(key="generate_max_tokens").set_value(24)
    at.number_input(key="generate_temperature").set_value(0.0)
    # A busy browser that had not yet drawn the example's run sends the old, empty prompt with
    # the Generate click: the example must still be what is generated.
    at.text_area(key="generate_prompt").set_value("")
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert at.text_area(key="generate_prompt").value == "What is the capital of France?"
    assert "Paris" in _generated_html(at)
    # Whatever the visitor types of their own wins at once.
    at.text_area(key="generate_prompt").input("Name one colour.")
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert at.text_area(key="generate_prompt").value == "Name one colour."
    assert at.query_params["prompt"] == "Name one colour."


def test_an_example_chosen_in_the_same_request_as_the_generate_click_is_generated(app):
    # Under load Streamlit can drop the example click's own run: the next request (the Generate
    # click) is the first to carry the chosen example, with the prompt box still empty.
    at = _open(app, "generate")
    at.number_input(key="generate_max_tokens").set_value(16)
    at.number_input(key="generate_temperature").set_value(0.0).run()
    at.pills(key="generate_example").set_value("Capital of France")
    at.button(key="generate_run").click().run()
    assert not at.exception and not at.error
    assert at.text_area(key="generate_prompt").value == "What is the capital of France?"
    assert "Paris" in _generated_html(at)
    # The visitor's own text turns the example off; choosing it again applies it again.
    at.text_area(key="generate_prompt").input("Name one colour.").run()
    assert at.pills(key="generate_example").value is None
    at.pills(key="generate_example").set_value("Capital of France").run()
    assert at.text_area(key="generate_prompt").value == "What is the capital of France?"
