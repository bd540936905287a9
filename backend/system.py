"""A one-line description of where the models run, for the home page."""

from __future__ import annotations

import torch

from backend import device as devices


def runtime_summary() -> str:
    target = devices.select_device()
    threads = devices.available_cores() if target.type == "cpu" else None
    where = devices.describe(target) if threads is None else f"CPU ({threads} threads)"
    return f"Models run on: {where} · PyTorch {torch.__version__}"
