"""Load the offline default models in the background, once per process."""

from __future__ import annotations

import logging
import os
import threading

from backend.runtime.model_cache import get_model
from backend.runtime.registry import default_model

log = logging.getLogger(__name__)
_started = threading.Event()
_lock = threading.Lock()
WARMUP_ENV = "DASHBOARD_WARMUP"  # set to 0 to load models only when first asked for


def default_keys() -> list[str]:
    # Quickest first: the two small models are ready in seconds, SmolLM2 may first need converting.
    keys = [default_model(task).key for task in ("classification", "image", "generation")]
    return list(dict.fromkeys(keys))


def _load_all() -> None:
    for key in default_keys():
        try:
            get_model(key)
        except Exception:  # the page asking for it will show the error to the user
            log.exception("Warm-up could not load %s", key)


def warm_up_in_background() -> bool:
    """Start loading the default models unless already started; True if this call started it."""
    if os.environ.get(WARMUP_ENV, "1").strip() == "0":
        return False
    with _lock:
        if _started.is_set():
            return False
        _started.set()
    threading.Thread(target=_load_all, name="model-warmup", daemon=True).start()
    return True
