"""A room asking the same question at once: one model call, every session gets its answer."""

import threading

from backend.runtime.scheduler import SCHEDULER, run_now
from ui.core import jobs
from ui.core.request import Request

SESSIONS = 6


def _answer(question):
    return f"answer to {question}"


def test_sessions_asking_the_same_thing_at_the_same_moment_share_one_job():
    submitted = []
    second_submit = threading.Event()
    start = threading.Barrier(SESSIONS)

    def submit(owner):
        def go():
            submitted.append(owner)
            if len(submitted) > 1:
                second_submit.set()
            # Hold the first submission open: if look-up and registration were not one step, the
            # other sessions, released by the barrier together, would each submit their own.
            second_submit.wait(0.5)
            return SCHEDULER.submit("tests-shared", _answer, "q", owner=owner, slot="page")

        return go

    answers = {}

    def session(owner):
        start.wait(10)
        answers[owner] = jobs.remembered(Request("tests-shared-room", ("q", 1), submit(owner)))

    threads = [threading.Thread(target=session, args=(f"s{i}",)) for i in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(submitted) == 1
    assert answers == {f"s{i}": "answer to q" for i in range(SESSIONS)}


def test_when_the_first_session_leaves_the_others_ask_themselves(monkeypatch):
    release = threading.Event()
    blocker = SCHEDULER.submit("tests-shared-2", release.wait, 10)  # keeps the first job queued
    first = SCHEDULER.submit("tests-shared-2", _answer, "q", owner="leaver", slot="page")
    results = jobs._shared_results("tests-shared-leave", 64)  # the memory remembered() uses
    assert results.claim(("q", 2), lambda: first) is first
    submitted = []

    def own():
        job = SCHEDULER.submit("tests-shared-2", _answer, "q", owner="stayer", slot="page")
        submitted.append(job)
        return job

    waiting = threading.Event()
    original = jobs.await_job

    def await_and_say_so(job, status=None):
        if job is first:
            waiting.set()
        return original(job, status)

    monkeypatch.setattr(jobs, "await_job", await_and_say_so)
    answer = {}
    waiter = threading.Thread(target=lambda: answer.setdefault("v", jobs.remembered(Request("tests-shared-leave", ("q", 2), own))))
    waiter.start()
    assert waiting.wait(10)  # the second session is waiting on the first one's job
    first.cancel()  # the first session went away while its job was still in line
    release.set()
    waiter.join(10)
    run_now(blocker)
    assert answer == {"v": "answer to q"}
    assert len(submitted) == 1 and submitted[0] is not first
