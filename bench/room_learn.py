"""A room training at once on "How it learns", in a real browser: how long each visitor waits for
its run, how often its page redraws meanwhile, and how long a visitor on another page waits.

A fresh `streamlit run app.py` is started. One unmeasured run warms it up. Then:
- the lone visitor: one browser context opens the learning page by its link and presses Train;
- a room of N visitors (`--visitors`, default 12 24): N browser contexts (N sessions) each open
  the page by its own link (the default network, 300 epochs, each its own seed, data set, noise,
  width of 4 to 10 units and learning rate), wait until the app is idle, and all press Train at once;
- a probe while the room trains: one more visitor opens the classification page by a link and
  waits for its answer; the same probe alone first gives its usual wait.
A wait runs from the click on Train to the page showing "Epoch 300 / 300", both stamped by the
page's clock, and the run's own time on the server (from its seat in the training loop to its last
epoch) as the page's caption says it; redraws are the changes of the page's epoch counter in that
time (the page redraws about six times a second alone, less in a crowd). The room's browsers run
at idle CPU priority, as in bench/room.py (they stand in for the visitors' own phones and laptops,
and on these 2 cores twelve of them drawing their charts are the slowest part of a page's wait);
the probe has a browser of its own at normal priority (another visitor's device).

Targets (issue 29): the lone run in at most 3 s with at least 5 redraws a second; at N=12 p95 at
most 3x the lone wait; 24 visitors training keep the server responsive (the probe's wait).

Run: .venv/bin/python bench/room_learn.py [--visitors 12 24] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.room import IDLE, OPEN_TIMEOUT_S, Stamped, chromium_at, progress, server  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, _chromium  # noqa: E402

EPOCHS = 300
DATASETS = ("circles", "xor", "spirals", "blobs")
PROBE = "classify?" + urlencode({"text": "What a wonderful film"})
# Stamps the click on Train, each change of the epoch counter, and when it reads the last epoch.
ARM = """(last) => {
    const room = window.__room = {clicked_ms: null, done_ms: null, redraws: 0, error: null, server_s: null};
    let shown = null;
    document.addEventListener('click', e => {
        if (room.clicked_ms === null && e.target.closest('button')?.innerText.trim().endsWith('Train')) room.clicked_ms = Date.now();
    }, true);
    new MutationObserver(() => {
        if (room.clicked_ms === null) return;
        const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .map(e => e.textContent.match(/epochs in ([\d.]+) s/)).find(Boolean);
        if (caption && room.done_ms !== null) room.server_s = Number(caption[1]);
        if (room.done_ms !== null) return;
        const failed = document.querySelector('[data-testid="stAlertContentError"], [data-testid="stException"]');
        const epoch = [...document.querySelectorAll('[data-testid="stMetric"]')]
            .find(e => e.innerText.startsWith('Epoch'))?.querySelector('[data-testid="stMetricValue"]')?.innerText;
        if (epoch && epoch !== shown) { shown = epoch; room.redraws += 1; }
        if (failed || epoch === last) { room.done_ms = Date.now(); room.error = failed ? failed.innerText.trim() : null; }
        if (caption && room.done_ms !== null) room.server_s = Number(caption[1]);
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@dataclass
class Visit(Stamped):
    link: str
    redraws: int = 0
    server_s: float | None = None  # the run's own time on the server, as the page's caption says it


@dataclass
class Round:
    visits: list[Visit]
    probe_s: float | None = None  # the classification visitor's wait while this room trained
    failures: int = field(init=False)
    p50_s: float = field(init=False)
    p95_s: float = field(init=False)
    redraws_per_s: float = field(init=False)  # the median visitor's
    server_p95_s: float = field(init=False)  # the runs' own time on the server (from seat to last epoch)

    def __post_init__(self) -> None:
        ok = [v for v in self.visits if v.ok]
        waits = [v.wait_s for v in ok] or [float("nan")]
        self.failures = len(self.visits) - len(ok)
        self.p50_s, self.p95_s = (float(np.percentile(waits, q)) for q in (50, 95))
        self.server_p95_s = float(np.percentile([v.server_s for v in ok if v.server_s is not None] or [float("nan")], 95))
        self.redraws_per_s = float(np.median([v.redraws / v.wait_s for v in ok])) if ok else float("nan")


def link(i: int) -> str:
    query = {"seed": i, "data": DATASETS[i % 4], "noise": f"{0.05 * (i % 3):.2f}", "width": 4 + i % 7,
             "rate": f"{0.01 * (1 + i % 5):.2f}", "epochs": EPOCHS}
    return f"learn?{urlencode(query)}"


async def visitor(browser: Browser, url: str, i: int, barrier: asyncio.Barrier, timeout_s: float) -> Visit:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    visit = Visit(link(i))
    try:
        await page.goto(f"{url}/{visit.link}", wait_until="commit", timeout=OPEN_TIMEOUT_S * 1000)
        await expect(page.locator(IDLE)).to_have_count(1, timeout=OPEN_TIMEOUT_S * 1000)
        await page.evaluate(ARM, f"{EPOCHS} / {EPOCHS}")
    except (AssertionError, PlaywrightError) as exc:
        visit.error = f"the page did not get ready: {str(exc).splitlines()[0]}"
    await barrier.wait()
    try:
        if visit.error is None:
            await page.get_by_role("button", name="Train", exact=True).click(timeout=OPEN_TIMEOUT_S * 1000)
            try:
                await page.wait_for_function("() => window.__room.done_ms !== null", polling=100, timeout=timeout_s * 1000)
                await page.wait_for_function("() => window.__room.server_s !== null", polling=100, timeout=10_000)
            except PlaywrightError:
                pass
            stamps = await page.evaluate("({...window.__room})")
            visit.clicked_ms, visit.done_ms, visit.redraws = stamps["clicked_ms"], stamps["done_ms"], stamps["redraws"]
            visit.server_s = stamps["server_s"]
            visit.error = stamps["error"] or (None if visit.done_ms else f"no last epoch within {timeout_s:.0f} s")
    finally:
        await context.close()
    return visit


async def probe(browser: Browser, url: str, delay_s: float) -> float:
    """Seconds from opening the classification page's link to its answer."""
    await asyncio.sleep(delay_s)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        started = time.perf_counter()
        await page.goto(f"{url}/{PROBE}", wait_until="commit", timeout=OPEN_TIMEOUT_S * 1000)
        await expect(page.get_by_test_id("stMetricValue").first).to_have_text("positive", timeout=OPEN_TIMEOUT_S * 1000)
        return time.perf_counter() - started
    finally:
        await context.close()


async def room(browser: Browser, url: str, n: int, timeout_s: float, first: int = 0, prober: Browser | None = None) -> Round:
    barrier = asyncio.Barrier(n)
    visits = [visitor(browser, url, first + i, barrier, timeout_s) for i in range(n)]
    if prober is None:
        return Round(list(await asyncio.gather(*visits)))
    *done, probe_s = await asyncio.gather(*visits, probe(prober, url, 1.0))
    return Round(done, probe_s)


async def measure(url: str, sizes: list[int], timeout_s: float, priority: str) -> tuple[Round, float, dict[int, Round]]:
    async with async_playwright() as playwright:
        with chromium_at(priority) as executable:
            browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        # the probing visitor's own browser, at normal priority: another device, not one of the room's
        prober = await playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        warm = await room(browser, url, 1, timeout_s, first=100)
        if warm.failures:
            raise RuntimeError(f"the warm-up run failed: {warm.visits[0].error}")
        await probe(prober, url, 0)  # loads the classifier
        probe_alone = await probe(prober, url, 0)
        progress(f"warmed up; probe alone {probe_alone:.2f} s")
        lone = await room(browser, url, 1, timeout_s)
        progress(f"lone visitor: {lone.p95_s:.2f} s, {lone.redraws_per_s:.1f} redraws/s")
        crowds = {}
        for n in sizes:
            crowds[n] = await room(browser, url, n, timeout_s, first=200 + n, prober=prober)
            progress(f"{n} visitors: p95 {crowds[n].p95_s:.2f} s, probe {crowds[n].probe_s:.2f} s, {crowds[n].failures} failures")
        await browser.close()
        await prober.close()
    return lone, probe_alone, crowds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[12, 24], metavar="N")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--browser-priority", choices=["idle", "normal"], default="idle")
    parser.add_argument("--json", type=Path, metavar="PATH")
    args = parser.parse_args()
    env = {"DASHBOARD_WARMUP": "0", "DASHBOARD_JOBS_PER_ADDRESS": str(max(args.visitors) + 2)}
    with server(ROOT, "room-learn-bench.log", env) as url:
        lone, probe_alone, crowds = asyncio.run(measure(url, args.visitors, args.timeout, args.browser_priority))
    print(f"\nlone visitor: {lone.p95_s:.2f} s to epoch {EPOCHS} on the page ({lone.server_p95_s:.2f} s on the server), "
          f"{lone.redraws_per_s:.1f} redraws/s; classification probe alone {probe_alone:.2f} s")
    for n, crowd in crowds.items():
        failed = f", {crowd.failures} failures" if crowd.failures else ""
        print(f"{n} visitors: on the pages p50 {crowd.p50_s:.2f} s, p95 {crowd.p95_s:.2f} s ({crowd.p95_s / lone.p95_s:.1f}x alone); "
              f"on the server p95 {crowd.server_p95_s:.2f} s ({crowd.server_p95_s / lone.server_p95_s:.1f}x alone); "
              f"{crowd.redraws_per_s:.1f} redraws/s each; classification probe {crowd.probe_s:.2f} s "
              f"({crowd.probe_s / probe_alone:.1f}x alone){failed}")
    if args.json:
        args.json.write_text(json.dumps({"lone": asdict(lone), "probe_alone_s": probe_alone,
                                         "rooms": {str(n): asdict(r) for n, r in crowds.items()}}, indent=2))


if __name__ == "__main__":
    main()
