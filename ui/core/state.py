"""A page's inputs, kept while the user visits other pages, and written into the URL.

Streamlit forgets a widget's value when its page is left. A `PageState` lists the page's inputs
(`Field`s): before the widgets are drawn, `restore()` gives each widget its value back (from what
the session kept, or, on the session's first visit to the page, from the link it was opened
with); after the widgets, `publish()` keeps the values and writes the ones that differ from the
defaults into `st.query_params`, so the address bar always holds a link to the same view. A value
in a link that does not fit (a typo, an unknown model, a layer that does not exist) falls back to
its default with a short notice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from backend.shared.language import n_, t
from ui.core.markdown import plain

APP_PARAMS = ("present", "deck", "go", "lang")  # the app's own link parameters (presentation mode, a deck, a short link, the language), not a page's inputs
KEPT = "_kept_inputs"  # session_state: page -> {widget key: value}
CURRENT_PAGE = "_page"  # session_state: the page of the latest run
MAX_PARAM_CHARS = 1500  # longer texts are left out of links (browsers and chat apps cut long URLs)
STREAMLIT_PARAMS = {"embed", "embed_options"}  # Streamlit's own; never ours to judge
APP_LINK = "_app_link_params"  # session_state: the app's own parameters this run (ui.talk.room), kept in every link
CLICKED = "_clicked_values"  # session_state: widget key -> (value a click set, value it replaced, run, when)
VIEW = "_view_params"  # session_state: (page, its link parameters) as last published
RUNS = "_page_runs"  # session_state: how many page runs this session has started
CLICK_HOLD_SECONDS = 120.0  # a visitor who clears the box back to its old text gets it after this


@dataclass(frozen=True)
class Field:
    key: str  # the widget's session-state key
    param: str  # its name in the URL
    default: Any
    parse: Callable[[str], Any]  # URL text -> value; raises ValueError with a short reason
    dump: Callable[[Any], str] = str


def defaults(fields: Sequence[Field]) -> dict[str, Any]:
    """A page's input values before the visitor changes anything."""
    return {field.key: field.default for field in fields}


def text_field(key: str, param: str, default: str = "", max_chars: int = 100_000) -> Field:
    def parse(raw: str) -> str:
        if len(raw) > max_chars:
            raise ValueError(t("longer than {most} characters", most=f"{max_chars:,}"))
        return raw

    return Field(key, param, default, parse)


def choice_field(key: str, param: str, options: Sequence[str], default: str | None = None) -> Field:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(t("not one of the choices"))
        return raw

    return Field(key, param, options[0] if default is None else default, parse)


def _ranged(convert: Callable[[str], float], what: str, low: float, high: float) -> Callable[[str], Any]:
    """`what`: the whole reason a value that is no number at all fails ("not a number")."""
    def parse(raw: str):
        try:
            value = convert(raw.strip())
        except ValueError:
            raise ValueError(t(what)) from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(t("not between {low} and {high}", low=_shown(low), high=_shown(high)))
        return value

    return parse


def _shown(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def int_field(key: str, param: str, default: int, low: int, high: int) -> Field:
    return Field(key, param, default, _ranged(int, n_("not a whole number"), low, high))


def float_field(key: str, param: str, default: float, low: float, high: float) -> Field:
    return Field(key, param, default, _ranged(float, n_("not a number"), low, high), dump=lambda v: f"{v:g}")


def bool_field(key: str, param: str, default: bool) -> Field:
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}

    def parse(raw: str) -> bool:
        try:
            return words[raw.strip().lower()]
        except KeyError:
            raise ValueError(t("not 1 or 0")) from None

    return Field(key, param, default, parse, dump=lambda v: "1" if v else "0")


