"""The room plays along, in real browsers: the presenter asks the room about the answer on screen,
phones (390 px wide) answer, "N answered" rises on the presenter's page, Reveal shows the room
beside the model, and each phone then shows the model's answer. One answer per phone whatever it
does (double taps, a reload, a second tab); only the presenter's session can reveal. With
`DASHBOARD_ROOM_STORE=redis://...` two app servers share one room (a real redis-server)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, running_app
from tests.redis_server import redis_server

pytestmark = pytest.mark.browser
TIMEOUT = 180_000
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TEXT = "What a wonderful film"
PHONES = 24
HOSTILE = "<img src=x onerror=alert(1)>**bold**[a](http://evil.example)"


def _ask(presenter: Page, url: str) -> str:
    """The presenter classifies a text and asks the room: the question's link."""
    presenter.goto(f"{url}/classify?text=What+a+wonderful+film")
    expect(presenter.get_by_test_id("stMetricValue").filter(has_text="positive")).to_be_visible(timeout=TIMEOUT)
    presenter.get_by_role("button", name="Ask the room").click()
    panel = presenter.locator(".st-key-room_panel_classify")
    expect(panel.get_by_text(re.compile(r"\?ask=[a-z2-9]{6}"))).to_be_visible(timeout=TIMEOUT)
    return re.search(r"https?://\S+\?ask=[a-z2-9]{6}\S*", panel.inner_text()).group(0)


def _answered(presenter: Page) -> int:
    panel = presenter.locator(".st-key-room_panel_classify")
    metric = panel.get_by_test_id("stMetric").filter(has_text="Answered").get_by_test_id("stMetricValue")
    return int(metric.inner_text())


