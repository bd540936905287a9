"""Uploads held in memory, counted: a cap on how many visitors' uploaded images the server keeps.

An uploaded image is decoded once and kept in its browser session, so that reruns do not decode it
again (and Streamlit keeps the file itself while the tab is open). Hundreds of tabs, each holding
one, would fill a small server's memory, so the sessions holding an upload are counted, for the
whole server and per address (`limits().held_uploads`, `held_uploads_per_address`). Past either,
a new upload is refused with a message saying what to do (an example photo, another tab's upload
removed, a few minutes' wait) and is neither decoded nor kept. A session's place is given back
when it removes its upload or switches to an example (`release`), or once its tab has closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from backend.runtime.errors import BusyError
from backend.runtime.public_mode import limits
from backend.runtime.scheduler import SCHEDULER


class HeldUploads:
    """Which sessions hold an uploaded image, and from which address."""

    def __init__(self, alive: Callable[[str | None], bool] | None = None) -> None:
        self._held: dict[str, str | None] = {}  # session -> its address
        self._lock = threading.Lock()
        self._alive = alive  # None: ask the scheduler, whose sessions the app keeps up to date

    def hold(self, owner: str | None, client: str | None) -> None:
        """Count `owner`'s upload (one place per session: a new file replaces its last). Raises
        `BusyError` when the address, or the server, holds as many as it may here."""
        if owner is None:  # a script or test, not a visitor's tab
            return
        caps = limits()
        with self._lock:
            if owner in self._held:
                return
            self._let_go_of_closed_tabs()
            from_there = sum(1 for c in self._held.values() if client is not None and c == client)
            if from_there >= caps.held_uploads_per_address:
                raise BusyError(
                    "Your address already has uploaded images open in {tabs} tabs, the most one address may have "
                    "here. Remove the upload in another tab (or close it), or use an example photo.", tabs=from_there,
                )
            if len(self._held) >= caps.held_uploads:
                raise BusyError(
                    "The server is holding uploaded images for {visitors} visitors, the most it keeps at once here. "
                    "Use an example photo, or upload again in a few minutes: an upload is let go when its tab closes.",
                    visitors=len(self._held),
                )
            self._held[owner] = client

    def release(self, owner: str | None) -> None:
        """`owner` no longer holds an upload (removed, replaced by an example, or refused)."""
        with self._lock:
            self._held.pop(owner, None)

    def __len__(self) -> int:
        with self._lock:
            self._let_go_of_closed_tabs()
            return len(self._held)

    def _let_go_of_closed_tabs(self) -> None:
        alive = self._alive or SCHEDULER.owner_alive
        for owner in [o for o in self._held if not alive(o)]:
            del self._held[owner]


UPLOADS = HeldUploads()
