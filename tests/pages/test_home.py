"""The Home page: the four pages and their ideas, the models, and the suggested demo."""

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from backend.runtime.device import describe
from backend.runtime.model_cache import get_model
from backend.runtime.registry import MINILM
from ui.core.state import values_from_link
from ui.home.diagrams import IDEA_DIAGRAMS
from ui.navigation import BY_PATH
from ui.talk.deck import checked_view
from ui.talk.demo_deck import DEMO_DECK, DEMO_MINUTES, DEMO_NOTES

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def home():
    get_model(MINILM.key)  # loaded before Home draws, whatever ran earlier: its row shows real sizes
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception and not at.error
    return at


def test_home_shows_each_page_and_the_idea_it_makes_visible(home):
    headings = " ".join(s.value for s in home.subheader)
    for title in ("Text classification", "Text generation", "Image recognition", "Attention visualizer"):
        assert title in headings
    text = " ".join(m.value for m in home.markdown)
    for idea in ("self-attention", "CNNs", "Pretraining, then fine-tuning", "precision, recall and F1",
                 "Decoder-only generation", "offline", "temperature, top-k, top-p"):
        assert idea in text, idea
    assert len(home.get("plotly_chart")) == len(IDEA_DIAGRAMS)


def test_home_lists_the_models_with_their_sizes(home):
    table = home.dataframe[0].value
    assert list(table.columns) == ["model", "parameters (M)", "memory (MB)", "device", "load time (s)"]
    minilm = table[table["model"].str.startswith("all-MiniLM-L6-v2")].iloc[0]
    handle = get_model(MINILM.key)
    assert minilm["parameters (M)"] == 22.7
    tensors = [*handle.model.parameters(), *handle.model.buffers()]
    assert minilm["memory (MB)"] == round(sum(t.numel() * t.element_size() for t in tensors) / 2**20, 1)
    assert minilm["device"] == describe(handle.device) and minilm["load time (s)"] == round(handle.load_seconds, 2)
    assert any("Models run on:" in c.value for c in home.caption)


def test_home_demo_opens_a_view_with_its_inputs(home):
    home.button(key="home_start_demo").click().run()
    assert not home.exception
    home.button(key="home_demo_2").click().run()  # the toy example: no model needed
    assert not home.exception and not home.error
    assert home.session_state["attention_view"] == "The formula on a toy example"
    assert any("softmax" in m.value for m in home.markdown) or home.get("latex")


def test_demo_deck_views_are_valid_links_with_known_inputs():
    assert 6 <= len(DEMO_DECK.views) <= 7 and len(DEMO_NOTES) == len(DEMO_DECK.views)
    minutes = 0
    for view in DEMO_DECK.views:
        assert checked_view(view.title, view.link) == view
        assert view.page in BY_PATH
        fields = {field.param: field for field in BY_PATH[view.page].fields()}
        params = dict(parse_qsl(urlsplit(view.link).query))
        assert params and set(params) <= set(fields), view.link
        for param, raw in params.items():
            fields[param].parse(raw)  # raises ValueError for a value the page cannot read
        values, notices = values_from_link(BY_PATH[view.page].fields(), view.params)
        assert not notices and all(values[fields[p].key] == fields[p].parse(raw) for p, raw in params.items())
        minutes += int(view.title.rsplit("(", 1)[1].split()[0])
    assert minutes == DEMO_MINUTES


def test_a_link_parameter_the_page_does_not_know_is_reported():
    _values, notices = values_from_link(BY_PATH["classify"].fields(), checked_view("x", "/classify?colour=blue").params)
    assert notices == ["colour='blue' (unknown setting)"]


@pytest.mark.parametrize("name", sorted(IDEA_DIAGRAMS))
def test_idea_diagrams_are_small_transparent_and_stretch(name):
    fig = IDEA_DIAGRAMS[name]()
    assert fig.layout.height <= 240 and fig.layout.width is None  # stretches to the column, phone or projector
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert fig.layout.font.color is None  # the theme's text colour, light or dark
    words = [a.text for a in fig.layout.annotations if a.text]
    assert len(words) >= 4 and all(len(w.replace("<b>", "").replace("</b>", "")) <= 42 for w in words)
    assert fig.layout.meta["alt"]


def test_every_demo_view_opens_its_page_without_an_error():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    for number, view in enumerate(DEMO_DECK.views):
        at.switch_page("pages/home.py")
        at.run()
        at.button(key=f"home_demo_{number}").click().run()
        assert not at.exception and not at.error and not at.warning, view.title
        assert at.title[0].value == BY_PATH[view.page].title
        for field in BY_PATH[view.page].fields():
            if field.param in view.params:
                assert at.session_state[field.key] == field.parse(view.params[field.param]), (view.title, field.param)
        if view.params.get("classifier") == "zero-shot":
            assert at.metric[0].value == "sports"  # a real answer, from the view's own inputs
