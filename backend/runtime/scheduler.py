"""One fair queue per model: visitors take turns, and compatible requests run as one batch.

A loaded model is shared by every visitor. When a room full of people asks at once, each request
gets a `Job` in that model's queue; one worker thread per model takes jobs in turn: round-robin
between visitors, arrival order within one visitor's (`fairness.FairLine`). Every task queues
the same way, `SCHEDULER.submit(model_key, function, *args)`:
- alone: the worker calls `function(*args)`;
- `batched=True`: `function` takes a list in place of its first argument and returns one result
  (or exception) per element; requests for the same function with the same other arguments that
  arrive within `batch_wait` of the first one run as one call (one forward pass for 16 sentences
  costs far less than 16 passes);
- `streaming=True`: `function(*args)` returns an iterable; the worker publishes each item as it
  comes (`job.stream()`), closes the iterable early when Stop is asked or the owner's tab is gone,
  and the iterable itself is the job's result;
- `joinable=True` (a streaming job whose stream can decode with others: in-process generation):
  `function(*args)` returns a `JoinableStream`, which hands the worker its `JoinedBatch`; the
  batch seats every joinable job that waits on the same queue at its next step, so a room's
  generations share each forward pass (the loop lives beside the decoder, in the stream's own
  package). A request of another kind on the same model (logit lens, where it looked) runs
  between two steps (`run_one_between_steps`) instead of waiting for every generation to end.
A waiting job knows its place in line and an estimate of its wait, so a page can show it; a job
can be cancelled while it waits (its owner left), and a streaming job (generation) can be asked
to stop.

Bounds, for a room of strangers (`public_mode.limits()` gives the numbers):
- admission: a model's queue holds at most `queue_length` requests and one client address at most
  `jobs_per_address` unfinished ones; beyond that `submit` raises `BusyError` ("try again in N s");
- at most `heavy_slots()` models compute at once (one per core), whatever the number of queues;
- background work (a static export's views: `in_background()`) comes after every visitor's
  request in each line, does not join a running generation batch, and at most
  `background_slots()` of it computes at once (one core fewer than all), so the visitors who watch
  their answer keep a core however many exports are under way; running, it gives way to a
  visitor's request that arrives in its queue: it stops at its next forward pass, the visitor's
  request runs, and it starts again after (a visitor never waits for an export); a visitor asking
  for what a background job computes makes it theirs (it moves up to its turn);
- a running request calls `checkpoint()` (every forward pass of a loaded model does): past its
  wall-clock limit, or once nobody waits for it (its visitors left, or asked for something else),
  it ends (`JobStopped`, `JobCancelled`) instead of holding the model;
- a queue whose worker has been idle for `IDLE_SECONDS` is removed with its thread.

Owners and slots: a page passes who asks (the browser session) and where (the page). An owner has
at most one job per slot: asking again for the same thing while it runs returns the same job (a
second click does not start a second run), asking for something else replaces it, and
`leave_other_slots` gives up the owner's places on other pages.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import closing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.runtime.device import available_cores
from backend.runtime.errors import BusyError, DashboardError, JobStopped
from backend.runtime.fairness import FairLine
from backend.runtime.memory import release_free_memory
from backend.runtime.public_mode import limits
from backend.shared import language
from backend.shared.language import lazy

log = logging.getLogger(__name__)

BATCH_WAIT_ENV = "DASHBOARD_BATCH_WAIT_MS"
DEFAULT_BATCH_WAIT_MS = 8.0  # how long the first request of a batch waits for company
MAX_BATCH = 16
_EMA = 0.3  # weight of the newest run in the per-task duration estimate
IDLE_SECONDS = 60.0  # a queue's worker ends after this long without work
LIGHT_PREFIX = "remote-engines/"  # queues that wait on the network, not on the cores
BACKGROUND_POLL_SECONDS = 0.2  # how often waiting background work checks for a free background slot
_local = threading.local()  # the batch the current worker thread runs, and its deadline
_BACKGROUND: ContextVar[bool] = ContextVar("scheduler_background", default=False)


class _GaveWay(BaseException):
    """Raised inside background work at a forward pass when a visitor's request waits in its
    queue: the work goes back in line (not a failure; nobody sees it). A BaseException, so that a
    task's own `except Exception` (a batch answering each item's error) lets it through."""


class JobCancelled(DashboardError):
    """The job was given up before it ran (its owner left, or asked for something else)."""


def heavy_slots() -> int:
    """How many models may compute at once: one per usable core."""
    return max(1, available_cores())


def background_slots() -> int:
    """How many models may compute background work at once: a core fewer than all (at least one)."""
    return max(1, heavy_slots() - 1)


@contextmanager
def in_background() -> Iterator[None]:
    """Requests submitted inside (in this thread or task) are background work: see the module's
    docstring. The static export makes its views inside it."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def current_job() -> Job | None:
    """The job the calling worker thread runs now (the first of its batch), else None."""
    batch = getattr(_local, "batch", None)
    return batch[0] if batch else None


