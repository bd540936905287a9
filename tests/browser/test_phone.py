"""Every page at phone width (390 px): the page never scrolls sideways, charts fit the screen and
the page's main buttons can be reached."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import ARTIFACTS, idle, new_tab, painted

pytestmark = pytest.mark.browser
TIMEOUT = 240_000  # ms: first answers wait for the models to load on a cold, shared 2-core machine
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# Every visible element of the main area whose right edge passes the screen's, except those inside
# an element that scrolls sideways on purpose (data frames, code blocks, the tab bar).
OFFENDERS_JS = """() => {
  const limit = window.innerWidth + 1;
  const main = document.querySelector('[data-testid="stMain"]');  // itself a scroller: the walk stops below it
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll") return true;
    }
    return false;
  };
  const out = [];
  const all = main.querySelectorAll("*");
  for (const el of all) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= limit) continue;
    const s = getComputedStyle(el);
    if (s.visibility === "hidden" || s.display === "none") continue;
    if (scrolls(el)) continue;
    const owner = el.closest("[data-testid]");
    out.push({
      tag: el.tagName.toLowerCase(),
      testid: el.getAttribute("data-testid") || (owner ? "in " + owner.getAttribute("data-testid") : ""),
      cls: (typeof el.className === "string" ? el.className : "").slice(0, 60),
      right: Math.round(r.right),
      text: (el.innerText || el.textContent || "").trim().slice(0, 50),
    });
  }
  return {checked: all.length, out};
}"""


# Text drawn in an SVG (chart titles, axis titles, tick labels, the head view's tokens) must lie
# inside its picture: an SVG cuts off, without any scrolling, whatever passes its edges.
CUT_TEXT_JS = """() => {
  const out = [];
  for (const text of document.querySelectorAll("svg text")) {
    const svg = text.ownerSVGElement;
    while (svg && svg.ownerSVGElement) svg = svg.ownerSVGElement;
    const r = text.getBoundingClientRect(), box = svg.getBoundingClientRect();
    if (r.width === 0 || !(text.textContent || "").trim()) continue;
    if (r.left < box.left - 2 || r.right > box.right + 2) {
      out.push({text: text.textContent.trim().slice(0, 50), left: Math.round(r.left), right: Math.round(r.right),
                svg: [Math.round(box.left), Math.round(box.right)]});
    }
  }
  return out;
}"""

# Controls a thumb must reach: none may sit past the screen's right edge, not even inside a scroller.
CONTROLS_JS = """() => {
  const out = [];
  const sel = 'button, [role="radio"], [role="tab"], [role="checkbox"], [role="switch"], input, textarea, select, a[href]';
  for (const el of document.querySelectorAll('[data-testid="stMain"] ' + sel.split(", ").join(', [data-testid="stMain"] '))) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (el.closest('[data-testid="stTabs"] [role="tablist"]')) continue;  // Streamlit's tab bar scrolls, with arrows
    if (el.closest(".modebar")) continue;  // Plotly's tool bar
    // Streamlit's own hover tool bar of a table: drawn only while the pointer is over the table
    // (after the full-page screenshot's resize, sometimes), where Streamlit places it
    if (el.closest('[data-testid="stElementToolbar"]')) continue;
    if (r.right > window.innerWidth + 1 || r.left < -1) {
      out.push({tag: el.tagName.toLowerCase(), text: (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40),
                left: Math.round(r.left), right: Math.round(r.right)});
    }
  }
  return out;
}"""


def _ask_capital(page: Page) -> None:
    page.get_by_role("radio", name="Capital of France").click()
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("Stopped by:").first).to_be_visible(timeout=TIMEOUT)


def _plot_drawn(page: Page) -> None:
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)


# Each page: how its answer is drawn, and the buttons that must be within reach.
PAGES = {
    "home": ("", lambda p: expect(p.get_by_text("Models run on:")).to_be_visible(timeout=TIMEOUT),
             ["Start this demo in the deck panel"]),
    "classify": ("classify", lambda p: expect(p.get_by_test_id("stMetricValue").first).to_be_visible(timeout=TIMEOUT),
                 ["Classify"]),
    "generate": ("generate", _ask_capital, ["Generate"]),
    "recognise": ("recognise", _plot_drawn, []),
    "attention": ("attention", _plot_drawn, []),
}


# Plotly has drawn every chart to its container's width (its own layout width is the element's).
CHARTS_DRAWN_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].every(
  (gd) => gd._fullLayout && Math.abs(gd._fullLayout.width - gd.clientWidth) <= 1)"""


