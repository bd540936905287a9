"""The hostile-input corpus against the running app in public mode, as a stranger's browser sends
it: link values at and past their bounds, texts typed and linked, bad images and bombs uploaded,
bad CSVs. Each is answered or refused with a message; no traceback; the server answers after."""

import re
import urllib.request
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, running_app
from tests.hostile_inputs import CSVS, LINKS, TEXTS, bad_images

pytestmark = pytest.mark.browser
TIMEOUT = 180_000


def _settled(tab: Page) -> None:
    expect(tab.get_by_test_id("stApp")).to_be_visible(timeout=60_000)
    tab.wait_for_timeout(700)
    expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT)


def _judge(tab: Page, counts: dict[str, int], what: str) -> None:
    expect(tab.get_by_test_id("stException")).to_have_count(0)
    body = tab.get_by_test_id("stMain").inner_text(timeout=30_000)
    assert "Traceback" not in body and "Something went wrong inside the app" not in body, what
    assert "javascript:alert" not in (tab.locator("a").evaluate_all("links => links.map(a => a.href).join(' ')") or ""), what
    refused = tab.get_by_test_id("stAlertContentError").count() + tab.get_by_test_id("stAlertContentWarning").count()
    counts["refused" if refused else "answered"] += 1


def test_the_corpus_against_the_app_in_public_mode(browser):
    counts = {"answered": 0, "refused": 0}
    with running_app("hostile-visitors.log", env={"DASHBOARD_PUBLIC": "1"}) as (url, _server):
        tab = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        try:
            for page, values in LINKS.items():
                for value in values:
                    tab.goto(f"{url}/{page}?{value}")
                    _settled(tab)
                    _judge(tab, counts, f"{page}?{value[:60]}")
            for name, text in TEXTS.items():
                for page, param in (("classify", "text"), ("attention", "text"), ("generate", "prompt")):
                    tab.goto(f"{url}/{page}?{param}={quote(text[:1500].encode('utf-8', 'surrogatepass'))}" + ("&max_tokens=4&run=1" if page == "generate" else ""))
                    _settled(tab)
                    _judge(tab, counts, f"{page}: {name}")
            tab.goto(f"{url}/classify")
            _settled(tab)
            box = tab.get_by_role("textbox", name="Text", exact=True)
            box.fill(TEXTS["100k characters"])  # the box never holds more than the cap (4,000 in public mode)
            box.press("Control+Enter")
            _settled(tab)
            assert len(box.input_value()) <= 4000
            _judge(tab, counts, "100k characters typed")
            tab.goto(f"{url}/recognise")
            _settled(tab)
            tab.get_by_text("Upload", exact=True).click()
            for name, data in bad_images().items():
                tab.locator("input[type=file]").set_input_files({"name": name, "mimeType": "application/octet-stream", "buffer": data})
                _settled(tab)
                if len(data) > 20 * 2**20:  # refused by the browser itself, before it is sent
                    expect(tab.get_by_text(re.compile("File must be 20.0MB or smaller"))).to_be_visible(timeout=60_000)
                else:  # the app's own message, about this file
                    expect(tab.get_by_test_id("stAlertContentError").filter(has_text=name)).to_be_visible(timeout=60_000)
                _judge(tab, counts, f"upload {name}")
            tab.screenshot(path=str(ARTIFACTS / "hostile-upload-refused.png"))
            tab.goto(f"{url}/classify")
            _settled(tab)
            tab.get_by_role("tab", name=re.compile("Classify a CSV")).click()
            for name, data in CSVS.items():
                tab.locator("input[type=file]").last.set_input_files({"name": f"{name}.csv", "mimeType": "text/csv", "buffer": data})
                _settled(tab)
                _judge(tab, counts, f"csv {name}")
            tab.screenshot(path=str(ARTIFACTS / "hostile-csv.png"))
            assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).status == 200
            tab.goto(f"{url}/classify?text=What+a+wonderful+film")
            expect(tab.get_by_test_id("stMetricValue")).to_have_text("positive", timeout=TIMEOUT)
        finally:
            tab.context.close()
    print(f"hostile corpus in the browser: {sum(counts.values())} inputs, {counts['answered']} answered, {counts['refused']} refused, 0 tracebacks")
    assert counts["refused"] >= 30 and counts["answered"] >= 20
