"""The dashboard in Chinese, in Chromium: every page and every tab opened with `lang=zh` (and once
by a browser that prefers Chinese, and once by the sidebar switch) shows no sentence of English
outside what is not interface (model outputs and the texts they read, tokens, names, code, link
values). Screenshots of each page land in test-artifacts/zh-*.png."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, idle, new_tab, painted, run_after

TIMEOUT = 180_000
LINKS = {
    "home": "?lang=zh",
    "classify": "classify?lang=zh&text=What+a+wonderful+film",
    "generate": "generate?lang=zh&prompt=The+capital+of+France+is&max_tokens=6&run=1",
    # Gemma 3 reads Chinese: a Chinese sentence continued, and every view of its tokens
    "generate-gemma": "generate?lang=zh&model=gemma3-270m&chat=0&temperature=0&max_tokens=8&run=1&prompt="
                      "%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD%E6%98%AF%E4%B8%80%E9%97%A8%E7%A0%94%E7%A9%B6",
    "recognise": "recognise?lang=zh",
    "learn": "learn?lang=zh&epochs=60&run=1",
    "attention": "attention?lang=zh&text=%E6%B3%A8%E6%84%8F%E5%8A%9B%E6%9C%BA%E5%88%B6%E8%AE%A9%E6%A8%A1%E5%9E%8B%E5%85%B3%E6%B3%A8%E5%85%B6%E4%BB%96%E8%AF%8D",
}
# The interface's text: headings, paragraphs, captions, alerts, labels, buttons, tabs, expanders,
# metrics, table headers, chart titles. Not: text areas and inputs (the visitor's and the examples'
# text, which the English models read), code blocks (links), data grids (drawn on a canvas), the
# tokens and numbers inside charts, and elements the app marks as a model's output.
_INTERFACE_TEXT = """() => {
    const skip = 'textarea, input, [data-testid="stCode"], pre, code, [data-testid="stDataFrame"], .st-key-model-output, '
        + '[data-testid="stMarkdownContainer"] .model-output, .js-plotly-plot .xtick, .js-plotly-plot .ytick, '
        + '.js-plotly-plot .textpoint, .js-plotly-plot .hoverlayer, .js-plotly-plot .annotation, '
        + '[data-testid="stSidebarNav"] ~ *:not([data-testid="stSidebarUserContent"])';
    const picked = 'h1, h2, h3, h4, p, li, label, button, [role="tab"], summary, [data-testid="stMetricLabel"], '
        + '[data-testid="stCaptionContainer"], [data-testid="stAlertContentInfo"], [data-testid="stAlertContentWarning"], '
        + '[data-testid="stAlertContentError"], [data-testid="stAlertContentSuccess"], th, '
        + '.js-plotly-plot .gtitle, .js-plotly-plot .xtitle, .js-plotly-plot .ytitle, .js-plotly-plot .legendtitletext';
    const out = [];
    for (const el of document.querySelectorAll(picked)) {
        if (el.closest(skip)) continue;
        if (el.querySelector(picked)) continue;  // the innermost ones only
        const rect = el.getBoundingClientRect();
        if (!rect.width && !rect.height) continue;
        const text = (el.innerText || el.textContent || '').trim();
        if (text) out.push(text);
    }
    return out;
}"""
# Four English words in a row (a name such as "SmolLM2-135M-Instruct" or "all-MiniLM-L6-v2" is one word).
_ENGLISH = re.compile(r"(?:\b[A-Za-z][a-z’']+\b[ ,;:]+){3,}\b[A-Za-z][a-z’']+\b")
# What may be English inside the Chinese interface: model outputs and what the models read.
_NOT_INTERFACE = (
    "What a wonderful film",  # the text the English classifier reads (shown in its answer)
    "The capital of France is",  # the prompt, and the model's answer after it
)


def english_sentences(tab: Page) -> list[str]:
    found = []
    for text in tab.evaluate(_INTERFACE_TEXT):
        for line in text.splitlines():
            if any(allowed in line for allowed in _NOT_INTERFACE):
                continue
            if _ENGLISH.search(line):
                found.append(line[:160])
    return found


def _open(tab: Page, url: str) -> None:
    tab.goto(url)
    idle(tab, TIMEOUT)
    expect(tab.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT)
    expect(tab.get_by_test_id("stException")).to_have_count(0)


def _every_tab(tab: Page, name: str) -> dict[str, list[str]]:
    """The page's English sentences, then each of its tabs' (clicked in turn)."""
    seen = {name: english_sentences(tab)}
    tabs = tab.get_by_test_id("stMain").get_by_role("tab")
    for i in range(tabs.count()):
        label = tabs.nth(i).inner_text()
        tabs.nth(i).click()  # drawn in the browser (a tab that reruns the page is waited for below)
        painted(tab)
        idle(tab, TIMEOUT)
        expect(tab.get_by_test_id("stException")).to_have_count(0)
        seen[f"{name} / {label}"] = english_sentences(tab)
    return seen


def test_every_page_and_tab_in_chinese_shows_no_english_sentence(browser, app_url):
    tab = new_tab(browser, viewport={"width": 1400, "height": 1000})
    english = {}
    try:
        for name, link in LINKS.items():
            _open(tab, f"{app_url}/{link}")
            expect(tab.get_by_test_id("stSidebarNav").get_by_text("文本分类", exact=True)).to_be_visible()
            if name.startswith("generate"):
                expect(tab.get_by_text("停止原因", exact=False).first).to_be_visible(timeout=TIMEOUT)
            if name == "attention":  # the tokenizer view: MiniLM's [UNK]s beside SmolLM2's pieces, no "�"
                tab.get_by_text("每个模型如何把这段文字切成词元").click()
                expect(tab.get_by_text("字节级 BPE（基于", exact=False)).to_be_visible(timeout=TIMEOUT)
                expect(tab.get_by_text("[UNK]", exact=True).first).to_be_visible()
                expect(tab.get_by_text("SentencePiece（来自多种语言", exact=False)).to_be_visible(timeout=TIMEOUT)
                assert "\ufffd" not in tab.get_by_test_id("stMain").inner_text()
            english.update(_every_tab(tab, name))
            painted(tab)
            tab.screenshot(path=str(ARTIFACTS / f"zh-{name}.png"), full_page=True)
        _open(tab, f"{app_url}/classify?lang=zh&present=1&text=What+a+wonderful+film")
        english["classify, presentation mode"] = english_sentences(tab)
        tab.screenshot(path=str(ARTIFACTS / "zh-presentation.png"))
        tab.set_viewport_size({"width": 390, "height": 844})
        _open(tab, f"{app_url}/attention?lang=zh")
        english["attention, on a phone"] = english_sentences(tab)
        tab.screenshot(path=str(ARTIFACTS / "zh-phone.png"), full_page=True)
    finally:
        tab.context.close()
    found = {where: lines for where, lines in english.items() if lines}
    assert not found, found


def test_a_browser_that_prefers_chinese_gets_chinese_and_the_switch_changes_language_and_link(browser, app_url):
    tab = new_tab(browser, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        _open(tab, f"{app_url}/classify")
        expect(tab.get_by_role("heading", name="文本分类")).to_be_visible()
        assert parse_qs(urlsplit(tab.url).query)["lang"] == ["zh"]  # not English: a copied link says so
    finally:
        tab.context.close()
    tab = new_tab(browser, viewport={"width": 1400, "height": 1000}, locale="en-US")
    try:
        _open(tab, f"{app_url}/classify")
        expect(tab.get_by_role("heading", name="Text classification")).to_be_visible()
        assert len(english_sentences(tab)) >= 5  # the same check finds the English interface
        with run_after(tab, TIMEOUT):
            tab.get_by_test_id("stSidebar").get_by_role("radio", name="中文").click()
        expect(tab.get_by_role("heading", name="文本分类")).to_be_visible()
        expect(tab).to_have_url(re.compile(r"[?&]lang=zh"))
        tab.reload()  # a copied link: still Chinese
        idle(tab, TIMEOUT)
        expect(tab.get_by_role("heading", name="文本分类")).to_be_visible(timeout=TIMEOUT)
        tab.get_by_test_id("stSidebar").get_by_role("button", name="让全场一起看").click()  # the room's QR code
        code = tab.get_by_role("dialog").get_by_test_id("stCode")
        expect(code).to_contain_text("lang=zh", timeout=TIMEOUT)  # phones open the view in Chinese
        room = re.search(r"http\S+", code.inner_text()).group(0)
        tab.keyboard.press("Escape")
        phone = new_tab(browser, viewport={"width": 390, "height": 844}, locale="en-US")
        try:
            _open(phone, room)
            expect(phone.get_by_role("heading", name="文本分类")).to_be_visible(timeout=TIMEOUT)
        finally:
            phone.context.close()
        with run_after(tab, TIMEOUT):
            tab.get_by_test_id("stSidebar").get_by_role("radio", name="English").click()
        expect(tab.get_by_role("heading", name="Text classification")).to_be_visible()
        expect(tab).to_have_url(re.compile(r"[?&]lang=en"))
    finally:
        tab.context.close()