def _charts_drawn(page: Page) -> None:
    """Wait until every chart is drawn to its container's width and every frame has loaded; a
    chart that never fits is left to the checks below, which say so."""
    try:
        page.wait_for_function(CHARTS_DRAWN_JS, timeout=15_000, polling=100)
    except PlaywrightTimeoutError:
        pass
    for frame in page.frames:
        frame.wait_for_load_state()


def _full_page_screenshot(page: Page, name: str) -> None:
    """The main area scrolls, not the document: the viewport is made as tall as the page for the picture."""
    height = page.evaluate('document.querySelector(\'[data-testid="stMain"]\').scrollHeight')
    page.set_viewport_size({"width": 390, "height": min(max(height, 844), 12_000)})
    painted(page)
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    page.set_viewport_size(PHONE["viewport"])
    painted(page)


def _misfits(page: Page, name: str, buttons: list[str]) -> list[str]:
    """What does not fit this page at phone width (empty when all does); a full-page screenshot too."""
    _charts_drawn(page)
    width = page.evaluate("window.innerWidth")
    assert width == 390, f"{name}: the phone viewport is {width} px wide"
    problems = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    found = page.evaluate(OFFENDERS_JS)
    assert found["checked"] > 50, f"{name}: only {found['checked']} elements in the main area"
    offenders = found["out"]
    _full_page_screenshot(page, name)
    if scroll > width:
        problems.append(f"{name}: the page scrolls sideways ({scroll} px > {width} px)")
    if offenders:
        problems.append(f"{name}: {len(offenders)} elements stick out to the right: {offenders[:15]}")
    controls = page.evaluate(CONTROLS_JS)
    if controls:
        problems.append(f"{name}: {len(controls)} controls lie outside the screen: {controls[:15]}")
    cut = [t for frame in page.frames for t in frame.evaluate(CUT_TEXT_JS)]
    if cut:
        problems.append(f"{name}: {len(cut)} texts are cut off at their picture's edge: {cut[:15]}")
    plots = page.locator(".js-plotly-plot")
    for i in range(plots.count()):
        box = plots.nth(i).bounding_box()
        if box and (box["width"] > width or box["x"] + box["width"] > width + 1):
            problems.append(f"{name}: chart {i} is {box}")
    for label in buttons:
        button = page.get_by_role("button", name=label, exact=True).first
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        if not box or box["x"] < 0 or box["x"] + box["width"] > width + 1:
            problems.append(f"{name}: button {label!r} at {box}")
    return problems


def test_every_page_fits_a_phone(browser, app_url):
    page = new_tab(browser, **PHONE)
    problems = []
    try:
        for name, (path, answer, buttons) in PAGES.items():
            page.goto(f"{app_url}/{path}")
            expect(page.get_by_test_id("stApp")).to_be_visible(timeout=60_000)
            idle(page)
            answer(page)
            idle(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            problems += _misfits(page, name, buttons)
        # The head view is an iframe drawn by the page's own HTML: it must fit as well.
        page.get_by_role("tab", name=re.compile("^Head view")).click()
        frame = page.locator('[data-testid="stMain"] iframe').first
        expect(frame).to_be_visible(timeout=TIMEOUT)
        idle(page)
        problems += _misfits(page, "attention-head-view", [])
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)
