"""The toy network's example runs (the default and each preset), trained once at server start and
kept: a room pressing Train on an example's settings is answered at once, as the other pages'
examples are. Runs are deterministic, so a kept run is exactly the one a click would compute."""

from __future__ import annotations

import threading

from backend.learning.toy_stack import TrainState
from backend.learning.toy_training import ToySettings, preset, submit_training
from backend.runtime.scheduler import Job
from ui.learn.inputs import PRESET_VALUES

_lock = threading.Lock()
_finished: dict[ToySettings, Job] = {}  # at most one per example: bounded


def example_settings() -> list[ToySettings]:
    """The default run's settings, then each preset's."""
    return [ToySettings(), *(preset(name) for name in PRESET_VALUES)]


def keep(settings: ToySettings) -> Job:
    """Train an example's run now (at start-up) and keep it."""
    job = submit_training(settings)
    job.wait()
    job.outcome()  # raises the run's error
    with _lock:
        _finished[settings] = job
    return job


def kept_or_submitted(settings: ToySettings, start: TrainState | None = None, until: int | None = None,
                      **owner: str | None) -> Job:
    """A whole run from scratch on an example's settings is the kept one; anything else is trained."""
    if start is None and until is None:
        with _lock:
            kept = _finished.get(settings)
        if kept is not None:
            return kept
    return submit_training(settings, start, until, **owner)
