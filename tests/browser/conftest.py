"""Start the real app (`streamlit run app.py`) on a free port and drive it in headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed; the README's test command installs Debian's 'chromium'.")
    return path


@contextmanager
def running_app(
    log_name: str = "streamlit-server.log", env: dict[str, str] | None = None, warm_up: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A fresh `streamlit run app.py` on a free port, as people run it: (its URL, the process).
    The start-up warm-up (models loaded in the background, every page's examples answered once)
    runs only with `warm_up`, for the tests of a server's start-up; elsewhere models load when a
    page first asks for them."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env={**os.environ, "DASHBOARD_WARMUP": "1" if warm_up else "0", **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
            if server.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {log.name}")
        else:
            raise RuntimeError("streamlit did not answer its health check within 120 s")
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def app_url():
    """One server for every test that needs no fresh one (no warm-up: models load on first use)."""
    with running_app() as (url, _server):
        yield url


def _run_finished(payload: bytes | str) -> bool:
    """A message from the server that says a script run (or a fragment's) has finished, not one
    cut short by the rerun that follows it."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if not isinstance(payload, bytes):
        return False
    message = ForwardMsg()
    try:
        message.ParseFromString(payload)
    except Exception:  # not a message of this protocol
        return False
    return message.WhichOneof("type") == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN


def new_tab(browser, **context_options) -> Page:
    """A page in a browser context of its own (close it with `page.context.close()`) whose
    connection to the app is kept, so that `run_after` can wait on its messages."""
    page = browser.new_context(**context_options).new_page()
    page.on("websocket", lambda socket: setattr(page, "_app_socket", socket) if "/_stcore/stream" in socket.url else None)
    return page


def idle(page: Page, timeout: float = 180_000) -> None:
    """The app's own idle state: a script run has finished and none is running."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=timeout)


NAVIGATION = ["Home", "Text classification", "Text generation", "Image recognition", "Attention visualizer"]


def has_app_navigation(page: Page) -> None:
    """The sidebar lists the app's own page titles, never the raw file names of `pages/` (which a
    fresh server's first sessions got when they opened a page's link)."""
    nav = page.get_by_test_id("stSidebarNav")
    for title in NAVIGATION:
        expect(nav.get_by_text(title, exact=True)).to_be_visible(timeout=60_000)
    for raw_file_name in ("app", "classify", "generate", "recognise", "attention"):
        expect(nav.get_by_text(raw_file_name, exact=True)).to_have_count(0)


def painted(page: Page) -> None:
    """Return once the browser has laid out and drawn two frames since the call (after a viewport
    change, before a screenshot)."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


@contextmanager
def run_after(page: Page, timeout: float = 180_000) -> Iterator[None]:
    """Around an action that reruns the script (a click, an upload, Enter in a text box): wait for
    the server's message that this run has finished. Right after the action the page still reads
    idle from before, so the app's idle state cannot tell that the run is over. The page must come
    from `new_tab` and have opened the app."""
    with page._app_socket.expect_event("framereceived", predicate=_run_finished, timeout=timeout):
        yield
    idle(page, timeout)
    painted(page)  # the page has handled the message and drawn what the run sent


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    tab = new_tab(browser, viewport={"width": 1600, "height": 1000})
    yield tab
    tab.context.close()
