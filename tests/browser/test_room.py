"""A room: every visitor's example click counts, whatever the load.

Twelve visitors are the first to open the generation page's link on a fresh server (this
module's own), all at once: each gets the app's navigation; they click an example, and click
Generate as soon as the app shows it is idle again (its own pace, no sleeps); every one of them
gets an answer to the example, none "The prompt is empty", and they follow one shared run or
queue visibly. Then twelve on the same server click an example and Classify at once. On the
shared server, visitors generating side by side each keep their own views and their own Stop."""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, has_app_navigation, running_app
from tests.fake_servers import Recording, serve

pytestmark = pytest.mark.browser
TIMEOUT = 240_000
EMPTY = "The prompt is empty"


@pytest.fixture(scope="module")
def room_url():
    """This module's own server, fresh for its first test: nobody has opened a page or asked the
    generation example (a finished example is kept and served from memory), so the twelve share
    or queue for a live run."""
    with running_app("room.log") as (url, _server):
        yield url


def _idle(page: Page, timeout: float = 120_000) -> None:
    """The app's own idle state: the script has finished its run (no 'running' indicator)."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=timeout)


def _tabs(browser, n: int) -> list[Page]:
    return [browser.new_context(viewport={"width": 1280, "height": 900}).new_page() for _ in range(n)]


def _open_together(tabs: list[Page], link: str, example: str) -> None:
    """Every visitor opens the link at once (nobody waits for the others), until the example shows."""
    for tab in tabs:
        tab.goto(link, wait_until="commit")
    for tab in tabs:
        expect(tab.get_by_role("radio", name=example)).to_be_visible(timeout=120_000)


class _Notices:
    """What the waiting visitors are told, read while they wait: their place in line, or how many
    follow one shared run. Notices come and go, so each read may find one gone."""

    PLACE, FOLLOWERS = re.compile(r"\d+(st|nd|rd|th) in line"), re.compile(r"\d+ visitors follow this same generation")

    def __init__(self) -> None:
        self.places: set[str] = set()
        self.followers: set[str] = set()

    def read(self, tab: Page) -> None:
        for pattern, seen in ((self.PLACE, self.places), (self.FOLLOWERS, self.followers)):
            notice = tab.get_by_text(pattern)
            if notice.count():
                try:
                    seen.add(pattern.search(notice.first.inner_text(timeout=1000)).group())
                except Exception:  # it went away between count() and reading it
                    continue
                if seen is self.places and len(seen) == 1:
                    tab.screenshot(path=str(ARTIFACTS / "queue-position.png"))


def _answered_or_lost(tabs: list[Page], answered: str, lost: str, timeout_s: float,
                      notices: _Notices | None = None) -> tuple[list[int], list[int]]:
    """Which tabs show the answer and which the lost click's message, polled until each shows one."""
    done, missed = set(), set()
    deadline = time.monotonic() + timeout_s
    while len(done | missed) < len(tabs) and time.monotonic() < deadline:
        for i, tab in enumerate(tabs):
            if i in done or i in missed:
                continue
            if notices is not None:
                notices.read(tab)
            if tab.get_by_text(lost).count():
                missed.add(i)
            elif tab.get_by_text(re.compile(answered)).count():
                done.add(i)
        time.sleep(0.25)
    return sorted(done), sorted(missed)


def test_twelve_first_visitors_click_an_example_then_generate_and_all_get_answers(browser, room_url):
    url = room_url
    tabs = _tabs(browser, 12)
    try:
        _open_together(tabs, f"{url}/generate", "Capital of France")  # nobody opens the root first
        for tab in tabs:
            has_app_navigation(tab)
        for tab in tabs:
            tab.get_by_role("radio", name="Capital of France").click()
        for tab in tabs:  # each as soon as their page is idle again
            _idle(tab)
            tab.get_by_role("button", name="Generate", exact=True).click()
        # The same greedy question: visitors who ask while it runs follow that one run (the page
        # says how many); whoever asks after it ended waits for the model, and sees their place.
        notices = _Notices()
        done, missed = _answered_or_lost(tabs, r"Stopped by:", EMPTY, TIMEOUT / 1000, notices)
        tabs[0].screenshot(path=str(ARTIFACTS / "room-generate-first.png"))
        tabs[-1].screenshot(path=str(ARTIFACTS / "twelve-sessions-last.png"))
        assert not missed, f"{len(missed)} of 12 example clicks were lost (the page said '{EMPTY}')"
        assert len(done) == 12, f"only {len(done)} of 12 got an answer"
        assert notices.followers or len(notices.places) >= 2, \
            f"neither one shared run ({notices.followers}) nor a queue ({notices.places}) was shown"
        for i, tab in enumerate(tabs):
            expect(tab.get_by_role("textbox", name="Prompt", exact=True)).to_have_value("What is the capital of France?")
            if not tab.get_by_text(re.compile("Paris")).count():
                tab.screenshot(path=str(ARTIFACTS / f"room-generate-no-paris-{i}.png"), full_page=True)
                pytest.fail(f"visitor {i + 1}'s answer does not say Paris: {tab.get_by_test_id('stMain').inner_text()[-1500:]}")
            expect(tab.get_by_test_id("stException")).to_have_count(0)
    finally:
        for tab in tabs:
            tab.context.close()