def values_from_link(
    fields: Sequence[Field], params: dict[str, str], extras: Collection[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Each field's value from a link's parameters (its default where the link has none, or one
    that does not fit), and a short notice for each value not understood or not known (`extras`:
    other parameters the page reads itself). Pure: the page and the deck's static export share it."""
    values: dict[str, Any] = {}
    notices: list[str] = []
    for field in fields:
        raw = params.get(field.param)
        values[field.key] = field.default
        if raw is None:
            continue
        try:
            values[field.key] = field.parse(raw)
        except ValueError as exc:
            notices.append(t("{param}={value} ({reason})", param=field.param, value=_short(raw), reason=exc))
    known = {f.param for f in fields} | set(extras)
    notices += [t("{param}={value} (unknown setting)", param=name, value=_short(params[name])) for name in params if name not in known]
    return values, notices


class PageState:
    """The inputs of one page. Call `restore()` before its widgets, `publish()` after them."""

    def __init__(self, page: str, fields: Sequence[Field], extras: Sequence[str] = ()) -> None:
        self.page = page  # its URL path, e.g. "classify"
        self.fields = list(fields)
        self.extras = set(extras)  # other parameters the page reads itself (e.g. "run")
        self.opened_with: dict[str, str] = {}  # the link's parameters, on the session's first visit
        self.notices: list[str] = []
        self._link_box = None

    def header(self, title: str) -> None:
        """The page title, with the 'Copy link' control beside it."""
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.title(title)
        self._link_box = right.empty()  # filled by publish(); replaced when published again

    def restore(self) -> None:
        kept_by_page = st.session_state.setdefault(KEPT, {})
        kept = kept_by_page.get(self.page)
        if kept is None:  # the first run of this page in this session: the link decides
            self.opened_with = {
                k: v for k, v in st.query_params.to_dict().items() if k not in STREAMLIT_PARAMS | set(APP_PARAMS)
            }
            values = self._from_link(self.opened_with)
            kept_by_page[self.page] = {}
        else:
            values = {f.key: kept.get(f.key, f.default) for f in self.fields}
        # Arriving from another page, what was kept decides: Streamlit may still hold an older
        # value under the key of a widget that was not on screen (drawn only in some modes).
        arriving = visited(self.page)
        st.session_state[RUNS] = st.session_state.get(RUNS, 0) + 1
        for field in self.fields:
            # Set on every run, so each widget is sent with the server's value. (A click that
            # arrives while the page's first run is still on its way makes the browser drop that
            # run, and draw the widgets of the next one at their built-in defaults otherwise.)
            # On the page, a value set by a click (an example button) or typed by the user wins.
            if arriving or field.key not in st.session_state:
                value = values[field.key]
            else:
                value = _held_click(field.key, st.session_state[field.key])
            st.session_state[field.key] = value
        if self.notices:
            st.warning(
                t("Some values in the link were not understood and were reset to defaults: {notices}.",
                  notices=plain("; ".join(self.notices))),
                icon=":material/link_off:",
            )

    def _from_link(self, params: dict[str, str]) -> dict[str, Any]:
        values, notices = values_from_link(self.fields, params, self.extras)
        self.notices += notices
        return values

    def note(self, message: str) -> None:
        """A value that only turns out wrong later (a layer the model does not have)."""
        st.warning(plain(message), icon=":material/link_off:")

    def values(self) -> dict[str, Any]:
        """The page's input values now (what its request functions take)."""
        return {f.key: st.session_state.get(f.key, f.default) for f in self.fields}

    def publish(self, extras: dict[str, str] | None = None) -> None:
        """Keep the current values for this session, and put them in the address bar."""
        values = self.values()
        st.session_state.setdefault(KEPT, {})[self.page] = values
        params, left_out = {}, []
        for field in self.fields:
            value = values[field.key]
            if value == field.default:
                continue
            dumped = field.dump(value)
            if len(dumped) > MAX_PARAM_CHARS:
                left_out.append(field.param)
            else:
                params[field.param] = dumped
        params.update(extras or {})
        view_params = dict(params)
        st.session_state[VIEW] = (self.page, view_params)
        current = st.query_params.to_dict()
        params.update(st.session_state.get(APP_LINK, {}))  # the app's own (presentation mode, the deck) stay
        if current != params:
            st.query_params.from_dict(params)
        if self._link_box is not None:
            with self._link_box.container():
                self._copy_link(view_params, left_out)

    def _copy_link(self, params: dict[str, str], left_out: list[str]) -> None:
        root = (st.context.url or "").rstrip("/")  # the app's address, with or without this page's path
        if root.endswith(f"/{self.page}"):
            root = root[: -len(self.page) - 1]
        link = f"{root}/{self.page}" + (f"?{urlencode(params)}" if params else "")
        with st.popover(t("Copy link"), icon=":material/link:", help=t("A link that opens this page with these inputs")):
            st.code(link, language=None, wrap_lines=True)
            st.caption(t("Click the copy icon on the right of the link. It opens this page with the same inputs."))
            if left_out:
                st.caption(t("Left out of the link because too long for a URL: {params}.", params=", ".join(left_out)))


def set_by_click(values: dict[str, Any]) -> None:
    """Write `values` into their widgets from a button's callback (an example), and hold them.

    Every request the browser sends carries all its widgets' values. A click that follows the
    example before the browser has drawn the example's run (a busy server, a room of visitors)
    sends the widgets' old values, which would silently undo the example. So until the browser
    sends the clicked value back from a later run (it has drawn it), a widget that comes back with
    exactly the value the click replaced gets the clicked value again; anything else the visitor
    types wins at once."""
    held = st.session_state.setdefault(CLICKED, {})
    run, now = st.session_state.get(RUNS, 0), time.monotonic()
    for key, value in values.items():
        held[key] = (value, st.session_state.get(key), run, now)
    st.session_state.update(values)


def _held_click(key: str, value: Any) -> Any:
    held = st.session_state.get(CLICKED, {})
    if key not in held:
        return value
    clicked, replaced, run, when = held[key]
    # The click's own run is run + 1; a later run that carries the clicked value proves the
    # browser drew it. Typed text of the visitor's own, or a long time, ends the hold too.
    drawn = value == clicked and st.session_state.get(RUNS, 0) > run + 1
    if drawn or value not in (clicked, replaced) or time.monotonic() - when > CLICK_HOLD_SECONDS:
        del held[key]
        return value
    return clicked


def _short(raw: str, limit: int = 30) -> str:
    return repr(raw if len(raw) <= limit else raw[:limit] + "…")


def visited(page: str) -> bool:
    """Record that `page` runs now; True when the session's previous run was another page.
    Every page calls it once per run (through `PageState.restore`, or directly)."""
    arriving = st.session_state.get(CURRENT_PAGE) != page
    st.session_state[CURRENT_PAGE] = page
    return arriving


def hand_over(page: str, script: str, values: dict[str, Any], params: dict[str, str]) -> None:
    """Open another page with some of its inputs set (e.g. this text on the attention page):
    they replace what this session kept there, and the link carries them too."""
    kept = st.session_state.setdefault(KEPT, {})
    kept[page] = {**kept.get(page, {}), **values}
    st.switch_page(script, query_params=params)
