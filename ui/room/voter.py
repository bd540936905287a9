"""Who answers: one voter per browser, so a reload, a second tab or a double tap counts once.

Streamlit gives every browser an XSRF cookie whose token stays the same across reloads and tabs
(only its mask changes on each page load): a voter is a digest of that token, never the token
itself. Without the cookie (XSRF protection switched off) a voter is one tab's session.
"""

from __future__ import annotations

import binascii
import hashlib

import streamlit as st

from ui.core.jobs import session_id

COOKIE = "_streamlit_xsrf"


def _token(cookie: str) -> bytes | None:
    """The token inside a version-2 cookie `2|mask|masked|timestamp` (hex), or None."""
    parts = cookie.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = binascii.a2b_hex(parts[1]), binascii.a2b_hex(parts[2])
    except (binascii.Error, ValueError):
        return None
    if len(mask) != 4 or not 8 <= len(masked) <= 64:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


def voter_id() -> str:
    try:
        cookie = st.context.cookies.get(COOKIE, "")
    except Exception:  # no request context (a bare script)
        cookie = ""
    token = _token(cookie) if cookie else None
    if token is None:
        return "tab:" + session_id()
    return "browser:" + hashlib.sha256(b"room-voter:" + token).hexdigest()[:32]
