"""Attention page: the time from a click to the rendered view, and the bytes sent for it, in a
real browser (headless Chromium) against a fresh `streamlit run app.py`, for a 16-token, a
64-token and a cap-length (256-token) text on MiniLM.

For each length the page is opened by a link carrying the text (the model's one forward pass
happens then, not in the timings), and three clicks are timed, RUNS times each, median:
- a cell of the model view (layer 3, head 5) until its heatmap below shows "Layer 3, head 5";
- the "Rollout" tab until its figure is drawn;
- the "Step through one head" tab until the largest-difference numbers are shown.
Bytes are those of the websocket frames the browser received between the click and the render.

Run: .venv/bin/python bench/attention_views.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM_FLAGS, _chromium, running_app  # noqa: E402

TIMEOUT = 120_000
LENGTHS = {16: 14, 64: 62, 256: 254}  # tokens -> words ("word" is one token; [CLS] and [SEP] add 2)


class Frames:
    def __init__(self, page: Page) -> None:
        self.received = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._add))

    def _add(self, payload) -> None:
        self.received += len(payload)


def _settled(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT)


def _timed(page: Page, frames: Frames, act, done) -> tuple[float, int]:
    _settled(page)
    before = frames.received
    started = time.perf_counter()
    act()
    done()
    seconds = time.perf_counter() - started
    _settled(page)
    return seconds, frames.received - before


def measure(page: Page, frames: Frames, url: str, tokens: int, runs: int) -> dict[str, tuple[float, int]]:
    text = " ".join(["word"] * LENGTHS[tokens])
    results: dict[str, list[tuple[float, int]]] = {"model view cell → heatmap": [], "Rollout tab": [], "Step-through tab": []}
    for run in range(runs):
        page.goto(f"{url}/attention?" + urlencode({"text": text, "view": "Model view", "layer": "1", "head": "1"}))
        expect(page.get_by_text("Model view: 6 layers × 12 heads")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text(f"{tokens} tokens · 6 layers")).to_be_visible(timeout=TIMEOUT)
        grid = page.locator(".js-plotly-plot").first
        grid.scroll_into_view_if_needed()
        area = grid.locator(".nsewdrag").first.bounding_box()
        results["model view cell → heatmap"].append(_timed(
            page, frames,
            lambda: page.mouse.click(area["x"] + area["width"] * (4.5 / 12), area["y"] + area["height"] * (2.5 / 6)),
            lambda: expect(page.get_by_text("Layer 3, head 5", exact=True)).to_be_visible(timeout=TIMEOUT),
        ))
        results["Rollout tab"].append(_timed(
            page, frames, lambda: page.get_by_role("tab", name="Rollout").click(),
            lambda: expect(page.get_by_text("Rollout, all layers")).to_be_visible(timeout=TIMEOUT),
        ))
        results["Step-through tab"].append(_timed(
            page, frames, lambda: page.get_by_role("tab", name="Step through one head").click(),
            lambda: expect(page.get_by_text("Largest difference, weights")).to_be_visible(timeout=TIMEOUT),
        ))
    return {name: (statistics.median(s for s, _ in values), int(statistics.median(b for _, b in values)))
            for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with running_app("bench-attention-server.log") as (url, _server), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 2000})
        frames = Frames(page)
        print(f"\nClick to rendered view, median of {args.runs} (MiniLM, warm server, headless Chromium)")
        print(f"| {'tokens':>6} | {'view':<28} | {'seconds':>7} | {'KB received':>11} |")
        print(f"|{'-' * 8}|{'-' * 30}|{'-' * 9}|{'-' * 13}|")
        for tokens in LENGTHS:
            for name, (seconds, size) in measure(page, frames, url, tokens, args.runs).items():
                print(f"| {tokens:>6} | {name:<28} | {seconds:7.2f} | {size / 1024:11.0f} |", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
