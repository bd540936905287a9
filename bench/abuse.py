"""Ordinary visitors while hostile ones flood the server, and a soak: what public mode's bounds buy.

Starts a fresh `streamlit run app.py` as on a Space (DASHBOARD_PUBLIC=1, DASHBOARD_TRUSTED_PROXIES=1:
one proxy in front appends the address it saw to X-Forwarded-For), with the start-up warm-up, and
lets every page answer once and the server go quiet (its start-up work done). Then, in real
headless Chromium at idle CPU priority (as in bench/room.py: the browsers stand in for the
visitors' own devices and take only what the server leaves of the 2 cores):

1. calm: 12 ordinary visitors (--visitors) spread over the four pages, each from its own address
   (`X-Forwarded-For: <address>`, as the proxy appends it), doing what bench/load.py's visitors do:
   an example click, a generation, an uploaded photo, a typed sentence;
2. hostile: the same visitors, arriving 20 s after the first export click of 4 hostile sessions
   (--hostile; at most --head-start s after they began), each hostile from its own fixed address
   but writing a new spoofed address before it on every page it opens (`X-Forwarded-For:
   <spoofed>, <own>`). Each hostile session cycles through three floods (two start with the
   export, one with the queues, one with short links) until the ordinary visitors are done:
   - queue flood: the most expensive links the pages allow (every image method with Score-CAM and
     ROAD on a new class, IG at the step cap on a 120-token text with 20 zero-shot labels, 256
     tokens with attention at temperature 1 and a new seed, attention past the token cap);
   - export flood: a page whose `deck=` link holds 40 expensive views (Score-CAM on a new class,
     IG at the step cap, 256-token generations), opened in 2 tabs at once, both clicking
     "Download as static HTML (zip)" (the zip is computed on the click): each click's download
     completes, fails (the button's error), finds the button disabled, or times out;
   - short-link flood: a view with a new text, "Let the room follow", the `?go=` code read, again.
   Before the hostile run a presenter (an ordinary address) makes a short link the same way and
   keeps the tab open; after it, the bench opens that link and checks it still opens its view.

It prints, per run: the ordinary visitors answered / errors, p50 / p95 from the click to the
answer, every ordinary visitor who saw a refusal (an alert saying busy / a limit / "the most one
address may have": they sent nothing wrong), the server's resident memory before, at peak and
15 s after; then the hostile / calm p95 ratio (target <= 2x), memory after the flood against
before it (target within 10 %), the hostile counts per flood and whether the presenter's link
still opens. Targets from issue 27.

3. with --soak N: N mixed requests over the four pages (4 sessions at a time, each request a new
   link, so the shared answers do not serve them), reporting memory after the first 10 % (the
   warm-up) and at the end.

Run: .venv/bin/python bench/abuse.py [--visitors 12] [--hostile 4] [--soak 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

from backend.runtime.memory import resident_mb  # noqa: E402
from bench.load import (  # noqa: E402
    PAGES,
    WORDS,
    MemoryWatch,
    Session,
    _check_navigation,
    _quantile,
    _settled,
    _use,
    _wait_for_models,
    cpu_seconds,
)
from bench.room import chromium_at  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, running_app  # noqa: E402
from ui.talk.deck import Deck, checked_view, deck_to_param, view_link  # noqa: E402

REFUSED = ("busy", "limit here", "the most one address may have", "at most", "does not offer", "the most it")
# what an ordinary visitor must never be shown: they sent nothing wrong
ORDINARY_REFUSED = ("busy", "the most one address may have", "limit", "the most it", "may have", "try again",
                    "something went wrong")  # the last: a bug, shown with an error id
ARTIFACTS = ROOT / "test-artifacts"
FLOODS = ("queue", "export", "short link")
FIRST_FLOOD = ("export", "queue", "short link", "export")  # hostile session i starts with FIRST_FLOOD[i % 4]
EXPORT_WAIT = 180.0  # s a hostile tab waits for its zip (public mode's budget is 120 s since issue 27)
IMAGE_EXAMPLES = ["Cat (Chelsea)", "Coffee cup", "Astronaut", "Rocket launch", "Motorcycle", "Grace Hopper"]
VIEWPORT = {"width": 1280, "height": 900}


def _hostile_links(rng: random.Random) -> list[str]:
    words = " ".join(rng.choice(WORDS) for _ in range(118))
    labels = quote(", ".join(f"{w}{i}" for i, w in enumerate(WORDS[:20])))
    return [
        f"recognise?compare=1&road=1&class={rng.randrange(1000)}",
        f"classify?classifier=zero-shot&labels={labels}&text={quote(words)}&steps=64&compare=loo",
        f"generate?prompt={quote(words[:600])}&max_tokens=256&attention=1&temperature=1&seed={rng.randrange(10**6)}&run=1",
        f"attention?text={quote(' '.join(rng.choice(WORDS) for _ in range(200)))}",
    ]


def _expensive_deck(rng: random.Random, views: int = 40) -> str:
    """A `deck=` link value: `views` views, each as costly as public mode lets a view be."""
    labels = ", ".join(f"{w}{i}" for i, w in enumerate(WORDS[:20]))
    made = []
    for i in range(views):
        words = " ".join(rng.choice(WORDS) for _ in range(118))
        if i % 3 == 0:
            link = view_link("recognise", {"example": rng.choice(IMAGE_EXAMPLES), "class": str(rng.randrange(1000)),
                                           "cam": "scorecam", "road": "1"})
        elif i % 3 == 1:
            link = view_link("classify", {"classifier": "zero-shot", "labels": labels, "text": words, "steps": "64"})
        else:
            link = view_link("generate", {"prompt": words[:600], "max_tokens": "256", "temperature": "1",
                                          "seed": str(rng.randrange(10**6)), "run": "1"})
        made.append(checked_view(f"View {i + 1}", link))
    return deck_to_param(Deck(title="Flood", views=tuple(made)))


def _spoofed(rng: random.Random, own: str) -> dict[str, str]:
    """A client-written entry, then the one the trusted proxy appends (the sender's own address)."""
    fake = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return {"X-Forwarded-For": f"{fake}, {own}"}


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}" if str(exc) else type(exc).__name__


