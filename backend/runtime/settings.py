"""Reading the dashboard's settings from the environment, one way for all of them."""

from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    """True when the variable is 1, true, yes or on (any case); read on every call."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def env_number(name: str, default: float, low: float) -> float:
    """The variable as a number of at least `low`; `default` when unset or not a number."""
    try:
        return max(low, float(os.environ.get(name, default)))
    except ValueError:
        return default
