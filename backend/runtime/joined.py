"""Streams that decode together: a model queue's worker running a room's generations as one batch.

`run_joined(queue, first)` is the worker's loop for joinable jobs (scheduler.py). Before each step
it ends the rows whose visitor pressed Stop or left, seats the joinable jobs waiting on the same
queue (up to `max_joined()`), and runs one waiting request of another kind (a logit lens, a look
back) between two steps; then one step of the decoder gives every row its next token, published
to that row's own job. A row that ends finishes its job at once; the loop ends with the last row.
"""

from __future__ import annotations

import logging
from typing import Any

from backend.runtime.errors import DashboardError
from backend.runtime.settings import env_number

log = logging.getLogger(__name__)

JOINED_ENV = "DASHBOARD_GENERATION_BATCH"
# Measured outside the app on both of 2 cores (README "Seats"): a decode step of 24 rows
# takes about 1.5x one row's, so 24 seats still add throughput; the key/value cache of 24 rows of 300 tokens is 0.3 GB.
DEFAULT_JOINED = 24
# A row seated but not yet in the decoder, with no other row to compare: about one visitor's
# 48-token answer on 2 cores (bench/room.py).
UNKNOWN_ROW_SECONDS = 5.0


def max_joined() -> int:
    """How many generations decode together on one model; more wait in line for a seat."""
    return int(env_number(JOINED_ENV, DEFAULT_JOINED, 1))


class Joined:
    """The running batch of one queue: which job each stream belongs to, and the seats' estimate."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.decoder: Any = None  # made by the first stream seated (`together()`)
        self.jobs: dict[Any, Any] = {}  # stream -> its job

    def wait_seconds(self, ahead: int, seated: int) -> float:
        """A waiting job with `ahead` joinable jobs before it gets a seat about when that many
        more rows than the free seats have ended. `seated` counts the jobs taken into the batch,
        some of which may not have reached the decoder yet (their rows are guessed as long as
        the longest known one)."""
        left = self.decoder.seconds_left() if self.decoder is not None else []
        guess = max(left, default=UNKNOWN_ROW_SECONDS)
        left = sorted(left + [guess] * max(0, seated - len(left)))
        free = max_joined() - len(left)
        if ahead < free:
            return 0.0
        return left[min(ahead - free, len(left) - 1)]

    def seat(self, job: Any) -> None:
        """Open the job's stream (its checks and tokens) and seat it; a bad request fails alone."""
        try:
            stream = job.task(*job.args)
            if self.decoder is None:
                self.decoder = stream.together()
            stream.join(self.decoder)
        except Exception as exc:
            if not isinstance(exc, DashboardError):
                log.exception("A generation could not start on %s", self.queue.name)
            self.queue.finish(job, exc)
            return
        self.jobs[stream] = job

    def leave_if_unwanted(self) -> None:
        alive = self.queue.scheduler.owner_alive
        for stream, job in self.jobs.items():
            if job.stop_requested or not job.wanted(alive):
                stream.stop()  # the decoder drops it before its next token

    def step(self) -> None:
        try:
            news = self.decoder.step()
        except Exception as exc:  # the batch's forward pass failed: every row gets the error
            if not isinstance(exc, DashboardError):
                log.exception("A joined step on %s failed", self.queue.name)
            for job in self.jobs.values():
                self.queue.finish(job, exc)
            self.jobs.clear()
            return
        for stream, piece, ended in news:
            job = self.jobs[stream]
            if piece is not None:
                job.publish(piece)
            if ended:
                self.queue.finish(job, stream)
                del self.jobs[stream]
        size = len(self.jobs)
        for job in self.jobs.values():
            job.batch_size = size


def run_joined(queue: Any, first: Any) -> None:
    """The worker's loop while joinable jobs run on `queue` (`first` is already taken)."""
    joined = Joined(queue)
    joined.seat(first)
    queue.joined = joined
    try:
        while joined.jobs:
            joined.leave_if_unwanted()
            for job in queue.take(lambda j: j.joinable and j.task is first.task, max_joined() - len(joined.jobs)):
                joined.seat(job)
            _run_one_other(queue)
            if joined.jobs:
                joined.step()
    finally:
        queue.joined = None
        for job in joined.jobs.values():  # only after an unexpected error in the loop itself
            queue.finish(job, RuntimeError("The generation ended unexpectedly. Ask again."))


def _run_one_other(queue: Any) -> None:
    """A request of another kind waiting on the same model runs between two steps."""
    head = queue.take(lambda j: not j.joinable, 1)
    if not head:
        return
    batch = head
    if head[0].batch_key is not None:
        batch += queue.take(lambda j: j.batch_key == head[0].batch_key, queue.max_batch - 1)
    queue.run_batch(batch)