async def _idle(tab: Page, timeout: float = 180_000) -> None:
    await expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=120_000)
    await asyncio.sleep(1.0)
    await expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


async def _alerts(tab: Page) -> list[str]:
    """The warnings and errors on the page (a refusal is one of them)."""
    alerts = tab.locator('[data-testid="stAlertContentError"], [data-testid="stAlertContentWarning"]')
    return await alerts.all_inner_texts() if await alerts.count() else []


async def _share(tab: Page) -> str | None:
    """Click 'Let the room follow' and read the short link's code from the dialog."""
    await tab.get_by_test_id("stSidebar").get_by_role("button", name="Let the room follow").click(timeout=30_000)
    code = tab.get_by_role("dialog").get_by_test_id("stCode")
    await expect(code).to_contain_text("?go=", timeout=120_000)
    found = re.search(r"\?go=([0-9A-Za-z_-]+)", await code.inner_text())
    return found.group(1) if found else None


# ---- the hostile floods: each does one round and counts into `c` ----

async def _queue_round(context, url: str, rng: random.Random, own: str, c: Counter, errors: Counter) -> None:
    tab = await context.new_page()
    try:
        for _ in range(2):
            await tab.set_extra_http_headers(_spoofed(rng, own))
            try:
                await tab.goto(f"{url}/{rng.choice(_hostile_links(rng))}", timeout=60_000)
                await _idle(tab)
                text = await _alerts(tab)
                c["refused" if any(any(w in t for w in REFUSED) for t in text) else "answered"] += 1
                if await tab.get_by_test_id("stException").count():
                    c["tracebacks"] += 1
            except Exception as exc:
                c["timed out"] += 1
                errors[f"queue: {_why(exc)}"] += 1
    finally:
        await tab.close()


