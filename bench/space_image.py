"""What a Space visitor sees from a running server: the first answer on each page, and an upload
from inside a cross-site iframe (as the Space page frames the app).

    .venv/bin/python bench/space_image.py http://127.0.0.1:7860

Run by scripts/check_space_image.sh against a cold container right after its health check
passes; the pages are visited one after another, each in a new browser session, and each time is
from opening the page's link to its answer (the classification page's explanation included) on
screen. `iframe_upload` is shared with tests/browser/test_space_upload.py.
"""

from __future__ import annotations

import http.server
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import FrameLocator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_latency import TIMEOUT, _ask, _plot_text  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, _chromium  # noqa: E402

CAT_CLASSES = re.compile("tiger cat|tabby|Egyptian cat")

# page path -> what its first answer looks like (after any click a visitor makes to get one)
FIRST_ANSWERS: dict[str, Callable[[Page], object]] = {
    "classify": lambda p: (expect(p.get_by_test_id("stMetricValue").first).to_be_visible(timeout=TIMEOUT),
                           expect(p.get_by_text("How faithful is each explanation?")).to_be_visible(timeout=TIMEOUT)),
    "generate": lambda p: _ask(p, "What is the capital of France?", "Paris"),
    "recognise": lambda p: _plot_text(p, CAT_CLASSES.pattern),  # the classes; the maps follow
    "attention": lambda p: expect(p.get_by_text("Layer 1, mean of all heads")).to_be_visible(timeout=TIMEOUT),
    "": lambda p: expect(p.get_by_text("Models run on:")).to_be_visible(timeout=TIMEOUT),
}


def first_answers(browser, url: str, shots: Path | None = None) -> dict[str, float]:
    """Seconds from opening each page's link to its first answer, page after page (printed as
    each comes)."""
    seconds = {}
    for path, answered in FIRST_ANSWERS.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{url}/{path}", timeout=TIMEOUT)
        answered(page)
        seconds[path or "home"] = time.perf_counter() - started
        print(f"first answer /{path}: {seconds[path or 'home']:.1f} s", flush=True)
        if page.get_by_test_id("stException").count():
            raise AssertionError(f"/{path} shows an exception")
        if shots:
            page.screenshot(path=str(shots / f"space-{path or 'home'}.png"))
        context.close()
    return seconds


@contextmanager
def framing_site(app_url: str, path: str = "recognise") -> Iterator[str]:
    """A page on another site (`localhost`, where the app is on `127.0.0.1`) that shows the app
    in an iframe, as huggingface.co shows a Space: its URL."""
    body = (f'<html><body style="margin:0"><iframe src="{app_url}/{path}" '
            'style="width:1400px;height:1000px;border:0"></iframe></body></html>').encode()

    class Frame(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Frame)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def upload_in_frame(frame: FrameLocator, name: str, data: bytes, mime: str) -> None:
    frame.locator('input[type="file"]').set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def open_framed_uploader(page: Page, app_url: str) -> FrameLocator:
    frame = page.frame_locator("iframe")
    frame.get_by_text("Upload", exact=True).click(timeout=TIMEOUT)
    return frame


def iframe_upload(browser, app_url: str, photo: bytes, shot: Path | None = None) -> str:
    """Upload `photo` on the image page inside a cross-site frame; the page's top class, or the
    error the page shows (Streamlit's "403" when the browser withheld the XSRF cookie)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1040})
    page = context.new_page()
    try:
        with framing_site(app_url) as site:
            page.goto(site, timeout=TIMEOUT)
            frame = open_framed_uploader(page, app_url)
            upload_in_frame(frame, "photo.jpg", photo, "image/jpeg")
            refused = frame.get_by_text(re.compile("status code 403|AxiosError"))
            answer = frame.get_by_text("Your image").first
            expect(refused.or_(answer).first).to_be_visible(timeout=TIMEOUT)
            outcome = refused.first.inner_text() if refused.count() else _top_class(frame)
            if shot:
                page.screenshot(path=str(shot))
            return outcome
    finally:
        context.close()


def _top_class(frame: FrameLocator) -> str:
    """The top class on the page's top-k chart (drawn at the top: the last y-axis tick)."""
    chart = frame.locator(".js-plotly-plot").filter(has_text="ImageNet classes").first
    expect(chart.locator(".ytick text").first).to_be_visible(timeout=TIMEOUT)
    return chart.locator(".ytick text").all_text_contents()[-1]


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860"
    shots = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    from backend.vision.image_decoding import example_image
    from tests.image_inputs import encoded

    cat = encoded(example_image("Cat (Chelsea)"), "JPEG")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        first_answers(browser, url, shots)
        outcome = iframe_upload(browser, url, cat, shots / "space-iframe-upload.png" if shots else None)
        print(f"upload inside a cross-site iframe (the cat photo): {outcome}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
