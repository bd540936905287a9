"""The fair queue: order, batching, positions and wait estimates, cancelling, one job per owner
and page, joined batches; that a batched run on the real models gives each request exactly what an
unbatched call gives; and that the CAM layers are found in the model's queue."""

import threading
import time

import numpy as np
import pytest

from backend.attention import weights as attention
from backend.runtime import memory, scheduler as scheduler_module
from backend.runtime.model_cache import get_model
from backend.runtime.registry import EFFICIENTNET, MINILM
from backend.runtime.scheduler import (
    SCHEDULER,
    JobCancelled,
    Scheduler,
    batch_wait_seconds,
    current_job,
    in_background,
    run_now,
)
from backend.text import classify
from backend.vision import explain_image
from backend.vision import recognition as recognise
from backend.vision.image_decoding import EXAMPLES, example_image

TOLERANCE = 1e-5


class Gate:
    """A task that records each call (a batch is a list of items) and blocks until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self, items, *shared):
        batch = list(items) if isinstance(items, list) else [items]
        self.batches.append(batch)
        self.entered.set()
        assert self.release.wait(10)
        answers = [f"answer to {item}" for item in batch]
        return answers if isinstance(items, list) else answers[0]


def test_batch_wait_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DASHBOARD_BATCH_WAIT_MS", "25")
    assert batch_wait_seconds() == pytest.approx(0.025)
    monkeypatch.setenv("DASHBOARD_BATCH_WAIT_MS", "lots")
    assert batch_wait_seconds() == pytest.approx(0.008)
    monkeypatch.setenv("DASHBOARD_BATCH_WAIT_MS", "100000")
    assert batch_wait_seconds() == 1.0  # bounded


def test_compatible_requests_arriving_together_share_one_batch():
    scheduler = Scheduler(batch_wait=0.2)
    gate = Gate()
    gate.release.set()
    jobs = [scheduler.submit("m", gate, f"q{i}", "same", batched=True) for i in range(5)]
    odd = scheduler.submit("m", gate, "other", "different", batched=True)
    assert [run_now(j) for j in jobs] == [f"answer to q{i}" for i in range(5)]
    assert run_now(odd) == "answer to other"
    assert gate.batches == [[f"q{i}" for i in range(5)], ["other"]]
    assert {j.batch_size for j in jobs} == {5}


def test_batches_are_bounded():
    scheduler = Scheduler(batch_wait=0.5, max_batch=4)
    gate = Gate()
    gate.release.set()
    jobs = [scheduler.submit("m", gate, i, batched=True) for i in range(10)]
    for job in jobs:
        run_now(job)
    assert [len(b) for b in gate.batches] == [4, 4, 2]


class Clock:
    """The scheduler's clock, stopped: it moves only when a test's task moves it."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


