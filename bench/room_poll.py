"""The room answers a question on their phones: how soon the presenter's count shows each answer.

A fresh `streamlit run app.py` is started (with `--servers 2`: a redis-server on a free port and
two app servers sharing it through `DASHBOARD_ROOM_STORE`, the phones split between them as a load
balancer would). The presenter (a browser of its own, normal priority) classifies a sentence and
presses "Ask the room". N phones (390 px browser contexts in one Chromium at idle CPU priority:
they stand in for the audience's own phones, as in bench/room.py) open the question's link; once
every phone shows the question they all tap a choice at once (each its own, at random, some twice).
Each tap is stamped by its page's clock, each change of the presenter's "Answered" count by the
presenter's (one machine, one clock). The i-th answer's delay is from the i-th tap to the count
first showing i. Meanwhile a probe visitor classifies from a third browser: the app stays responsive.
Then Reveal, and every phone must show the model's answer.

Target (issue 30): every answer counted once; p95 from tap to the presenter's count at most 1.5 s.
Its last line: `phones=N counted=C p95_s=...`.

Run: .venv/bin/python bench/room_poll.py [--phones 24] [--servers 1|2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from playwright.async_api import Browser, Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.room import IDLE, chromium_at, progress, server  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, _chromium  # noqa: E402
from tests.redis_server import redis_server  # noqa: E402

TEXT = "What a wonderful film"
PROBE = "classify?" + urlencode({"text": "The service was slow and the food was cold"})
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
COUNT_WATCH = """() => {
    const seen = window.__counts = [];
    const read = () => {
        const metric = [...document.querySelectorAll('.st-key-room_panel_classify [data-testid="stMetric"]')]
            .find(e => e.innerText.startsWith('Answered'));
        const value = Number(metric?.querySelector('[data-testid="stMetricValue"]')?.innerText);
        if (!Number.isNaN(value) && (!seen.length || seen[seen.length - 1][1] !== value)) seen.push([Date.now(), value]);
    };
    new MutationObserver(read).observe(document.body, {childList: true, subtree: true, characterData: true});
    read();
}"""


async def ask(presenter: Page, url: str) -> str:
    await presenter.goto(f"{url}/classify?" + urlencode({"text": TEXT}))
    await presenter.get_by_test_id("stMetricValue").filter(has_text="positive").wait_for(timeout=300_000)
    await presenter.get_by_role("button", name="Ask the room").click()
    panel = presenter.locator(".st-key-room_panel_classify")
    await panel.get_by_text(re.compile(r"\?ask=[a-z2-9]{6}")).wait_for(timeout=120_000)
    return re.search(r"\?ask=([a-z2-9]{6})", await panel.inner_text()).group(1)


async def phone(browser: Browser, link: str, ready: asyncio.Barrier, rng: random.Random) -> tuple[float, Page]:
    """Open the question, wait for the room, tap (some tap twice): the tap's time (ms), and the page."""
    page = await (await browser.new_context(**PHONE)).new_page()
    await page.goto(link)
    choices = page.locator('[class*="st-key-room_choice_"] button')
    await choices.first.wait_for(timeout=300_000)
    await page.locator(IDLE).wait_for(timeout=300_000)
    await ready.wait()
    pick = choices.nth(rng.randrange(await choices.count()))
    tapped = await page.evaluate("Date.now()")
    await pick.click()
    if rng.random() < 0.3:
        await pick.click()  # a double tap
    await page.get_by_text(re.compile("Counted|Changed|Already counted")).wait_for(timeout=300_000)
    return float(tapped), page


async def probe(browser: Browser, url: str, delay_s: float) -> float:
    """A visitor classifying on their own while the room answers: seconds to the answer."""
    await asyncio.sleep(delay_s)
    page = await (await browser.new_context()).new_page()
    started = time.monotonic()
    await page.goto(f"{url}/{PROBE}")
    await page.get_by_test_id("stMetricValue").filter(has_text="negative").wait_for(timeout=300_000)
    seconds = time.monotonic() - started
    await page.context.close()
    return seconds


async def measure(urls: list[str], n: int) -> dict:
    rng = random.Random(7)
    async with async_playwright() as playwright:
        with chromium_at("idle") as executable:
            room = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        own = await playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        presenter = await (await own.new_context(viewport={"width": 1600, "height": 1000})).new_page()
        code = await ask(presenter, urls[0])
        await probe(own, urls[0], 0)  # loads what the probe needs
        probe_alone = await probe(own, urls[0], 0)
        await presenter.evaluate(COUNT_WATCH)
        progress(f"asked ({code}); probe alone {probe_alone:.2f} s; {n} phones opening the question")
        ready = asyncio.Barrier(n)
        links = [f"{urls[i % len(urls)]}/?ask={code}" for i in range(n)]
        *phones, probe_s = await asyncio.gather(*(phone(room, link, ready, rng) for link in links),
                                                probe(own, urls[-1], 2.0))
        taps = [tapped for tapped, _page in phones]
        deadline = time.monotonic() + 60
        counts = await presenter.evaluate("window.__counts")
        while time.monotonic() < deadline and (not counts or counts[-1][1] < n):
            await asyncio.sleep(0.2)
            counts = await presenter.evaluate("window.__counts")
        shown = {}
        for at, value in counts:
            for k in range(1, int(value) + 1):
                shown.setdefault(k, at)
        delays = [(shown[i + 1] - tap) / 1000 for i, tap in enumerate(sorted(taps)) if i + 1 in shown]
        await presenter.locator(".st-key-room_panel_classify").get_by_role("button", name="Reveal").click()
        revealed = 0
        for _tapped, page in phones:
            try:
                await page.get_by_text("The model's first choice:").wait_for(timeout=60_000)
                revealed += 1
            except Exception:
                pass
        await room.close()
        await own.close()
    return {"counted": int(counts[-1][1]) if counts else 0, "delays": delays, "spread_s": (max(taps) - min(taps)) / 1000,
            "probe_alone": probe_alone, "probe": probe_s, "revealed": revealed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phones", type=int, default=24)
    parser.add_argument("--servers", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()
    env = {"DASHBOARD_WARMUP": "0", "DASHBOARD_JOBS_PER_ADDRESS": "50"}
    with ExitStack() as stack:
        if args.servers == 2:
            store = stack.enter_context(redis_server())
            env["DASHBOARD_ROOM_STORE"] = store
        urls = [stack.enter_context(server(ROOT, f"room-poll-bench-{i}.log", env)) for i in range(args.servers)]
        found = asyncio.run(measure(urls, args.phones))
    delays = np.array(found["delays"])
    where = "two app servers on one Redis" if args.servers == 2 else "one app server, memory store"
    print(f"\n{args.phones} phones, {where}: taps within {found['spread_s']:.2f} s of each other; "
          f"counted {found['counted']}; tap -> presenter's count p50 {np.median(delays):.2f} s, "
          f"p95 {np.percentile(delays, 95):.2f} s, max {delays.max():.2f} s; probe classification "
          f"{found['probe']:.2f} s during the room ({found['probe'] / found['probe_alone']:.1f}x its "
          f"{found['probe_alone']:.2f} s alone); {found['revealed']} of {args.phones} phones showed the reveal")
    print(f"phones={args.phones} counted={found['counted']} p95_s={np.percentile(delays, 95):.2f}")


if __name__ == "__main__":
    main()
