"""Keep the server's resident memory flat under many threads (glibc's allocator, Linux only).

Each thread that allocates gets its own malloc arena by default (up to 8 per core), and freed
activation memory stays inside those arenas instead of going back to the system. With dozens of
Streamlit session threads that shows as resident memory that only grows. `malloc_trim`, called
when a model queue goes idle, hands those freed pages back; so does a trimmer thread every few
seconds while no model computes, for what the page threads free (figures, encoded messages).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
import threading
from collections.abc import Callable
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


MADV_PAGEOUT = 21  # Linux 5.4+
# PyPI's torch is the CUDA build: these libraries load with torch even on a CPU, never to run there.
_CUDA_LIBRARIES = ("/nvidia/", "/libtorch_cuda.so", "/cuda/bindings/")


def page_out_cuda_libraries() -> int:
    """On a CPU, hand back the pages of the CUDA libraries that loading them read in (about
    140 MB of resident memory with torch 2.14's CUDA build). Only read-only mappings of files are
    touched, so a page that is ever needed again is simply read back from the file. Returns how
    many mappings were paged out (0 where madvise or MADV_PAGEOUT is missing)."""
    libc = _libc()
    if libc is None:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) < 6 or "w" in fields[1] or not any(part in fields[5] for part in _CUDA_LIBRARIES):
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if libc.madvise(start, end - start, MADV_PAGEOUT) != 0:
                    return done  # an older kernel: nothing to gain
                done += 1
    except OSError:
        pass
    return done


def release_free_memory() -> bool:
    """Return freed heap pages to the system (a few milliseconds)."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))


def keep_out_of_collections() -> None:
    """Move every object alive now out of the cycle collector's sight, after one collection.

    Called when a model that stays for good has loaded. A full collection walks every tracked
    object: with the models and libraries loaded that took 300-400 ms, with the GIL held, so every
    thread stopped (twelve visitors' pages finishing together stalled the room for 4 s). Frozen
    (`gc.freeze`), the long-lived objects are skipped; what is created later is collected as before.
    An object frozen here is never freed by the collector, only by reference counting, so this is
    for what stays: the packaged models, the libraries, the server."""
    gc.collect()
    gc.freeze()


def trim_while_idle(busy: Callable[[], bool], every: float = 10.0) -> threading.Thread:
    """Start a daemon thread that, every `every` seconds unless `busy()`, collects Python's
    reference cycles (closed sessions leave some) and returns freed memory to the system."""
    stop = threading.Event()

    def trim() -> None:
        while not stop.wait(every):
            if not busy():
                gc.collect()  # closed sessions' reference cycles first: their memory is then free to hand back
                release_free_memory()

    thread = threading.Thread(target=trim, name="memory-trim", daemon=True)
    thread.stop = stop.set  # type: ignore[attr-defined]  # for tests
    thread.start()
    return thread


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