def test_waiting_jobs_know_their_place_and_are_served_in_order(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(scheduler_module, "time", clock)
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()

    def two_seconds(item):  # each run takes exactly 2 s on the scheduler's clock
        clock.now += 2.0
        return gate(item)

    first = scheduler.submit("m", two_seconds, "first")
    assert gate.entered.wait(5)
    later = [scheduler.submit("m", two_seconds, f"later{i}") for i in range(3)]
    assert first.position is None and first.state == "running"
    assert [j.position for j in later] == [1, 2, 3]
    assert [j.eta_seconds for j in later] == [None, None, None]  # no run has been timed yet
    gate.release.set()
    for job in later:
        run_now(job)
    assert gate.batches == [["first"], ["later0"], ["later1"], ["later2"]]
    # every run took 2 s: a waiting job's estimate is the running one, those ahead, and its own
    gate.release.clear()
    gate.entered.clear()
    running = scheduler.submit("m", two_seconds, "again")
    assert gate.entered.wait(5)
    waiting = [scheduler.submit("m", two_seconds, f"waiting{i}") for i in range(2)]
    assert [j.eta_seconds for j in waiting] == [4.0, 6.0]
    assert running.eta_seconds is None  # running: no wait
    gate.release.set()
    run_now(running), [run_now(j) for j in waiting]


def test_visitors_take_turns_so_eight_queued_requests_do_not_delay_another_visitors_one():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    first = scheduler.submit("m", gate, "a0", client="10.0.0.1")
    assert gate.entered.wait(5)
    flood = [scheduler.submit("m", gate, f"a{i}", client="10.0.0.1") for i in range(1, 8)]
    single = scheduler.submit("m", gate, "b0", client="10.0.0.2")
    assert single.position == 1  # next, not behind seven
    assert [j.position for j in flood] == [2, 3, 4, 5, 6, 7, 8]  # the flood keeps its own order
    gate.release.set()
    for job in [first, *flood, single]:
        run_now(job)
    assert gate.batches == [["a0"], ["b0"], *[[f"a{i}"] for i in range(1, 8)]]


def test_turns_go_round_between_visitors_and_one_visitor_alone_keeps_arrival_order():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "a0", client="A")
    assert gate.entered.wait(5)
    jobs = [scheduler.submit("m", gate, name, client=name[0].upper()) for name in ["a1", "a2", "b0", "b1", "b2", "c0"]]
    jobs.append(scheduler.submit("m", gate, "s0", owner="session-without-address", slot="/p"))
    gate.release.set()
    for job in [blocker, *jobs]:
        run_now(job)
    # b0, c0 and the session's s0 join the round served now; then one each of A and B per round
    assert [b[0] for b in gate.batches] == ["a0", "b0", "c0", "s0", "a1", "b1", "a2", "b2"]


def test_a_batch_takes_compatible_requests_in_turn_not_one_visitors_first_sixteen():
    scheduler = Scheduler(batch_wait=0, max_batch=4)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "blocker", client="Z")
    assert gate.entered.wait(5)
    flood = [scheduler.submit("m", gate, f"a{i}", "same", batched=True, client="A") for i in range(6)]
    single = scheduler.submit("m", gate, "b0", "same", batched=True, client="B")
    gate.release.set()
    for job in [blocker, *flood, single]:
        run_now(job)
    assert gate.batches == [["blocker"], ["a0", "b0", "a1", "a2"], ["a3", "a4", "a5"]]


def test_a_request_given_up_before_its_turn_gives_the_round_back():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "z0", client="Z")
    assert gate.entered.wait(5)
    others = [scheduler.submit("m", gate, f"b{i}", client="B") for i in range(3)]
    a0 = scheduler.submit("m", gate, "a0", owner="visitor", slot="/p", client="A")
    assert a0.position == 2
    a1 = scheduler.submit("m", gate, "a1", owner="visitor", slot="/p", client="A")  # asks for something else
    assert a0.state == "cancelled" and a1.position == 2  # a0's round, not the next one behind b1
    gate.release.set()
    for job in [blocker, *others, a1]:
        run_now(job)
    assert gate.batches == [["z0"], ["b0"], ["a1"], ["b1"], ["b2"]]


def test_background_work_comes_after_every_visitors_request_and_a_visitor_asking_for_it_moves_it_up():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "z0", client="Z")
    assert gate.entered.wait(5)
    with in_background():  # a static export's views, asked for first
        exports = [scheduler.submit("m", gate, f"x{i}", client="X", share_key=f"view {i}") for i in range(3)]
    visitor = scheduler.submit("m", gate, "y0", client="Y")
    assert visitor.position == 1 and [j.position for j in exports] == [2, 3, 4]
    same = scheduler.submit("m", gate, "unused", client="W", share_key="view 2")  # a visitor opens view 2
    assert same is exports[2] and not same.background
    gate.release.set()
    for job in [blocker, visitor, *exports]:
        run_now(job)
    assert gate.batches == [["z0"], ["y0"], ["x2"], ["x0"], ["x1"]]


