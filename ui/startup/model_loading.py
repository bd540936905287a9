"""Load the offline default models in the background, once per process."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from backend.runtime.model_cache import get_model
from backend.runtime.registry import default_model
from backend.runtime.scheduler import SCHEDULER

log = logging.getLogger(__name__)
_started = threading.Event()
_lock = threading.Lock()
WARMUP_ENV = "DASHBOARD_WARMUP"  # set to 0 to load models only when first asked for


def default_keys() -> list[str]:
    # Quickest first: the two small models are ready in seconds, SmolLM2 may first need converting.
    keys = [default_model(task).key for task in ("classification", "image", "generation")]
    return list(dict.fromkeys(keys))


def wait_until_idle(quiet: float = 1.5, limit: float = 30.0) -> None:
    """Give way to visitors: return once no model has computed for anyone for `quiet` seconds
    (a page draws one answer before it asks for its explanation), or after `limit` seconds."""
    now = time.monotonic()
    deadline, last_busy = now + limit, now - quiet
    while time.monotonic() < deadline:
        now = time.monotonic()
        if SCHEDULER.busy():
            last_busy = now
        elif now - last_busy >= quiet:
            return
        time.sleep(0.1)


def _load_all(after_each: Callable[[str], None] | None, afterwards: Callable[[], None] | None) -> None:
    for key in default_keys():
        wait_until_idle()  # a visitor's request does not share the CPU with loading another model
        try:
            get_model(key)
        except Exception:  # the page asking for it will show the error to the user
            log.exception("Warm-up could not load %s", key)
            continue
        if after_each is not None:
            after_each(key)
    if afterwards is not None:
        afterwards()


def load_first_model() -> None:
    """Load the first default model now (the server's start-up waits for it), unless warm-up is off."""
    if os.environ.get(WARMUP_ENV, "1").strip() == "0":
        return
    try:
        get_model(default_keys()[0])
    except Exception:  # the page asking for it will show the error
        log.exception("Warm-up could not load %s", default_keys()[0])


def warm_up_in_background(
    after_each: Callable[[str], None] | None = None, afterwards: Callable[[], None] | None = None
) -> bool:
    """Start loading the default models (calling `after_each(key)` once each has loaded), then
    run `afterwards`, unless already started; True if this call started it."""
    if os.environ.get(WARMUP_ENV, "1").strip() == "0":
        return False
    with _lock:
        if _started.is_set():
            return False
        _started.set()
    threading.Thread(target=_load_all, args=(after_each, afterwards), name="model-warmup", daemon=True).start()
    return True
