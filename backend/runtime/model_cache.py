"""Load each model once per process, thread-safely, and hand out a lock for inference on it.

A loaded model is shared by every Streamlit session and thread. Loading is guarded per model
(two sessions asking at once get one copy); inference goes through `LoadedModel.lock`, because
PyTorch modules and fast tokenizers are not safe to use from several threads at once.

Memory is bounded: the packaged defaults stay loaded for good, and the models a visitor named
(Hub, timm, torchvision) and Gemma 3, which ships in a package but no page opens with, share a
budget (`DASHBOARD_MODEL_MEMORY_MB`); the least recently used one is dropped when a new one would
not fit, and one larger than the whole budget is refused. A
failed load leaves nothing behind. Every forward pass of a loaded model first checks that its
request may go on (`scheduler.checkpoint`: the time limit, the visitor still there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from backend.runtime import device as devices
from backend.runtime import memory
from backend.runtime.errors import ModelUnavailableError
from backend.runtime.loaded_model import LoadedModel, Loader
from backend.runtime.registry import MODELS, ModelSpec, get_spec, is_allowed
from backend.runtime.scheduler import checkpoint
from backend.runtime.settings import env_number
from backend.shared.language import t

log = logging.getLogger(__name__)
BUDGET_ENV = "DASHBOARD_MODEL_MEMORY_MB"
DEFAULT_BUDGET_MB = 2000.0  # for models named by visitors; the defaults (about 700 MB) are extra
_loaded: OrderedDict[str, LoadedModel] = OrderedDict()  # least recently used first
_load_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def budget_mb() -> float:
    return env_number(BUDGET_ENV, DEFAULT_BUDGET_MB, 0.0)


def model_mb(model: object) -> float:
    """Weights and buffers of a module, in MB."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def pinned(spec: ModelSpec) -> bool:
    """The packaged defaults are never evicted: every page needs one of them. A packaged model that
    is no page's default (Gemma 3) counts against the budget like one a visitor named."""
    return spec.source == "package" and not spec.optional


def _evict_for(new_mb: float) -> None:
    """Drop least recently used visitor-named models until `new_mb` more fits the budget."""
    with _registry_lock:
        named = [(key, m) for key, m in _loaded.items() if not pinned(m.spec)]
        used = sum(model_mb(m.model) for _, m in named)
        for key, loaded in named:
            if used + new_mb <= budget_mb():
                break
            del _loaded[key]
            used -= model_mb(loaded.model)
            log.warning("Dropped %s from memory (least recently used; budget %.0f MB)", loaded.spec.name, budget_mb())


def _loader_for(spec: ModelSpec) -> Loader:
    # transformers and timm are imported when the first model is needed, not when a page starts
    from backend.runtime import loaders

    return loaders.LOADERS_BY_KEY.get(spec.key) or loaders.LOADERS[(spec.source, spec.kind)]


def tokenizer_of(spec: ModelSpec) -> object:
    """A packaged decoder's tokenizer alone, without loading its model (Gemma 3's tokenizer view)."""
    from backend.runtime import loaders  # as above: transformers is imported when first needed

    return loaders.tokenizer_only(spec)


def get_model(key: str) -> LoadedModel:
    """The loaded model for a registry key; loads it on first use, once per process."""
    spec = get_spec(key)  # public mode: refused here unless allowed, before any download
    with _registry_lock:
        cached = _loaded.get(key)
        if cached is not None:
            _loaded.move_to_end(key)
            return cached
        lock = _load_locks.setdefault(key, threading.Lock())
    try:
        with lock:
            cached = _loaded.get(key)
            if cached is not None:
                return cached
            loaded = _load(spec)
            with _registry_lock:
                _loaded[key] = loaded
            return loaded
    finally:
        with _registry_lock:
            if key not in _loaded and not lock.locked():
                _load_locks.pop(key, None)  # a failed load leaves nothing behind


def _load(spec: ModelSpec) -> LoadedModel:
    devices.configure_threads()
    target = devices.select_device()
    started = time.perf_counter()
    try:
        loaded = _loader_for(spec)(spec, target)
    except ModelUnavailableError:
        raise
    except ImportError as exc:
        raise ModelUnavailableError(
            "{model} needs the package '{package}', which is not installed ({error}). Run the setup "
            "command from the README.", model=spec.name, package=spec.location, error=exc,
        ) from exc
    size = model_mb(loaded.model)
    if not pinned(spec):
        if size > budget_mb():
            raise ModelUnavailableError(
                "{model} needs {size} MB, more than the {budget} MB this server keeps for models named by "
                "visitors. Pick a smaller model.", model=spec.name, size=f"{size:,.0f}", budget=f"{budget_mb():,.0f}",
            )
        _evict_for(size)
    loaded.model.eval()
    # Shared weights are never trained here: no gradient is kept for them, so explanations
    # (which need gradients of activations only) neither compute nor accumulate one.
    loaded.model.requires_grad_(False)
    # Every forward pass, and every block inside one, first checks that its request may go on
    # (time limit, someone still waiting): a stopped request ends within one block, not one batch.
    loaded.extras["checkpoint_hooks"] = _add_checkpoints(loaded.model)
    loaded.load_seconds = time.perf_counter() - started
    log.warning("Loaded %s (%.0f MB) on %s in %.1f s", spec.name, size, target, loaded.load_seconds)
    if pinned(spec):  # it stays for good: later full collections need not walk it
        memory.keep_out_of_collections()
    return loaded


def _add_checkpoints(model: object, depth: int = 3) -> int:
    """A `checkpoint()` pre-hook on the model and on its modules up to `depth` names deep
    (`blocks.3.1`, `encoder.layer.5`, `model.layers.12`); returns how many."""
    hooked = 0
    for name, module in model.named_modules():
        if len(name.split(".")) <= depth:
            module.register_forward_pre_hook(lambda module, args: checkpoint())
            hooked += 1
    return hooked


def is_loaded(key: str) -> bool:
    return key in _loaded


def loaded_keys() -> list[str]:
    """Loaded models, least recently used first."""
    with _registry_lock:
        return list(_loaded)


def loaded_model_rows() -> list[dict[str, object]]:
    """One row per model this server offers (and per visitor-named one it holds): its real size,
    device and load time once loaded in this process, else `None` and "not loaded yet" (the texts in
    the reader's language: a page draws the rows as it asks for them)."""
    with _registry_lock:
        loaded = dict(_loaded)
    keys = [key for key in MODELS if is_allowed(key)] + [key for key in loaded if key not in MODELS]
    rows = []
    for key in keys:
        found = loaded.get(key)
        spec = found.spec if found is not None else MODELS[key]
        params = (
            sum(p.numel() for p in found.model.parameters()) / 1e6 if found is not None else spec.params_millions
        )
        rows.append({
            "model": spec.name,
            "parameters (M)": None if params is None else round(params, 1),
            "memory (MB)": None if found is None else round(model_mb(found.model), 1),
            "device": t("not loaded yet") if found is None else devices.describe(found.device, shown=True),
            "load time (s)": None if found is None else round(found.load_seconds, 2),
        })
    return rows