def test_background_work_leaves_a_core_to_the_visitors(monkeypatch):
    """Two cores: an export's view computing on one model holds the only background slot, so a
    second export's view on another model waits, while a visitor's request there starts at once."""
    monkeypatch.setattr(scheduler_module, "heavy_slots", lambda: 2)
    scheduler = Scheduler(batch_wait=0)
    first, second = Gate(), Gate()
    with in_background():
        running = scheduler.submit("m1", first, "export view", client="X")
        assert first.entered.wait(5)
        waiting = scheduler.submit("m2", second, "another export's view", client="V")
    time.sleep(3 * scheduler_module.BACKGROUND_POLL_SECONDS)
    assert waiting.state == "queued" and not second.entered.is_set()
    visitor = scheduler.submit("m2", second, "visitor", client="Y")
    assert second.entered.wait(5) and visitor.state == "running" and waiting.state == "queued"
    second.release.set()
    run_now(visitor)
    time.sleep(3 * scheduler_module.BACKGROUND_POLL_SECONDS)
    assert waiting.state == "queued"  # the background slot is still the first export's
    first.release.set()
    run_now(running)
    assert run_now(waiting) == "answer to another export's view"
    assert second.batches == [["visitor"], ["another export's view"]]


def test_running_background_work_gives_way_to_a_visitor_and_starts_over_after():
    """An export's view computing (a loop of forward passes, each calling `checkpoint`) stops at its
    next pass when a visitor's request arrives in its queue, and runs again once that is answered."""
    scheduler = Scheduler(batch_wait=0)
    order: list[str] = []
    passing = threading.Event()

    def export_view(name):
        order.append(f"{name} starts")
        for _ in range(200):  # 200 forward passes of 10 ms
            passing.set()
            scheduler_module.checkpoint()
            time.sleep(0.01)
        order.append(f"{name} ends")
        return name

    def visitor_request(name):
        order.append(name)
        return name

    with in_background():
        export = scheduler.submit("m", export_view, "view", client="X")
    assert passing.wait(5)
    visitor = scheduler.submit("m", visitor_request, "visitor", client="Y")
    assert run_now(visitor) == "visitor" and run_now(export) == "view"
    assert order == ["view starts", "visitor", "view starts", "view ends"]


def test_a_second_click_returns_the_running_job_and_a_new_question_replaces_it():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "someone else's")
    assert gate.entered.wait(5)
    mine = scheduler.submit("m", gate, "mine", owner="s1", slot="/classify", request_key="mine")
    again = scheduler.submit("m", gate, "mine", owner="s1", slot="/classify", request_key="mine")
    assert again is mine
    changed = scheduler.submit("m", gate, "new", owner="s1", slot="/classify", request_key="new")
    assert changed is not mine and mine.state == "cancelled"
    with pytest.raises(JobCancelled):
        mine.outcome()
    gate.release.set()
    assert run_now(changed) == "answer to new"
    run_now(blocker)
    assert ["mine"] not in gate.batches
    assert scheduler.held("s1", "/classify") is None  # finished jobs are not held


def test_leaving_a_page_gives_up_the_place_there():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "blocker")
    assert gate.entered.wait(5)
    there = scheduler.submit("m", gate, "there", owner="s1", slot="/classify", request_key=1)
    behind = scheduler.submit("m", gate, "behind", owner="s2", slot="/classify", request_key=1)
    assert behind.position == 2
    assert scheduler.leave_other_slots("s1", "/generate") == 1
    assert there.state == "cancelled" and behind.position == 1
    assert scheduler.leave_other_slots("s2", "/classify") == 0  # staying on the page keeps it
    gate.release.set()
    run_now(blocker), run_now(behind)
    assert gate.batches == [["blocker"], ["behind"]]


def test_jobs_of_closed_sessions_are_skipped():
    scheduler = Scheduler(batch_wait=0)
    scheduler.owner_alive = lambda owner: owner != "gone"
    gate = Gate()
    gate.release.set()
    lost = scheduler.submit("m", gate, "lost", owner="gone", slot="/p")
    kept = scheduler.submit("m", gate, "kept", owner="here", slot="/p")
    assert run_now(kept) == "answer to kept"
    lost.wait(5)
    assert lost.state == "cancelled"
    assert ["lost"] not in gate.batches


