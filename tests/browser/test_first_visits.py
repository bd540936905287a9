"""A fresh server whose first visitors open every page's own link at once (a presenter's shared
link, a Space waking up): every session gets the app's own navigation and a real answer while the
start-up warm-up loads the models and answers the examples. A link copied from each page reopens
the same view in a new browser (on the shared server). The crowd of first visitors on one page is
in test_room.py."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, has_app_navigation, running_app

pytestmark = pytest.mark.browser
TIMEOUT = 240_000  # ms: first answers wait for the models to load on a cold 2-core machine


def _plot(page: Page, pattern: str):
    return page.locator(".js-plotly-plot").get_by_text(re.compile(pattern)).first


def _ask_capital(page: Page) -> None:
    page.get_by_role("radio", name="Capital of France").click()
    # the example's run redraws the page while the server's warm-up loads the models (seen > 5 s under load)
    expect(page.get_by_role("textbox", name="Prompt", exact=True)).to_have_value("What is the capital of France?",
                                                                                 timeout=TIMEOUT)
    page.get_by_role("button", name="Generate", exact=True).click()


# What a person does first on each page, and the answer they must see.
FIRST_USE = {
    "": (lambda p: None, lambda p: expect(p.get_by_text("Models run on:")).to_be_visible(timeout=TIMEOUT)),
    "classify": (
        lambda p: p.get_by_role("radio", name="Terrible service").click(),
        lambda p: expect(p.get_by_test_id("stMetricValue")).to_have_text("negative", timeout=TIMEOUT),
    ),
    "generate": (_ask_capital, lambda p: expect(p.get_by_text(re.compile("Paris")).first).to_be_visible(timeout=TIMEOUT)),
    "recognise": (lambda p: None, lambda p: expect(_plot(p, "tiger cat|tabby|Egyptian cat")).to_be_visible(timeout=TIMEOUT)),
    "attention": (lambda p: None, lambda p: expect(_plot(p, "tired")).to_be_visible(timeout=TIMEOUT)),
}


def _tabs(browser, n: int) -> list[Page]:
    return [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(n)]


def _close(tabs: list[Page]) -> None:
    for tab in tabs:
        tab.context.close()


def test_every_page_link_opened_first_on_a_fresh_server(browser):
    # the server as it starts for people: its warm-up runs while these first visitors arrive
    with running_app("fresh-server-every-page.log", warm_up=True) as (url, _server):
        tabs = _tabs(browser, len(FIRST_USE))
        try:
            for tab, path in zip(tabs, FIRST_USE, strict=True):  # all at once: nobody opens the root first
                tab.goto(f"{url}/{path}", wait_until="commit")
            for tab, (path, (act, _)) in zip(tabs, FIRST_USE.items(), strict=True):
                expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=60_000)
                has_app_navigation(tab)
                act(tab)
            for tab, (path, (_, answer)) in zip(tabs, FIRST_USE.items(), strict=True):
                answer(tab)
                expect(tab.get_by_test_id("stException")).to_have_count(0)
                tab.screenshot(path=str(ARTIFACTS / f"first-visit-{path or 'home'}.png"))
        finally:
            _close(tabs)


def _copied_link(page: Page) -> str:
    page.get_by_role("button", name="Copy link").click()
    link = page.get_by_test_id("stCode").last.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_link_copied_from_each_page_reopens_the_same_view(browser, app_url):
    first, second = _tabs(browser, 2)
    try:
        # classification: custom text and labels
        first.goto(f"{app_url}/classify")
        first.get_by_text("Zero-shot labels", exact=True).click()
        labels = re.compile("^Labels: separated by commas")
        first.get_by_role("textbox", name=labels).fill("sports, cooking, finance")
        first.get_by_role("textbox", name="Text", exact=True).fill("The striker scored in the last minute.")
        first.get_by_role("button", name="Classify", exact=True).click()
        expect(first.get_by_test_id("stMetricValue")).to_have_text("sports", timeout=TIMEOUT)
        link = _copied_link(first)
        assert "/classify?" in link and "classifier=zero-shot" in link and "labels=sports%2C+cooking%2C+finance" in link
        second.goto(link)
        expect(second.get_by_test_id("stMetricValue")).to_have_text("sports", timeout=TIMEOUT)
        expect(second.get_by_role("textbox", name=labels)).to_have_value("sports, cooking, finance")

        # attention: a layer and a head
        first.goto(f"{app_url}/attention")
        expect(_plot(first, "tired")).to_be_visible(timeout=TIMEOUT)
        first.get_by_role("combobox", name="Head").click()
        first.get_by_role("option", name="Head 5", exact=True).click()
        expect(first.get_by_text("Layer 1, head 5")).to_be_visible(timeout=TIMEOUT)
        link = _copied_link(first)
        assert "head=5" in link
        second.goto(link)
        expect(second.get_by_text("Layer 1, head 5")).to_be_visible(timeout=TIMEOUT)

        # images: another example photo and fewer classes
        first.goto(f"{app_url}/recognise")
        first.get_by_role("combobox", name="Example").click()
        first.get_by_role("option", name="Coffee cup").click()
        expect(_plot(first, "espresso")).to_be_visible(timeout=TIMEOUT)
        link = _copied_link(first)
        second.goto(link)
        expect(second.get_by_role("combobox", name="Example")).to_have_value("Coffee cup", timeout=TIMEOUT)
        expect(_plot(second, "espresso")).to_be_visible(timeout=TIMEOUT)

        # generation: the answer comes back with the link (same seed, same settings)
        first.goto(f"{app_url}/generate")
        _ask_capital(first)
        # "Tokens: n" shows while it streams; the "Stopped by" caption only once it has finished
        expect(first.get_by_text(re.compile(r"Stopped by"))).to_be_visible(timeout=TIMEOUT)
        answer = first.get_by_test_id("stHtml").filter(has_text="Paris").last.inner_text()
        link = _copied_link(first)
        assert "run=1" in link
        second.goto(link)
        expect(second.get_by_text(re.compile(r"Stopped by"))).to_be_visible(timeout=TIMEOUT)
        assert second.get_by_test_id("stHtml").filter(has_text="Paris").last.inner_text() == answer
        second.screenshot(path=str(ARTIFACTS / "copied-link-generate.png"))
    finally:
        _close([first, second])
