"""Finished generations of the generation page's examples, kept since start-up.

A generation is not kept in the shared memory of answers (the page follows it as it streams), so
the examples' finished generations have this small store: the Generate click of an example with
its default settings gets the stored finished job (its stream and every step's record) at once;
any other prompt or setting generates live.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

import streamlit as st

from backend.runtime.scheduler import Job
from ui.core.request import Request
from ui.core.state import defaults
from ui.generate import inputs
from ui.generate.request import generation

FINISHED = ("end of answer", "max new tokens")  # not cut short by Stop or the time limit


def as_left_by_a_click(examples: Mapping[str, dict[str, Any]], page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each example's widget values as its click leaves them: the example's own, and in the fields
    it does not set, the page's default or what an earlier example set there ("Once upon a time"
    turns the chat template off, and the next example leaves it off)."""
    found = []
    for title, example in examples.items():
        variants = [page | example]
        for key in dict.fromkeys(k for other in examples.values() for k in other if k not in example):
            values = dict.fromkeys([page[key], *(other[key] for other in examples.values() if key in other)])
            variants = [v | {key: value} for v in variants for value in values]
        found += [(title, v) for v in variants]
    return found


def example_generations() -> dict[Hashable, str]:
    """The request key of each example as its click leaves the page -> the example's title."""
    page = defaults(inputs.fields())
    return {generation(values).key: title for title, values in as_left_by_a_click(inputs.EXAMPLES, page)}


class _FinishedGenerations:
    """Finished generations of the examples (bounded: only example keys are kept, and at most
    `max_entries`), each the finished job the page draws as it draws one it has just followed."""

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def keep_when_finished(self, key: Hashable, job: Job) -> None:
        def settle(ended: Job) -> None:
            if ended.state != "done" or ended.outcome().stop_reason not in FINISHED:
                return
            with self._lock:
                self._jobs[key] = ended
                self._jobs.move_to_end(key)
                while len(self._jobs) > self.max_entries:
                    self._jobs.popitem(last=False)

        job.on_finish(settle)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


@st.cache_resource(show_spinner=False)
def finished_generations() -> _FinishedGenerations:
    return _FinishedGenerations()


def kept_or_submitted(request: Request, **owner: str | None) -> Job:
    """The stored finished generation when `request` is an example's; else the job it queues for
    `owner`, kept when it finishes if it is an example's."""
    store = finished_generations()
    found = store.get(request.key)
    if found is not None:
        return found
    job = request.submit(**owner)
    if request.key in example_generations():
        store.keep_when_finished(request.key, job)
    return job
