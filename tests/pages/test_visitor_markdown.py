"""A stranger's Markdown in a link never becomes a link or an image on the page: every text a link
can carry (labels, taught examples and their labels, texts, prompts, a model id, a layer, a deck's
titles) and a generation server's tokens are shown as characters wherever Streamlit reads Markdown
(texts, captions, alerts, metric values, widget labels and options, tab and expander labels)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl

import pytest
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from tests.fake_servers import MarkdownServer, serve
from tests.hostile_inputs import (
    EVIL_HOST,
    MARKDOWN_IN_LINKS,
    MARKDOWN_LABEL,
    MARKDOWN_LINKS,
    MARKDOWN_SHORT,
)
from tests.pages.test_pages import APP, _opened_by_link, shown_as
from ui.core.markdown import plain

SCRIPTS = {"": "home", "classify": "classify", "generate": "generate", "recognise": "recognise", "attention": "attention"}
# The fields Streamlit draws as Markdown: a text's, caption's or alert's body, a metric's value and
# delta, labels and help of widgets, tabs, expanders and popovers, options of radios, pills and
# select sliders (also the value a select slider shows), a progress bar's text; and st.table's
# cells and headings (st.dataframe draws on a canvas: no Markdown).
MARKDOWN_FIELDS = {"body", "label", "help", "delta", "options", "content", "text", "title"}
NOT_MARKDOWN = {"html", "json"}  # their body is HTML (escaped by the figures) or data
PLAIN_OPTIONS = {"selectbox", "multiselect"}  # their options are drawn as text
HOST = re.escape(EVIL_HOST)


def drawn_links(markdown: str) -> list[str]:
    """What Streamlit's GitHub-flavoured Markdown draws from `markdown` as a link or an image to
    EVIL_HOST: inline links and images and raw HTML whose characters are not escaped, and the bare
    URLs and e-mail addresses it links by itself, also where entities spell them."""
    text = re.sub(r"\\.", "", markdown, flags=re.DOTALL)  # an escaped character is only a character
    found = re.findall(r"\]\(\s*<?(?:https?:)?//[^)\s]*" + HOST, text)
    found += re.findall(r"<\s*(?:a|img)\b[^>]*" + HOST, text, flags=re.IGNORECASE)
    text = html.unescape(text)  # "&#58;" is a colon to the autolinker
    found += re.findall(r"(?:https?://|www\.)\S*" + HOST, text, flags=re.IGNORECASE)
    found += re.findall(r"[\w.+-]@" + HOST, text)
    return found


def _strings(message: Message, fields: set[str]) -> list[str]:
    found = []
    for field, value in message.ListFields():
        values = value if isinstance(value, (list, tuple)) or hasattr(value, "extend") else [value]
        for item in values:
            if isinstance(item, Message):
                found += _strings(item, fields)
            elif isinstance(item, str) and field.name in fields:
                found.append(item)
    return found


def markdown_strings(node) -> list[str]:
    """Every string the page sends in a field Streamlit draws as Markdown (main area and sidebar)."""
    found = []
    kind = getattr(node, "type", None)
    proto = getattr(node, "proto", None)
    if proto is not None and kind not in NOT_MARKDOWN:
        found += _strings(proto, MARKDOWN_FIELDS - ({"options"} if kind in PLAIN_OPTIONS else set()))
    if kind == "table":
        frame = node.value
        found += [str(cell) for cell in [*frame.columns, *frame.index, *frame.to_numpy().ravel()]]
    for child in getattr(node, "children", {}).values():
        found += markdown_strings(child)
    return found


def _home_opened_by_link(params: dict[str, str]) -> AppTest:
    """Home's link: the router runs (a page opened with `switch_page` before the first run runs alone,
    without the router that reads the app's own parameters, such as a deck)."""
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def _no_links_drawn(at: AppTest) -> list[str]:
    strings = markdown_strings(at._tree)
    assert strings, "the page sent no Markdown at all"
    drawn = {s: drawn_links(s) for s in strings}
    assert not any(drawn.values()), {s: links for s, links in drawn.items() if links}
    return strings


KINDS = ["[a](https://evil.example/r)", "![x](//evil.example/p.png)", '<a href="https://evil.example/h">h</a>',
         "<img src=//evil.example/i.png>", "see https://evil.example/u.", "WWW.evil.example/w", "me@evil.example",
         "&#91;e&#93;(https&#58;//evil.example/e)", "https&colon;//evil.example/n", "[a]\n(https://evil.example/r)"]


@pytest.mark.parametrize("payload", KINDS)
def test_each_kind_of_link_is_found_and_plain_keeps_it_characters(payload):
    assert drawn_links(payload)
    escaped = plain(payload)
    assert not drawn_links(escaped)
    assert shown_as(escaped) == payload.replace("\n", " ")  # what the visitor reads: their text, on one line


@pytest.mark.parametrize(
    "page, query", [(page, query) for page, queries in MARKDOWN_IN_LINKS.items() for query in queries],
    ids=lambda v: SCRIPTS.get(v, v[:40]),
)
def test_markdown_in_a_link_draws_no_link_or_image(page, query):
    params = dict(parse_qsl(query, keep_blank_values=True))
    at = _opened_by_link(SCRIPTS[page], params) if page else _home_opened_by_link(params)
    strings = _no_links_drawn(at)
    shown = shown_as(" ".join(strings))
    # where a page repeats the stranger's string, it shows it as typed
    if params.get("classifier") == "zero-shot":
        assert shown_as(at.metric[0].value) == MARKDOWN_LABEL
        assert f"Why {MARKDOWN_LABEL}?" in shown
    elif params.get("classifier") == "taught":
        assert shown_as(at.metric[0].value) == MARKDOWN_LINKS
        assert f"Examples per label: **{MARKDOWN_LINKS}** 1" in shown
        assert f"Fewer than 2 examples for '{MARKDOWN_LINKS}' (1)" in shown
    elif "layer" in params:
        assert f"has no CAM layer '{MARKDOWN_SHORT}'" in shown
    elif "model_id" in params:
        assert "'[claim refund](https:' is not a model source" in shown_as(at.error[0].value)
    elif query == MARKDOWN_IN_LINKS[""][1]:  # a deck whose view points off the app
        assert "could not be read: a view's link must be a page of this app, such as /classify?text=..., not " \
               "'https://evil.example/x'" in shown
    elif page == "":
        assert "Talk deck (1 views)" in shown
        assert [box.value for box in at.sidebar.text_input] == [MARKDOWN_SHORT]  # a text box: no Markdown
    elif page == "attention":
        assert any(re.match(r"Layer \d+, head \d+, query token \d+ “", s) for s in strings)
    elif page == "generate":
        assert at.text_area(key="generate_prompt").value == MARKDOWN_LINKS and at.get("select_slider")


def test_a_servers_markdown_tokens_draw_no_link_or_image(monkeypatch):
    for name in ("DASHBOARD_PUBLIC", "DASHBOARD_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    server, url = serve(MarkdownServer)
    try:
        at = _opened_by_link("generate", {"engine": "server", "server": url, "prompt": "Hi", "run": "1"})
    finally:
        server.shutdown()
    assert not at.exception and not at.error, [e.value for e in at.error]
    strings = _no_links_drawn(at)
    token_to_inspect = at.get("select_slider")[0]
    assert [shown_as(o) for o in token_to_inspect.proto.options] == [
        f"1: {MARKDOWN_SHORT}", "2:  www.evil.example/w", "3:  me@evil.example"]
    assert any(MARKDOWN_SHORT in shown_as(s) for s in strings if s.startswith("**Model:**"))
