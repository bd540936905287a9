"""The classify page's `examples=` link, read as the page reads it (`values_from_link`): capped at
one typed text's characters, and lists nested thousands deep are a notice, not a crash."""

from urllib.parse import parse_qsl

import pytest

from tests.hostile_inputs import TAUGHT_LINKS
from ui.classify.inputs import EXAMPLES_KEY, STARTER_ROWS, fields
from ui.core.state import values_from_link


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_an_examples_link_is_capped_at_one_texts_characters(public, monkeypatch):
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)
    most = 4000 if public else 20_000
    within = '[["' + "a" * (most - 40) + '","x"],["b b","y"]]'
    over = '[["' + "a" * most + '","x"],["b b","y"]]'
    values, notices = values_from_link(fields(), {"examples": within})
    assert notices == [] and values[EXAMPLES_KEY][0][0] == "a" * (most - 40)
    values, notices = values_from_link(fields(), {"examples": over})
    assert values[EXAMPLES_KEY] == STARTER_ROWS
    assert len(notices) == 1 and f"a link's examples may have at most {most:,}" in notices[0]


@pytest.mark.parametrize("public", [False, True], ids=["laptop", "public"])
def test_every_taught_link_of_the_corpus_is_read_or_noticed(public, monkeypatch):
    if public:
        monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    else:
        monkeypatch.delenv("DASHBOARD_PUBLIC", raising=False)
    read = {}
    for link in TAUGHT_LINKS:
        values, notices = values_from_link(fields(), dict(parse_qsl(link)))
        read[link] = notices[0].split(" (", 1)[1] if notices else len(values[EXAMPLES_KEY])
    expected = [4, 4 if not public else "4,337 characters; a link's examples may have at most 4,000)", "not a list of [text, label] pairs)"]
    assert list(read.values()) == expected
