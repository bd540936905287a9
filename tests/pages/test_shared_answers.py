"""A room asking the same question at once: one model call, every session gets its answer."""

import threading
import time

from backend.runtime.scheduler import SCHEDULER, run_now
from ui import jobs


def _slow_runner(jobs_batch):
    time.sleep(0.4)
    return [f"answer to {job.payload}" for job in jobs_batch]


def _blocker(jobs_batch):
    time.sleep(0.6)
    return ["blocked" for _ in jobs_batch]


def test_sessions_asking_the_same_thing_share_one_job():
    submitted = []

    def submit(owner):
        def go():
            job = SCHEDULER.submit("tests-shared", _slow_runner, "q", owner=owner, slot="page")
            submitted.append(job)
            return job

        return go

    answers = {}

    def session(owner):
        answers[owner] = jobs.remembered("tests-shared-room", ("q", 1), submit(owner))

    threads = [threading.Thread(target=session, args=(f"s{i}",)) for i in range(6)]
    threads[0].start()
    time.sleep(0.1)  # the first session's job is queued before the others arrive
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(submitted) == 1
    assert answers == {f"s{i}": "answer to q" for i in range(6)}


def test_when_the_first_session_leaves_the_others_ask_themselves():
    blocker = SCHEDULER.submit("tests-shared-2", _blocker, "b")  # keeps the first job queued
    first = SCHEDULER.submit("tests-shared-2", _slow_runner, "q", owner="leaver", slot="page")
    results = jobs._shared_results("tests-shared-leave")
    results.started(("q", 2), first)
    submitted = []

    def own():
        job = SCHEDULER.submit("tests-shared-2", _slow_runner, "q", owner="stayer", slot="page")
        submitted.append(job)
        return job

    answer = {}
    waiter = threading.Thread(target=lambda: answer.setdefault("v", jobs.remembered("tests-shared-leave", ("q", 2), own)))
    waiter.start()
    time.sleep(0.1)
    first.cancel()  # the first session went away while its job was still in line
    waiter.join(10)
    run_now(blocker)
    assert answer == {"v": "answer to q"}
    assert len(submitted) == 1 and submitted[0] is not first
