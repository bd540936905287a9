"""Where the dashboard keeps what it converts, fits or computes once (the converted decoders, the
sentiment head, the learning page's sentence vectors), and how one such file is read or made."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

CACHE_ENV = "DASHBOARD_CACHE_DIR"


def cache_root() -> Path:
    """DASHBOARD_CACHE_DIR, else $XDG_CACHE_HOME/ai-dashboard, else ~/.cache/ai-dashboard."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ai-dashboard"


def kept_file(path: Path, make: Callable[[], dict], what: str) -> dict:
    """The tensors saved at `path`, else `make()`'s, saved there: under a temporary name and
    renamed, so two processes never see half a file. A damaged file is made again and an unwritable
    folder only logged (`what` names the contents in the log): never fatal."""
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:
            log.warning("Making %s again: could not read %s", what, path)
    made = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            torch.save(made, tmp)
        os.replace(tmp.name, path)
    except OSError:
        log.warning("Could not save %s to %s; it will be made again next start", what, path)
    return made
