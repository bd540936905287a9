"""A room full of people: N real browser sessions at once on a freshly started app.

Starts `streamlit run app.py`, waits for the default models, lets one visitor use each task page
(so every model has run once), then opens N sessions at once in one headless Chromium (one
context each, like N people), spread over the four task pages. Each session opens its page's own
link, checks the app's navigation, uses the page as a person would and waits for a real answer:

- classification: clicks one of the examples, expects its label;
- generation: clicks "Capital of France", then Generate, expects "Paris" (and watches whether
  the page shows its place in line while it waits);
- images: uploads a photo of its own (a different crop of the coffee photo), expects "espresso";
- attention: types a sentence of its own, expects its heatmap.

Each session waits for its page's first view before it clicks, as a person reads the page first.
It prints, per page, the latency from the click to the answer (p50 / p95 / max) and the errors,
and the server's resident memory: before (models loaded and used once), at peak, and after (all
sessions closed, 10 s later).

Run: .venv/bin/python bench/load.py -n 4 12 24
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

from backend.runtime.memory import resident_mb  # noqa: E402
from backend.vision.image_decoding import example_image  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, _chromium, running_app  # noqa: E402

PAGES = ("classify", "generate", "recognise", "attention")
NAVIGATION = ("Home", "Text classification", "Text generation", "Image recognition", "Attention visualizer")
TIMEOUT = 300_000  # ms for one answer
CLASSIFY_EXAMPLES = [("Terrible service", "negative"), ("Football final", "sports"),
                     ("Earnings report", "business")]  # not the page's opening example
WORDS = ["river", "teacher", "garden", "engine", "violin", "planet", "doctor", "window",
         "castle", "rabbit", "pencil", "bridge", "forest", "cookie", "rocket", "island"]
QUEUE_TEXT = re.compile(r"\d+(st|nd|rd|th) in line")


@dataclass
class Session:
    page: str
    index: int
    seconds: float | None = None
    error: str | None = None
    saw_queue: bool = False
    waited: bool = False  # generation: it did not start at once


@dataclass
class MemoryWatch:
    pid: int
    peak: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemoryWatch:
        def watch() -> None:
            while not self._stop.wait(0.2):
                self.peak = max(self.peak, resident_mb(self.pid))

        self.peak = resident_mb(self.pid)
        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _photo(i: int) -> bytes:
    photo = example_image("Coffee cup")
    w, h = photo.size
    crop = photo.crop((i * 3, i * 2, w - i * 2, h - i * 3))  # each person has a different photo
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def _check_navigation(tab: Page) -> None:
    nav = tab.get_by_test_id("stSidebarNav")
    for title in NAVIGATION:
        await expect(nav.get_by_text(title, exact=True)).to_be_visible(timeout=120_000)


async def _settled(tab: Page) -> None:
    """The page's first run has finished and its first view is drawn."""
    await expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT)
    if tab.url.split("?")[0].endswith(("/classify", "/recognise", "/attention")):  # their first view has a chart
        await expect(tab.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)


def _plot(tab: Page, pattern: str):
    return tab.locator(".js-plotly-plot").get_by_text(re.compile(pattern)).first


async def _use(tab: Page, s: Session) -> float:
    """Do what a person does on the page; return seconds from the click to the answer."""
    if s.page == "classify":
        example, label = CLASSIFY_EXAMPLES[s.index % len(CLASSIFY_EXAMPLES)]
        await tab.get_by_role("radio", name=example).click()
        started = time.monotonic()
        await expect(tab.get_by_test_id("stMetricValue")).to_have_text(label, timeout=TIMEOUT)
        return time.monotonic() - started
    if s.page == "generate":
        await tab.get_by_role("radio", name="Capital of France").click()
        await expect(tab.get_by_role("textbox", name="Prompt", exact=True)).to_have_value("What is the capital of France?", timeout=TIMEOUT)
        await tab.get_by_role("button", name="Generate", exact=True).click()
        started = time.monotonic()
        done = tab.get_by_text(re.compile(r"Tokens: \d+"))
        deadline = started + TIMEOUT / 1000
        while not await done.count():
            if await tab.get_by_text(QUEUE_TEXT).count():
                s.saw_queue = True
            if await tab.get_by_text("Waiting for the model").count():
                s.waited = True
            if time.monotonic() > deadline:
                raise TimeoutError("no answer")
            await asyncio.sleep(0.2)
        seconds = time.monotonic() - started
        await expect(tab.get_by_text(re.compile("Paris")).first).to_be_visible(timeout=30_000)
        return seconds
    if s.page == "recognise":
        await expect(_plot(tab, "tiger cat|tabby|Egyptian cat")).to_be_visible(timeout=TIMEOUT)  # the default photo
        await tab.get_by_text("Upload", exact=True).click()
        upload = tab.locator("input[type=file]")
        await expect(upload).to_have_count(1, timeout=60_000)
        await upload.set_input_files({"name": f"photo{s.index}.jpg", "mimeType": "image/jpeg", "buffer": _photo(s.index)})
        started = time.monotonic()
        await expect(_plot(tab, "espresso")).to_be_visible(timeout=TIMEOUT)
        return time.monotonic() - started
    word = WORDS[s.index % len(WORDS)]
    box = tab.get_by_role("textbox", name="Text", exact=True)
    await box.fill(f"The {word} near the old station was quiet")
    await box.press("Enter")
    started = time.monotonic()
    await expect(_plot(tab, f"^{word}$")).to_be_visible(timeout=TIMEOUT)
    return time.monotonic() - started


