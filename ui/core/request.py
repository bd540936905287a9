"""One backend call of a page, as a value: what it computes and where its answer is kept.

Each page's `request.py` builds these from the page's input values (a dict keyed by widget key).
The page, the start-up examples, the static site and the first calls at server start all build
their calls there, so an input means the same thing everywhere. Nothing here draws.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from backend.runtime.scheduler import Job


@dataclass(frozen=True)
class Request:
    """`submit(**owner)` queues the call (owner, slot and client name who asked; none at start-up);
    its answer is shared by every session under `key` in the memory called `memory`, which keeps
    the latest `max_entries` answers."""

    memory: str
    key: Hashable
    submit: Callable[..., Job]
    max_entries: int = 64
