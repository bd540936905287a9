"""Example clicks on a fresh server once its start-up examples are ready: seconds from the click
to the answer on screen, served from memory, against the same clicks with one setting changed
(computed live). Run: `.venv/bin/python -m bench.examples` (headless Chromium, as the browser tests).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import ARTIFACTS, CHROMIUM_FLAGS, _chromium, running_app
from ui.attention.inputs import EXAMPLES as ATTENTION_EXAMPLES
from ui.classify.inputs import EXAMPLES as CLASSIFY_EXAMPLES
from ui.generate.inputs import EXAMPLES as GENERATE_EXAMPLES

LOG = "bench-examples-server.log"
READY = re.compile(r"instant examples ready: (\d+) answers in ([\d.]+) s")
IMAGE_EXAMPLES = ["Coffee cup", "Astronaut", "Rocket launch", "Motorcycle", "Grace Hopper", "Cat (Chelsea)"]
WORDS = {"Coreference": "tired", "Bank (river)": "river", "Bank (money)": "deposit"}  # a token only that example has
SETTLED = """() => !document.querySelector('[data-stale="true"]')
    && !(document.querySelector('[data-testid="stStatusWidget"]')?.innerText || '').includes('Running')"""
# an element of this run (not one left from the previous run, drawn faded until replaced) with the text
FRESH = """([selector, text]) => [...document.querySelectorAll(selector)].some(e =>
    e.closest('[data-stale]')?.getAttribute('data-stale') !== 'true' && e.textContent.includes(text))"""


def wait_ready(limit: float = 900) -> str:
    deadline = time.time() + limit
    while time.time() < deadline:
        found = READY.search((ARTIFACTS / LOG).read_text())
        if found:
            return found.group(0)
        time.sleep(1)
    raise TimeoutError("the server did not log 'instant examples ready'")


def fresh(page: Page, selector: str, text: str = "") -> bool:
    return page.evaluate(FRESH, [selector, text])


def timed(page: Page, act: Callable[[], None], shown: Callable[[], bool], limit: float = 300) -> tuple[float, float]:
    """(seconds until the answer is on screen, seconds until the whole page has settled)."""
    act()
    started = time.perf_counter()
    deadline, answer = started + limit, float("nan")
    while time.perf_counter() < deadline:
        if answer != answer and shown():
            answer = time.perf_counter() - started
        if answer == answer and page.evaluate(SETTLED):
            return answer, time.perf_counter() - started
        page.wait_for_timeout(20)
    return answer, float("nan")


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector('[data-testid="stMain"]')
    page.wait_for_timeout(1500)
    page.wait_for_function(SETTLED, timeout=300_000)


def classify(page: Page, url: str) -> dict[str, tuple[float, float]]:
    open_page(page, url)
    out = {}
    for title, example in CLASSIFY_EXAMPLES.items():
        text = example["classify_text"]

        def shown(text=text) -> bool:
            return (page.get_by_label("Text", exact=True).input_value() == text
                    and fresh(page, '[data-testid="stMetricValue"]') and fresh(page, "h4", "Integrated Gradients"))

        out[title] = timed(page, lambda title=title: page.get_by_role("radio", name=title).click(), shown)
    return out


def generate(page: Page, url: str) -> dict[str, tuple[float, float]]:
    open_page(page, url)
    out = {}
    for title, example in GENERATE_EXAMPLES.items():
        page.get_by_role("radio", name=title).click()
        page.wait_for_function(SETTLED)
        page.wait_for_timeout(300)

        def shown() -> bool:
            return fresh(page, '[data-testid="stCaptionContainer"]', "Stopped by:") and page.get_by_text(
                "The settings above changed since this answer").count() == 0

        out[title] = timed(page, lambda: page.get_by_role("button", name="Generate", exact=True).click(), shown)
    return out


def attention(page: Page, url: str) -> dict[str, tuple[float, float]]:
    open_page(page, url)
    out = {}
    for title in ATTENTION_EXAMPLES:
        word = WORDS[title]

        def shown(word=word) -> bool:
            return fresh(page, '[data-testid="stPlotlyChart"]', word)

        out[title] = timed(page, lambda title=title: page.get_by_role("radio", name=title).click(), shown)
    return out


def recognise(page: Page, url: str) -> dict[str, tuple[float, float]]:
    from backend.vision.image_decoding import example_image

    open_page(page, url)
    out = {}
    for name in IMAGE_EXAMPLES:
        image = example_image(name)
        caption = f"Your image: {image.width}×{image.height} pixels"

        def choose(name=name) -> None:
            page.get_by_label("Example", exact=True).click()
            page.get_by_role("option", name=name, exact=True).click()

        def shown(caption=caption) -> bool:
            return fresh(page, "[data-testid='stImage']", caption) and fresh(page, '[data-testid="stPlotlyChart"]', "Grad-CAM")

        out[name] = timed(page, choose, shown)
    return out


# page -> (what it measures, the URL path, a changed setting that makes it compute live)
PAGES = {
    "Text classification (answer + IG explanation)": (classify, "/classify", "?steps=17"),
    "Text generation (Generate click to 'Stopped by')": (generate, "/generate", "?max_tokens=95"),
    "Attention (heatmap with the example's tokens)": (attention, "/attention", "?model=smollm2-135m"),
    "Image recognition (top classes + Grad-CAM/IG maps)": (recognise, "/recognise", "?top=3"),
}


def main() -> int:
    with running_app(LOG) as (url, _server):
        print(wait_ready(), flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
            for name, (measure, path, live_setting) in PAGES.items():
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                warm = measure(context.new_page(), url + path)
                context.close()
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                live = measure(context.new_page(), url + path + live_setting)
                context.close()
                print(f"\n{name}; live: {live_setting[1:]}")
                print(f"  {'example':<22} {'memory: answer s':>17} {'settled s':>10} {'live: answer s':>15} {'settled s':>10}")
                for example, (answer, settled) in warm.items():
                    print(f"  {example:<22} {answer:>17.2f} {settled:>10.2f} {live[example][0]:>15.2f} {live[example][1]:>10.2f}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
