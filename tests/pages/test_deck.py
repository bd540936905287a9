"""The talk deck's file and link formats, and the short links, with a stranger's inputs."""

import base64
import json
import zlib

import pytest
from streamlit.testing.v1 import AppTest

from ui.talk.deck import (
    MAX_VIEWS,
    Deck,
    DeckError,
    checked_view,
    deck_from_json,
    deck_from_param,
    deck_to_json,
    deck_to_param,
    view_link,
)
from tests.hostile_inputs import CJK_VIEW_TEXTS, NESTED_DECKS
from tests.pages.test_pages import APP
from ui.talk.share import qr_png, short_links
from ui.talk.short_links import ShortLinks


def test_a_deck_survives_its_file_and_its_link():
    deck = Deck("Évaluation <b>", (checked_view("Sentiment", view_link("classify", {"text": "Ça va? ünïcode & co"})),
                                   checked_view("Home", "/")))
    assert deck_from_json(deck_to_json(deck)) == deck
    assert deck_from_param(deck_to_param(deck)) == deck
    assert deck.views[0].params == {"text": "Ça va? ünïcode & co"} and deck.views[1].page == ""


def test_view_links_leave_out_the_apps_own_parameters():
    assert view_link("generate", {"prompt": "hi", "present": "1", "deck": "x", "go": "y"}) == "/generate?prompt=hi"


@pytest.mark.parametrize("link", ["https://evil.example/classify", "//evil.example/x", "javascript:alert(1)",
                                  "classify?text=x", "/admin", "/" + "a" * 5000])
def test_a_view_must_be_a_page_of_this_app(link):
    with pytest.raises(DeckError):
        checked_view("x", link)


@pytest.mark.parametrize("text", ["not json", "[]", '{"views": "no"}', '{"views": [{"title": "x"}]}',
                                  json.dumps({"views": [{"link": "/"}] * (MAX_VIEWS + 1)}), "x" * 300_000])
def test_a_file_that_is_not_a_deck_is_refused_with_a_reason(text):
    with pytest.raises(DeckError):
        deck_from_json(text)


@pytest.mark.parametrize("raw", ["", "!!!", "eJzLSM3JyQcABiwCFQ", deck_to_param(Deck())[:-3] + "zzz"])
def test_a_damaged_deck_link_is_refused(raw):
    with pytest.raises(DeckError):
        deck_from_param(raw)


def test_a_compressed_bomb_in_a_link_is_refused():
    import base64
    import zlib
    bomb = base64.urlsafe_b64encode(zlib.compress(b'{"views": [' + b" " * 50_000_000 + b"]}", 9)).decode()
    assert len(bomb) < 100_000
    with pytest.raises(DeckError):
        deck_from_param(bomb)


def test_short_links_are_stable_and_bounded():
    links = ShortLinks(max_links=3)
    first = links.shorten("/classify?text=a")
    assert links.shorten("/classify?text=a") == first and links.resolve(first) == "/classify?text=a"
    for i in range(3):
        links.shorten(f"/generate?prompt={i}")
    assert links.resolve(first) is None and links.resolve("nonsense") is None


def test_opening_a_short_link_keeps_it():
    links = ShortLinks(max_links=3)
    first = links.shorten("/classify?text=a")
    for i in range(6):  # the room keeps opening the first link while others are made
        assert links.resolve(first) == "/classify?text=a"
        links.shorten(f"/generate?prompt={i}")
    assert links.resolve(first) == "/classify?text=a" and len(links) == 3


def test_a_flood_of_short_links_cannot_push_out_the_presenters_or_anyone_elses():
    """The hostile corpus's short-link flood: one address making 2,000 links replaces only its
    own; a thousand addresses making links fill the memory, but the link each open session shows
    stays, and so does the presenter's."""
    open_sessions = {"presenter", "visitor-b"}
    links = ShortLinks(max_links=100, per_address=20, alive=lambda session: session in open_sessions)
    presenter = links.shorten("/attention?text=talk", "192.168.1.10", "presenter")
    neighbour = links.shorten("/classify?text=mine", "192.168.1.11", "visitor-b")
    kept_before = [links.shorten(f"/classify?text=kept{i}", "192.168.1.12") for i in range(5)]
    for i in range(2000):
        links.shorten(f"/generate?prompt=flood{i}", "192.168.1.66", f"flooder-tab-{i % 3}")
    assert sum(links.resolve(links.code(f"/generate?prompt=flood{i}")) is not None for i in range(2000)) == 20
    assert all(links.resolve(code) for code in [presenter, neighbour, *kept_before])
    for i in range(3000):  # now from many addresses (no longer one visitor spoofing: see addresses)
        links.shorten(f"/generate?prompt=many{i}", f"10.9.{i // 250}.{i % 250}")
    assert len(links) == 100
    assert links.resolve(presenter) == "/attention?text=talk" and links.resolve(neighbour) == "/classify?text=mine"
    open_sessions.discard("visitor-b")  # a closed tab's link is an ordinary one again
    for i in range(200):
        links.shorten(f"/generate?prompt=later{i}", f"10.8.{i // 250}.{i % 250}")
    assert links.resolve(presenter) and links.resolve(neighbour) is None


