"""Use every page as a person would, assert the answer is on the page, save a screenshot each."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, painted

pytestmark = pytest.mark.browser
ANSWER_TIMEOUT = 180_000  # ms; the first answer may wait for a model load on a cold machine


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("stApp")).to_be_visible(timeout=60_000)


def _settled(page: Page) -> None:
    """Wait until Streamlit has finished running the script."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=ANSWER_TIMEOUT)


def _no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _shot(page: Page, name: str) -> None:
    # Streamlit scrolls inside its main container, so a full-page shot needs a viewport that
    # is as tall as the content.
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": max(1000, min(int(height) + 40, 4000))})
    painted(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_home(page, app_url):
    _open(page, app_url)
    expect(page.get_by_role("heading", name="How AI models work")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("Models run on:")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _no_exception(page)
    _shot(page, "1-home")


def test_text_classification_example(page, app_url):
    _open(page, f"{app_url}/classify")
    page.get_by_role("radio", name="Terrible service").click()
    metric = page.get_by_test_id("stMetricValue")
    expect(metric).to_have_text("negative", timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile(r"Model: all-MiniLM-L6-v2"))).to_be_visible()
    page.get_by_role("textbox", name="Text", exact=True).fill("What a fantastic, heart-warming film!")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(metric).to_have_text("positive", timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("Why positive?")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "2-text-classification")
    _check_exports(page)
    page.get_by_role("button", name="Open this text on the attention page").click()
    expect(page.get_by_role("heading", name="Attention visualizer")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page).to_have_url(re.compile(r"/attention\?text=What\+a\+fantastic"))
    expect(page.get_by_role("textbox", name="Text")).to_have_value("What a fantastic, heart-warming film!")


def _download(page: Page, control) -> bytes:
    with page.expect_download(timeout=60_000) as download:
        control.click()
    return Path(download.value.path()).read_bytes()


def _check_exports(page: Page) -> None:
    """The answer's CSV, the explanation's JSON, a chart's interactive HTML and its PNG."""
    rows = list(csv.DictReader(io.StringIO(_download(page, page.locator(".st-key-classify_result_csv button").first).decode())))
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert sum(float(r["probability"]) for r in rows) == pytest.approx(1.0, abs=1e-6)
    explained = json.loads(_download(page, page.locator(".st-key-classify_attr_json button").first))
    assert explained["label"] == "positive" and explained["text"] == "What a fantastic, heart-warming film!"
    for scores in explained["attributions"].values():
        assert len(scores) == len(explained["tokens"])
    assert [f["order"] for f in explained["faithfulness"]][-1] == "Random order"
    html = _download(page, page.locator(".st-key-classify_chart_html button").first).decode()
    assert "Predicted: positive" in html and "plotly" in html.lower()
    chart = page.locator(".st-key-classify_chart")
    chart.hover()
    png = _download(page, chart.locator(".modebar-btn[data-title='Download plot as a PNG']"))
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


def test_classification_taught_by_examples_explained_and_evaluated(page, app_url):
    data = Path(__file__).resolve().parents[1] / "data"
    _open(page, f"{app_url}/classify")
    page.get_by_text("Teach by examples", exact=True).click()
    # as a person would: drop the file once the teaching section is there (until then the first
    # uploader on the page is the CSV tab's)
    expect(page.get_by_text("…or load examples from a CSV")).to_be_visible(timeout=ANSWER_TIMEOUT)
    teach_upload = page.get_by_test_id("stFileUploaderDropzoneInput").first
    teach_upload.set_input_files(str(data / "teach_weather_food.csv"))
    page.get_by_role("button", name="Use this CSV's rows").click()
    expect(page.get_by_text(re.compile(r"Examples per label: weather 3 · food 3"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    page.get_by_role("textbox", name="Text", exact=True).fill("Thunder and lightning are expected this evening.")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("weather", timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("fitted on your 6 examples", exact=False)).to_be_visible()
    expect(page.get_by_text("Why weather?")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("How faithful is each explanation?")).to_be_visible()
    _settled(page)
    _no_exception(page)
    _shot(page, "2b-classification-taught-and-explained")

    page.get_by_role("tab", name="Classify a CSV and evaluate").click()
    panel = page.get_by_role("tabpanel", name="Classify a CSV and evaluate")
    panel.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(data / "batch_weather_food.csv"))
    panel.get_by_role("button", name="Classify all 5 rows").click()
    expect(panel.get_by_text("Macro-F1")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(panel.get_by_test_id("stMetricValue").first).to_have_text("100.0%")
    _settled(page)
    with page.expect_download() as download_info:
        panel.get_by_role("button", name="CSV", exact=True).first.click()
    downloaded = download_info.value.path().read_text()
    assert downloaded.splitlines()[0] == "text,predicted,probability,problem,label,correct"
    assert downloaded.count(",weather,") >= 3 and "Chop the onions" in downloaded
    _no_exception(page)
    _shot(page, "2c-classification-batch-evaluated")


def test_text_generation_streams_an_answer_opens_a_token_and_forces_another(page, app_url):
    _open(page, f"{app_url}/generate")
    page.get_by_role("textbox", name="Prompt", exact=True).fill("What is the capital of France?")
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("0")  # greedy: the same answer every time
    temperature.press("Enter")
    page.get_by_role("button", name="Generate").click()
    # while it streams, the coloured tokens and the live speed are there
    expect(page.get_by_text(re.compile(r"Speed: [\d.]+ tokens/s"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile(r"Stopped by: end of answer"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_test_id("stHtml").filter(has_text="Paris")).to_be_visible()
    # the inspector opens on the least likely token, with its alternatives before/after sampling
    expect(page.get_by_text("Tokens left to draw from")).to_be_visible()
    expect(page.locator(".js-plotly-plot").get_by_text(re.compile("the candidates for the next token")).first).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _shot(page, "3-text-generation")
    page.get_by_role("tab", name="Logit lens").click()
    expect(page.locator(".js-plotly-plot").get_by_text(re.compile("each layer's top guess")).first).to_be_visible(timeout=ANSWER_TIMEOUT)
    page.get_by_role("tab", name="What if").click()
    page.get_by_role("button", name="Continue from here").click()
    expect(page.get_by_text(re.compile(r"What if \(token \d+ forced\)"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile(r"Branch stopped by: (end of answer|max new tokens)"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "3b-text-generation-what-if")


def test_stop_on_the_page_ends_a_long_generation(page, app_url):
    _open(page, f"{app_url}/generate")
    page.get_by_text("Chat template", exact=True).click()  # off: raw completion, which goes on counting
    # the rerun that click starts has reached the page (text typed before it lands is replaced)
    expect(page.get_by_role("textbox", name="System prompt (chat only)")).to_be_disabled(timeout=ANSWER_TIMEOUT)
    page.get_by_role("textbox", name="Prompt", exact=True).fill("1, 2, 3, 4, 5, 6, 7, 8,")
    tokens = page.get_by_role("spinbutton", name="Max new tokens")
    tokens.fill("512")  # the page's maximum: far longer than the click takes
    tokens.press("Enter")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text(re.compile(r"Tokens: (\d{2,})"))).to_be_visible(timeout=ANSWER_TIMEOUT)  # it streams
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(re.compile(r"Stopped by: stopped"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    shown = int(re.search(r"Tokens: (\d+)", page.get_by_text(re.compile(r"Tokens: \d+")).first.inner_text()).group(1))
    assert 10 <= shown < 512  # ended early, not at max new tokens
    _settled(page)
    _no_exception(page)
    _shot(page, "3c-text-generation-stopped")


def _upload(page: Page, name: str, data: bytes) -> None:
    import mimetypes

    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    page.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})


def test_image_recognition_explains_uploads_refuses_bad_files_and_shows_how_a_cnn_sees(page, app_url):
    from tests.image_inputs import bad_uploads, coffee, encoded

    _open(page, f"{app_url}/recognise")
    expect(page.get_by_text("Top-5 ImageNet classes")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.locator(".js-plotly-plot").get_by_text(re.compile("tiger cat|tabby|Egyptian cat")).first).to_be_visible()
    expect(page.get_by_text("Grad-CAM at blocks.6")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile("How far to trust each map \\(ROAD\\)"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "4-image-recognition-example")

    page.get_by_text("Upload", exact=True).click()
    _upload(page, "coffee.jpg", encoded(coffee(), "JPEG"))
    expect(page.locator(".js-plotly-plot").get_by_text("espresso").first).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("Grad-CAM at blocks.6")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "5-image-recognition-upload")

    # every kind of bad file: a clear message, and the page keeps working
    for name, (data, word) in bad_uploads().items():
        _upload(page, name, data)
        if name == "too-big.png":  # refused by the browser before it is sent
            expect(page.get_by_text(re.compile("File must be .*MB or smaller"))).to_be_visible(timeout=30_000)
            continue
        expect(page.get_by_test_id("stAlert").filter(has_text=name).first).to_contain_text(word, timeout=ANSWER_TIMEOUT)
        _settled(page)
        _no_exception(page)
    _shot(page, "5b-image-recognition-bad-file")
    _upload(page, "coffee-again.png", encoded(coffee(), "PNG"))
    expect(page.locator(".js-plotly-plot").get_by_text("espresso").first).to_be_visible(timeout=ANSWER_TIMEOUT)

    page.get_by_role("tab", name="How a CNN sees").click()
    expect(page.get_by_text(re.compile("First layer \\(conv_stem\\): all 32 filters"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile("Late \\(blocks.6\\): 7×7 maps"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "5c-image-how-a-cnn-sees")

    page.get_by_text("Camera", exact=True).click()  # headless Chromium has no camera permission
    expect(page.get_by_text("take a photo", exact=False).first).to_be_visible(timeout=30_000)
    _settled(page)
    _no_exception(page)
    _shot(page, "5d-image-camera-denied")


def test_attention_visualizer(page, app_url):
    _open(page, f"{app_url}/attention")
    expect(page.get_by_text("Layer 1, mean of all heads")).to_be_visible(timeout=ANSWER_TIMEOUT)
    page.get_by_role("radio", name="Bank (river)").click()
    expect(page.locator(".js-plotly-plot").get_by_text("river").first).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile(r"6 layers × 12 heads"))).to_be_visible()
    _settled(page)
    _no_exception(page)
    _shot(page, "6-attention")

    # the toy example: edit an embedding, and every step follows
    page.get_by_role("tab", name="The formula on a toy example").click()
    caption = page.get_by_text(re.compile("Row “我”: its weights"))
    expect(caption).to_contain_text("0.212, 0.236, 0.262, 0.290", timeout=ANSWER_TIMEOUT)
    _settled(page)
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)  # select a number cell
    expect(grid.locator('td[aria-selected="true"]')).to_have_count(1, timeout=10_000)  # the grid's own selection
    page.keyboard.press("Enter")  # open its editor
    editor = page.locator("#portal textarea, #portal input").first
    expect(editor).to_be_visible(timeout=10_000)
    editor.fill("2")
    page.keyboard.press("Enter")
    expect(caption).not_to_contain_text("0.212, 0.236, 0.262, 0.290", timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "6b-attention-toy-example")

    # the model view: click layer 3, head 5, and it opens below
    page.get_by_role("tab", name="Model view").click()
    expect(page.get_by_text(re.compile("Model view: 6 layers × 12 heads"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    grid = page.locator(".js-plotly-plot").first
    grid.scroll_into_view_if_needed()
    area = grid.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * (4.5 / 12), area["y"] + area["height"] * (2.5 / 6))
    expect(page.get_by_text("Layer 3, head 5", exact=True)).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "6c-attention-model-view")

    # a copied link opens the same view, layer and head
    page.get_by_role("button", name="Copy link").click()
    link = page.get_by_test_id("stCode").last.inner_text().strip()
    page.keyboard.press("Escape")
    assert "view=Model+view" in link and "layer=3" in link and "head=5" in link
    page.goto(link)
    expect(page.get_by_text("Layer 3, head 5", exact=True)).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text(re.compile("Model view: 6 layers × 12 heads"))).to_be_visible(timeout=ANSWER_TIMEOUT)
    _no_exception(page)

    page.get_by_role("tab", name="Step through one head").click()
    expect(page.get_by_text("Largest difference, weights")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "6d-attention-step-through")

    page.get_by_role("tab", name="Head view").click()
    lines = page.frame_locator("iframe").first.get_by_text(re.compile(r"lines at weight ≥"))
    expect(lines).to_be_visible(timeout=ANSWER_TIMEOUT)
    page.frame_locator("iframe").first.get_by_text("river", exact=True).first.hover()  # keep only its lines
    _settled(page)
    _no_exception(page)
    _shot(page, "6e-attention-head-view")
    page.get_by_role("tab", name="Rollout").click()
    expect(page.get_by_text("Rollout, all layers")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "6f-attention-rollout")


def test_how_it_learns_trains_from_its_link_and_every_view_answers(page, app_url):
    """/learn?run=1 trains as the page opens: the boundary is drawn and the accuracies shown; a
    preset trains on Train; each other view answers."""
    _open(page, f"{app_url}/learn?run=1&epochs=120")
    expect(page.get_by_test_id("stMetricValue").filter(has_text="120 / 120")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_text("Test accuracy", exact=True)).to_be_visible()
    expect(page.locator(".js-plotly-plot").get_by_text("Epoch 120 of 120")).to_be_visible()
    _settled(page)
    _no_exception(page)
    _shot(page, "7-learn-trained")
    page.get_by_role("radio", name="Big network, few noisy points").click()
    _settled(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_test_id("stMetricValue").filter(has_text="600 / 600")).to_be_visible(timeout=ANSWER_TIMEOUT)
    _settled(page)
    _no_exception(page)
    _shot(page, "7b-learn-overfitting")
    for tab, shown in (("Backpropagation by hand", "Largest difference from autograd"),
                       ("Gradient descent", "Loss along each path"),
                       ("Pretraining, then fine-tuning", "Accuracy against the number of labelled examples")):
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_text(shown).first).to_be_visible(timeout=ANSWER_TIMEOUT)
        _settled(page)
        _no_exception(page)
        _shot(page, "7-learn-" + tab.split()[0].lower().rstrip(","))
