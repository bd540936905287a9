"""In front of a room: presentation mode on every page in both themes, the room joins by QR code,
and a talk deck that is built, stepped through, saved, loaded, carried in a link, and exported as
static HTML that opens from disk in a browser with no network."""

import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import ARTIFACTS, idle, new_tab, run_after
from ui.talk.deck import deck_from_json

pytestmark = pytest.mark.browser
TIMEOUT = 240_000
PAGES = {"home": "", "classify": "classify", "generate": "generate", "recognise": "recognise", "attention": "attention"}


def _idle(page: Page, timeout: float = TIMEOUT) -> None:
    idle(page, timeout)


VISIBLE_TEXT_SIZES_JS = """() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stMarkdownContainer] p')]
    .filter(e => e.offsetParent && e.innerText.trim().length > 20 && !e.closest('[data-testid=stCaptionContainer]'))
    .map(e => parseFloat(getComputedStyle(e).fontSize))"""


def _visible_text_sizes(page: Page) -> list[float]:
    return page.evaluate(VISIBLE_TEXT_SIZES_JS)


def _presentation_sizes(page: Page) -> list[float]:
    """The body text sizes once the presentation stylesheet (an element of the run) is applied,
    or as they are after 15 s."""
    try:
        page.wait_for_function(f"() => {{ const s = ({VISIBLE_TEXT_SIZES_JS})(); return s.length && Math.min(...s) >= 20; }}",
                               timeout=15_000, polling=100)
    except PlaywrightTimeoutError:
        pass
    return _visible_text_sizes(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_presentation_mode_on_every_page(browser, app_url, scheme):
    page = new_tab(browser, viewport={"width": 1280, "height": 720}, color_scheme=scheme)
    context = page.context
    try:
        for name, path in PAGES.items():
            page.goto(f"{app_url}/{path}?present=1")
            _idle(page)
            if name == "generate":
                with run_after(page, TIMEOUT):
                    page.get_by_role("radio", name="Capital of France").click()
                page.get_by_role("button", name="Generate", exact=True).click()
                expect(page.get_by_text("Stopped by:")).to_be_visible(timeout=TIMEOUT)
            if name in ("classify", "recognise", "attention"):
                expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
            _idle(page)
            sizes = _presentation_sizes(page)
            assert sizes and min(sizes) >= 20, f"{name} ({scheme}): body text sizes {sizes}"
            expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
            background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
            assert background == ("rgb(0, 0, 0)" if scheme == "dark" else "rgb(255, 255, 255)"), background
            heights = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(e => e.getBoundingClientRect().height)")
            assert all(h <= 600 for h in heights), f"{name}: chart heights {heights} do not fit a 720 px projector"
            expect(page.get_by_role("button", name="Interactive HTML")).to_have_count(0)
            expect(page.get_by_text(re.compile(r"sent \d+ KB"))).to_have_count(0)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            assert "present=1" in page.url
            page.screenshot(path=str(ARTIFACTS / f"present-{scheme}-{name}.png"))
    finally:
        context.close()


def test_the_presentation_toggle_writes_the_link_and_a_reload_keeps_it(browser, app_url):
    page = new_tab(browser, viewport={"width": 1280, "height": 720})
    context = page.context
    try:
        page.goto(f"{app_url}/attention")
        _idle(page)
        page.get_by_test_id("stSidebar").get_by_text("Presentation mode").click()
        expect(page).to_have_url(re.compile(r"present=1"), timeout=30_000)
        _idle(page)
        assert min(_presentation_sizes(page)) >= 20
        page.reload()
        _idle(page)
        assert min(_presentation_sizes(page)) >= 20
    finally:
        context.close()


def _decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def test_the_room_follows_by_qr_code(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    presenter = context.new_page()
    text = "The keys to the old house were under the mat."
    try:
        presenter.goto(f"{app_url}/classify")
        _idle(presenter)
        box = presenter.get_by_role("textbox", name="Text", exact=True)
        box.fill(text)
        box.press("Control+Enter")
        _idle(presenter)
        expect(presenter).to_have_url(re.compile(r"text=The\+keys"))
        presenter.get_by_role("button", name="Let the room follow").click()
        qr = presenter.locator(".st-key-room-qr img")
        expect(qr).to_be_visible(timeout=30_000)
        assert qr.bounding_box()["width"] >= 400, "large enough to scan from the back of a room"
        presenter.screenshot(path=str(ARTIFACTS / "room-qr.png"))
        decoded = _decode_qr(qr.screenshot())
        code = presenter.get_by_role("dialog").get_by_test_id("stCode")
        expect(code).to_contain_text("?go=")
        shown = code.inner_text().strip()
        assert decoded and decoded == shown, (decoded, shown)
        assert re.fullmatch(re.escape(app_url) + r"/\?go=[0-9a-f]{10}", decoded)
        # A phone in the room opens the decoded link: the same view, with the same text.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        phone.goto(decoded)
        expect(phone.get_by_role("textbox", name="Text", exact=True)).to_have_value(text, timeout=60_000)
        expect(phone).to_have_url(re.compile(r"/classify\?.*text=The\+keys"))
        expect(phone.get_by_test_id("stMetricValue")).to_be_visible(timeout=TIMEOUT)
        phone.screenshot(path=str(ARTIFACTS / "room-phone-joined.png"))
        phone.context.close()
    finally:
        context.close()


def _sidebar(page: Page):
    return page.get_by_test_id("stSidebar")


def _open_deck(page: Page) -> None:
    add = _sidebar(page).get_by_role("button", name="Add this view to the deck")
    if not add.is_visible():
        _sidebar(page).get_by_text(re.compile(r"Talk deck")).click()
    expect(add).to_be_visible()


def _add_view(page: Page, views: int) -> None:
    _idle(page)
    _open_deck(page)
    _sidebar(page).get_by_role("button", name="Add this view to the deck").click()
    expect(_sidebar(page).get_by_text(f"Talk deck ({views} views)")).to_be_visible(timeout=30_000)


def _clicker(page: Page, key: str) -> None:
    """A presenter's clicker: a key press with the focus on the page, not in a text box."""
    _idle(page)
    before = page.url
    for _ in range(3):  # as a presenter does when a press lands while the page is still drawing: press again
        page.get_by_test_id("stMain").click(position={"x": 8, "y": 8})  # an empty spot: no link, no text box
        page.keyboard.press(key)
        try:
            page.wait_for_url(lambda url: url != before, timeout=10_000, wait_until="commit")
            return
        except PlaywrightTimeoutError:
            continue


def _nav(page: Page, title: str) -> None:
    _sidebar(page).get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    _idle(page)


def test_a_talk_deck_is_built_stepped_through_saved_carried_and_exported(browser, app_url, tmp_path):
    url = app_url
    archive = tmp_path / "talk.zip"
    page = new_tab(browser, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context = page.context
    try:
        page.goto(f"{url}/classify")
        _idle(page)
        page.get_by_role("radio", name="Terrible service").click()
        expect(page.get_by_test_id("stMetricValue")).to_have_text("negative", timeout=TIMEOUT)
        expect(page).to_have_url(re.compile(r"text=The\+food"), timeout=TIMEOUT)
        _add_view(page, 1)
        _nav(page, "Attention visualizer")
        page.get_by_role("radio", name="Bank (river)").click()
        expect(page).to_have_url(re.compile(r"text=She\+sat"), timeout=TIMEOUT)  # the example's run is drawn
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
        _add_view(page, 2)
        _nav(page, "Text generation")
        page.get_by_role("radio", name="Capital of France").click()
        expect(page).to_have_url(re.compile(r"prompt=What"), timeout=TIMEOUT)
        _add_view(page, 3)
        # rename the first view, move the last one up
        title = _sidebar(page).get_by_role("textbox", name="View 1")
        title.fill("Why negative?")
        with run_after(page, TIMEOUT):  # the rename's run: the boxes are drawn again
            title.press("Enter")
        renamed = _sidebar(page).get_by_role("textbox", name="View 1")
        expect(renamed).to_have_count(1, timeout=30_000)  # while the run redraws the panel, the old box may stay beside the new one
        expect(renamed).to_have_value("Why negative?")
        page.screenshot(path=str(ARTIFACTS / "deck-panel-renamed.png"))
        _sidebar(page).locator(".st-key-deck_view_2").get_by_role("button").nth(1).click()  # move up
        _idle(page)
        expect(_sidebar(page).get_by_role("textbox", name=re.compile(r"^View 2"))).to_have_value(
            re.compile("Text generation"), timeout=30_000)
        # step through it with a presenter's clicker (Page Down)
        _clicker(page, "PageDown")
        expect(page).to_have_url(re.compile(r"/classify\?.*text=The\+food"), timeout=60_000)
        expect(page.get_by_test_id("stMetricValue")).to_have_text("negative", timeout=TIMEOUT)
        _clicker(page, "PageDown")
        expect(page).to_have_url(re.compile(r"/generate\?.*prompt=What"), timeout=60_000)
        _clicker(page, "PageUp")
        expect(page).to_have_url(re.compile(r"/classify"), timeout=60_000)
        _idle(page)
        page.screenshot(path=str(ARTIFACTS / "deck-panel.png"))
        # saved as JSON
        with page.expect_download(timeout=60_000) as saved:
            _sidebar(page).get_by_role("button", name="Save the deck (JSON)").click()
        deck = deck_from_json(Path(saved.value.path()).read_text())
        assert [v.page for v in deck.views] == ["classify", "generate", "attention"]
        assert deck.views[0].title == "Why negative?"
        # carried in a link: a new browser opens the same deck
        deck_link = _sidebar(page).get_by_test_id("stCode").inner_text().strip()
        other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        other.goto(deck_link)
        _idle(other)
        expect(_sidebar(other).get_by_text("Talk deck (3 views)")).to_be_visible(timeout=60_000)
        other.context.close()
        # loaded from the file in another session
        third = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        third.goto(url)
        _idle(third)
        _open_deck(third)
        upload = third.locator("input[type=file]")
        for _ in range(3):  # a popover clicked while the page's first run redraws the sidebar closes again
            _sidebar(third).get_by_role("button", name="Load a deck (JSON)").click()
            try:
                expect(upload).to_be_attached(timeout=20_000)
                break
            except AssertionError:
                _idle(third)
        upload.set_input_files(saved.value.path())
        expect(_sidebar(third).get_by_text("Talk deck (3 views)")).to_be_visible(timeout=60_000)
        third.context.close()
        # exported as static HTML
        with page.expect_download(timeout=TIMEOUT) as exported:
            _sidebar(page).get_by_role("button", name="Download as static HTML (zip)").click()
        archive.write_bytes(Path(exported.value.path()).read_bytes())
    finally:
        context.close()
    # the exported talk opens from disk in a browser with no network at all (it cannot reach the
    # server, as if it had stopped), and asks for nothing but its own files
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "talk")
    views = sorted((tmp_path / "talk").glob("*/view-*.html"))
    assert len(views) == 3
    offline = browser.new_context(viewport={"width": 1280, "height": 720}, offline=True)
    try:
        requests: list[str] = []
        viewer = offline.new_page()
        viewer.on("request", lambda r: requests.append(r.url))
        for i, view in enumerate(views, 1):
            viewer.goto(view.as_uri())
            expect(viewer.locator(".plotly-graph-div .main-svg").first).to_be_visible(timeout=30_000)
            viewer.screenshot(path=str(ARTIFACTS / f"deck-static-view-{i}.png"))
        assert all(r.startswith("file://") for r in requests), [r for r in requests if not r.startswith("file://")]
        first = viewer.locator("body").inner_text()
        assert "Paris" in first or "negative" in first or "river" in first
        text = "\n".join(v.read_text() for v in views)
        assert "negative" in text and "bank" in text.lower() and "capital of France" in text
        index = json.dumps(sorted(p.name for p in (tmp_path / "talk").glob("*/*")))
        assert "plotly.min.js" in index and "index.html" in index
    finally:
        offline.close()
