"""Bounds for a room of strangers: time limits inside jobs, visitors who leave, admission, the
model cache's budget, allow-lists, and memory that is given back."""

import gc
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import pytest
from PIL import Image

from backend.generation import token_steps
from backend.generation.in_process import submit_generate
from backend.generation.token_steps import GenerationSettings, Step, StepStream
from backend.runtime import model_cache, public_mode, scheduler
from backend.runtime.errors import (
    BusyError,
    InputError,
    JobStopped,
    ModelUnavailableError,
)
from backend.runtime.held_uploads import HeldUploads
from backend.runtime.registry import EFFICIENTNET, MINILM, get_spec, models_for
from backend.runtime.scheduler import SCHEDULER, JobCancelled, Scheduler, run_now
from backend.vision.explain_image import explain_image, submit_explain_image
from backend.vision.image_decoding import example_image
from tests.backend.test_scheduler import Gate


def _limits(monkeypatch, **changes) -> None:
    monkeypatch.setattr(public_mode, "LAPTOP", replace(public_mode.LAPTOP, **changes))


@pytest.fixture
def owners(monkeypatch):
    """Which visitors are still there (the app asks Streamlit's runtime; here a set)."""
    present = {"visitor"}
    monkeypatch.setattr(SCHEDULER, "owner_alive", lambda owner: owner is None or owner in present)
    return present


def _score_cam_on_1280_channels(owner: str):
    cat = example_image("Cat (Chelsea)")
    return submit_explain_image(cat, None, ("scorecam",), "bn2", road=False, owner=owner, slot="recognise/explain")


class Checkpoints:
    """Counts the checks the visitor's job makes (one before each hooked module of the network
    runs) and, at the `at`-th, calls `event` just before that check."""

    def __init__(self, at: int, event: Callable[[], None]) -> None:
        self.at, self.event = at, event
        self.count = 0
        self.real = model_cache.checkpoint

    def __call__(self) -> None:
        job = scheduler.current_job()
        if job is not None and job.owner == "visitor":
            self.count += 1
            if self.count == self.at:
                self.event()
        self.real()


