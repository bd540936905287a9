"""The language of a session's first run: `lang=` in a link decides and stays in the address bar,
and without it (and a browser that prefers nothing else) the app reads English with no `lang` in its
links. (The sidebar switch is clicked in the browser test: AppTest reruns only the page, not the
router that draws the sidebar.)"""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from backend.shared.language import catalogue

APP = str(Path(__file__).resolve().parents[2] / "app.py")
ZH_TITLE = catalogue("zh")["How AI models work"]


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.error
    return at


def test_a_link_with_lang_zh_opens_in_chinese_and_keeps_saying_so():
    at = _app(lang="zh")
    assert at.session_state["language"] == "zh"
    assert at.title[0].value == ZH_TITLE
    assert at.query_params["lang"] == "zh"
    assert at.sidebar.get("button_group")[0].label == "语言"


def test_without_lang_the_app_reads_english_and_its_links_carry_no_lang():
    at = _app()
    assert at.session_state["language"] == "en"
    assert at.title[0].value == "How AI models work"
    assert "lang" not in at.query_params


def test_a_lang_the_app_does_not_speak_is_english():
    at = _app(lang="<script>")
    assert at.session_state["language"] == "en" and at.title[0].value == "How AI models work"
    assert "lang" not in at.query_params
