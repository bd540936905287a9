"""The talk deck's file and link formats, and the short links, with a stranger's inputs."""

import json

import pytest

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
from ui.talk.share import ShortLinks, qr_png


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


def test_the_qr_code_decodes_to_its_link():
    import cv2
    import numpy as np
    link = "http://192.168.1.20:8501/?go=3fa1c29e0b"
    image = cv2.imdecode(np.frombuffer(qr_png(link), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == link
