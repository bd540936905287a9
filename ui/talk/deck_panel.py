"""The talk deck in the sidebar: add the view on screen, rename, reorder, step through it with
Next/Previous (or a presenter's clicker: Page Down / Page Up), save and load it as JSON, carry
it in a link, and download it as static HTML that opens without the server."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import wraps

import streamlit as st

from backend.shared.language import current as current_language
from backend.shared.language import speaking, t
from ui.core import language
from ui.core.jobs import client_address, session_id
from ui.core.language import KEY as LANGUAGE
from ui.core.markdown import plain
from ui.core.state import CURRENT_PAGE, KEPT, VIEW
from ui.navigation import BY_PATH
from ui.talk.deck import (
    MAX_JSON_BYTES,
    MAX_VIEWS,
    Deck,
    DeckError,
    View,
    checked_view,
    deck_from_json,
    deck_from_param,
    deck_to_json,
    deck_to_param,
    view_link,
)
from ui.talk.demo_deck import shown_title
from ui.talk.share import app_root
from ui.talk.static_site import RUNNING, export_or_refusal, export_seconds

DECK = "_deck"  # session_state: the Deck
AT = "_deck_at"  # session_state: index of the view last opened from the deck
FROM_LINK = "_deck_from_link"  # session_state: the link's deck parameter, read on the session's first run
PARAM = "deck"


def _in_session_language(callback: Callable[..., None]) -> Callable[..., None]:
    """A widget's callback runs before the script run sets the session's language: set it here,
    for the messages (and default titles) the callback writes into the session."""
    @wraps(callback)
    def run(*args: object) -> None:
        with speaking(st.session_state.get(LANGUAGE, current_language())):
            callback(*args)
    return run


def deck() -> Deck:
    return st.session_state.get(DECK) or Deck()


def _set(new: Deck) -> None:
    st.session_state[DECK] = new


def use_deck(new: Deck) -> None:
    """Make `new` this session's deck (the Home page's demo deck, a loaded file) at its start."""
    _set(new)
    st.session_state[AT] = -1


def load_from_link(params: dict[str, str]) -> str | None:
    """A deck carried in the link (?deck=...) becomes the session's deck, once; a message if damaged."""
    raw = params.get(PARAM)
    # Only on the session's first run: a link opened in a browser starts a session. Later runs
    # carry the address bar as the browser last drew it, which may hold this session's own deck
    # from a few runs ago; reading it again would undo the latest changes.
    if FROM_LINK in st.session_state:
        return None
    st.session_state[FROM_LINK] = raw
    if not raw:
        return None
    try:
        use_deck(deck_from_param(raw))
    except DeckError as exc:
        return t("The deck in this link could not be read: {problem}.", problem=exc)
    return None


def current_view_link() -> str:
    """The view on screen: this page and the inputs its link carries now."""
    page = st.session_state.get(CURRENT_PAGE, "home")
    published_page, params = st.session_state.get(VIEW, (None, {}))
    if page == "home" or published_page != page:
        return view_link("" if page == "home" else page, {})
    return view_link(page, params)


def _view_title(link: str) -> str:
    view = checked_view("x", link)
    params = view.params
    words = params.get("text") or params.get("prompt") or params.get("example") or ""
    words = " ".join(words.split()[:6])
    page = t(BY_PATH[view.page].title)
    return t("{page}: {words}", page=page, words=words) if words else page


@_in_session_language
def _add_current() -> None:
    current = deck()
    if len(current.views) >= MAX_VIEWS:
        st.session_state["_deck_message"] = t("A deck holds at most {most} views.", most=MAX_VIEWS)
        return
    link = current_view_link()
    try:
        view = checked_view(_view_title(link), link)
    except DeckError as exc:
        st.session_state["_deck_message"] = t("This view cannot be added: {problem}.", problem=exc)
        return
    st.session_state["_deck_message"] = None
    _set(replace(current, views=(*current.views, view)))


def open_view(index: int) -> None:
    """Go to the deck's view `index`: its link decides the page's inputs (what the session kept
    on that page is let go), as when the link is opened in a new tab. Called on a click (not from
    a callback: a callback cannot switch pages)."""
    views = deck().views
    if not views:
        return
    index = max(0, min(index, len(views) - 1))
    st.session_state[AT] = index
    view = views[index]
    st.session_state.setdefault(KEPT, {}).pop(view.page or "home", None)
    if view.page == "generate":
        st.session_state.pop("generate_job", None)  # a view that says run=1 answers again
    params = {**view.params, **link_params()}
    if st.session_state.get("present"):
        params["present"] = "1"
    st.switch_page(BY_PATH[view.page].script, query_params=params)


def _move(index: int, step: int) -> None:
    views = list(deck().views)
    other = index + step
    if 0 <= other < len(views):
        views[index], views[other] = views[other], views[index]
        _set(replace(deck(), views=tuple(views)))


def _remove(index: int) -> None:
    views = list(deck().views)
    del views[index]
    _set(replace(deck(), views=tuple(views)))


