"""What a loaded model is, and what every answer says about the call that made it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from backend.runtime import device as devices
from backend.runtime.registry import ModelSpec


@dataclass(frozen=True)
class RunInfo:
    """What ran, where, and how long the call took (shown under every answer)."""

    model: str
    device: str
    seconds: float


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: torch.nn.Module
    preprocessor: Any  # a tokenizer, or an image transform
    device: torch.device
    load_seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    precision: str = ""  # chosen for this machine, said in every run info: "MLPs in bf16 (CPU has AMX)"

    def run_info(self, started: float) -> RunInfo:
        where = devices.describe(self.device)
        return RunInfo(
            model=self.spec.name,
            device=f"{where}, {self.precision}" if self.precision else where,
            seconds=time.perf_counter() - started,
        )


Loader = Callable[[ModelSpec, torch.device], LoadedModel]