class AheadClock:
    """The scheduler's clock: the real one, moved ahead by hand."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


def _inside_the_masked_passes() -> int:
    """A check made once Score-CAM runs its masked passes: the first of the third forward pass
    (the request's own pass and Score-CAM's first are done; one check per hooked module)."""
    return 2 * model_cache.get_model(EFFICIENTNET.key).extras["checkpoint_hooks"] + 1


def test_a_visitor_leaving_mid_score_cam_ends_it_at_the_next_check(owners, monkeypatch):
    checks = Checkpoints(at=_inside_the_masked_passes(), event=lambda: owners.discard("visitor"))
    monkeypatch.setattr(model_cache, "checkpoint", checks)
    job = _score_cam_on_1280_channels("visitor")
    assert job.wait(120)
    with pytest.raises(JobCancelled, match="nobody was waiting"):
        job.outcome()
    assert checks.count == checks.at  # the first check after the visitor left ended it: no module ran after


def test_a_job_past_its_time_limit_stops_at_its_first_check_after_the_limit(owners, monkeypatch):
    _limits(monkeypatch, job_seconds=100.0)
    clock = AheadClock()
    monkeypatch.setattr(scheduler, "time", clock)
    checks = Checkpoints(at=_inside_the_masked_passes(), event=lambda: clock.advance(100.5))
    monkeypatch.setattr(model_cache, "checkpoint", checks)
    job = _score_cam_on_1280_channels("visitor")
    assert job.wait(120)
    with pytest.raises(JobStopped, match="more than 100 s, the limit here"):
        job.outcome()
    assert checks.count == checks.at  # the first check past the limit stopped it, inside Score-CAM's passes


def test_public_mode_caps_score_cam_ig_steps_and_text(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    cat = example_image("Cat (Chelsea)")
    with pytest.raises(InputError, match="1280 times .* the limit here is 320"):
        explain_image(cat, methods=("scorecam",), layer="bn2", road=False)
    with pytest.raises(InputError, match="from 1 to 64 steps"):
        explain_image(cat, methods=("ig",), steps=300, road=False)
    from backend.text.classify import classify

    with pytest.raises(InputError, match="limit here is 4,000"):
        classify("word " * 1000)
    monkeypatch.delenv("DASHBOARD_PUBLIC")
    with pytest.raises(InputError, match="tokens long"):  # a laptop takes 5,000 characters; the model's window decides
        classify("word " * 1000)


def test_full_queue_and_busy_address_are_told_to_try_again(monkeypatch):
    _limits(monkeypatch, queue_length=3, jobs_per_address=2)
    own = Scheduler()
    gate = Gate()
    first = own.submit("m", gate, "a", client="10.0.0.1")
    assert gate.entered.wait(5)
    own.submit("m", gate, "b", client="10.0.0.1")
    with pytest.raises(BusyError, match="2 requests running or waiting"):
        own.submit("m", gate, "c", client="10.0.0.1")
    own.submit("m", gate, "c", client="10.0.0.2")
    with pytest.raises(BusyError, match="The model is busy: 3 requests are ahead. Try again in about"):
        own.submit("m", gate, "d", client="10.0.0.3")
    gate.release.set()
    assert run_now(first) == "answer to a"
    for job in list(own.queue("m")._waiting):
        job.wait(5)
    assert own.submit("m", gate, "e", client="10.0.0.1").wait(5), "room again once they finished"


class WatchedSlot:
    """A compute slot that counts the workers waiting for it."""

    def __init__(self, slot, waiting: list[int], changed: threading.Condition) -> None:
        self.slot, self.waiting, self.changed = slot, waiting, changed

    def __enter__(self) -> None:
        with self.changed:
            self.waiting[0] += 1
            self.changed.notify_all()
        self.slot.__enter__()
        with self.changed:
            self.waiting[0] -= 1
            self.changed.notify_all()

    def __exit__(self, *exc: object) -> None:
        self.slot.__exit__(*exc)


def test_at_most_one_model_per_core_computes_at_once(monkeypatch):
    monkeypatch.setattr(scheduler, "heavy_slots", lambda: 1)
    own = Scheduler()
    waiting, changed = [0], threading.Condition()
    inside: list[str] = []
    slot_of = own.compute_slot
    monkeypatch.setattr(own, "compute_slot", lambda heavy: WatchedSlot(slot_of(heavy), waiting, changed))
    release = threading.Event()

    def work(item):
        with changed:
            inside.append(item)
            changed.notify_all()
        assert release.wait(10)
        return item

    jobs = [own.submit(f"model-{i}", work, i) for i in range(4)]
    with changed:  # every worker is either computing or waiting for the one slot
        assert changed.wait_for(lambda: len(inside) + waiting[0] == 4, 10)
        assert len(inside) == 1 and waiting[0] == 3
    release.set()
    assert [run_now(j) for j in jobs] == [0, 1, 2, 3]
    together = threading.Barrier(3)

    def network(item):  # passes only when all three run at once
        together.wait(10)
        return item

    light = [own.submit(f"remote-engines/{i}", network, i) for i in range(3)]  # waiting on the network: no slot
    assert [run_now(j) for j in light] == [0, 1, 2]


def test_an_idle_queue_ends_its_thread(monkeypatch):
    monkeypatch.setattr(scheduler, "IDLE_SECONDS", 0.3)
    own = Scheduler()
    assert run_now(own.submit("torchvision:nothing", lambda: 1)) == 1
    assert "torchvision:nothing" in own.queue_names
    for worker in [t for t in threading.enumerate() if t.name == "queue-torchvision:nothing"]:
        worker.join(10)
    assert not any(t.name == "queue-torchvision:nothing" for t in threading.enumerate())
    assert "torchvision:nothing" not in own.queue_names
    assert run_now(own.submit("torchvision:nothing", lambda: 2)) == 2, "and starts again when asked"


def test_a_failed_load_leaves_nothing_behind():
    with pytest.raises(InputError, match="torchvision has no classifier"):
        model_cache.get_model("torchvision:not_a_real_model")
    assert "torchvision:not_a_real_model" not in model_cache._load_locks
    assert not model_cache.is_loaded("torchvision:not_a_real_model")


def test_public_mode_refuses_an_unlisted_model_before_any_download(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    monkeypatch.setenv("DASHBOARD_ALLOWED_MODELS", "hub:gpt2, timm:resnet18.a1_in1k")

    def no_loading(*args):
        raise AssertionError("a loader ran")

    monkeypatch.setattr(model_cache, "_load", no_loading)
    for key in ("timm:resnet50.a1_in1k", "torchvision:resnet50", "hf:google/vit-base-patch16-224", "hub:distilbert-sst2"):
        with pytest.raises(InputError, match="does not offer"):
            model_cache.get_model(key)
    assert get_spec("timm:resnet18.a1_in1k").location == "resnet18.a1_in1k"
    assert [s.key for s in models_for("generation")] == ["smollm2-135m", "gemma3-270m", "hub:gpt2"]
    assert [s.key for s in models_for("classification")] == ["minilm-l6"]
    monkeypatch.delenv("DASHBOARD_PUBLIC")
    assert [s.key for s in models_for("classification")] == ["minilm-l6", "hub:distilbert-sst2"]


def test_models_named_by_visitors_share_a_budget_and_the_least_recent_goes(monkeypatch):
    """The real MiniLM (87 MB) and EfficientNet-Lite0 (18 MB) stand in for two visitor-named
    models: the cache is emptied, nothing is pinned, and the budget holds only one of them."""
    monkeypatch.setattr(model_cache, "_loaded", OrderedDict())
    monkeypatch.setattr(model_cache, "pinned", lambda spec: False)
    monkeypatch.setenv("DASHBOARD_MODEL_MEMORY_MB", "100")
    model_cache.get_model(MINILM.key)
    model_cache.get_model(EFFICIENTNET.key)
    assert model_cache.loaded_keys() == [EFFICIENTNET.key], "MiniLM was dropped to make room"
    monkeypatch.setenv("DASHBOARD_MODEL_MEMORY_MB", "50")
    with pytest.raises(ModelUnavailableError, match="more than the 50 MB"):
        model_cache.get_model(MINILM.key)
    assert model_cache.loaded_keys() == [EFFICIENTNET.key] and MINILM.key not in model_cache._load_locks


def test_failed_jobs_do_not_keep_their_images():
    """A failed request (a class that does not exist) leaves neither its job nor its image in the
    shared answers: after 50 distinct ones, none of the 50 images is alive."""
    from ui.core.jobs import _Results

    results = _Results()
    images = []
    for category in range(5000, 5050):
        image = Image.new("RGB", (640, 480), (category % 256, 0, 0))
        images.append(weakref.ref(image))
        claimed = results.claim(("cat", category), lambda image=image, category=category: submit_explain_image(
            image, category, ("gradcam",), road=False, owner=None))
        claimed.wait(30)
        with pytest.raises(InputError, match="does not exist"):
            claimed.outcome()
        del image, claimed
    gc.collect()
    assert results.sizes() == (0, 0)
    assert sum(ref() is not None for ref in images) == 0, "every image was let go"


def _pieces(job, count: int) -> list:
    """The job's first `count` pieces, as they come (fewer if it ends before)."""
    pieces = []
    for piece in job.stream(poll=0.1):
        if piece is not None:
            pieces.append(piece)
        if len(pieces) == count:
            break
    return pieces