def _wait_for_count(presenter: Page, expected: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        try:
            seen = _answered(presenter)
        except Exception:  # the count is being redrawn
            seen = -1
        if seen == expected:
            return seen
        time.sleep(0.2)
    return seen


def _phone(browser, link: str) -> Page:
    tab = browser.new_context(**PHONE).new_page()
    tab.goto(link)
    return tab


def _tap(tab: Page, choice: str) -> None:
    tab.get_by_role("button", name=choice, exact=True).click()
    expect(tab.get_by_text(re.compile("Counted|Changed|Already counted"))).to_be_visible(timeout=TIMEOUT)


def test_the_room_answers_on_phones_and_the_presenter_reveals(browser, app_url):
    """Twenty-four phones open the question together and tap at once; one double-taps, one reloads
    and taps again, one changes its answer from a second tab: 24 counted, each once."""
    presenter = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    phones: list[Page] = []
    try:
        link = _ask(presenter, app_url)
        assert _answered(presenter) == 0
        for _ in range(PHONES):
            phones.append(browser.new_context(**PHONE).new_page())
            phones[-1].goto(link, wait_until="commit")
        for tab in phones:
            expect(tab.get_by_role("button", name="negative", exact=True)).to_be_visible(timeout=TIMEOUT)
            expect(tab.get_by_text("Which label will the model give this text?")).to_be_visible()
            expect(tab.get_by_role("button", name="Reveal")).to_have_count(0)  # only the presenter reveals
        for i, tab in enumerate(phones):  # all at once: nobody waits for an answer before the next taps
            tab.get_by_role("button", name="positive" if i < 16 else "negative", exact=True).click(no_wait_after=True)
        for tab in phones:
            expect(tab.get_by_text(re.compile("Counted|Changed|Already counted"))).to_be_visible(timeout=TIMEOUT)
        phones[0].get_by_role("button", name="positive", exact=True).dblclick()  # a double tap
        phones[1].reload()  # a reload, then the same answer again
        _tap(phones[1], "positive")
        second_tab = phones[2].context.new_page()  # a second tab of the same phone changes its answer
        second_tab.goto(link)
        _tap(second_tab, "negative")
        assert _wait_for_count(presenter, PHONES) == PHONES
        phones[0].screenshot(path=str(ARTIFACTS / "room-poll-phone-question.png"))
        presenter.screenshot(path=str(ARTIFACTS / "room-poll-presenter-counting.png"), full_page=True)
        for tab in phones[6:]:  # their answers stay counted; six phones are enough to watch the reveal
            tab.context.close()  # (bench/room_poll.py watches all 24: every one shows it)
        del phones[6:]
        presenter.locator(".st-key-room_panel_classify").get_by_role("button", name="Reveal").click()
        panel = presenter.locator(".st-key-room_panel_classify")
        expect(panel.get_by_text("Chose the model's first choice")).to_be_visible(timeout=TIMEOUT)
        # positive: the first 16 but phone 2 (changed to negative from its second tab); negative: the rest
        matched = panel.get_by_test_id("stMetric").filter(has_text="Chose the model's first choice")
        expect(matched.get_by_test_id("stMetricValue")).to_have_text(f"15 / {PHONES}")
        expect(panel.locator(".js-plotly-plot")).to_have_count(1)
        presenter.screenshot(path=str(ARTIFACTS / "room-poll-presenter-revealed.png"), full_page=True)
        for tab in phones:
            expect(tab.get_by_text("The model's first choice:")).to_be_visible(timeout=TIMEOUT)
            expect(tab.get_by_test_id("stException")).to_have_count(0)
        phones[2].screenshot(path=str(ARTIFACTS / "room-poll-phone-revealed.png"), full_page=True)
        # after the reveal, a phone opening the question sees the answer and nothing to tap
        late = _phone(browser, link)
        phones.append(late)
        expect(late.get_by_text("The model's first choice:")).to_be_visible(timeout=TIMEOUT)
        expect(late.get_by_role("button", name="negative", exact=True)).to_have_count(0)
        expect(presenter.get_by_test_id("stException")).to_have_count(0)
    finally:
        for tab in [presenter, *phones]:
            tab.context.close()


@pytest.mark.own_server
def test_two_app_servers_share_the_room_through_redis(browser):
    with redis_server() as store, running_app("room-a.log", env={"DASHBOARD_ROOM_STORE": store}) as (first, _a), \
            running_app("room-b.log", env={"DASHBOARD_ROOM_STORE": store}) as (second, _b):
        presenter = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
        phones: list[Page] = []
        try:
            link = _ask(presenter, first)
            code = link.split("?ask=")[1][:6]
            for i in range(6):  # half through each server, as a load balancer would send them
                phones.append(_phone(browser, f"{first if i % 2 else second}/?ask={code}"))
            for i, tab in enumerate(phones):
                _tap(tab, "positive" if i % 3 else "negative")
            phones[1].get_by_role("button", name="positive", exact=True).click()  # again, on server A
            assert _wait_for_count(presenter, 6) == 6
            presenter.locator(".st-key-room_panel_classify").get_by_role("button", name="Reveal").click()
            matched = presenter.get_by_test_id("stMetric").filter(has_text="Chose the model's first choice")
            expect(matched.get_by_test_id("stMetricValue")).to_have_text("4 / 6", timeout=TIMEOUT)
            for tab in phones:  # server B's phones see the reveal made on server A
                expect(tab.get_by_text("The model's first choice:")).to_be_visible(timeout=TIMEOUT)
        finally:
            for tab in [presenter, *phones]:
                tab.context.close()


@pytest.mark.parametrize(("page", "link", "asked"), [
    ("generate", "generate?prompt=The+capital+of+France+is&max_tokens=4&temperature=0&chat=0&run=1", "What comes next?"),
    ("recognise", "recognise", "What is in this photo?"),
    ("attention", "attention?text=The+cat+sat+on+the+mat+because+it+was+warm", "look at most?"),
])
def test_every_page_asks_the_room_and_reveals(browser, app_url, page, link, asked):
    """On the other three pages the whole loop: ask, a phone answers, the count, reveal; the
    reveal's model bar is the page's own answer (the model's first choice is marked ★)."""
    presenter = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    phone = None
    try:
        presenter.goto(f"{app_url}/{link}")
        ask = presenter.get_by_role("button", name="Ask the room")
        expect(ask).to_be_visible(timeout=TIMEOUT)
        ask.click()
        panel = presenter.locator(f".st-key-room_panel_{page}")
        expect(panel.get_by_text(re.compile(r"\?ask=[a-z2-9]{6}"))).to_be_visible(timeout=TIMEOUT)
        question = re.search(r"https?://\S+\?ask=[a-z2-9]{6}\S*", panel.inner_text()).group(0)
        phone = _phone(browser, question)
        expect(phone.get_by_text(asked)).to_be_visible(timeout=TIMEOUT)
        choices = phone.locator("[class*=\"st-key-room_choice_\"] button")
        expect(choices.first).to_be_visible(timeout=TIMEOUT)
        assert 2 <= choices.count() <= 8
        choices.first.click()
        expect(phone.get_by_text("Counted.")).to_be_visible(timeout=TIMEOUT)
        typer = None
        if page == "generate":  # a free-text guess from a stranger: shown as typed, never as a link or markup
            typer = _phone(browser, question)
            box = typer.get_by_label("Or type your guess")
            expect(box).to_be_visible(timeout=TIMEOUT)
            box.press_sequentially(HOSTILE)
            assert len(box.input_value()) == 40  # the box takes at most 40 characters
            typer.get_by_role("button", name="Send").click()
            expect(typer.get_by_text("Counted.")).to_be_visible(timeout=TIMEOUT)
        expected = 2 if typer else 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _answered_on(panel) != expected:
            time.sleep(0.2)
        assert _answered_on(panel) == expected
        panel.get_by_role("button", name="Reveal").click()
        expect(panel.get_by_text("Overlap with the model")).to_be_visible(timeout=TIMEOUT)
        expect(panel.locator(".js-plotly-plot")).to_have_count(1)
        expect(phone.get_by_text("The model's first choice:")).to_be_visible(timeout=TIMEOUT)
        if typer is not None:
            expect(panel.get_by_text("1 typed answers matched no choice")).to_be_visible()
            expect(panel.get_by_text(HOSTILE[:40].split("<")[1][:12], exact=False)).to_be_visible()
            assert panel.locator("a[href*='evil'], img[src='x']").count() == 0
            assert panel.locator("strong", has_text="bold").count() == 0
            typer.context.close()
        for tab in (presenter, phone):
            expect(tab.get_by_test_id("stException")).to_have_count(0)
        phone.screenshot(path=str(ARTIFACTS / f"room-poll-{page}-phone.png"), full_page=True)
        panel.screenshot(path=str(ARTIFACTS / f"room-poll-{page}-presenter.png"))
    finally:
        for tab in (presenter, phone):
            if tab is not None:
                tab.context.close()


def _answered_on(panel) -> int:
    try:
        return int(panel.get_by_test_id("stMetric").filter(has_text="Answered").get_by_test_id("stMetricValue").inner_text(timeout=2000))
    except Exception:  # being redrawn
        return -1
