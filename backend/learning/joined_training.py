"""A room's training runs in one loop: the toy queue's worker trains every run that is under way
together, one epoch of each at a time.

A run (`submit_training`) is a joinable job: the first hands the queue's worker a `TrainingRoom`
(the scheduler's `JoinedBatch`), which runs until its last run ends. Before each epoch it drops
the runs nobody follows any more (their visitors pressed Pause or left), seats the runs waiting on
the queue (up to `max_seated()`), each in the `Stack` of its shape, and then trains one epoch of
every stack: runs of one shape share each forward and backward pass, and a stack of twelve costs
about what one run costs. Each snapshot goes to its run's job; a run that ends finishes its job
with its last snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from backend.learning.toy_stack import News, Row, Snapshot, Stack, one_thread
from backend.runtime.errors import DashboardError
from backend.runtime.scheduler import Job, ModelQueue
from backend.runtime.settings import env_number

log = logging.getLogger(__name__)

SEATS_ENV = "DASHBOARD_TRAINING_SEATS"
DEFAULT_SEATS = 48  # runs in training at once; more wait for a seat (a default run is ~1 s of work)
ROW_SECONDS = 2.0  # a run's time, to guess a seat's wait: the default run on 2 cores (bench/learn.py)


def max_seated() -> int:
    return int(env_number(SEATS_ENV, DEFAULT_SEATS, 1))


class SeatedRun:
    """What a training job's task returns: a run that trains in the room's loop."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.last: Snapshot | None = None  # its newest snapshot

    def joined_batch(self, queue: ModelQueue, job: Job) -> TrainingRoom:
        room = TrainingRoom(queue, job.task)
        room.add(job, self)
        return room


class TrainingRoom:
    """The runs in training on one queue: a `Stack` per shape, and which job each run belongs to."""

    def __init__(self, queue: ModelQueue, task: Callable[..., Any]) -> None:
        self.queue = queue
        self.task = task  # what opens this room's runs: waiting jobs with the same one join it
        self.stacks: dict[tuple, Stack] = {}
        self.jobs: dict[Row, tuple[Job, SeatedRun]] = {}

    def wait_seconds(self, ahead: int, seated: int) -> float:
        free = max_seated() - seated
        return 0.0 if ahead < free else ROW_SECONDS * (1 + (ahead - free) // max(1, max_seated()))

    def add(self, job: Job, run: SeatedRun) -> None:
        stack = self.stacks.setdefault(run.row.shape, Stack(run.row.shape))
        self.jobs[run.row] = (job, run)
        self._tell(stack.add([run.row]))

    def seat(self, job: Job) -> None:
        """Open a waiting job's run (its checks, its data) and seat it; a bad request fails alone."""
        try:
            run: SeatedRun = job.task(*job.args)
            self.add(job, run)
        except Exception as exc:
            if not isinstance(exc, DashboardError):
                log.exception("A training run could not start on %s", self.queue.name)
            self.queue.finish(job, exc)

    def run(self) -> None:
        """The worker's loop while runs are in training (the first is seated already)."""
        try:
            with one_thread():
                while self.jobs:
                    self.leave_if_unwanted()
                    for job in self.queue.take(self._joins, max_seated() - len(self.jobs)):
                        self.seat(job)
                    self.queue.run_one_between_steps()
                    for shape, stack in list(self.stacks.items()):
                        self._epoch(stack)
                        if not stack.rows:
                            del self.stacks[shape]
        finally:
            for job, _run in self.jobs.values():  # only after an unexpected error in the loop itself
                self.queue.finish(job, RuntimeError("The training run ended unexpectedly. Train again."))
            self.jobs.clear()

    def _joins(self, job: Job) -> bool:
        return job.joinable and job.task is self.task

    def leave_if_unwanted(self) -> None:
        """Runs nobody follows end at once, with their newest snapshot."""
        for row, (job, run) in list(self.jobs.items()):
            if job.abandoned:
                self.stacks[row.shape].drop([row])
                del self.jobs[row]
                self.queue.finish(job, run.last)

    def _epoch(self, stack: Stack) -> None:
        try:
            news = stack.epoch()
        except Exception as exc:  # the stack's pass failed: each of its runs gets the error
            if not isinstance(exc, DashboardError):
                log.exception("A training epoch on %s failed", self.queue.name)
            for row in stack.rows:
                job, _run = self.jobs.pop(row)
                self.queue.finish(job, exc)
            stack.drop(list(stack.rows))
            return
        self._tell(news)

    def _tell(self, news: list[News]) -> None:
        for row, snapshot, ended in news:
            job, run = self.jobs[row]
            if snapshot is not None:
                run.last = snapshot
                job.publish(snapshot)
            if ended:
                del self.jobs[row]
                self.queue.finish(job, run.last)
        size = len(self.jobs)
        for job, _run in self.jobs.values():
            job.batch_size = size