def test_a_room_opening_one_greedy_link_shares_one_run_and_stop_is_per_visitor(owners):
    owners.update({"a", "b", "c"})
    settings = GenerationSettings(max_new_tokens=200, temperature=0, chat=False)
    jobs = [submit_generate("Once upon a time", settings, owner=o, slot="generate") for o in ("a", "b", "c")]
    assert jobs[0] is jobs[1] is jobs[2] and jobs[0].owners == {"a", "b", "c"}
    sampled = submit_generate("Once upon a time", replace(settings, temperature=1.0, seed=None), owner="d", slot="generate")
    assert sampled is not jobs[0], "an unseeded draw is not shared"
    sampled.cancel()
    job = jobs[0]
    assert len(_pieces(job, 1)) == 1
    assert job.leave("a") is False and job.leave("b") is False, "others still follow it"
    # c still follows it: every step after the two left is checked for who waits, and it goes on
    had = len(job.pieces)
    assert len(_pieces(job, had + 3)) == had + 3
    assert job.active and not job.stop_requested
    assert job.leave("c") is True
    assert job.wait(60)
    stream = job.outcome()
    assert stream.stop_reason == "stopped" and had + 3 <= stream.new_tokens < 200


def test_asking_for_something_else_while_waiting_does_not_lock_the_shared_answers():
    """A session whose new request replaces its waiting one: the replaced job's finish callback
    runs inside the same claim, and the claim returns (the callback does not wait for the
    shared answers' lock that the claim holds)."""
    from ui.core.jobs import _Results

    own = Scheduler()
    gate = Gate()
    blocker = own.submit("m", gate, "first in line")
    assert gate.entered.wait(5)
    results = _Results()
    waiting = results.claim("a", lambda: own.submit("m", gate, "a", owner="s", slot="classify"))
    done = threading.Event()

    def ask_again() -> None:
        results.claim("b", lambda: own.submit("m", gate, "b", owner="s", slot="classify"))
        done.set()

    threading.Thread(target=ask_again, daemon=True).start()
    assert done.wait(5), "the second claim returned"
    assert waiting.state == "cancelled" and results.sizes() == (0, 1)
    gate.release.set()
    assert run_now(blocker) == "answer to first in line"


