"""Short links (`/?go=k3x9ab`): which view each code opens, in a bounded memory (no Streamlit).

Strangers create them too, so the memory is shared fairly:
- each address holds at most `per_address` links; one more replaces that address's own least
  recently used link, never anyone else's;
- each session's latest link (the one its QR code shows now) is kept while the session is open,
  whatever others create: a presenter's link is not pushed out in the middle of a talk;
- opening a link counts as use, so the links a room is opening stay;
- beyond `max_links` in all, the least recently used link that no open session shows goes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINKS = 2000
LAPTOP_PER_ADDRESS, PUBLIC_PER_ADDRESS = 200, 20


@dataclass
class _Entry:
    link: str
    address: str | None


class ShortLinks:
    """Short code -> view link, shared by every session. `alive(session)` says whether a session
    is still open (its pinned link is kept only while it is)."""

    def __init__(
        self, max_links: int = MAX_LINKS, per_address: int | Callable[[], int] = LAPTOP_PER_ADDRESS,
        alive: Callable[[str], bool] = lambda session: True,
    ) -> None:
        self.max_links = max_links
        self._per_address = per_address
        self._alive = alive
        self._links: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self._pinned: dict[str, str] = {}  # session -> the code its QR code shows
        self._lock = threading.Lock()

    @property
    def per_address(self) -> int:
        return self._per_address() if callable(self._per_address) else self._per_address

    @staticmethod
    def code(link: str) -> str:
        return hashlib.blake2b(link.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()  # same view, same code

    def shorten(self, link: str, address: str | None = None, session: str | None = None) -> str:
        """The code of `link`, made (or refreshed) for the visitor at `address` in `session`."""
        code = self.code(link)
        with self._lock:
            entry = self._links.get(code)
            if entry is None:
                entry = self._links[code] = _Entry(link, address)
            self._links.move_to_end(code)
            if session is not None:
                self._pinned[session] = code
            self._trim(address, keep=code)
        return code

    def resolve(self, code: str) -> str | None:
        """The link of `code` (its use keeps it), or None when it is not known (anymore)."""
        with self._lock:
            entry = self._links.get(code[:32])
            if entry is None:
                return None
            self._links.move_to_end(code[:32])
            return entry.link

    def __len__(self) -> int:
        with self._lock:
            return len(self._links)

    def _trim(self, address: str | None, keep: str) -> None:
        """Called with the lock held, after `keep` was made or used for `address`."""
        for session in [s for s in self._pinned if not self._alive(s)]:
            del self._pinned[session]
        pinned = set(self._pinned.values()) | {keep}
        if address is not None:
            held = [c for c, e in self._links.items() if e.address == address]
            mine = [c for c in held if c not in pinned]
            for code in mine[: max(0, len(held) - self.per_address)]:
                del self._links[code]
        unpinned = [c for c in self._links if c not in pinned]
        for code in unpinned[: max(0, len(self._links) - self.max_links)]:
            del self._links[code]