def test_twelve_visitors_click_an_example_then_classify_at_once(browser, room_url):
    url = room_url
    tabs = _tabs(browser, 12)
    try:
        _open_together(tabs, f"{url}/classify", "Terrible service")
        for tab in tabs:  # no wait at all between the two clicks
            tab.get_by_role("radio", name="Terrible service").click()
            tab.get_by_role("button", name="Classify", exact=True).click()
        # A busy server may not have started the clicks' run yet when the page still reads idle:
        # give every tab time to show the example (a lost click never does), then count.
        example = "The food was cold and the waiter was rude. Never again."
        deadline = time.monotonic() + TIMEOUT / 1000
        while time.monotonic() < deadline and any(
            tab.get_by_role("textbox", name="Text", exact=True).input_value() != example for tab in tabs
        ):
            time.sleep(0.5)
        for tab in tabs:
            _idle(tab, TIMEOUT)
        texts = [tab.get_by_role("textbox", name="Text", exact=True).input_value() for tab in tabs]
        lost = sum(text != example for text in texts)
        assert not lost, f"{lost} of 12 example clicks were undone by the Classify click that followed"
        for tab in tabs:
            expect(tab.get_by_test_id("stMetricValue")).to_have_text("negative", timeout=TIMEOUT)
            expect(tab.get_by_test_id("stException")).to_have_count(0)
        tabs[-1].screenshot(path=str(ARTIFACTS / "room-classify-last.png"))
    finally:
        for tab in tabs:
            tab.context.close()


def _tokens_shown(tab: Page) -> int:
    found = tab.get_by_text(re.compile(r"Tokens: \d+")).first
    return int(re.search(r"Tokens: (\d+)", found.inner_text()).group(1))


def test_every_generation_view_works_while_others_generate_and_stop_ends_only_its_own(browser, app_url):
    """Two visitors count to 512 in the same batch; a third generates and opens a token's
    alternatives meanwhile; one counter presses Stop and only that one ends; the third opens the
    logit lens, a what-if branch and where it looked (a look back on the model the room decodes
    on) while the other still counts, then streams from an OpenAI-compatible server."""
    counting = [f"{app_url}/generate?prompt={start}&chat=0&temperature=0&max_tokens=512" for start in ("1%2C+2%2C+3%2C", "10%2C+20%2C+30%2C")]
    counters = _tabs(browser, 2)
    me = _tabs(browser, 1)[0]
    try:
        for tab, link in zip(counters, counting):
            tab.goto(link)
            expect(tab.get_by_role("button", name="Generate")).to_be_visible(timeout=120_000)
            _idle(tab)
            tab.get_by_role("button", name="Generate").click()
        for tab in counters:
            expect(tab.get_by_text(re.compile(r"Tokens: \d{2,}"))).to_be_visible(timeout=TIMEOUT)
        me.goto(f"{app_url}/generate?prompt=What+is+the+capital+of+France%3F&temperature=0")
        expect(me.get_by_role("button", name="Generate")).to_be_visible(timeout=120_000)
        _idle(me)
        me.get_by_role("button", name="Generate").click()
        expect(me.get_by_text(re.compile(r"Stopped by: end of answer"))).to_be_visible(timeout=TIMEOUT)
        expect(me.get_by_test_id("stHtml").filter(has_text="Paris")).to_be_visible()
        expect(me.get_by_text("Tokens left to draw from")).to_be_visible(timeout=TIMEOUT)
        assert counters[1].get_by_text(re.compile(r"Stopped by")).count() == 0  # still counting meanwhile
        counters[0].get_by_role("button", name="Stop").click()
        expect(counters[0].get_by_text(re.compile(r"Stopped by: stopped"))).to_be_visible(timeout=60_000)
        before, deadline = _tokens_shown(counters[1]), time.monotonic() + 60
        while _tokens_shown(counters[1]) <= before and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _tokens_shown(counters[1]) > before  # the other one goes on
        me.get_by_role("tab", name="Logit lens").click()
        expect(me.locator(".js-plotly-plot").get_by_text(re.compile("each layer's top guess")).first).to_be_visible(timeout=TIMEOUT)
        assert counters[1].get_by_text(re.compile(r"Stopped by")).count() == 0  # the lens ran between its steps
        me.get_by_role("tab", name="What if").click()
        me.get_by_role("button", name="Continue from here").click()
        expect(me.get_by_text(re.compile(r"Branch stopped by: (end of answer|max new tokens)"))).to_be_visible(timeout=TIMEOUT)
        me.get_by_role("tab", name="Where it looked").click()
        expect(me.get_by_text(re.compile("Attention of the position that chose .*one forward pass"))).to_be_visible(timeout=TIMEOUT)
        expect(me.get_by_test_id("stException")).to_have_count(0)
        me.screenshot(path=str(ARTIFACTS / "room-generation-views-while-others-generate.png"))
        engine, engine_url = serve(Recording)
        try:
            me.goto(f"{app_url}/generate?engine=server&server={engine_url}/v1&prompt=Hi&run=1")
            expect(me.get_by_text(re.compile(r"Stopped by"))).to_be_visible(timeout=TIMEOUT)
            expect(me.get_by_test_id("stHtml").filter(has_text="Hello there")).to_be_visible()
            expect(me.get_by_test_id("stException")).to_have_count(0)
        finally:
            engine.shutdown()
        counters[1].get_by_role("button", name="Stop").click()
        expect(counters[1].get_by_text(re.compile(r"Stopped by: (stopped|max new tokens)"))).to_be_visible(timeout=60_000)
    finally:
        for tab in [*counters, me]:
            tab.context.close()
