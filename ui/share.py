"""'Let the room follow': a QR code and a short link for the view on screen.

The QR code is drawn here, offline, by segno. The short link (`/?go=k3x9ab`) keeps the QR code
coarse enough to scan from the back of a room even when the view's own link carries a long text;
the server remembers which view each short link opens (a bounded memory, lost when the server
restarts: the page then says so)."""

from __future__ import annotations

import hashlib
import html
import threading
from collections import OrderedDict

import segno
import streamlit as st

PARAM = "go"
MAX_LINKS = 2000


class ShortLinks:
    """Short code -> view link ("/classify?text=..."), bounded, shared by every session."""

    def __init__(self, max_links: int = MAX_LINKS) -> None:
        self.max_links = max_links
        self._links: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def shorten(self, link: str) -> str:
        code = hashlib.blake2b(link.encode("utf-8"), digest_size=5).hexdigest()  # same view, same code
        with self._lock:
            self._links[code] = link
            self._links.move_to_end(code)
            while len(self._links) > self.max_links:
                self._links.popitem(last=False)
        return code

    def resolve(self, code: str) -> str | None:
        with self._lock:
            return self._links.get(code[:32])


@st.cache_resource(show_spinner=False)
def short_links() -> ShortLinks:
    return ShortLinks()


def app_root() -> str:
    """The app's address as the visitor's browser sees it (scheme, host, port, and any prefix
    a proxy such as a Space adds), without the page's path."""
    url = (st.context.url or "").split("?")[0].rstrip("/")
    page = st.session_state.get("_page", "")  # ui.state.CURRENT_PAGE
    if page and page != "home" and url.endswith(f"/{page}"):
        url = url[: -len(page) - 1]
    return url


def qr_svg(link: str) -> str:
    """The QR code of `link` as an inline SVG, scaled to its box (black on white, quiet zone kept)."""
    code = segno.make(link, error="m", micro=False)
    return code.svg_inline(scale=10, border=4, dark="#000000", light="#ffffff", omitsize=True)


@st.dialog("Let the room follow", width="large")
def show_room_link(view_link: str) -> None:
    short = f"{app_root()}/?{PARAM}={short_links().shorten(view_link)}"
    st.html(
        f'<div class="room-qr" style="background:#fff;padding:12px;max-width:520px;margin:auto">{qr_svg(short)}</div>'
        f'<p style="text-align:center;font-size:28px;font-weight:600;word-break:break-all">{html.escape(short)}</p>'
    )
    st.caption("Scan the code, or type the short link. It opens this view, with these inputs, on the phone. "
               "Short links last until the server restarts.")
    st.code(short, language=None)


def follow_short_link(params: dict[str, str]) -> None:
    """Open the view a short link stands for, or say that it is gone."""
    code = params.get(PARAM)
    if not code:
        return
    link = short_links().resolve(code)
    if link is None:
        del st.query_params[PARAM]
        st.warning("This short link is no longer known here (the server has restarted since it was made). "
                   "Ask the presenter to show the QR code again.", icon=":material/link_off:")
        return
    from ui.deck import checked_view
    from ui.deck_panel import SCRIPTS
    from ui.state import KEPT

    view = checked_view("room", link)
    st.session_state.setdefault(KEPT, {}).pop(view.page or "home", None)  # the link decides, as in a new tab
    st.switch_page(SCRIPTS[view.page], query_params=view.params)
