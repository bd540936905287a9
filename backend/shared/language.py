"""The interface's language: English or Simplified Chinese, one gettext catalogue per language.

Every sentence a visitor reads goes through `t(message, **params)`: the message is the English
sentence itself with named `{placeholders}` (so English needs no catalogue, and a missing
translation shows English, never a key), looked up in `locales/<code>/LC_MESSAGES/dashboard.po`
(read with Babel) for the current language. Model outputs, tokens and proper names are not
messages.

The current language is a context variable: a browser session's script run sets it
(`ui/core/language.py`), and a model's queue runs each request in the language it was asked in,
so an error raised in a worker thread reads in the asker's language. `DashboardError` keeps its
message and parameters and translates when it is shown (see `backend/runtime/errors.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "dashboard"
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}  # code -> its own name
DEFAULT = "en"
_CURRENT: ContextVar[str] = ContextVar("language", default=DEFAULT)


def current() -> str:
    """The language code in force here ("en" or "zh")."""
    return _CURRENT.get()


def set_current(code: str) -> None:
    """Make `code` (a key of LANGUAGES; anything else means English) the language of this thread's
    context from now on: a session's script run calls it first thing."""
    _CURRENT.set(code if code in LANGUAGES else DEFAULT)


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Run a block in language `code` (a worker running a visitor's request, an export)."""
    token = _CURRENT.set(code if code in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@cache
def catalogue(code: str) -> dict[str, str]:
    """English message -> its translation, for every translated message of language `code`."""
    path = LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == DEFAULT or not path.exists():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        read = read_po(file, locale=code, domain=DOMAIN)
    return {m.id: m.string for m in read if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def t(message: str, /, **params: object) -> str:
    """`message` in the current language, its `{placeholders}` filled with `params`."""
    text = catalogue(current()).get(message, message)
    return text.format(**params) if params else text


@dataclass(frozen=True)
class Lazy:
    """A message kept untranslated (inside a result that sessions in either language share):
    `str()` translates it in the language of whoever shows it. Make one with `lazy()`."""

    message: str
    params: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        return t(self.message, **dict(self.params))


def lazy(message: str, /, **params: object) -> Lazy:
    """`message` with its `{placeholders}`' values, translated only when shown (`str()`)."""
    return Lazy(message, tuple(params.items()))


def n_(message: str, /) -> str:
    """Marks `message` for the catalogue where it is written (a table of labels); `t()` translates
    it where it is shown."""
    return message


_RANGE = re.compile(r"\s*([A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")


def preferred(accept: str | None) -> str | None:
    """The supported language a browser prefers most (an Accept-Language value, or one locale such
    as "zh-CN"), or None when it names none of them."""
    ranked = []
    for i, part in enumerate((accept or "").split(",")[:32]):
        found = _RANGE.fullmatch(part)
        if not found or found.group(1) == "*":
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        code = found.group(1).lower().replace("_", "-").split("-")[0]
        if code in LANGUAGES and weight > 0:
            ranked.append((-weight, i, code))
    return min(ranked)[2] if ranked else None
