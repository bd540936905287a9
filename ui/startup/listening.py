"""The server's first check: where it listens against public mode (backend.runtime.listening)."""

from __future__ import annotations

import logging
import sys

import streamlit as st

from backend.runtime.listening import check_listening

log = logging.getLogger(__name__)


def check_listening_address() -> None:
    """Print and log a warning, or refuse to start (Streamlit then exits with an error status)."""
    check = check_listening(st.get_option("server.address"))
    if not check.message:
        return
    banner = "!" * 78
    print(f"\n{banner}\n{check.message}\n{banner}\n", file=sys.stderr, flush=True)
    if check.refused:
        log.error(check.message)
        raise SystemExit(check.message)
    log.warning(check.message)
