"""Waiting for a queued model request on a page: the user sees their place in line, not a freeze."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from backend.runtime.scheduler import Job, JobCancelled
from backend.shared.language import n_, t
from ui.core.addresses import trusted_proxies, visitor_key
from ui.core.request import Request

POLL_SECONDS = 0.25
log = logging.getLogger("dashboard")


def session_id() -> str | None:
    """Who is asking: the browser session (one tab). Queued requests are held per session."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def client_address() -> str | None:
    """The key the visitor's requests count under for the per-address limits: their address, or
    the one a configured proxy forwarded (see `ui.core.addresses`); an IPv6 visitor's /64."""
    try:
        direct = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For", "")
    except Exception:  # no request context (a bare script)
        return None
    proxies = trusted_proxies()
    if not _told_once.is_set():  # for the operator checking their proxy setting in the server's log
        _told_once.set()
        entries = len([e for e in forwarded.split(",") if e.strip()])
        log.info("First visit: X-Forwarded-For has %d entries; DASHBOARD_TRUSTED_PROXIES trusts %s",
                 entries, f"{proxies.hops} hop(s)" if proxies.hops else f"{len(proxies.networks)} network(s)")
    return visitor_key(direct, forwarded, proxies)


_told_once = threading.Event()


def mine(page: str, part: str | None = None) -> dict[str, str | None]:
    """`owner`, `slot` and `client` arguments for a backend `submit_*` call made by `page` (its URL
    path). A `part` gives a request its own place (an explanation does not replace the answer)."""
    return {"owner": session_id(), "slot": f"{page}/{part}" if part else page, "client": client_address()}


# TRANSLATORS: a place in a queue ("2nd" in "2nd in line"), by the English suffix its number takes.
_ORDINALS = {"st": n_("{n}st"), "nd": n_("{n}nd"), "rd": n_("{n}rd"), "th": n_("{n}th")}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return t(_ORDINALS[suffix], n=n)


def wait_in_line(job: Job) -> None:
    """Show the job's place in line (and its wait) until it starts, then nothing."""
    status = st.empty()
    while not job.wait_started(POLL_SECONDS):
        status.info(queue_message(job), icon=":material/hourglass_top:")
    status.empty()


def queue_message(job: Job) -> str:
    """'2nd in line · about 3 s' while waiting, 'Running…' once started."""
    if job.state != "queued":
        if job.batch_size > 2:
            return t("Running on the model (together with {others} other requests)…", others=job.batch_size - 1)
        if job.batch_size == 2:
            return t("Running on the model (together with 1 other request)…")
        return t("Running on the model…")
    position, eta = job.position, job.eta_seconds
    if eta is None:
        return t("Waiting for the model: {ordinal} in line", ordinal=_ordinal(position)) if position else t("Waiting for the model")
    seconds = max(1, round(eta))
    if position:
        return t("Waiting for the model: {ordinal} in line · about {seconds} s", ordinal=_ordinal(position), seconds=seconds)
    return t("Waiting for the model · about {seconds} s", seconds=seconds)


def await_job(job: Job, status: Any = None) -> Any:
    """Wait for the job while showing its place in line (in `status`, an `st.empty()`, or a new
    one); return its result (or raise its error). The page stays responsive: each status update
    lets Streamlit stop this run when the user clicks something else."""
    status = status if status is not None else st.empty()
    shown = None
    last_update = 0.0
    while not job.wait(POLL_SECONDS):
        message = queue_message(job)
        now = time.monotonic()
        if message != shown or now - last_update > 1.0:
            status.info(message, icon=":material/hourglass_top:" if job.state == "queued" else ":material/memory:")
            shown, last_update = message, now
    status.empty()
    return job.outcome()