def test_an_error_reaches_every_job_of_its_batch_and_the_queue_goes_on():
    scheduler = Scheduler(batch_wait=0.1)

    def broken(items):
        raise ValueError("boom")

    jobs = [scheduler.submit("m", broken, i, batched=True) for i in range(3)]
    for job in jobs:
        job.wait(5)
        with pytest.raises(ValueError, match="boom"):
            job.outcome()
    gate = Gate()
    gate.release.set()
    assert run_now(scheduler.submit("m", gate, "after")) == "answer to after"


def test_a_streaming_job_publishes_pieces_and_stops_within_one_piece():
    scheduler = Scheduler(batch_wait=0)
    read = threading.Semaphore(1)  # the stream makes a piece only after the reader took the last one

    class Count:
        closed_at = None

        def __iter__(self):
            for i in range(1000):
                read.acquire(timeout=2)
                try:
                    yield str(i)
                except GeneratorExit:
                    self.closed_at = i
                    raise

    job = scheduler.submit("m", Count, streaming=True)
    seen = []
    for piece in job.stream(poll=0.05):
        if piece is None:
            continue
        seen.append(piece)
        if len(seen) == 5:
            job.cancel()
        read.release()
    stream = run_now(job)
    assert isinstance(stream, Count) and stream.closed_at in (4, 5)
    assert seen == [str(i) for i in range(stream.closed_at + 1)]  # nothing after the Stop but the piece in flight


def test_each_function_has_its_own_wait_estimate_and_batches_only_with_itself():
    scheduler = Scheduler(batch_wait=0.3)
    gate, other = Gate(), Gate()
    gate.release.set(), other.release.set()
    mixed = [scheduler.submit("m", gate, "a", batched=True), scheduler.submit("m", other, "b", batched=True),
             scheduler.submit("m", gate, "c", batched=True)]
    assert [run_now(j) for j in mixed] == ["answer to a", "answer to b", "answer to c"]
    assert gate.batches == [["a", "c"]] and other.batches == [["b"]]
    queue = scheduler.queue("m")
    assert set(queue._seconds) == {gate, other}


class Rows:
    """A joinable stream's batch without a model: each seated job gets one piece per step, and
    ends after `steps` of them; a request of another kind may run between two steps."""

    def __init__(self, queue, steps: int) -> None:
        self.queue, self.steps = queue, steps
        self.made: dict = {}  # job -> pieces so far
        self.log: list[str] = []

    def run(self) -> None:
        while self.made:
            for job in self.queue.take(lambda j: j.joinable, 8 - len(self.made)):
                self.made[job] = 0
            self.queue.run_one_between_steps()
            self.log.append(f"step of {len(self.made)}")
            for job in list(self.made):
                self.made[job] += 1
                job.publish(f"{job.args[0]}{self.made[job]}")
                if self.made[job] == self.steps:
                    self.queue.finish(job, job.args[0])
                    del self.made[job]

    def wait_seconds(self, ahead: int, seated: int) -> float:
        return 7.0


class Opened:
    """What a joinable task returns: it hands the queue's worker a `Rows` batch, seated first."""

    batches: list[Rows] = []

    def __init__(self, name: str) -> None:
        self.name = name

    def joined_batch(self, queue, job) -> Rows:
        batch = Rows(queue, steps=3)
        batch.made[job] = 0
        Opened.batches.append(batch)
        return batch


def test_joinable_jobs_run_in_the_batch_their_stream_hands_over_and_others_run_between_steps():
    scheduler = Scheduler(batch_wait=0)
    gate = Gate()
    blocker = scheduler.submit("m", gate, "first in line")
    assert gate.entered.wait(5)
    Opened.batches = []
    rows = [scheduler.submit("m", Opened, name, streaming=True, joinable=True) for name in "ab"]
    between = scheduler.submit("m", lambda: "ran between two steps")
    late = scheduler.submit("m", Opened, "c", streaming=True, joinable=True)
    gate.release.set()
    run_now(blocker)
    assert [run_now(job) for job in [*rows, late]] == ["a", "b", "c"]
    assert run_now(between) == "ran between two steps"
    (batch,) = Opened.batches  # one batch: the later joinable jobs joined the first one's
    assert batch.log == ["step of 3", "step of 3", "step of 3"]
    assert rows[0].pieces == ["a1", "a2", "a3"] and late.pieces == ["c1", "c2", "c3"]