def checkpoint() -> None:
    """Called inside long computations (every forward pass of a loaded model calls it): raises
    `JobStopped` when the running request is past its time limit, `JobCancelled` once nobody
    waits for it. Does nothing outside a queue's worker, and for streams (a generation stops
    itself, cleanly, between tokens)."""
    batch = getattr(_local, "batch", None)
    if not batch or batch[0].streaming:
        return
    queue = batch[0].queue
    if batch[0].background and queue.visitor_waiting():
        raise _GaveWay
    if all(job.stop_requested or not job.wanted(queue.scheduler.owner_alive) for job in batch):
        raise JobCancelled("Stopped: nobody was waiting for this answer anymore. Ask again.")
    if time.monotonic() > _local.deadline:
        raise JobStopped(
            "This request ran for more than {seconds} s, the limit here, and was stopped. "
            "Ask for less: fewer steps, a shorter text, a smaller layer or a simpler method.",
            seconds=f"{limits().job_seconds:.0f}",
        )


class JoinedBatch(Protocol):
    """The joinable jobs of one queue running as one batch; the queue's worker runs it."""

    def run(self) -> None:
        """Until its last row ends: seat the joinable jobs that wait on the queue (`take`), let
        one request of another kind run between two steps (`run_one_between_steps`), step, and
        end each job (`finish`) with its stream or its error."""

    def wait_seconds(self, ahead: int, seated: int) -> float:
        """The wait for a seat of a queued joinable job with `ahead` joinable jobs before it,
        while `seated` jobs are in the batch."""


class JoinableStream(Protocol):
    """What the task of a `joinable=True` job returns: a stream that can decode together with
    the other joinable jobs of its queue."""

    def joined_batch(self, queue: ModelQueue, job: Job) -> JoinedBatch:
        """A batch on `queue` with this stream (the one `job` opened) seated first."""


