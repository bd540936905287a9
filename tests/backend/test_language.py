"""The interface's language: the catalogue covers every message in the code, translations keep
their placeholders, a browser's preference is read, and a message reads in the language of whoever
is shown it (a request computed in a model's queue, an error raised there, a shared result)."""

import re
import string
import sys
from pathlib import Path

import pytest

from backend.runtime.errors import InputError
from backend.runtime.scheduler import Scheduler, run_now
from backend.shared import language
from backend.shared.language import catalogue, current, lazy, preferred, speaking, t

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from catalogue import extracted  # noqa: E402


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture(scope="module")
def messages():
    return [m for m in extracted() if m.id]


def test_every_message_in_the_code_has_a_chinese_translation(messages):
    zh = catalogue("zh")
    missing = [m.id for m in messages if not zh.get(m.id)]
    assert len(messages) > 100
    assert not missing, f"{len(missing)} of {len(messages)} messages lack a translation, e.g. {missing[:5]}"


def test_translations_keep_every_placeholder_and_are_chinese(messages):
    zh = catalogue("zh")
    wrong = []
    for m in messages:
        translated = zh.get(m.id)
        if not translated:
            continue
        try:
            same = _fields(m.id) == _fields(translated)
        except ValueError:  # a message with literal braces and no placeholders is never formatted
            same = m.id.count("{") == translated.count("{")
        if not same:
            wrong.append((m.id, translated))
        elif len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", m.id))) > 2 and not any(
            "\u4e00" <= c <= "\u9fff" for c in translated
        ):
            wrong.append((m.id, translated))  # a sentence "translated" into English
    assert not wrong, wrong[:5]


def test_the_browsers_preferred_language_decides_when_nothing_else_does():
    assert preferred("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert preferred("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert preferred("fr-FR,fr;q=0.9,zh-TW;q=0.5,en;q=0.4") == "zh"
    assert preferred("zh_Hans_CN") == "zh" and preferred("en-GB") == "en"
    assert preferred("fr, de;q=0.5") is None and preferred("") is None and preferred(None) is None
    assert preferred("zh;q=0, en;q=0.1") == "en"
    assert preferred("*;q=1," + "x" * 10_000) is None and preferred(";;;q=abc,zh;q=1e999") is None


def test_a_message_reads_in_the_language_of_whoever_shows_it():
    assert current() == "en" and t("Language") == "Language"
    with speaking("zh"):
        assert t("Language") == "语言"
        assert current() == "zh"
    with speaking("xx"):  # anything else: English
        assert current() == "en"
    kept, error = lazy("Language"), InputError("Language")  # made in English: a shared result, a raised error
    assert str(kept) == str(error) == "Language"
    assert str(lazy("not in the catalogue: {n} of {m}", n=3, m=40)) == "not in the catalogue: 3 of 40"
    with speaking("zh"):  # shown to a visitor reading Chinese
        assert str(kept) == str(error) == "语言"


def test_a_request_runs_in_the_language_it_was_asked_in():
    scheduler = Scheduler(batch_wait=0)
    with speaking("zh"):
        asked_in_chinese = scheduler.submit("m", lambda: (current(), t("Language")), client="A")
    asked_in_english = scheduler.submit("m", lambda: (current(), t("Language")), client="B")
    assert run_now(asked_in_chinese) == ("zh", "语言")
    assert run_now(asked_in_english) == ("en", "Language")
    assert language.current() == "en"