async def _one_export(tab: Page, delay: float, c: Counter, errors: Counter) -> str:
    await asyncio.sleep(delay)
    button = tab.get_by_test_id("stSidebar").get_by_role("button", name="Download as static HTML (zip)")
    if await button.is_disabled() or await tab.get_by_text("Your export is being made").count():
        c["export disabled"] += 1
        return "disabled"
    downloads = []
    tab.on("download", lambda download: downloads.append(download))
    await button.click(timeout=30_000)
    c["export clicks"] += 1
    deadline = time.monotonic() + EXPORT_WAIT
    outcome = "timed out"
    while time.monotonic() < deadline:
        if downloads:
            path = await downloads[0].path()  # the whole zip came: the export, or a page saying why not
            with zipfile.ZipFile(path) as archive:
                refused = [n for n in archive.namelist() if n.endswith("index.html")
                           and "This export was not made" in archive.read(n).decode("utf-8", "replace")]
            outcome = "refused (its zip says why)" if refused else "completed"
            break
        failed = tab.get_by_test_id("stDownloadButtonError")
        if await failed.count():
            errors[f"export: shown on the button: {(await failed.first.inner_text())[:120]}"] += 1
            outcome = "refused"
            break
        await asyncio.sleep(0.5)
    c[f"export {outcome}"] += 1  # counted at once: a round may be cut off by the end of the floods
    return outcome


async def _export_round(context, url: str, rng: random.Random, own: str, deck: str, c: Counter, errors: Counter) -> None:
    """Two tabs of one address open the deck and click the export at (almost) the same time; the
    second, once refused, is opened again to see whether the button now says an export is under way."""
    tabs = [await context.new_page() for _ in range(2)]
    try:
        for tab in tabs:
            await tab.set_extra_http_headers(_spoofed(rng, own))
            await tab.goto(f"{url}/?deck={deck}", timeout=60_000)
        for tab in tabs:
            await _idle(tab)
            await expect(tab.get_by_test_id("stSidebar").get_by_role("button", name="Download as static HTML (zip)")).to_be_visible(timeout=120_000)

        first = asyncio.ensure_future(_one_export(tabs[0], 0.0, c, errors))

        async def second() -> None:
            outcome = await _one_export(tabs[1], 1.0, c, errors)
            if outcome == "refused" and not first.done():  # opened again while the first tab's export is being made
                await tabs[1].set_extra_http_headers(_spoofed(rng, own))
                await tabs[1].reload(timeout=60_000)
                await _idle(tabs[1])
                button = tabs[1].get_by_test_id("stSidebar").get_by_role("button", name="Download as static HTML (zip)")
                shut = await button.is_disabled() or await tabs[1].get_by_text("Your export is being made").count()
                if not first.done():
                    c["reopened during the first tab's export: button disabled" if shut else
                      "reopened during the first tab's export: button enabled"] += 1

        try:
            await asyncio.gather(first, second())
        finally:
            first.cancel()
    except Exception as exc:
        c["export round failed"] += 1
        errors[f"export: {_why(exc)}"] += 1
    finally:
        for tab in tabs:
            await tab.close()


async def _short_link_round(context, url: str, rng: random.Random, own: str, c: Counter, errors: Counter) -> None:
    tab = await context.new_page()
    try:
        for _ in range(3):
            text = f"The {rng.choice(WORDS)} saw a {rng.choice(WORDS)} at {rng.randrange(10**9)}"
            await tab.set_extra_http_headers(_spoofed(rng, own))
            try:
                await tab.goto(f"{url}/attention?text={quote(text)}", timeout=60_000)
                await _idle(tab)
                c["short links made" if await _share(tab) else "short link failed"] += 1
                text = await _alerts(tab)
                if any(any(w in t for w in REFUSED) for t in text):
                    c["short link refused"] += 1
            except Exception as exc:
                c["short link failed"] += 1
                errors[f"short link: {_why(exc)}"] += 1
    finally:
        await tab.close()


async def _hostile(browser, url: str, index: int, deck: str, counts: dict[str, Counter], errors: Counter) -> None:
    """Cycle through the three floods until cancelled (the ordinary visitors are done)."""
    rng = random.Random(index)
    own = f"10.66.66.{index + 1}"
    context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        first = FLOODS.index(FIRST_FLOOD[index % len(FIRST_FLOOD)])
        for k in range(first, 10**6):
            flood = FLOODS[k % len(FLOODS)]
            if flood == "queue":
                await _queue_round(context, url, rng, own, counts[flood], errors)
            elif flood == "export":
                await _export_round(context, url, rng, own, deck, counts[flood], errors)
            else:
                await _short_link_round(context, url, rng, own, counts[flood], errors)
    finally:
        try:
            await context.close()
        except Exception:
            pass


# ---- the ordinary visitors ----

