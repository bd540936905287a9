"""'Let the room follow': a QR code and a short link for the view on screen.

The QR code is drawn here, offline, by segno. The short link (`/?go=k3x9ab`) keeps the QR code
coarse enough to scan from the back of a room even when the view's own link carries a long text;
the server remembers which view each short link opens (`ui.talk.short_links`: a bounded memory
shared fairly between addresses, lost when the server restarts: the page then says so)."""

from __future__ import annotations

import html
import io
import socket
from urllib.parse import urlencode, urlsplit

import segno
import streamlit as st

from backend.runtime.public_mode import is_public
from backend.runtime.scheduler import SCHEDULER
from backend.shared.language import t
from ui.core import language
from ui.core.jobs import client_address, session_id
from ui.core.markdown import plain
from ui.core.state import CURRENT_PAGE, KEPT
from ui.navigation import BY_PATH
from ui.talk.deck import DeckError, checked_view
from ui.talk.short_links import LAPTOP_PER_ADDRESS, PUBLIC_PER_ADDRESS, ShortLinks

PARAM = "go"


@st.cache_resource(show_spinner=False)
def short_links() -> ShortLinks:
    return ShortLinks(per_address=lambda: PUBLIC_PER_ADDRESS if is_public() else LAPTOP_PER_ADDRESS,
                      alive=lambda session: SCHEDULER.owner_alive(session))


def app_root() -> str:
    """The app's address as the visitor's browser sees it (scheme, host, port, and any prefix
    a proxy such as a Space adds), without the page's path."""
    url = (st.context.url or "").split("?")[0].rstrip("/")
    page = st.session_state.get(CURRENT_PAGE, "")
    if page and page != "home" and url.endswith(f"/{page}"):
        url = url[: -len(page) - 1]
    return url


def qr_png(link: str) -> bytes:
    """The QR code of `link` as a PNG (black on white, the quiet zone kept), 10 pixels a module."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


def show_room_link(view_link: str) -> None:
    """The dialog with the QR code and the short link of `view_link` (its title in the visitor's language)."""
    st.dialog(t("Let the room follow"), width="large")(_room_link)(view_link)


def _room_link(view_link: str) -> None:
    try:
        checked_view("room", view_link)  # what a phone opening it will be given
    except DeckError as exc:
        st.error(plain(t("This view cannot be shared as a link: {problem}.", problem=exc)), icon=":material/link_off:")
        return
    code = short_links().shorten(view_link, client_address(), session_id())
    # the presenter's language comes along (once chosen, or when not English): the room reads what the screen shows
    short = f"{app_root()}/?" + urlencode({PARAM: code, **language.link_params()})
    left, middle, right = st.columns([1, 3, 1])
    with middle.container(key="room-qr"):
        st.image(qr_png(short), width="stretch")
    st.html(f'<p style="text-align:center;font-size:28px;font-weight:600;word-break:break-all">{html.escape(short)}</p>')
    host = urlsplit(short).hostname or ""
    if host == "localhost" or host.startswith("127.") or host == "::1":
        address = _lan_address(short)
        if address:
            advice = t("{host} means *this computer*: phones cannot open it. Start the app with "
                       "`--server.address 0.0.0.0` (and `DASHBOARD_PUBLIC=1`), open it here by this computer's "
                       "network address (probably {address}), and show the code again.", host=host, address=address)
        else:
            advice = t("{host} means *this computer*: phones cannot open it. Start the app with "
                       "`--server.address 0.0.0.0` (and `DASHBOARD_PUBLIC=1`), open it here by this computer's "
                       "network address, and show the code again.", host=host)
        st.warning(advice, icon=":material/wifi_off:")
    st.caption(t("Scan the code, or type the short link. It opens this view, with these inputs, on the phone. "
                 "Short links last until the server restarts."))
    st.code(short, language=None)


def _lan_address(link: str) -> str:
    """'http://192.168.1.20:8501': this machine's address on its network (with the link's port),
    found without sending anything (a UDP socket's route choice), or nothing."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
    except OSError:
        return ""
    port = urlsplit(link).port
    return f"http://{address}{f':{port}' if port else ''}" if not address.startswith("127.") else ""


def follow_short_link(params: dict[str, str]) -> None:
    """Open the view a short link stands for, or say that it is gone."""
    code = params.get(PARAM)
    if not code:
        return
    link = short_links().resolve(code)
    if link is None:
        del st.query_params[PARAM]
        st.warning(t("This short link is no longer known here (the server has restarted since it was made). "
                     "Ask the presenter to show the QR code again."), icon=":material/link_off:")
        return
    try:
        view = checked_view("room", link)
    except DeckError as exc:  # a link made before a limit changed
        del st.query_params[PARAM]
        st.warning(plain(t("This short link cannot be opened: {problem}.", problem=exc)), icon=":material/link_off:")
        return
    st.session_state.setdefault(KEPT, {}).pop(view.page or "home", None)  # the link decides, as in a new tab
    st.switch_page(BY_PATH[view.page].script, query_params=view.params)