def test_a_joinable_job_whose_stream_cannot_open_fails_alone():
    scheduler = Scheduler(batch_wait=0)

    def refused(name):
        raise ValueError(f"{name} is not a prompt")

    bad = scheduler.submit("m", refused, "x", streaming=True, joinable=True)
    bad.wait(5)
    with pytest.raises(ValueError, match="x is not a prompt"):
        bad.outcome()
    assert run_now(scheduler.submit("m", Opened, "d", streaming=True, joinable=True)) == "d"


def test_a_seat_wait_comes_from_the_running_batch():
    scheduler = Scheduler(batch_wait=0)
    running, hold = threading.Event(), threading.Event()

    class Held(Rows):
        def run(self) -> None:
            running.set()
            assert hold.wait(10)
            super().run()

    class OpensHeld(Opened):
        def joined_batch(self, queue, job):
            batch = Held(queue, steps=1)
            batch.made[job] = 0
            return batch

    first = scheduler.submit("m", OpensHeld, "a", streaming=True, joinable=True)
    assert running.wait(5)
    waiting = scheduler.submit("m", OpensHeld, "b", streaming=True, joinable=True)
    other = scheduler.submit("m", lambda: 1)
    assert waiting.eta_seconds == 7.0  # the batch's own estimate
    assert other.eta_seconds is None  # no run of its kind timed yet
    hold.set()
    assert run_now(first) == "a" and run_now(waiting) == "b" and run_now(other) == 1


def test_the_cam_layers_are_found_once_in_the_models_queue_then_read_without_it(monkeypatch):
    handle = get_model(EFFICIENTNET.key)
    monkeypatch.delitem(handle.extras, explain_image.LAYER_CHOICES, raising=False)
    traced = []
    real = explain_image.cam_layers

    def watched(found_on):
        traced.append((threading.current_thread().name, current_job() is not None))
        return real(found_on)

    monkeypatch.setattr(explain_image, "cam_layers", watched)
    layers, default = explain_image.layer_choices(EFFICIENTNET.key)
    assert traced == [(f"queue-{EFFICIENTNET.key}", True)]  # run by the model's worker, as a job
    with handle.lock:
        assert layers == real(handle)
    assert default.name == "blocks.6" and default.channels == 320
    again = []
    with handle.lock:  # while a request holds the model, a page still gets them (a page thread)
        page = threading.Thread(target=lambda: again.append(explain_image.layer_choices(EFFICIENTNET.key)))
        page.start()
        page.join(10)
    assert again == [(layers, default)] and len(traced) == 1


# --- the real models: a batch gives each request what an unbatched call gives ---

SENTENCES = ["The movie was great", "I hated every minute of it.", "Tea, please.", "ok"]


@pytest.fixture
def patient_queues():
    """The real models' queues wait up to 2 s for company, so that four threads started on a busy
    2-core machine still meet in one batch (the server's 8 ms is for requests that arrive together)."""
    queues = [SCHEDULER.queue(key) for key in (MINILM.key, EFFICIENTNET.key)]
    before = [q.batch_wait for q in queues]
    for q in queues:
        q.batch_wait = 2.0
    yield
    for q, wait in zip(queues, before, strict=True):
        q.batch_wait = wait


