"""A talk deck: an ordered list of views (a title and the view's link), as JSON, in a file or a link.

A view's link is the app's path and query (`/classify?text=...`), never a host, so a deck made
on a laptop opens the same views on a Space. Nothing here draws; the deck panel
(`ui.talk.deck_panel`) keeps the session's deck and draws it.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from backend.runtime.errors import DashboardError
from backend.shared.language import t
from ui.core.state import APP_PARAMS
from ui.navigation import PATHS

MAX_VIEWS = 40
MAX_TITLE_CHARS = 120
MAX_LINK_CHARS = 8000  # characters of a view's link as its page receives them (see `link_chars`)
MAX_JSON_BYTES = 200_000  # a deck file or link larger than this is refused


class DeckError(DashboardError):
    """A deck file or link that cannot be read, with what is wrong (a message and its parameters,
    translated when shown, as every `DashboardError`)."""


@dataclass(frozen=True)
class View:
    title: str
    link: str  # "/generate?prompt=...": a page of this app and its inputs

    @property
    def page(self) -> str:
        return urlsplit(self.link).path.strip("/")

    @property
    def params(self) -> dict[str, str]:
        """The page's inputs in the link (the app's own parameters left out). A blank value is
        kept, as Streamlit keeps it: `text=` is an empty text, not the default one."""
        query = parse_qsl(urlsplit(self.link).query, keep_blank_values=True)
        return {k: v for k, v in query if k not in APP_PARAMS}


@dataclass(frozen=True)
class Deck:
    title: str = field(default_factory=lambda: t("My talk"))  # named in the language of whoever makes it
    views: tuple[View, ...] = field(default_factory=tuple)


def _iri_quote(text: str, safe: str = "", encoding: str | None = None, errors: str | None = None) -> str:
    """Percent-encode what a query needs encoded, keeping letters beyond ASCII as they are: a
    Chinese character stays one character in a deck, instead of nine as %E6%88%91."""
    return "".join(
        c if ord(c) > 127 and c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF
        else quote(c, safe=safe, errors="replace") for c in text
    )


def view_link(page: str, params: dict[str, str]) -> str:
    query = urlencode({k: v for k, v in params.items() if k not in APP_PARAMS}, quote_via=_iri_quote)
    return f"/{page}" + (f"?{query}" if query else "")


def link_chars(link: str) -> int:
    """A link's length as what is sent: its characters with escapes read (`%E6%88%91` is one
    character), whichever way the link was written."""
    return len(unquote(link))


def checked_view(title: str, link: str) -> View:
    title = " ".join(title.split())[:MAX_TITLE_CHARS] if isinstance(title, str) else ""
    title = title or t("Untitled view")
    link = str(link).strip()
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not link.startswith("/"):
        raise DeckError("a view's link must be a page of this app, such as /classify?text=..., not {link}",
                        link=repr(link[:60]))
    if link_chars(link) > MAX_LINK_CHARS:
        raise DeckError("this view's inputs are {count} characters long; a view in a deck or a short link holds at "
                        "most {most}. Shorten its text", count=f"{link_chars(link):,}", most=f"{MAX_LINK_CHARS:,}")
    if parts.path.strip("/") not in PATHS:
        raise DeckError("{path} is not a page of this app (pages: {pages})", path=repr(parts.path),
                        pages=", ".join("/" + p for p in PATHS))
    return View(title, link)


def deck_to_json(deck: Deck) -> str:
    return json.dumps(
        {"title": deck.title, "views": [{"title": v.title, "link": v.link} for v in deck.views]},
        indent=2, ensure_ascii=False,
    )


def deck_from_json(text: str | bytes) -> Deck:
    if len(text) > MAX_JSON_BYTES:
        raise DeckError("the deck is larger than {size} kB", size=MAX_JSON_BYTES // 1000)
    try:
        raw = json.loads(text)
    except RecursionError:
        raise DeckError("not a deck file: its JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeckError("not a deck file: {problem}", problem=str(exc)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("views"), list):
        raise DeckError('not a deck file: expected {"title": ..., "views": [{"title": ..., "link": ...}]}')
    if len(raw["views"]) > MAX_VIEWS:
        raise DeckError("a deck holds at most {most} views; this one has {count}", most=MAX_VIEWS, count=len(raw["views"]))
    views = []
    for i, item in enumerate(raw["views"], 1):
        if not isinstance(item, dict) or not isinstance(item.get("link"), str):
            raise DeckError("view {number} has no link", number=i)
        title = item.get("title")
        views.append(checked_view(title if isinstance(title, str) and title else t("View {number}", number=i), item["link"]))
    title = raw.get("title")
    title = " ".join((title if isinstance(title, str) and title else t("My talk")).split())[:MAX_TITLE_CHARS]
    return Deck(title, tuple(views))


def deck_to_param(deck: Deck) -> str:
    """The deck as one URL-safe link parameter (compressed JSON)."""
    packed = zlib.compress(deck_to_json(deck).encode("utf-8"), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def deck_from_param(raw: str) -> Deck:
    try:
        packed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        text = zlib.decompressobj().decompress(packed, MAX_JSON_BYTES + 1)
    except (ValueError, zlib.error):
        raise DeckError("the deck in the link is damaged (was the link cut short?)") from None
    return deck_from_json(text)