async def _visitor(browser, url: str, s: Session, address: str, refusals: dict[str, list[str]]) -> None:
    """bench/load.py's session, from `address`, watching its alerts for a refusal throughout."""
    context = await browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-For": address})
    tab = await context.new_page()
    seen: set[str] = set()

    async def watch() -> None:
        while True:
            try:
                for text in await _alerts(tab):
                    if any(w in text.lower() for w in ORDINARY_REFUSED):
                        seen.add(" ".join(text.split())[:200])
            except Exception:
                pass
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    try:
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
            await tab.screenshot(path=str(ARTIFACTS / f"abuse-error-{s.page}-{s.index}.png"), timeout=10_000)
        except Exception:
            pass
    finally:
        watcher.cancel()
        try:
            for text in await _alerts(tab):
                if any(w in text.lower() for w in ORDINARY_REFUSED):
                    seen.add(" ".join(text.split())[:200])
        except Exception:
            pass
        if seen:
            refusals[f"{s.page} #{s.index} ({address})"] = sorted(seen)
        await context.close()


async def _presenter_link(browser, url: str) -> tuple[object, str | None, str]:
    """A presenter's tab (left open, as in a talk) with the short link of its view."""
    text = f"The presenter's view {random.randrange(10**6)}: the keys were under the mat."
    context = await browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-For": "10.1.99.1"})
    tab = await context.new_page()
    await tab.goto(f"{url}/classify?text={quote(text)}", timeout=120_000)
    await _idle(tab, 300_000)
    return context, await _share(tab), text


async def _link_opens(browser, url: str, code: str | None, text: str) -> bool:
    if not code:
        return False
    context = await browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-For": "10.1.99.2"})
    try:
        tab = await context.new_page()
        await tab.goto(f"{url}/?go={code}", timeout=120_000)
        await expect(tab.get_by_role("textbox", name="Text", exact=True)).to_have_value(text, timeout=120_000)
        return "/classify" in tab.url
    except Exception:
        return False
    finally:
        await context.close()


