"""The Space's server settings (scripts/serve_space.sh, the image's CMD) inside a cross-site iframe,
as the Space page shows the app: an upload works there, and what the page refuses it still refuses.
The laptop's settings in the same frame are the control: the browser withholds the XSRF cookie and
the upload gets 403, which is why the Space turns that check off."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import expect

from bench.space_image import (
    CAT_CLASSES,
    framing_site,
    iframe_upload,
    open_framed_uploader,
    upload_in_frame,
)
from tests.browser.conftest import ARTIFACTS, ROOT, _free_port
from tests.image_inputs import bad_uploads, encoded

ANSWER_TIMEOUT = 180_000


@contextmanager
def space_server() -> Iterator[str]:
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "streamlit-space.log", "w") as log:
        server = subprocess.Popen(
            ["sh", "scripts/serve_space.sh"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "ADDRESS": "127.0.0.1", "PORT": str(port)},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120
            while time.time() < deadline and server.poll() is None:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            assert server.poll() is None, "serve_space.sh exited; see test-artifacts/streamlit-space.log"
            yield url
        finally:
            server.terminate()
            server.wait(timeout=20)


def _cat() -> bytes:
    from backend.vision.image_decoding import example_image

    return encoded(example_image("Cat (Chelsea)"), "JPEG")


def test_an_upload_inside_a_cross_site_frame_works_with_the_space_settings_and_refusals_stay(browser):
    with space_server() as url:
        top = iframe_upload(browser, url, _cat(), ARTIFACTS / "space-iframe-upload.png")
        assert CAT_CLASSES.fullmatch(top), top

        # what the page refuses, it still refuses inside the frame, each with its own message
        context = browser.new_context(viewport={"width": 1440, "height": 1040})
        page = context.new_page()
        with framing_site(url) as site:
            page.goto(site)
            frame = open_framed_uploader(page, url)
            for name, (data, word) in bad_uploads().items():
                upload_in_frame(frame, name, data, "application/octet-stream")
                if name == "too-big.png":  # refused by the browser before it is sent
                    expect(frame.get_by_text(re.compile("File must be .*MB or smaller"))).to_be_visible(timeout=30_000)
                    continue
                expect(frame.get_by_test_id("stAlert").filter(has_text=name).first).to_contain_text(word, timeout=ANSWER_TIMEOUT)
            assert frame.get_by_test_id("stException").count() == 0
            assert frame.get_by_text(re.compile("status code 403")).count() == 0
            page.screenshot(path=str(ARTIFACTS / "space-iframe-refusals.png"))
        context.close()


def test_the_laptop_settings_in_the_same_frame_get_403(browser, app_url):
    outcome = iframe_upload(browser, app_url, _cat(), ARTIFACTS / "laptop-iframe-upload-403.png")
    assert "403" in outcome, outcome