async def _session(browser, url: str, s: Session, headers: dict[str, str] | None = None) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers or {})
    try:
        tab = await context.new_page()
        await tab.goto(f"{url}/{s.page}", timeout=120_000)
        await expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=120_000)
        await _check_navigation(tab)
        await _settled(tab)  # a person looks at the page before clicking
        s.seconds = await _use(tab, s)
        if await tab.get_by_test_id("stException").count() or await tab.get_by_test_id("stAlertContentError").count():
            raise RuntimeError("an error is shown on the page")
    except Exception as exc:  # counted and reported, the run goes on
        s.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        try:
            await tab.screenshot(path=str(ROOT / "test-artifacts" / f"load-error-{s.page}-{s.index}.png"), timeout=10_000)
        except Exception:
            pass
    finally:
        await context.close()


def _chromium_at(niceness: int) -> str:
    """Chromium started through `nice`, so that only the browser (not this script, which measures,
    nor the server) yields the CPU."""
    if niceness == 0:
        return _chromium()
    wrapper = Path(tempfile.mkdtemp()) / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {niceness} "{_chromium()}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def _crowd(url: str, n: int, pages: tuple[str, ...], chromium: str) -> list[Session]:
    sessions = [Session(pages[i % len(pages)], i // len(pages)) for i in range(n)]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            await asyncio.gather(*(_session(browser, url, s) for s in sessions))
        finally:
            await browser.close()
    return sessions


def _wait_for_models(log: Path, expected: int = 3, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.read_text().count("Loaded ") >= expected:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the default models did not load within {timeout:.0f} s; see {log}")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(n: int, sessions: list[Session], before: float, peak: float, after: float, wall: float, server_cpu: float) -> str:
    lines = [f"N = {n}", f"{'page':<10} {'sessions':>8} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}  notes"]
    for page in PAGES:
        mine = [s for s in sessions if s.page == page]
        if not mine:
            continue
        times = [s.seconds for s in mine if s.seconds is not None and s.error is None]
        errors = sum(s.error is not None for s in mine)
        stats = (f"{statistics.median(times):7.1f} {_quantile(times, 0.95):7.1f} {max(times):7.1f}" if times else f"{'-':>7} {'-':>7} {'-':>7}")
        note = ""
        if page == "generate":
            waited = [s for s in mine if s.waited]
            note = f"queue position shown to {sum(s.saw_queue for s in waited)} of {len(waited)} that waited"
        lines.append(f"{page:<10} {len(mine):>8} {errors:>6} {stats}  {note}")
    for s in sessions:
        if s.error:
            lines.append(f"  error ({s.page} #{s.index}): {s.error}")
    growth = (after - before) / before * 100 if before else 0.0
    lines.append(f"server RSS: before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB ({growth:+.1f} %)")
    lines.append(f"wall {wall:.0f} s; server CPU {server_cpu:.0f} s; the rest of {os.cpu_count()} cores x {wall:.0f} s went to Chromium")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, nargs="+", default=[4, 12, 24], help="session counts, run one after another")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES))
    parser.add_argument(
        "--browser-nice", type=int, default=10,
        help="CPU priority of Chromium below the server's (0: equal). In a room each visitor has their "
        "own machine; here the N simulated visitors share the server's cores, and at equal priority "
        "their page rendering takes most of them.",
    )
    args = parser.parse_args()
    with running_app("bench-load-server.log") as (url, server):
        chromium = _chromium_at(args.browser_nice)
        log = ROOT / "test-artifacts" / "bench-load-server.log"
        _wait_for_models(log)
        warm = asyncio.run(_crowd(url, len(PAGES), PAGES, chromium))  # every model has run once: "before"
        if any(s.error for s in warm):
            raise SystemExit(f"warm-up failed: {[s.error for s in warm if s.error]}")
        time.sleep(5)
        for n in args.n:
            before, cpu, started = resident_mb(server.pid), cpu_seconds(server.pid), time.monotonic()
            with MemoryWatch(server.pid) as memory:
                sessions = asyncio.run(_crowd(url, n, tuple(args.pages), chromium))
                wall, cpu = time.monotonic() - started, cpu_seconds(server.pid) - cpu
                time.sleep(10)  # closed tabs disconnect; queues go idle and hand memory back
            after = resident_mb(server.pid)
            print(report(n, sessions, before, memory.peak, after, wall, cpu), flush=True)
            print(f"(Chromium at nice {args.browser_nice})", flush=True)
            print(flush=True)


if __name__ == "__main__":
    main()