async def _run(url: str, chromium: str, visitors: int, hostile: int, head_start: float, most_seconds: float) -> dict:
    sessions = [Session(PAGES[i % len(PAGES)], i // len(PAGES)) for i in range(visitors)]
    refusals: dict[str, list[str]] = {}
    counts = {flood: Counter() for flood in FLOODS}
    export_errors: Counter = Counter()
    result = {"sessions": sessions, "refusals": refusals, "counts": counts, "hostile problems": export_errors}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            presenter = None
            if hostile:
                presenter, code, text = await _presenter_link(browser, url)
                result["presenter code"] = code
            deck = _expensive_deck(random.Random(27))
            attackers = [asyncio.create_task(_hostile(browser, url, i, deck, counts, export_errors)) for i in range(hostile)]
            result["hostile started"] = time.monotonic()
            # the visitors arrive into a flood under way: 20 s after the first export click (its zip
            # being computed), at most `head_start` s after the floods began
            while hostile and time.monotonic() - result["hostile started"] < head_start:
                if counts["export"]["export clicks"] and "first export click" not in result:
                    result["first export click"] = time.monotonic() - result["hostile started"]
                if "first export click" in result and time.monotonic() - result["hostile started"] > result["first export click"] + 20:
                    break
                await asyncio.sleep(0.5)
            result["visitors arrived"] = time.monotonic() - result["hostile started"]

            async def one(i: int, s: Session) -> None:
                await asyncio.sleep(s.index * 0.3)  # arrivals spread over a few seconds, as in a room
                await _visitor(browser, url, s, f"10.1.{s.index}.{PAGES.index(s.page) + 1}", refusals)

            ordinary = asyncio.gather(*(one(i, s) for i, s in enumerate(sessions)))
            try:
                await asyncio.wait_for(asyncio.shield(ordinary), timeout=most_seconds)
            except TimeoutError:  # the hostile sessions stop; the visitors still finish
                result["hostile cut at"] = most_seconds
                for attacker in attackers:
                    attacker.cancel()
                await ordinary
            for attacker in attackers:
                attacker.cancel()
            await asyncio.gather(*attackers, return_exceptions=True)
            result["hostile seconds"] = time.monotonic() - result["hostile started"]
            if hostile:
                result["presenter link opens"] = await _link_opens(browser, url, result["presenter code"], text)
                await presenter.close()
        finally:
            await browser.close()
    return result


# ---- the soak ----

def _soak_links(i: int, rng: random.Random) -> tuple[str, str]:
    word = rng.choice(WORDS)
    page = PAGES[i % len(PAGES)]
    if page == "classify":
        mood = rng.choice(["great", "awful", "fine"])
        return page, "classify?text=" + quote(f"The {word} was {mood} today {i}")
    if page == "generate":
        return page, f"generate?prompt={quote(f'Say one thing about a {word} ({i})')}&max_tokens=8&temperature=0&run=1"
    if page == "recognise":
        return page, f"recognise?example={quote(rng.choice(IMAGE_EXAMPLES))}&top={rng.randint(1, 20)}&class={rng.randrange(1000)}&road=0"
    return page, f"attention?text={quote(f'A {word} and a {rng.choice(WORDS)} met at noon {i}')}"


async def _soak(url: str, chromium: str, total: int, pid: int) -> tuple[int, int, float, float, float]:
    rng = random.Random(7)
    links = [_soak_links(i, rng) for i in range(total)]
    done, errors, warm = [0], [0], [0.0]

    async def worker(browser, k: int) -> None:
        context = await browser.new_context(viewport=VIEWPORT, extra_http_headers={"X-Forwarded-For": f"10.2.0.{k + 1}"})
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


# ---- the report ----

def _times(sessions: list[Session]) -> list[float]:
    return [s.seconds for s in sessions if s.seconds is not None and s.error is None]


def _p(times: list[float], q: float) -> float:
    return (statistics.median(times) if q == 0.5 else _quantile(times, q)) if times else float("nan")


def _quiet(pid: int, most: float = 300.0) -> float:
    """Wait until the server uses under a tenth of a core (its start-up work and the last run's
    leftovers done), at most `most` s; returns the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < most:
        used = cpu_seconds(pid)
        time.sleep(3)
        if (cpu_seconds(pid) - used) / 3 < 0.1:
            break
    return time.monotonic() - began


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=12, help="ordinary visitors, spread over the four pages")
    parser.add_argument("--hostile", type=int, default=4)
    parser.add_argument("--head-start", type=float, default=180.0,
                        help="the visitors arrive 20 s after the first export click, at most this many s after the floods began")
    parser.add_argument("--hostile-max", type=float, default=900.0, help="s after the visitors' arrival at which the floods stop anyway")
    parser.add_argument("--soak", type=int, default=0, help="also run this many mixed requests (the long form: 500)")
    parser.add_argument("--browser-priority", choices=["idle", "normal"], default="idle",
                        help="CPU priority of every browser (idle: only what the server leaves, as bench/room.py: the "
                             "visitors' browsers stand in for their own phones and laptops)")
    args = parser.parse_args()
    print(f"load average at start: {_load()}", flush=True)
    started_all = time.monotonic()
    env = {"DASHBOARD_PUBLIC": "1", "DASHBOARD_TRUSTED_PROXIES": "1"}
    with running_app("bench-abuse-server.log", env=env, warm_up=True) as (url, server), chromium_at(args.browser_priority) as chromium:
        _wait_for_models(ARTIFACTS / "bench-abuse-server.log")
        warm = asyncio.run(_run(url, chromium, visitors=len(PAGES), hostile=0, head_start=0, most_seconds=600))
        if any(s.error for s in warm["sessions"]):  # every page has still run once; said, not fatal
            print(f"warm-up: {[f'{s.page}: {s.error}' for s in warm['sessions'] if s.error]}", flush=True)
        time.sleep(5)
        rows = []
        for name, hostile in (("calm", 0), ("hostile", args.hostile)):
            print(f"{name}: the server went quiet after {_quiet(server.pid):.0f} s", flush=True)
            before = resident_mb(server.pid)
            with MemoryWatch(server.pid) as watch:
                began = time.monotonic()
                result = asyncio.run(_run(url, chromium, args.visitors, hostile, args.head_start, args.hostile_max))
                wall = time.monotonic() - began
            cpu_mid = cpu_seconds(server.pid)
            time.sleep(15)
            idle_cpu = (cpu_seconds(server.pid) - cpu_mid) / 15  # work still going on after everyone left
            rows.append((name, result, before, watch.peak, resident_mb(server.pid), wall, idle_cpu))
            print(f"{name} run done in {wall:.0f} s", flush=True)
        print()
        print(f"{'run':<8} {'answered':>8} {'errors':>6} {'refused':>7} {'p50 s':>6} {'p95 s':>6}  "
              f"{'RSS before / peak / 15 s after MB':>34}  server CPU in those 15 s")
        for name, result, before, peak, after, wall, idle_cpu in rows:
            sessions = result["sessions"]
            times = _times(sessions)
            errors = sum(s.error is not None for s in sessions)
            print(f"{name:<8} {len(times):>4} of {len(sessions):<2} {errors:>6} {len(result['refusals']):>7} "
                  f"{_p(times, 0.5):>6.1f} {_p(times, 0.95):>6.1f}  {before:>9.0f} / {peak:>6.0f} / {after:>6.0f} "
                  f"({(after - before) / before * 100:+.1f} %)  {idle_cpu * 100:.0f} % of a core")
            for s in sessions:
                if s.error:
                    print(f"  error ({s.page} #{s.index}): {s.error}")
            for who, texts in result["refusals"].items():
                print(f"  refused ordinary visitor {who}: {' | '.join(texts)}")
            per_page = ", ".join(f"{p} {_p([s.seconds for s in sessions if s.page == p and s.seconds is not None and s.error is None], 0.95):.1f}"
                                 for p in PAGES)
            print(f"  p95 per page (s): {per_page}; wall {wall:.0f} s")
            print("  every wait (s): " + ", ".join(f"{s.page} {s.seconds:.1f}" for s in sorted(
                (s for s in sessions if s.seconds is not None and s.error is None), key=lambda s: s.seconds)))
        calm, hostile_run = rows[0], rows[1]
        ratio = _p(_times(hostile_run[1]["sessions"]), 0.95) / _p(_times(calm[1]["sessions"]), 0.95)
        print(f"ordinary p95 with hostile sessions / calm: {ratio:.2f}x (target <= 2x)")
        _, result, before, peak, after, wall, _ = hostile_run
        print(f"memory 15 s after the flood vs before it: {(after - before) / before * 100:+.1f} % (target within 10 %)")
        refused = sum(len(r[1]["refusals"]) for r in rows)
        print(f"ordinary visitors refused: {refused} (target 0)")
        print(f"hostile sessions flooded for {result['hostile seconds']:.0f} s; the visitors arrived after {result['visitors arrived']:.0f} s "
              f"(first export click at {result.get('first export click', float('nan')):.0f} s)"
              + (f" (cut at {result['hostile cut at']:.0f} s after the visitors arrived)" if "hostile cut at" in result else ""))
        exports = result["counts"]["export"]
        ended = sum(exports[f"export {o}"] for o in ("completed", "refused", "refused (its zip says why)", "timed out"))  # "disabled": no click
        if exports["export clicks"] > ended:  # a click still waiting for its zip when the floods stopped
            exports["export clicks still waiting at the end"] = exports["export clicks"] - ended
        for flood in FLOODS:
            print(f"  {flood} flood: " + (", ".join(f"{v} {k}" for k, v in sorted(result["counts"][flood].items())) or "nothing counted"))
        for text, n in result["hostile problems"].most_common():
            print(f"  hostile {n}x: {text}")
        print(f"presenter's short link (made before the flood, tab left open) still opens its view: "
              f"{'yes' if result.get('presenter link opens') else 'no'} (code {result.get('presenter code')})")
        if args.soak:
            done, errors, warm_mb, peak, end = asyncio.run(_soak(url, chromium, args.soak, server.pid))
            print(f"soak: {done} requests, {errors} with an error shown; RSS after warm-up {warm_mb:.0f} MB, peak {peak:.0f} MB, "
                  f"end {end:.0f} MB ({(end - warm_mb) / warm_mb * 100:+.1f} % after warm-up; target <= 10 %)")
        log = (ARTIFACTS / "bench-abuse-server.log").read_text(errors="replace")
        print(f"tracebacks in the server log: {log.count('Traceback')} (test-artifacts/bench-abuse-server.log)")
        busy = Counter(line.split(":", 1)[1].strip()[:70] for line in log.splitlines() if line.startswith("backend.runtime.errors.BusyError:"))
        for text, n in busy.most_common():  # the export's refusals reach the log, the visitor sees the button's error
            print(f"  BusyError in the log {n}x: {text}")
    print(f"load average at end: {_load()}; whole bench {time.monotonic() - started_all:.0f} s", flush=True)


if __name__ == "__main__":
    main()