def batch_wait_seconds() -> float:
    raw = os.environ.get(BATCH_WAIT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_BATCH_WAIT_MS
    except ValueError:
        log.warning("%s=%r is not a number; using %s ms", BATCH_WAIT_ENV, raw, DEFAULT_BATCH_WAIT_MS)
        value = DEFAULT_BATCH_WAIT_MS
    return min(max(value, 0.0), 1000.0) / 1000.0


@dataclass(eq=False)
class Job:
    """One request in a model's queue. `wait`, then `outcome()`; streaming jobs also `stream()`."""

    queue: ModelQueue
    task: Callable[..., Any]
    args: tuple
    batched: bool
    streaming: bool
    owner: str | None
    slot: str | None
    request_key: Hashable | None
    client: str | None = None  # the visitor's address, for the per-address limit
    joinable: bool = False  # a stream that decodes together with others (see the module docstring)
    about: str = ""  # what it is, for a message naming it ("a generation on the server 'x'")
    id: int = 0
    background: bool = False  # background work: after every visitor's request (see `in_background`)
    language: str = field(default_factory=language.current)  # the asker's: its messages and figures read in it
    owners: set[str] = field(default_factory=set)  # every session following it (a shared job has several)
    state: str = "queued"  # queued -> running -> done | failed | cancelled
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    batch_size: int = 0
    pieces: list[Any] = field(default_factory=list)  # what a streaming job has produced so far
    _result: Any = None
    _error: BaseException | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _stop: threading.Event = field(default_factory=threading.Event)
    _on_finish: list[Callable[[Job], None]] = field(default_factory=list)

    @property
    def batch_key(self) -> Hashable | None:
        """Jobs with equal keys may share one call: the same function and the same arguments
        but the first. None: always alone."""
        return (self.task, self.args[1:]) if self.batched else None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def done(self) -> bool:
        return not self.active

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def position(self) -> int | None:
        """1 = next to run (or waiting only for the job that runs now); None once running."""
        return self.queue.position(self)

    @property
    def eta_seconds(self) -> float | None:
        return self.queue.eta_seconds(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout`); True if it has."""
        with self._changed:
            return self._changed.wait_for(lambda: self.done, timeout)

    def wait_started(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.state != "queued", timeout)

    def outcome(self) -> Any:
        """The result; raises the job's error, or `JobCancelled`. Call after `wait()`."""
        if self.state == "cancelled":
            raise JobCancelled("This request was cancelled before it ran. Ask again.")
        if self._error is not None:
            raise self._error
        if self.state != "done":
            raise RuntimeError("The job has not finished yet; wait() first.")
        return self._result

    def publish(self, piece: Any) -> None:
        """Called by a streaming runner for each piece it produces."""
        with self._changed:
            self.pieces.append(piece)
            self._changed.notify_all()

    def stream(self, poll: float = 0.25) -> Iterator[Any]:
        """Every piece from the first, then new ones as they come, until the job ends.
        Yields None every `poll` seconds without news, so a reader can check in (and be stopped)."""
        sent = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: len(self.pieces) > sent or self.done, poll)
                fresh = self.pieces[sent:]
                finished = self.done
            sent += len(fresh)
            yield from fresh
            if finished and sent >= len(self.pieces):
                return
            if not fresh:
                yield None

    def asked_again(self) -> None:
        """Someone else waits for this job too: asked outside background work, background work
        becomes a visitor's and moves up to its turn."""
        if self.background and not _BACKGROUND.get():
            self.queue.promote(self)

    def cancel(self) -> None:
        """Leave the queue if still waiting; ask a running job to stop (for everyone following it)."""
        self.queue.cancel(self)

    def leave(self, owner: str | None) -> bool:
        """`owner` stops following this job; it is cancelled once nobody follows it. True if it
        was cancelled, False if others still follow it."""
        return self.queue.scheduler._leave(self, owner)

    @property
    def abandoned(self) -> bool:
        """Stop was asked for, or nobody waits for it anymore (safe from any thread)."""
        return self.stop_requested or not self.wanted(self.queue.scheduler.owner_alive)

    def wanted(self, alive: Callable[[str | None], bool]) -> bool:
        """Someone still waits for it: one of its owners' tabs is open (an ownerless job, from a
        script or test, is always wanted)."""
        return any(alive(owner) for owner in self.owners) if self.owners else alive(self.owner)

    def on_finish(self, callback: Callable[[Job], None]) -> None:
        """Call `callback(job)` once the job has ended (at once if it has)."""
        with self._changed:
            if self.active:
                self._on_finish.append(callback)
                return
        callback(self)

    def _finish(self, state: str, result: Any = None, error: BaseException | None = None) -> None:
        with self._changed:
            self.state, self._result, self._error = state, result, error
            self.finished = time.monotonic()
            self._changed.notify_all()
            callbacks, self._on_finish = self._on_finish, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("A job's finish callback failed")


class ModelQueue:
    """Visitors in turn for one model (`FairLine`), with batching of compatible requests."""

    def __init__(
        self,
        name: str,
        scheduler: Scheduler,
        batch_wait: float | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.name = name
        self.scheduler = scheduler
        self.batch_wait = batch_wait_seconds() if batch_wait is None else batch_wait
        self.max_batch = max_batch
        self._waiting = FairLine()  # in turn order: the head runs next
        self._running: list[Job] = []
        self._seconds: dict[Callable[..., Any], float] = {}  # moving average of a batch's run time, per task
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.heavy = not name.startswith(LIGHT_PREFIX)
        self.joined: JoinedBatch | None = None  # the running batch of joinable jobs, if any

    # --- called by pages (any thread) ---
    def promote(self, job: Job) -> None:
        """A background job a visitor now waits for becomes theirs: it moves up to its turn."""
        with self._cond:
            if job in self._waiting:  # (a running one keeps its flag: its background slot is given back by it)
                self._waiting.promote(job)
            self._cond.notify_all()

    def enqueue(self, job: Job) -> None:
        """Called with the scheduler's lock held (see `Scheduler.submit`)."""
        with self._cond:
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"queue-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def cancel(self, job: Job) -> None:
        with self._cond:
            if job.state == "queued" and job in self._waiting:
                self._waiting.remove(job)
                self._cond.notify_all()
                cancelled = True
            else:
                cancelled = False
                if job.state == "running":
                    job._stop.set()
        if cancelled:
            job._finish("cancelled")
            self.scheduler._forget(job)

    def position(self, job: Job) -> int | None:
        with self._cond:
            if job.state != "queued":
                return None
            try:
                return self._waiting.index(job) + 1
            except ValueError:
                return None

    def eta_seconds(self, job: Job) -> float | None:
        """A rough wait: the time each batch ahead took on average, batches counted generously."""
        with self._cond:
            if job.state != "queued" or job not in self._waiting:
                return None
            if job.joinable and self.joined is not None:  # waits for a seat in the running batch
                ahead = [j for j in self._waiting if j.joinable]
                seated = sum(1 for j in self._running if j.joinable)
                return self.joined.wait_seconds(ahead.index(job), seated)
            ahead = list(itertools.islice(self._waiting, 0, self._waiting.index(job)))
            estimates = [self._seconds.get(j.task) for j in [*self._running[:1], *ahead, job]]
        if any(e is None for e in estimates):
            return None
        return float(sum(estimates))

    @property
    def length(self) -> int:
        with self._cond:
            return len(self._waiting) + len(self._running)

    def wait_guess_seconds(self) -> float:
        """About how long the whole line ahead would take (for "try again in N s")."""
        with self._cond:
            known = list(self._seconds.values())
            count = len(self._waiting) + len(self._running)
        return count * (sum(known) / len(known) if known else 5.0)

    # --- the worker ---
    def _compatible(self, head: Job) -> list[Job]:
        if head.batch_key is None:
            return [head]
        same = [j for j in self._waiting if j.batch_key == head.batch_key]
        return same[: self.max_batch]

    def _wait_for_work(self) -> bool:
        """Block until a job waits; False (and this queue removed) after IDLE_SECONDS without one."""
        with self._cond:
            if self._cond.wait_for(lambda: bool(self._waiting), IDLE_SECONDS):
                return True
        return self.scheduler._retire(self)

    def _next_batch(self) -> list[Job]:
        while True:
            with self._cond:
                if not self._waiting:
                    return []  # the waiting ones were cancelled meanwhile
                head = self._waiting[0]
                if head.batch_key is not None and self.batch_wait > 0:
                    deadline = head.created + self.batch_wait
                    while (
                        self._waiting and self._waiting[0] is head
                        and len(self._compatible(head)) < self.max_batch
                        and time.monotonic() < deadline
                    ):
                        self._cond.wait(deadline - time.monotonic())
                    if not self._waiting or self._waiting[0] is not head:
                        continue  # the head was cancelled, or a request whose turn comes first arrived
                if head.background and self.heavy and not self.scheduler.take_background_slot():
                    self._cond.wait(BACKGROUND_POLL_SECONDS)  # a visitor's request may come first meanwhile
                    return []
                batch, gone = [], []
                for job in self._compatible(head):
                    self._waiting.start(job)
                    (batch if job.wanted(self.scheduler.owner_alive) else gone).append(job)
                for job in batch:
                    job.state, job.started, job.batch_size = "running", time.monotonic(), len(batch)
                self._running = list(batch)  # its own list: jobs leave it one by one (`finish`)
            for job in gone:  # their browser tab is gone: nobody would see the answer
                job._finish("cancelled")
                self.scheduler._forget(job)
            if batch:
                for job in batch:
                    with job._changed:
                        job._changed.notify_all()
                return batch
            if head.background and self.heavy:  # every job of it was given up: the slot goes back
                self.scheduler.release_background_slot()

    def take(self, wanted: Callable[[Job], bool], most: int) -> list[Job]:
        """Up to `most` waiting jobs that `wanted` picks, in turn order, now running; waiting
        ones whose tab is gone are cancelled on the way."""
        with self._cond:
            picked = [job for job in self._waiting if wanted(job) and not job.background]
            taken, gone = [], []
            for job in picked:
                if len(taken) >= most:
                    break
                self._waiting.start(job)
                (taken if job.wanted(self.scheduler.owner_alive) else gone).append(job)
            for job in taken:
                job.state, job.started, job.batch_size = "running", time.monotonic(), 1
                self._running.append(job)
        for job in gone:
            job._finish("cancelled")
            self.scheduler._forget(job)
        for job in taken:
            with job._changed:
                job._changed.notify_all()
        return taken

    def run_one_between_steps(self) -> None:
        """While a joined batch runs: the first waiting request of another kind (with the
        requests it batches with) runs now, between two of the batch's steps."""
        head = self.take(lambda j: not j.joinable, 1)
        if not head:
            return
        batch = head
        if head[0].batch_key is not None:
            batch += self.take(lambda j: j.batch_key == head[0].batch_key, self.max_batch - 1)
        self.run_batch(batch)

    def finish(self, job: Job, outcome: Any) -> None:
        """End one running job with its result or error."""
        with self._cond:
            if job in self._running:
                self._running.remove(job)
        if isinstance(outcome, BaseException):
            job._finish("failed", error=outcome)
        else:
            job._finish("done", result=outcome)
        self.scheduler._forget(job)

    def visitor_waiting(self) -> bool:
        """Whether a request that is not background work waits in this queue."""
        with self._cond:
            return any(not job.background for job in self._waiting)

    def _back_in_line(self, batch: list[Job]) -> None:
        """Background work that gave way: queued again (after the visitors), to start over."""
        with self._cond:
            for job in batch:
                if job in self._running:
                    self._running.remove(job)
                job.state, job.started, job.batch_size = "queued", None, 0
                self._waiting.append(job)
            self._cond.notify_all()

    def run_batch(self, batch: list[Job]) -> None:
        """Run a batch `_next_batch` gave, and end its jobs."""
        started = time.monotonic()
        try:
            outcomes = self._run(batch)
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} results for a batch of {len(batch)}")
        except _GaveWay:
            self._back_in_line(batch)
            return
        except Exception as exc:  # every job of the batch gets the error
            if not isinstance(exc, DashboardError):
                log.exception("A batch on %s failed", self.name)
            outcomes = [exc] * len(batch)
        took = time.monotonic() - started
        with self._cond:
            previous = self._seconds.get(batch[0].task)
            self._seconds[batch[0].task] = took if previous is None else (1 - _EMA) * previous + _EMA * took
        for job, outcome in zip(batch, outcomes, strict=True):
            self.finish(job, outcome)

    def _run(self, batch: list[Job]) -> list[Any]:
        head = batch[0]
        _local.batch, _local.deadline = batch, time.monotonic() + limits().job_seconds
        try:
            with language.speaking(head.language):
                if head.batched:
                    return list(head.task([job.args[0] for job in batch], *head.args[1:]))
                result = head.task(*head.args)
                if head.streaming:
                    self._publish(head, result)
                return [result]
        finally:
            _local.batch = None

    def _publish(self, job: Job, stream: Iterable[Any]) -> None:
        # closing() ends the stream's iterator early (releasing its model or connection) when
        # the owner pressed Stop or closed the tab; the stream itself notes that it was stopped.
        with closing(iter(stream)) as pieces:
            for piece in pieces:
                job.publish(piece)
                if job.stop_requested or not job.wanted(self.scheduler.owner_alive):
                    break

    def _run_joined(self, first: Job) -> None:
        """Run `first`'s batch until its last row ends; joinable jobs arriving meanwhile join it."""
        try:
            stream: JoinableStream = first.task(*first.args)  # its checks and tokens
            batch = stream.joined_batch(self, first)
        except Exception as exc:  # a bad request fails alone
            if not isinstance(exc, DashboardError):
                log.exception("A joinable job could not start on %s", self.name)
            self.finish(first, exc)
            return
        self.joined = batch
        try:
            batch.run()
        finally:
            self.joined = None

    def _work(self) -> None:
        while self._wait_for_work():
            with self.scheduler.compute_slot(self.heavy):
                batch = self._next_batch()
                if not batch:
                    continue
                try:
                    if batch[0].joinable:
                        self._run_joined(batch[0])
                    else:
                        self.run_batch(batch)
                finally:
                    if batch[0].background and self.heavy:
                        self.scheduler.release_background_slot()
            del batch  # the finished jobs (and their inputs) are not held until the next batch
            with self._cond:
                idle = not self._waiting
            if idle:  # nobody waiting: hand freed activation memory back to the system
                release_free_memory()


class Scheduler:
    """The queues of all models, and which owner holds which job."""

    def __init__(self, batch_wait: float | None = None, max_batch: int = MAX_BATCH) -> None:
        self._batch_wait = batch_wait
        self._max_batch = max_batch
        self._queues: dict[str, ModelQueue] = {}
        self._held: dict[tuple[str, str], Job] = {}  # (owner, slot) -> the owner's active job there
        self._by_client: dict[str, set[Job]] = {}  # address -> its unfinished jobs
        self._shared: dict[Hashable, Job] = {}  # share key -> the unfinished job with it
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._slots = threading.BoundedSemaphore(heavy_slots())
        self._background_slots = threading.BoundedSemaphore(background_slots())
        self.owner_alive: Callable[[str | None], bool] = lambda owner: True

    def queue(self, model_key: str) -> ModelQueue:
        with self._lock:
            return self._queue(model_key)

    def _queue(self, model_key: str) -> ModelQueue:
        if model_key not in self._queues:
            self._queues[model_key] = ModelQueue(model_key, self, self._batch_wait, self._max_batch)
        return self._queues[model_key]

    @property
    def queue_names(self) -> list[str]:
        with self._lock:
            return list(self._queues)

    def busy(self) -> bool:
        """Whether any model has a request running or waiting."""
        with self._lock:
            queues = list(self._queues.values())
        return any(queue._running or queue._waiting for queue in queues)

    def compute_slot(self, heavy: bool) -> Any:
        """Held while a heavy queue's batch runs: at most `heavy_slots()` at once."""
        return self._slots if heavy else _NoSlot()

    def take_background_slot(self) -> bool:
        """One of the `background_slots()`, if free now (a queue's worker calls it before
        running background work, holding its compute slot)."""
        return self._background_slots.acquire(blocking=False)

    def release_background_slot(self) -> None:
        self._background_slots.release()

    def _retire(self, queue: ModelQueue) -> bool:
        """An idle worker asks to end: remove its queue unless work arrived meanwhile."""
        with self._lock, queue._cond:
            if queue._waiting:
                return True
            if self._queues.get(queue.name) is queue:
                del self._queues[queue.name]
            queue._thread = None
            return False

    def submit(
        self,
        model_key: str,
        task: Callable[..., Any],
        *args: Any,
        batched: bool = False,
        streaming: bool = False,
        owner: str | None = None,
        slot: str | None = None,
        request_key: Hashable | None = None,
        client: str | None = None,
        share_key: Hashable | None = None,
        joinable: bool = False,
        about: str = "",
    ) -> Job:
        """Queue `task(*args)` on the model's queue (see the module's docstring for `batched`,
        `streaming` and `joinable`) and return its job, or a job that already answers it: with an
        owner and slot, the same question there while it runs is that owner's running job, and
        anything else replaces it; with a `share_key` (a deterministic request: greedy, or
        seeded), an unfinished job of any owner with the same key is followed instead of computed
        again (a room opening one link). Raises `BusyError` when the queue is full or `client`
        (an address) has too many unfinished jobs."""
        if batched and streaming:
            raise ValueError("A job is either batched or streaming, not both.")
        if joinable and not streaming:
            raise ValueError("Only a streaming job can join others.")
        with self._lock:
            queue = self._queue(model_key)
            replaced = self._held_active(owner, slot)
            job = self._already_answering(queue, replaced, request_key, share_key, owner, slot)
            if job is None:
                others = self._admit(queue, client, replaced)
                job = Job(queue, task, args, batched, streaming, owner, slot, request_key, client, joinable, about,
                          next(self._ids), background=_BACKGROUND.get())
                self._enqueue(job, share_key, others)
        if replaced is not None and replaced is not job:
            replaced.leave(owner)
        return job

    # --- submit's parts (called with the lock held) ---
    def _held_active(self, owner: str | None, slot: str | None) -> Job | None:
        """The owner's unfinished job in `slot`: what a new request there replaces."""
        held = self._held.get((owner, slot)) if owner is not None and slot is not None else None
        return held if held is not None and held.active else None

    def _already_answering(
        self, queue: ModelQueue, replaced: Job | None, request_key: Hashable | None,
        share_key: Hashable | None, owner: str | None, slot: str | None,
    ) -> Job | None:
        """An unfinished job that answers this request already: the owner's own (a second click
        on the same question), else anyone's with the same share key, which the owner now
        follows (and holds in `slot`). None: it has to be computed."""
        if replaced is not None and request_key is not None and replaced.request_key == request_key and replaced.queue is queue:
            return replaced
        shared = self._shared.get(share_key) if share_key is not None else None
        if shared is None or not shared.active or shared.stop_requested:
            return None
        shared.asked_again()
        if owner is not None:
            shared.owners.add(owner)
            if slot is not None:
                self._held[(owner, slot)] = shared
        return shared

    def _admit(self, queue: ModelQueue, client: str | None, replaced: Job | None) -> set[Job]:
        """Raise `BusyError` when `client` has too many unfinished jobs (the one being replaced
        not counted), or already one on the servers' shared workers (in public mode), or the queue
        is full; else the client's other unfinished jobs."""
        caps = limits()
        mine = {j for j in self._by_client.get(client, ()) if j.active and j is not replaced} if client else set()
        if len(mine) >= caps.jobs_per_address:
            raise BusyError(
                "You have {requests} requests running or waiting, the most one address may have here. "
                "Wait for one of them to finish, then ask again.", requests=len(mine),
            )
        on_servers = sorted((j for j in mine if not j.queue.heavy), key=lambda j: j.id)
        if not queue.heavy and len(on_servers) >= caps.server_generations_per_address:
            raise BusyError(
                "You already have {what} running or waiting, and one address may have {most} on the servers at "
                "once here: wait for it or stop it, then ask again.",
                what=on_servers[0].about or lazy("a request on a server"), most=caps.server_generations_per_address,
            )
        if queue.length >= caps.queue_length:
            raise BusyError(
                "The model is busy: {ahead} requests are ahead. Try again in about {seconds} s.",
                ahead=queue.length, seconds=max(5, round(queue.wait_guess_seconds())),
            )
        return mine

    def _enqueue(self, job: Job, share_key: Hashable | None, others: set[Job]) -> None:
        """Record who holds and follows the new job, then put it in its queue's line."""
        if job.owner is not None:
            job.owners.add(job.owner)
            if job.slot is not None:
                self._held[(job.owner, job.slot)] = job
        if share_key is not None:
            self._shared[share_key] = job
        if job.client:
            self._by_client[job.client] = {*others, job}
        job.queue.enqueue(job)

    def _leave(self, job: Job, owner: str | None) -> bool:
        with self._lock:
            job.owners.discard(owner)
            for key in [k for k, held in self._held.items() if held is job and k[0] == owner]:
                del self._held[key]
            alone = not job.owners
        if alone:
            job.cancel()
        return alone

    def held(self, owner: str, slot: str) -> Job | None:
        with self._lock:
            return self._held.get((owner, slot))

    def leave_other_slots(self, owner: str, slot: str | None) -> int:
        """The owner moved to `slot`: give up their places everywhere else (a page's own
        sub-slots, such as 'classify/explain', are part of it). Returns how many."""
        with self._lock:
            mine = [
                job for (o, s), job in self._held.items()
                if o == owner and s != slot and not (slot and s.startswith(f"{slot}/"))
            ]
        for job in mine:
            job.leave(owner)
        return len(mine)

    def _forget(self, job: Job) -> None:
        with self._lock:
            if job.client is not None:
                mine = self._by_client.get(job.client, set())
                mine.discard(job)
                if not mine:
                    self._by_client.pop(job.client, None)
            for key in [k for k, held in self._held.items() if held is job]:
                del self._held[key]
            for key in [k for k, shared in self._shared.items() if shared is job]:
                del self._shared[key]


class _NoSlot:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


SCHEDULER = Scheduler()


def run_now(job: Job) -> Any:
    """Wait for a job without showing anything, and return its result (tests, scripts)."""
    job.wait()
    return job.outcome()
