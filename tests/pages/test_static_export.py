"""The talk deck's static export: real models, one folder that opens from disk, strangers' text escaped."""

import io
import re
import zipfile
from urllib.parse import quote

import pytest

from ui.core.state import values_from_link
from ui.navigation import BY_PATH
from ui.talk.deck import Deck, View, checked_view
from ui.talk.static_site import export_deck, render_view, slug

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def folder() -> dict[str, str]:
    deck = Deck(f"Models, explained {HOSTILE}", (
        checked_view("Wonderful movie", "/classify?text=" + quote("This movie was wonderful, the cast is brilliant and I loved every minute.")
                     + "&classifier=sentiment"),
        checked_view("Capital of France", "/generate?prompt=" + quote("What is the capital of France?") + "&temperature=0&max_tokens=8"),
        checked_view(f"Attention {HOSTILE}", "/attention?text=" + quote(f"The cat sat on the mat. {HOSTILE}") + "&layer=3&head=2"),
    ))
    archive = zipfile.ZipFile(io.BytesIO(export_deck(deck)))
    names = archive.namelist()
    assert all(name.startswith("models-explained-script-alert-1-script/") for name in names), names
    return {name.split("/", 1)[1]: archive.read(name).decode("utf-8") for name in names}


def test_the_folder_holds_an_index_each_view_and_one_plotly(folder):
    assert sorted(folder) == ["index.html", "plotly.min.js", "view-01.html", "view-02.html", "view-03.html"]
    assert len(folder["plotly.min.js"]) > 1_000_000 and "plotly" in folder["plotly.min.js"][:2000].lower()
    for i in (1, 2, 3):
        assert f'href="view-0{i}.html"' in folder["index.html"]


def test_each_view_opens_from_disk_and_links_to_its_neighbours(folder):
    for i in (1, 2, 3):
        page = folder[f"view-0{i}.html"]
        assert '<script src="plotly.min.js"' in page
        assert page.count("plotly.min.js") == 1  # plotly.js itself is not inlined in the page
        assert "plotly-graph-div" in page
        assert 'href="index.html"' in page and "ArrowRight" in page and "PageDown" in page
        assert not re.search(r'(src|href)="(https?:)?//', page), "a page must not load anything from the network"
        assert "@import" not in page and "fonts.googleapis" not in page
    assert 'rel="next" href="view-02.html"' in folder["view-01.html"]
    assert 'rel="prev" href="view-02.html"' in folder["view-03.html"]
    assert 'rel="next"' not in folder["view-03.html"]


def test_each_view_shows_its_real_outcome(folder):
    classify, generate, attention = folder["view-01.html"], folder["view-02.html"], folder["view-03.html"]
    assert "Prediction: positive" in classify
    assert "Integrated Gradients" in classify and ">wonderful</span>" in classify  # the coloured tokens
    assert "sentiment" in classify and "all-MiniLM-L6-v2" in classify  # the settings table
    tokens = re.findall(r'<span title="#\d+ p=[^"]*" style="[^"]*">([^<]*)</span>', generate)
    assert 1 <= len(tokens) <= 8 and "".join(tokens).strip()
    assert "Paris" in "".join(tokens)  # greedy SmolLM2 on this prompt
    assert "Layer 3, head 2" in attention
    for token in ("<code>cat</code>", "<code>mat</code>", "<code>[CLS]</code>"):
        assert token in attention


def test_strangers_text_is_escaped_everywhere(folder):
    for name in ("index.html", "view-01.html", "view-02.html", "view-03.html"):
        assert HOSTILE not in folder[name], name
    assert ESCAPED in folder["index.html"] and ESCAPED in folder["view-03.html"]


def test_a_hub_model_offline_is_a_message_not_a_crash():
    page = render_view(View("Fine-tuned", "/classify?model=hub:distilbert-sst2&text=Nice"))
    assert 'class="message"' in page and "Hub" in page
    broken = render_view(View("Typos", "/attention?text=&layer=banana"))
    assert "layer=" in broken and "not understood" in broken  # the notice of the link's bad value
    assert 'class="message"' in broken  # no text: a message, not an exception


def test_home_is_a_title_slide_listing_the_views():
    deck = Deck("A <b>talk</b>", (View("Start", "/"), View("Second view", "/attention")))
    page = render_view(deck.views[0], deck)
    assert "A &lt;b&gt;talk&lt;/b&gt;" in page and "Second view" in page


def test_link_values_fall_back_to_defaults_with_a_notice():
    fields = BY_PATH["attention"].fields()
    values, notices = values_from_link(fields, {"layer": "3", "head": "x", "colour": "red"})
    assert values["attention_layer"] == 3 and values["attention_head"] == 0
    assert len(notices) == 2 and any("head=" in n for n in notices) and any("unknown setting" in n for n in notices)
    assert slug("Ça va? Attention, explained!") == "ca-va-attention-explained" and slug("<>") == "deck"
