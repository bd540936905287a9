"""Where the dashboard keeps what it converts or fits once (the SmolLM2 safetensors, the sentiment head)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "DASHBOARD_CACHE_DIR"


def cache_root() -> Path:
    """DASHBOARD_CACHE_DIR, else $XDG_CACHE_HOME/ai-dashboard, else ~/.cache/ai-dashboard."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ai-dashboard"
