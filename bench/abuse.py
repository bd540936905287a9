"""A room with a few hostile visitors, and a soak: what public mode's bounds buy.

Starts a fresh `streamlit run app.py` with DASHBOARD_PUBLIC=1 and lets every page answer once.
Then, in real headless Chromium:
1. calm: 24 ordinary sessions at once (bench/load.py's visitors: an example click, a generation,
   an uploaded photo, a typed sentence), each from its own address (X-Forwarded-For, as behind
   a Space's proxy);
2. hostile: the same 24 while 4 hostile sessions, all from one address, keep opening the most
   expensive links the pages allow (every image method with Score-CAM and ROAD on a new class
   each time, IG at the step cap on a 120-token text with 20 zero-shot labels, 256 tokens with
   attention recorded at temperature 1 and a new seed, attention over the token cap);
It prints the ordinary sessions' p50 / p95 in both runs, how many hostile requests were
answered and how many refused (busy, over a cap), and the server's resident memory: before,
peak and 15 s after each run.
3. with --soak N: N mixed requests over the four pages (4 sessions at a time, each request a new
   link, so the shared answers do not serve them), reporting memory after the first 10 % (the
   warm-up) and at the end.

Run: .venv/bin/python bench/abuse.py [--soak 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright, expect  # noqa: E402

from backend.runtime.memory import resident_mb  # noqa: E402
from bench.load import (  # noqa: E402
    PAGES,
    WORDS,
    MemoryWatch,
    Session,
    _chromium_at,
    _quantile,
    _session,
    _wait_for_models,
)
from tests.browser.conftest import CHROMIUM_FLAGS, running_app  # noqa: E402

REFUSED = ("busy", "limit here", "the most one address may have", "at most", "does not offer")
HOSTILE_ADDRESS = "10.66.66.66"


def _hostile_links(rng: random.Random) -> list[str]:
    words = " ".join(rng.choice(WORDS) for _ in range(118))
    labels = quote(", ".join(f"{w}{i}" for i, w in enumerate(WORDS[:20])))
    return [
        f"recognise?compare=1&road=1&class={rng.randrange(1000)}",
        f"classify?classifier=zero-shot&labels={labels}&text={quote(words)}&steps=64&compare=loo",
        f"generate?prompt={quote(words[:600])}&max_tokens=256&attention=1&temperature=1&seed={rng.randrange(10**6)}&run=1",
        f"attention?text={quote(' '.join(rng.choice(WORDS) for _ in range(200)))}",
    ]


async def _hostile(browser, url: str, index: int, until: float, counts: dict[str, int]) -> None:
    """Keep opening expensive links until `until`; count answered and refused requests."""
    rng = random.Random(index)
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers={"X-Forwarded-For": HOSTILE_ADDRESS})
    tab = await context.new_page()
    try:
        while time.monotonic() < until:
            link = rng.choice(_hostile_links(rng))
            try:
                await tab.goto(f"{url}/{link}", timeout=60_000)
                await expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=60_000)
                await asyncio.sleep(1.0)
                await expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=90_000)
                text = (await tab.locator("[data-testid=stAlertContainer]").all_inner_texts()) if await tab.locator("[data-testid=stAlertContainer]").count() else []
                refused = any(any(word in t for word in REFUSED) for t in text)
                counts["refused" if refused else "answered"] += 1
                if await tab.get_by_test_id("stException").count():
                    counts["tracebacks"] += 1
            except Exception:
                counts["timed out"] += 1
    finally:
        await context.close()


async def _ordinary(browser, url: str, sessions: list[Session]) -> None:
    async def one(s: Session) -> None:
        await asyncio.sleep(s.index * 0.3)  # arrivals spread over a few seconds, as in a room
        await _session(browser, url, s, headers={"X-Forwarded-For": f"10.1.{s.index}.{PAGES.index(s.page)}"})

    await asyncio.gather(*(one(s) for s in sessions))


async def _run(url: str, chromium: str, hostile: int, n: int = 24) -> tuple[list[Session], dict[str, int]]:
    sessions = [Session(PAGES[i % len(PAGES)], i // len(PAGES)) for i in range(n)]
    counts = {"answered": 0, "refused": 0, "timed out": 0, "tracebacks": 0}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            ordinary = asyncio.create_task(_ordinary(browser, url, sessions))
            await asyncio.sleep(0.5 if hostile else 0)
            stop_at = [time.monotonic() + 600]
            attackers = [asyncio.create_task(_hostile(browser, url, i, stop_at[0], counts)) for i in range(hostile)]
            await ordinary
            stop_at[0] = 0
            for attacker in attackers:
                attacker.cancel()
            await asyncio.gather(*attackers, return_exceptions=True)
        finally:
            await browser.close()
    return sessions, counts


def _soak_links(i: int, rng: random.Random) -> tuple[str, str]:
    word = rng.choice(WORDS)
    page = PAGES[i % len(PAGES)]
    if page == "classify":
        mood = rng.choice(["great", "awful", "fine"])
        return page, "classify?text=" + quote(f"The {word} was {mood} today {i}")
    if page == "generate":
        return page, f"generate?prompt={quote(f'Say one thing about a {word} ({i})')}&max_tokens=8&temperature=0&run=1"
    if page == "recognise":
        examples = ["Cat (Chelsea)", "Coffee cup", "Astronaut", "Rocket launch", "Motorcycle", "Grace Hopper"]
        return page, f"recognise?example={quote(rng.choice(examples))}&top={rng.randint(1, 20)}&class={rng.randrange(1000)}&road=0"
    return page, f"attention?text={quote(f'A {word} and a {rng.choice(WORDS)} met at noon {i}')}"


async def _soak(url: str, chromium: str, total: int, pid: int) -> tuple[int, int, float, float, float]:
    rng = random.Random(7)
    links = [_soak_links(i, rng) for i in range(total)]
    done, errors, warm = [0], [0], [0.0]

    async def worker(browser, k: int) -> None:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers={"X-Forwarded-For": f"10.2.0.{k}"})
        tab = await context.new_page()
        try:
            while links:
                page, link = links.pop()
                try:
                    await tab.goto(f"{url}/{link}", timeout=60_000)
                    await expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=60_000)
                    await asyncio.sleep(0.5)
                    await expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)
                    if page == "generate":
                        await expect(tab.get_by_text("Stopped by")).to_be_visible(timeout=120_000)
                    if await tab.get_by_test_id("stException").count() or await tab.get_by_test_id("stAlertContentError").count():
                        errors[0] += 1
                except Exception:
                    errors[0] += 1
                done[0] += 1
                if done[0] == max(1, total // 10):
                    warm[0] = resident_mb(pid)
        finally:
            await context.close()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            with MemoryWatch(pid) as watch:
                await asyncio.gather(*(worker(browser, k) for k in range(4)))
        finally:
            await browser.close()
    await asyncio.sleep(15)
    return done[0], errors[0], warm[0], watch.peak, resident_mb(pid)


def _times(sessions: list[Session]) -> list[float]:
    return [s.seconds for s in sessions if s.seconds is not None and s.error is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hostile", type=int, default=4)
    parser.add_argument("--soak", type=int, default=0, help="also run this many mixed requests (the long form: 500)")
    parser.add_argument("--browser-nice", type=int, default=10, help="Chromium's CPU priority below the server's (see bench/load.py)")
    args = parser.parse_args()
    with running_app("bench-abuse-server.log", env={"DASHBOARD_PUBLIC": "1"}) as (url, server):
        chromium = _chromium_at(args.browser_nice)
        _wait_for_models(ROOT / "test-artifacts" / "bench-abuse-server.log")
        warm, _ = asyncio.run(_run(url, chromium, hostile=0, n=len(PAGES)))
        if any(s.error for s in warm):
            raise SystemExit(f"warm-up failed: {[s.error for s in warm if s.error]}")
        rows = []
        for name, hostile in (("calm", 0), ("hostile", args.hostile)):
            before = resident_mb(server.pid)
            with MemoryWatch(server.pid) as watch:
                started = time.monotonic()
                sessions, counts = asyncio.run(_run(url, chromium, hostile))
                wall = time.monotonic() - started
            time.sleep(15)
            rows.append((name, sessions, counts, before, watch.peak, resident_mb(server.pid), wall))
        print(f"{'run':<8} {'ok':>4} {'errors':>6} {'p50 s':>6} {'p95 s':>6}  {'RSS before / peak / after MB':>30}  hostile requests")
        for name, sessions, counts, before, peak, after, wall in rows:
            times = _times(sessions)
            errors = sum(s.error is not None for s in sessions)
            p50, p95 = (statistics.median(times), _quantile(times, 0.95)) if times else (float("nan"),) * 2
            hostile_text = "-" if name == "calm" else (
                f"{counts['answered']} answered, {counts['refused']} refused, {counts['timed out']} timed out, {counts['tracebacks']} tracebacks")
            print(f"{name:<8} {len(times):>4} {errors:>6} {p50:>6.1f} {p95:>6.1f}  {before:>9.0f} / {peak:>6.0f} / {after:>6.0f} ({(after - before) / before * 100:+.1f} %)  {hostile_text}")
            for s in sessions:
                if s.error:
                    print(f"  error ({s.page} #{s.index}): {s.error}")
        calm, hostile_run = _times(rows[0][1]), _times(rows[1][1])
        if calm and hostile_run:
            print(f"ordinary p95 with hostile sessions / calm: {_quantile(hostile_run, 0.95) / _quantile(calm, 0.95):.2f}x (target <= 2x)")
        if args.soak:
            done, errors, warm_mb, peak, end = asyncio.run(_soak(url, chromium, args.soak, server.pid))
            print(f"soak: {done} requests, {errors} with an error shown; RSS after warm-up {warm_mb:.0f} MB, peak {peak:.0f} MB, "
                  f"end {end:.0f} MB ({(end - warm_mb) / warm_mb * 100:+.1f} % after warm-up; target <= 10 %)")


if __name__ == "__main__":
    main()
