"""Keep the server's resident memory flat under many threads (glibc's allocator, Linux only).

Each thread that allocates gets its own malloc arena by default (up to 8 per core), and freed
activation memory stays inside those arenas instead of going back to the system. With dozens of
Streamlit session threads that shows as resident memory that only grows. `malloc_trim`, called
when a model queue goes idle, hands those freed pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import cache

log = logging.getLogger(__name__)


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # glibc only (musl has none)
        return libc
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Return freed heap pages to the system (a few milliseconds)."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))


def resident_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB (Linux), 0.0 where unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
