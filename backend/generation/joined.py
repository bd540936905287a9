"""A room's generations decoded as one batch: the loop a model queue's worker runs for them.

A joinable generation (`submit_generate`) hands the queue's worker a `JoinedRun` (the
scheduler's `JoinedBatch`), which runs until its last row ends. Before each step it ends the rows
whose visitor pressed Stop or left, seats the joinable jobs waiting on the same queue (up to
`max_joined()`), and lets one waiting request of another kind (a logit lens, a look back) run
between two steps; then one step of the `BatchDecoder` gives every row its next token, published
to that row's own job. A row that ends finishes its job at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from backend.generation.batch_decoder import BatchDecoder, DecodedStream
from backend.runtime.errors import DashboardError
from backend.runtime.scheduler import Job, ModelQueue
from backend.runtime.settings import env_number

log = logging.getLogger(__name__)

JOINED_ENV = "DASHBOARD_GENERATION_BATCH"
# Every seat up to 24 still adds throughput on 2 cores, and 24 rows of 300 tokens hold about
# 0.3 GB of key/value cache (bench/RESULTS.md, "A room generating together").
DEFAULT_JOINED = 24
# The wait for a row seated but not yet in the decoder, with no other row to compare: about one
# visitor's 48-token answer on 2 cores (bench/room.py).
UNKNOWN_ROW_SECONDS = 5.0


def max_joined() -> int:
    """How many generations decode together on one model; more wait in line for a seat."""
    return int(env_number(JOINED_ENV, DEFAULT_JOINED, 1))


def seat_wait_seconds(left: list[float], ahead: int, seated: int) -> float:
    """When a waiting joinable job gets a seat, given the seconds each decoding row has `left`:
    with `ahead` joinable jobs before it, about when that many more rows than the free seats
    have ended. `seated` counts the jobs taken into the batch, some of which may not have
    reached the decoder yet (their rows are guessed as long as the longest known one)."""
    guess = max(left, default=UNKNOWN_ROW_SECONDS)
    left = sorted(left + [guess] * max(0, seated - len(left)))
    free = max_joined() - len(left)
    if ahead < free:
        return 0.0
    return left[min(ahead - free, len(left) - 1)]


class SeatedStream(DecodedStream, Protocol):
    """A stream the loop seats: one the decoder can decode, which seats itself in it."""

    def join(self, decoder: BatchDecoder) -> None:
        """Begin, seated in `decoder` (prefilled at its next step)."""


class JoinedRun:
    """The running batch of one queue: its decoder, and which job each seated stream belongs to."""

    def __init__(self, queue: ModelQueue, decoder: BatchDecoder, task: Callable[..., Any]) -> None:
        self.queue = queue
        self.decoder = decoder
        self.task = task  # what opens this batch's streams: waiting jobs with the same one join
        self.jobs: dict[DecodedStream, Job] = {}  # seated stream -> its job

    def wait_seconds(self, ahead: int, seated: int) -> float:
        return seat_wait_seconds(self.decoder.seconds_left(), ahead, seated)

    def add(self, job: Job, stream: SeatedStream) -> None:
        """Seat the stream `job` opened (it is prefilled at the next step)."""
        stream.join(self.decoder)
        self.jobs[stream] = job

    def seat(self, job: Job) -> None:
        """Open a waiting job's stream (its checks, its tokens) and seat it; a bad request fails alone."""
        try:
            stream: SeatedStream = job.task(*job.args)
            self.add(job, stream)
        except Exception as exc:
            if not isinstance(exc, DashboardError):
                log.exception("A generation could not start on %s", self.queue.name)
            self.queue.finish(job, exc)

    def run(self) -> None:
        """The worker's loop while this batch has rows (the first is seated already)."""
        try:
            while self.jobs:
                self.leave_if_unwanted()
                for job in self.queue.take(self._joins, max_joined() - len(self.jobs)):
                    self.seat(job)
                self.queue.run_one_between_steps()
                if self.jobs:
                    self.step()
        finally:
            for job in self.jobs.values():  # only after an unexpected error in the loop itself
                self.queue.finish(job, RuntimeError("The generation ended unexpectedly. Ask again."))
            self.jobs.clear()

    def _joins(self, job: Job) -> bool:
        return job.joinable and job.task is self.task

    def leave_if_unwanted(self) -> None:
        for stream, job in self.jobs.items():
            if job.abandoned:
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
