"""Cold start and warm latency of every page, measured in headless Chromium.

Cold start: from launching `streamlit run app.py` to the first answer on a page, with a new
server process for each page. Warm latency: from the user's action to the next answer on the
same page. With --fresh-cache the SmolLM2 conversion cache is emptied first (a fresh machine).

Run: .venv/bin/python bench/app_latency.py [--fresh-cache]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM_FLAGS, _chromium, _free_port  # noqa: E402

TIMEOUT = 300_000


def _done(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT)


def _ask(page: Page, prompt: str, answer: str) -> None:
    page.get_by_role("textbox", name="Prompt", exact=True).fill(prompt)
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("0")  # greedy: the same answer every time
    temperature.press("Enter")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text(re.compile(r"Stopped by: "))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stHtml").filter(has_text=re.compile(answer)).first).to_be_visible(timeout=TIMEOUT)


def _plot_text(page: Page, text: str) -> None:
    expect(page.locator(".js-plotly-plot").get_by_text(re.compile(text)).first).to_be_visible(timeout=TIMEOUT)


# page path -> (first answer after opening it, a second, different answer)
FLOWS = {
    "home": (lambda p: expect(p.get_by_text("Models run on:")).to_be_visible(timeout=TIMEOUT), None),
    "classify": (
        lambda p: (p.get_by_role("radio", name="Terrible service").click(),
                   expect(p.get_by_test_id("stMetricValue")).to_have_text("negative", timeout=TIMEOUT)),
        lambda p: (p.get_by_role("radio", name="Wonderful movie").click(),
                   expect(p.get_by_test_id("stMetricValue")).to_have_text("positive", timeout=TIMEOUT)),
    ),
    "generate": (
        lambda p: _ask(p, "What is the capital of France?", "Paris"),
        lambda p: _ask(p, "What is the capital of Germany?", "Berlin"),
    ),
    "recognise": (
        lambda p: _plot_text(p, "tiger cat|tabby|Egyptian cat"),
        lambda p: (p.get_by_role("combobox", name="Example").click(),
                   p.get_by_role("option", name="Coffee cup").click(), _plot_text(p, "espresso")),
    ),
    "attention": (
        lambda p: expect(p.get_by_text("Layer 1, mean of all heads")).to_be_visible(timeout=TIMEOUT),
        lambda p: (p.get_by_role("radio", name="Bank (river)").click(), _plot_text(p, "river")),
    ),
}


def measure(browser, name: str, env: dict[str, str]) -> tuple[float, float | None]:
    port = _free_port()
    log = open(Path(tempfile.gettempdir()) / f"bench-streamlit-{name}.log", "w")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        url = f"http://127.0.0.1:{port}/" + ("" if name == "home" else name)
        for _ in range(600):
            try:
                page.goto(url)
                break
            except Exception:
                time.sleep(0.1)
        first, second = FLOWS[name]
        opened = time.perf_counter() - started
        first(page)
        answered = time.perf_counter() - started
        _done(page)
        if os.environ.get("BENCH_DEBUG"):
            print(f"  opened {opened:.1f}s, answered {answered:.1f}s, settled {time.perf_counter() - started:.1f}s")
        cold = time.perf_counter() - started
        warm = None
        if second is not None:
            t0 = time.perf_counter()
            second(page)
            _done(page)
            warm = time.perf_counter() - t0
        context.close()
        return cold, warm
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh-cache", action="store_true", help="start with no converted SmolLM2")
    parser.add_argument("pages", nargs="*", default=list(FLOWS), help="pages to measure (default: all)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.fresh_cache:
        env["DASHBOARD_CACHE_DIR"] = tempfile.mkdtemp(prefix="dashboard-cache-")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        print(f"{'page':12s} {'cold start (s)':>15s} {'warm (s)':>9s}")
        for name in args.pages:
            cold, warm = measure(browser, name, env)
            print(f"{name:12s} {cold:15.1f} {'' if warm is None else f'{warm:9.2f}':>9s}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