class _TenSecondTokens(StepStream):
    """A generation whose every token takes 10 s on the stream's (stopped) clock."""

    def __init__(self, clock) -> None:
        super().__init__("count", GenerationSettings(max_new_tokens=256))
        self.clock = clock

    def _produce(self, started, deadline):
        while not self.should_end(deadline):
            self.clock.now += 10.0
            step = Step(len(self.steps), -1, "x", 0.5, 1, self.clock.now - started, ())
            self.steps.append(step)
            yield step


class _StoppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def test_public_mode_stops_a_generation_at_its_shorter_time_limit(monkeypatch):
    monkeypatch.delenv("DASHBOARD_GENERATION_SECONDS", raising=False)
    monkeypatch.setattr(token_steps, "time", _StoppedClock())
    laptop = _TenSecondTokens(token_steps.time)  # tokens begun at 0, 10, ..., 180 s: not past the limit yet
    assert len(list(laptop)) == 19 and laptop.stop_reason == "time limit (180 s)"
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    public = _TenSecondTokens(token_steps.time)
    assert len(list(public)) == 10 and public.stop_reason == "time limit (90 s)"
    monkeypatch.setenv("DASHBOARD_GENERATION_SECONDS", "30")  # the operator's setting wins in either mode
    assert len(list(_TenSecondTokens(token_steps.time))) == 4


def test_uploads_held_in_memory_are_capped_per_address_and_for_the_server(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    assert (public_mode.limits().held_uploads, public_mode.limits().held_uploads_per_address) == (32, 3)
    open_tabs = set()
    uploads = HeldUploads(alive=lambda owner: owner in open_tabs)
    open_tabs.update(f"a{i}" for i in range(4))
    for i in range(3):
        uploads.hold(f"a{i}", "10.0.0.1")
    with pytest.raises(BusyError, match="already has uploaded images open in 3 tabs"):
        uploads.hold("a3", "10.0.0.1")
    uploads.hold("a0", "10.0.0.1")  # a new file in a tab that holds one takes no second place
    uploads.release("a0")  # that tab removed its upload
    uploads.hold("a3", "10.0.0.1")
    open_tabs.update(f"v{i}" for i in range(30))
    for i in range(29):
        uploads.hold(f"v{i}", f"10.0.1.{i}")
    assert len(uploads) == 32
    with pytest.raises(BusyError, match="holding uploaded images for 32 visitors"):
        uploads.hold("v29", "10.0.2.1")
    open_tabs.discard("v0")  # a tab closed: its place comes free
    uploads.hold("v29", "10.0.2.1")
    assert len(uploads) == 32