def _together(submit, items):
    """Submit all at once from separate threads, as separate sessions would."""
    jobs = [None] * len(items)
    start = threading.Barrier(len(items))

    def one(i):
        start.wait(10)
        jobs[i] = submit(items[i], i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return jobs, [run_now(job) for job in jobs]


def test_batched_classification_equals_one_at_a_time(patient_queues):
    alone = [classify.classify(s)[0] for s in SENTENCES]
    jobs, together = _together(lambda s, i: classify.submit_classify(s, owner=f"c{i}", slot="/c"), SENTENCES)
    assert [j.batch_size for j in jobs] == [len(jobs)] * len(jobs)  # all in one batch
    for a, b in zip(alone, together, strict=True):
        assert [s.label for s in a.scores] == [s.label for s in b.scores]
        assert np.allclose([s.probability for s in a.scores], [s.probability for s in b.scores], atol=TOLERANCE)


def test_a_bad_text_in_a_batch_fails_alone():
    good = classify.submit_classify("A fine film", owner="g", slot="/c")
    bad = classify.submit_classify("word " * 400, owner="b", slot="/c")  # over the token limit
    assert run_now(good).scores
    bad.wait()
    with pytest.raises(Exception, match="token"):
        bad.outcome()


def test_batched_recognition_equals_one_at_a_time(patient_queues):
    photos = [example_image(name) for name in list(EXAMPLES)[:3]]
    small = photos[0].resize((97, 61))  # different sizes still batch: each is resized to 224
    photos = [*photos, small]
    alone = [recognise.recognise(p, top_k=5) for p in photos]
    jobs, together = _together(lambda p, i: recognise.submit_recognise(p, 5, owner=f"r{i}", slot="/r"), photos)
    assert [j.batch_size for j in jobs] == [len(jobs)] * len(jobs)  # all in one batch
    for a, b in zip(alone, together, strict=True):
        assert [c.index for c in a.top] == [c.index for c in b.top]
        assert np.allclose([c.probability for c in a.top], [c.probability for c in b.top], atol=TOLERANCE)


def test_batched_attention_equals_one_at_a_time(patient_queues):
    texts = ["The cat sat on the mat.", "Attention is all you need", "short", "A much longer sentence, with commas, clauses and more."]
    alone = [attention.attention(t) for t in texts]
    jobs, together = _together(lambda t, i: attention.submit_attention(t, owner=f"a{i}", slot="/a"), texts)
    assert [j.batch_size for j in jobs] == [len(jobs)] * len(jobs)  # all in one batch
    for a, b in zip(alone, together, strict=True):
        assert a.tokens == b.tokens
        assert a.weights.shape == b.weights.shape
        assert np.abs(np.asarray(a.weights) - np.asarray(b.weights)).max() < TOLERANCE


class WatchedScheduler(Scheduler):
    """A scheduler that records each `busy()` answer, by the thread that asked."""

    def __init__(self) -> None:
        super().__init__(batch_wait=0)
        self.answers: list[tuple[str, bool]] = []
        self.asked = threading.Condition()

    def busy(self) -> bool:
        answer = super().busy()
        with self.asked:
            self.answers.append((threading.current_thread().name, answer))
            self.asked.notify_all()
        return answer

    def wait_for_answers(self, thread: str, answer: bool, count: int) -> bool:
        with self.asked:
            return self.asked.wait_for(lambda: self.answers.count((thread, answer)) >= count, 10)


def test_the_warm_up_and_the_memory_trimmer_give_way_while_a_model_computes(monkeypatch):
    from ui.startup import model_loading  # the warm-up, which waits for every queue to be idle

    scheduler = WatchedScheduler()
    monkeypatch.setattr(model_loading, "SCHEDULER", scheduler)
    trims = []
    trimmed = threading.Semaphore(0)

    def trim() -> bool:
        trims.append(scheduler.busy())
        trimmed.release()
        return True

    monkeypatch.setattr(memory, "release_free_memory", trim)
    gate = Gate()
    assert not scheduler.busy()
    job = scheduler.submit("gate-model", gate, "a question")
    assert gate.entered.wait(5) and scheduler.busy()

    trimmer = memory.trim_while_idle(scheduler.busy, every=0.05)
    waited = threading.Event()
    waiter = threading.Thread(target=lambda: (model_loading.wait_until_idle(quiet=0.3, limit=30), waited.set()), name="warm-up")
    waiter.start()
    # each has found the model busy three times: the warm-up waits, and nothing was trimmed
    assert scheduler.wait_for_answers("warm-up", True, 3) and scheduler.wait_for_answers("memory-trim", True, 3)
    assert not waited.is_set() and trims == []
    gate.release.set()
    assert job.wait(5)
    assert waited.wait(5)  # then the warm-up goes on, once the model has been quiet for 0.3 s
    waiter.join()
    assert all(trimmed.acquire(timeout=5) for _ in range(3))  # three trims, all of them idle
    trimmer.stop()
    assert trims and not any(trims), trims