@_in_session_language
def _rename(index: int, key: str) -> None:
    views = list(deck().views)
    views[index] = checked_view(st.session_state.get(key, ""), views[index].link)
    _set(replace(deck(), views=tuple(views)))


@_in_session_language
def _load_file() -> None:
    upload = st.session_state.get("deck_upload")
    if upload is None:
        return
    try:
        if upload.size > MAX_JSON_BYTES:
            raise DeckError("the file is larger than {size} kB", size=MAX_JSON_BYTES // 1000)
        use_deck(deck_from_json(upload.getvalue()))
        st.session_state["_deck_message"] = None
    except DeckError as exc:
        st.session_state["_deck_message"] = t("That file is not a deck: {problem}.", problem=exc)


def link_params() -> dict[str, str]:
    """The app parameters a page's link keeps while a deck is loaded (a reload keeps the deck)."""
    return {PARAM: deck_to_param(deck())} if deck().views else {}


def panel() -> None:
    """The deck panel (in the sidebar)."""
    current = deck()
    at = st.session_state.get(AT, -1)
    with st.expander(t("Talk deck ({count} views)", count=len(current.views)), expanded=bool(current.views),
                     icon=":material/slideshow:"):
        st.button(t("Add this view to the deck"), key="deck_add", on_click=_add_current, icon=":material/add:", width="stretch")
        if st.session_state.get("_deck_message"):
            st.warning(plain(st.session_state["_deck_message"]), icon=":material/error:")
        if current.views:
            previous, following = st.columns(2)
            if previous.button(t("Previous"), key="deck_previous", disabled=at <= 0, icon=":material/arrow_back:",
                               shortcut="PageUp", width="stretch"):
                open_view(at - 1)
            if following.button(t("Next"), key="deck_next", disabled=at >= len(current.views) - 1,
                                icon=":material/arrow_forward:", shortcut="PageDown", width="stretch"):
                open_view(at + 1)
            st.caption(t("View {number} of {count} · Page Down / Page Up step through it.", number=at + 1,
                         count=len(current.views))
                       if at >= 0 else t("Next opens the first view · Page Down / Page Up step through it."))
            for i, view in enumerate(current.views):
                _row(i, view, i == at)
        _files(current)


def _row(i: int, view: View, here: bool) -> None:
    with st.container(border=True, key=f"deck_view_{i}"):
        # keyed by the view itself as shown: after a move, a load or a change of language, each box
        # starts from its view's title
        title = shown_title(view.title)
        key = f"deck_title_{i}_{zlib.crc32(f'{title}|{view.link}'.encode()):08x}"
        label = t("View {number} (on screen)", number=i + 1) if here else t("View {number}", number=i + 1)
        st.text_input(label, value=title, key=key, on_change=_rename, args=(i, key), max_chars=120)
        go, up, down, drop = st.columns(4)
        if go.button("", key=f"deck_go_{i}", icon=":material/play_arrow:", help=t("Open this view")):
            open_view(i)
        up.button("", key=f"deck_up_{i}", on_click=_move, args=(i, -1), icon=":material/arrow_upward:", help=t("Move up"), disabled=i == 0)
        down.button("", key=f"deck_down_{i}", on_click=_move, args=(i, 1), icon=":material/arrow_downward:", help=t("Move down"))
        drop.button("", key=f"deck_remove_{i}", on_click=_remove, args=(i,), icon=":material/delete:", help=t("Remove"))


def _files(current: Deck) -> None:
    if current.views:
        st.download_button(t("Save the deck (JSON)"), data=deck_to_json(current), file_name="deck.json",
                           mime="application/json", key="deck_save", on_click="ignore", icon=":material/download:",
                           width="stretch")
        # The zip is made when clicked, in a server thread with no page around it: who asked is
        # read now, so the export's jobs are this visitor's (their caps, dropped when they leave),
        # and its pages are in this visitor's language.
        owner, client, spoken = session_id(), client_address(), current_language()
        making = RUNNING.busy(owner, client)

        def export() -> bytes:
            with speaking(spoken):
                return export_or_refusal(current, owner, client)

        st.download_button(
            t("Download as static HTML (zip)"), data=export,
            file_name="talk.zip", mime="application/zip", key="deck_static", on_click="ignore",
            icon=":material/folder_zip:", width="stretch", disabled=making,
            help=t("Every view computed now (at most {minutes} minutes for the whole deck), as web pages that open "
                   "from a USB stick or any static host, with no server and no network.",
                   minutes=f"{export_seconds() / 60:.0f}"),
        )
        if making:
            st.caption(t("Your export is being made; its download starts when it is ready."))
        st.caption(t("The deck as a link:"))
        link = {PARAM: deck_to_param(current), **language.link_params()}  # the deck opens in this language
        st.code(f"{app_root()}/?" + "&".join(f"{k}={v}" for k, v in link.items()), language=None, wrap_lines=True)
    # In a popover: its uploader is drawn only when opened, so a page's own uploader stays the
    # page's only one (and the sidebar stays short).
    with st.popover(t("Load a deck (JSON)"), icon=":material/upload_file:", width="stretch"):
        st.file_uploader(t("A deck file saved here before"), type=None, key="deck_upload", on_change=_load_file)

