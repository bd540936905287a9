"""Load each model once per process, thread-safely, and hand out a lock for inference on it.

A loaded model is shared by every Streamlit session and thread. Loading is guarded per model
(two sessions asking at once get one copy); inference goes through `LoadedModel.lock`, because
PyTorch modules and fast tokenizers are not safe to use from several threads at once.
"""

from __future__ import annotations

import logging
import threading
import time

from backend.runtime import device as devices
from backend.runtime.errors import ModelUnavailableError
from backend.runtime.loaded_model import LoadedModel, Loader
from backend.runtime.registry import ModelSpec, get_spec

log = logging.getLogger(__name__)
_loaded: dict[str, LoadedModel] = {}
_load_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _loader_for(spec: ModelSpec) -> Loader:
    # transformers and timm are imported when the first model is needed, not when a page starts
    from backend.runtime import loaders

    return loaders.LOADERS[(spec.source, spec.kind)]


def get_model(key: str) -> LoadedModel:
    """The loaded model for a registry key; loads it on first use, once per process."""
    spec = get_spec(key)
    cached = _loaded.get(key)
    if cached is not None:
        return cached
    with _registry_lock:
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        cached = _loaded.get(key)
        if cached is not None:
            return cached
        devices.configure_threads()
        target = devices.select_device()
        started = time.perf_counter()
        try:
            loaded = _loader_for(spec)(spec, target)
        except ModelUnavailableError:
            raise
        except ImportError as exc:
            raise ModelUnavailableError(
                f"{spec.name} needs the package '{spec.location}', which is not installed "
                f"({exc}). Run the setup command from the README."
            ) from exc
        loaded.model.eval()
        # Shared weights are never trained here: no gradient is kept for them, so explanations
        # (which need gradients of activations only) neither compute nor accumulate one.
        loaded.model.requires_grad_(False)
        loaded.load_seconds = time.perf_counter() - started
        log.warning("Loaded %s on %s in %.1f s", spec.name, target, loaded.load_seconds)
        _loaded[key] = loaded
        return loaded


def is_loaded(key: str) -> bool:
    return key in _loaded