class _Results:
    """Recent answers shared by every session (bounded): moving a slider, or a room asking the
    same example, does not queue the same model call again. A job is held here only while it
    runs: when it ends, its answer joins the bounded list of recent answers and the job (with
    its inputs: an image, a text) is let go, also when it failed, was cancelled, or the page that
    asked moved on before it finished."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, Job] = {}  # unfinished jobs by key, shared by sessions
        self._pinned: set[Hashable] = set()  # the pages' examples: kept for good, beside max_entries
        # Re-entrant: `submit()` runs under it and may cancel the session's previous job, whose
        # finish callback (`_settle`) then runs in this same thread.
        self._lock = threading.RLock()

    def claim(self, key: Hashable, submit: Callable[[], Job]) -> Any | Job:
        """The answer for `key` if one is kept; else the unfinished job some session queued for
        it; else the job `submit()` queues now. Look-up and registration happen under one lock,
        so sessions asking at the same moment share one job."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            job = self._running.get(key)
            if job is not None and job.state not in ("failed", "cancelled"):
                job.asked_again()  # a static export's view a visitor now opens moves up to their turn
                return job  # running, or done with its answer on the way into the kept ones
            job = self._running[key] = submit()
        job.on_finish(lambda ended, key=key: self._settle(key, ended))
        return job

    def _settle(self, key: Hashable, job: Job) -> None:
        with self._lock:
            if self._running.get(key) is job:
                del self._running[key]
            if job.state == "done":
                self._items[key] = job.outcome()
                self._items.move_to_end(key)
                recent = [k for k in self._items if k not in self._pinned]  # least recently used first
                for old in recent[: max(0, len(recent) - self.max_entries)]:
                    del self._items[old]

    def keep(self, key: Hashable, answer: Any) -> None:
        """Keep `answer` for `key` for good (a page's example), not counted in `max_entries`."""
        with self._lock:
            self._items[key] = answer
            self._pinned.add(key)

    def sizes(self) -> tuple[int, int]:
        """(answers kept, jobs held): for tests and the memory check."""
        with self._lock:
            return len(self._items), len(self._running)


@st.cache_resource(show_spinner=False)
def _shared_results(name: str, max_entries: int = 64) -> _Results:
    return _Results(max_entries)


def remembered(request: Request, **owner: str | None) -> Any:
    """The answer to `request` from the shared memory of recent answers; else the job another
    session already queued for the same key (a room opening one link computes it once); else
    queue it now for `owner` (`mine(page)`)."""
    # The place-in-line line is drawn also when the answer is at hand, so what follows keeps its
    # place on the page: a run answered from memory replaces the last run's answer where it
    # stands instead of drawing a second one beside it until the run ends.
    status = st.empty()
    results = _shared_results(request.memory, request.max_entries)
    claimed = results.claim(request.key, lambda: request.submit(**owner))
    if not isinstance(claimed, Job):
        return claimed
    try:
        found = await_job(claimed, status)
    except JobCancelled:
        if claimed.owner == session_id():
            raise
        # the session that asked first left or asked for something else: claim again (another
        # session may have asked already, or kept the answer)
        claimed = results.claim(request.key, lambda: request.submit(**owner))
        if not isinstance(claimed, Job):
            return claimed
        found = await_job(claimed, status)
    return found


def answer_or_job(request: Request, **owner: str | None) -> Any:
    """The answer to `request` if kept, else the job for it (one already queued by anyone, or
    queued now for `owner`): for callers that wait without drawing (the static site)."""
    return _shared_results(request.memory, request.max_entries).claim(request.key, lambda: request.submit(**owner))


def remember_now(request: Request) -> Any:
    """Compute the answer to `request` outside any page (no session: the start-up examples), keep
    it for good in the memory the pages read, and return it. A job a visitor already queued for
    the same key is waited for instead; raises the job's error."""
    results = _shared_results(request.memory, request.max_entries)
    for _ in range(3):  # a visitor's job for the same key may be cancelled under us: ask again
        claimed = results.claim(request.key, request.submit)
        if not isinstance(claimed, Job):
            break
        claimed.wait()
        try:
            claimed = claimed.outcome()
        except JobCancelled:
            continue
        break
    else:
        raise JobCancelled("Could not compute {memory} {key}: cancelled each time.", memory=request.memory,
                           key=repr(request.key))
    results.keep(request.key, claimed)
    return claimed