def test_a_chinese_view_fits_a_deck_and_a_short_link_and_an_overlong_one_is_a_clear_message():
    text = "注意力机制让模型在处理每个词时关注其他词。" * 75  # 1,500 characters
    link = view_link("classify", {"text": text})
    assert len(link) < 1600 and "注意力" in link  # kept as characters, not as %E6%B3%A8...
    view = checked_view("中文", link)
    assert view.params == {"text": text}
    escaped = checked_view("中文", "/classify?text=" + "%E6%B3%A8" * 1500)  # an old, percent-encoded link counts the same
    assert escaped.params == {"text": "注" * 1500}
    deck = Deck("讲座", (view,))
    assert deck_from_json(deck_to_json(deck)) == deck and deck_from_param(deck_to_param(deck)) == deck
    links = ShortLinks()
    assert links.resolve(links.shorten(link)) == link
    with pytest.raises(DeckError, match="9,015 characters long; a view in a deck or a short link holds at most 8,000"):
        checked_view("Too long", view_link("classify", {"text": "字" * 9000}))


@pytest.mark.parametrize("name", NESTED_DECKS)
def test_a_deeply_nested_deck_is_refused_in_a_file_and_in_a_link(name):
    """The hostile corpus's nested decks: 50,000 levels, past Python's recursion limit."""
    text = NESTED_DECKS[name]
    with pytest.raises(DeckError, match="nested too deeply"):
        deck_from_json(text)
    with pytest.raises(DeckError, match="nested too deeply"):
        deck_from_param(base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode())


def test_titles_that_are_not_text_get_the_default():
    shallow = "[" * 500 + "]" * 500  # read by Python, but not a title
    found = deck_from_json('{"title": ' + shallow + ', "views": [{"title": {"a": ' + shallow + '}, "link": "/"}]}')
    assert found.title == "My talk" and found.views[0].title == "View 1"


def test_the_qr_code_decodes_to_its_link():
    import cv2
    import numpy as np
    link = "http://192.168.1.20:8501/?go=3fa1c29e0b"
    image = cv2.imdecode(np.frombuffer(qr_png(link), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == link


def _add_view_script(text: str) -> None:
    """A session whose classification page shows `text`, clicking "Add this view to the deck"."""
    import streamlit as st

    from ui.core.state import CURRENT_PAGE, VIEW
    from ui.talk import deck_panel

    st.session_state[CURRENT_PAGE] = "classify"
    st.session_state[VIEW] = ("classify", {"text": text})
    deck_panel._add_current()  # the button's on_click


ADDED_OR_REFUSED = {  # the corpus's Chinese views: added to the deck, or the message
    "1,500 Chinese characters": None,
    "9,000 Chinese characters": "This view cannot be added: this view's inputs are 9,015 characters long; "
                                "a view in a deck or a short link holds at most 8,000. Shorten its text.",
}


@pytest.mark.parametrize("name", CJK_VIEW_TEXTS)
def test_add_this_view_takes_a_chinese_view_and_refuses_an_overlong_one_with_a_message(name):
    text, message = CJK_VIEW_TEXTS[name], ADDED_OR_REFUSED[name]
    added = message is None
    at = AppTest.from_function(_add_view_script, args=(text,))
    at.run()
    assert not at.exception
    views = at.session_state["_deck"].views if "_deck" in at.session_state else ()
    assert [v.params["text"] for v in views] == ([text] if added else [])
    assert at.session_state["_deck_message"] == message


def test_a_short_link_opens_its_chinese_view_and_an_unreadable_one_is_a_message():
    chinese = "自注意力" * 400
    code = short_links().shorten(view_link("classify", {"text": chinese}))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["go"] = code
    at.run()
    assert not at.exception
    assert at.text_area(key="classify_text").value == chinese
    over = short_links().shorten("/classify?text=" + "a" * 9000)  # made before a limit changed
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["go"] = over
    at.run()
    assert not at.exception
    assert any("This short link cannot be opened" in w.value for w in at.warning)
