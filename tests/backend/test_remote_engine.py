"""Generation through a real OpenAI-compatible server: llama.cpp's, on loopback, same weights."""

import http.server
import json
import math
import socket
import threading
import time

import pytest

from backend.generation import llama_server, remote_http
from backend.generation import openai_engine as remote_engine
from backend.generation.engines import Engine, choose_engine, normalise_url
from backend.generation.openai_engine import RemoteStream, submit_remote
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import EngineError, InputError
from backend.runtime.scheduler import run_now
from tests.fake_servers import Recording, serve


@pytest.fixture(autouse=True)
def no_configured_servers(monkeypatch):
    """Each test configures the servers it needs; nothing comes from the machine's environment."""
    for name in list(__import__("os").environ):
        if name.startswith(("DASHBOARD_OPENAI_", "DASHBOARD_ENGINE_")) or name == "DASHBOARD_PUBLIC":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def server_url():
    with llama_server.running() as url:
        yield url


def test_chat_generation_streams_tokens_with_their_logprobs(server_url):
    stream = RemoteStream("What is the capital of France?", GenerationSettings(max_new_tokens=30, temperature=0), Engine.at(server_url))
    steps = []
    for step in stream:
        steps.append(step)
    assert "Paris" in stream.text and stream.stop_reason == "end of answer"
    assert len(steps) > 3, "the answer arrives token by token"
    for step in steps:
        assert 0 < step.probability <= 1
        values = [c.probability for c in step.before]
        assert len(values) == remote_engine.TOP_LOGPROBS and values == sorted(values, reverse=True) and sum(values) <= 1 + 1e-6
        assert step.rank == 1, "greedy: the chosen token is the server's most likely one"
    assert stream.run.seconds > 0 and stream.tokens_per_second > 0 and stream.model_name.endswith(".gguf")


def test_raw_completion_through_the_queue_returns_logprobs(server_url):
    job = submit_remote(Engine.at(server_url.removesuffix("/v1") + "/"), "The capital of France is", GenerationSettings(max_new_tokens=8, temperature=0, chat=False))
    stream = run_now(job)
    assert "Paris" in stream.text
    assert [step.text for step in job.pieces] == [step.text for step in stream.steps]
    assert all(step.before and step.probability > 0 for step in stream.steps)


def test_a_refusing_port_is_a_clear_message():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(EngineError, match="http://127.0.0.1:.*refused the connection.*Is the server running"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(f"http://127.0.0.1:{port}")))


def test_a_server_that_hangs_is_a_clear_message(monkeypatch):
    monkeypatch.setattr(remote_http, "READ_SECONDS", 1.0)
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        engine = Engine.at(f"http://127.0.0.1:{listener.getsockname()[1]}", model="m")
        with pytest.raises(EngineError, match="did not answer in time"):
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), engine))


class _Garbage(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"<html>This is not an API; secret=hunter2</html>\n"

    def do_POST(self):  # noqa: N802
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(type(self).body)

    def do_GET(self):  # noqa: N802
        self.do_POST()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status", [200, 500, 401])
def test_a_server_that_answers_garbage_or_an_error_is_named_but_never_echoed(status, monkeypatch):
    monkeypatch.setattr(_Garbage, "status", status)
    server, url = serve(_Garbage)
    try:
        with pytest.raises(EngineError) as caught:
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url)))
    finally:
        server.shutdown()
    message = str(caught.value)
    assert "hunter2" not in message and "<html>" not in message
    assert ("OpenAI-compatible" in message) if status == 200 else (f"HTTP {status}" in message)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        (" http://h:1/v1/ ", "http://h:1/v1"),
        ("https://h/v1/chat/completions", "https://h/v1"),
        ("HTTP://Host.Example:80/v1", "http://host.example:80/v1"),
    ],
)
def test_server_urls_are_normalised(given, expected):
    assert normalise_url(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "localhost:8080", "ftp://h/v1", "http://", "http://user:pw@h/v1", "http://h/v1?x=1", "http://h:99999/v1",
     "http://h/v1\r\nX-Injected: 1", "http://h/" + "a" * 600],
)
def test_a_bad_url_is_refused_before_any_request(bad):
    with pytest.raises(InputError):
        normalise_url(bad)


@pytest.fixture
def recording_server():
    Recording.seen = []
    server, url = serve(Recording)
    yield url
    server.shutdown()


def test_a_configured_servers_key_goes_to_its_own_url_by_name_or_by_that_exact_url(recording_server, monkeypatch):
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", recording_server)
    monkeypatch.setenv("DASHBOARD_OPENAI_NAME", "Lab server")
    monkeypatch.setenv("DASHBOARD_OPENAI_API_KEY", "sk-test-123")
    for engine in (choose_engine("Lab server"), Engine.at(recording_server + "/v1/")):
        assert "sk-test-123" not in repr(engine) and engine.label == "the server 'Lab server'"
        stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4, temperature=0), engine)
        assert [step.text for step in stream] == ["Hello", " there"]
        assert stream.run.device == "server: Lab server", "the page names the server, never its URL"
    assert stream.steps[1].probability == pytest.approx(math.exp(-0.7))
    (list_path, _, _), (post_path, post_auth, body) = Recording.seen[:2]
    assert list_path == "/v1/models" and post_path == "/v1/chat/completions"
    assert {auth for _, auth, _ in Recording.seen} == {"Bearer sk-test-123"}
    assert body["model"] == "listed-model" and stream.run.model == "listed-model"


def test_the_key_never_goes_to_a_url_a_visitor_typed(recording_server, monkeypatch):
    """The attack: a link with engine=server&server=<their host> used to receive the operator's
    key. A loopback server recording headers now sees none."""
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the operator's real server
    monkeypatch.setenv("DASHBOARD_OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("DASHBOARD_ENGINE_1_URL", "http://127.0.0.1:10/v1")
    monkeypatch.setenv("DASHBOARD_ENGINE_1_KEY", "sk-other")
    for typed in (recording_server, recording_server + "/v1", recording_server.replace("127.0.0.1", "localhost")):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), choose_engine(typed)))
    assert Recording.seen and all(auth is None for _, auth, _ in Recording.seen)


def test_a_typed_url_may_name_a_model(recording_server):
    list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4, chat=False), Engine.at(recording_server, model="chosen")))
    ((path, auth, body),) = Recording.seen  # no /models look-up: the name was given
    assert path == "/v1/completions" and auth is None and body["model"] == "chosen"


def test_public_mode_refuses_every_url_before_connecting(recording_server, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    for typed in (recording_server, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1:8080/v1", "Lab server"):
        with pytest.raises(InputError, match="only its own servers"):
            choose_engine(typed)
    with pytest.raises(InputError, match="only its own servers"):  # an Engine built by hand is refused too
        submit_remote(Engine(recording_server + "/v1"), "Hi", GenerationSettings(max_new_tokens=4))
    with pytest.raises(InputError, match="only its own servers"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine(recording_server + "/v1")))
    assert Recording.seen == [], "no connection was made"
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", recording_server)
    monkeypatch.setenv("DASHBOARD_OPENAI_NAME", "Lab server")
    stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), choose_engine("Lab server"))
    assert [step.text for step in stream] == ["Hello", " there"]


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]:80/v1", "http://0.0.0.0:8080/v1",
            "http://[::ffff:169.254.169.254]/v1", "http://224.0.0.1/v1"],
)
def test_metadata_like_addresses_are_never_contacted(url, monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(InputError, match="no generation server lives at"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url)))


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802
        self.send_response(307)
        self.send_header("Location", type(self).target + self.path)
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def test_redirects_are_not_followed(recording_server, monkeypatch):
    monkeypatch.setattr(_Redirect, "target", recording_server)
    server, url = serve(_Redirect)
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", url)
    monkeypatch.setenv("DASHBOARD_OPENAI_API_KEY", "sk-secret")
    try:
        with pytest.raises(EngineError, match="redirect"):
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), choose_engine("Configured server")))
    finally:
        server.shutdown()
    assert Recording.seen == [], "the redirect's target was never contacted"


class _Hostile(http.server.BaseHTTPRequestHandler):
    """mode 'endless': one line that never ends; 'trickle': a byte every second, forever;
    'slow-headers': the status line, then header bytes one per second."""

    mode = "endless"
    protocol_version = "HTTP/1.0"

    def do_POST(self):  # noqa: N802
        mode = type(self).mode
        try:
            if mode == "slow-headers":
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                while True:
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(1.0)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if mode == "endless":
                while True:
                    self.wfile.write(b"data: " + b"a" * 65536)
            item = {"token": "x", "logprob": -0.1, "top_logprobs": []}
            chunk = b"data: " + json.dumps({"choices": [{"logprobs": {"content": [item]}}]}).encode() + b"\n\n"
            self.wfile.write(chunk)  # one token, then a byte a second
            self.wfile.flush()
            while True:
                time.sleep(1.0)
                self.wfile.write(b":")
                self.wfile.flush()
        except OSError:
            pass  # the client hung up

    def log_message(self, *args):
        pass


def _hostile(mode: str, monkeypatch) -> str:
    monkeypatch.setattr(_Hostile, "mode", mode)
    server, url = serve(_Hostile)
    return server, url


def test_a_line_without_an_end_is_cut_off_at_the_cap(monkeypatch):
    server, url = _hostile("endless", monkeypatch)
    try:
        started = time.perf_counter()
        with pytest.raises(EngineError, match="longer than 256 KB"):
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m")))
        assert time.perf_counter() - started < 10
    finally:
        server.shutdown()


@pytest.mark.parametrize("mode", ["trickle", "slow-headers"])
def test_a_trickling_server_ends_at_the_generation_deadline(mode, monkeypatch):
    monkeypatch.setenv("DASHBOARD_GENERATION_SECONDS", "3")
    server, url = _hostile(mode, monkeypatch)
    try:
        started = time.perf_counter()
        stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m"))
        if mode == "trickle":
            assert [step.text for step in stream] == ["x"]
            assert stream.stop_reason == "time limit (3 s)"
        else:
            with pytest.raises(EngineError, match="before the time limit"):
                list(stream)
        assert 2.9 < time.perf_counter() - started < 4.5, "ended at the deadline, not at a read timeout"
    finally:
        server.shutdown()


def test_stop_ends_a_pending_read_at_once(monkeypatch):
    server, url = _hostile("trickle", monkeypatch)
    try:
        stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m"))
        steps = iter(stream)
        assert next(steps).text == "x"
        threading.Timer(0.5, stream.stop).start()
        started = time.perf_counter()
        assert list(steps) == []
        assert time.perf_counter() - started < 1.0 and stream.stop_reason == "stopped"
    finally:
        server.shutdown()


def test_stop_pressed_on_the_page_ends_a_pending_read_through_the_queue(monkeypatch):
    server, url = _hostile("trickle", monkeypatch)
    try:
        job = submit_remote(Engine.at(url, model="m"), "Hi", GenerationSettings(max_new_tokens=4), owner="visitor", slot="generate")
        deadline = time.monotonic() + 10
        while not job.pieces and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [step.text for step in job.pieces] == ["x"]
        time.sleep(0.3)  # the worker now waits inside a read
        pressed = time.monotonic()
        job.cancel()
        assert job.wait(5) and time.monotonic() - pressed < 1.0
        assert job.outcome().stop_reason == "stopped"
    finally:
        server.shutdown()


def test_every_url_shares_one_bounded_pool(recording_server):
    before = {t.name for t in threading.enumerate()}
    jobs = [submit_remote(Engine.at(recording_server + f"/{i}"), "Hi", GenerationSettings(max_new_tokens=2)) for i in range(12)]
    for job in jobs:
        job.wait(30)
    new = {t.name for t in threading.enumerate()} - before
    assert all(job.done for job in jobs)
    assert not any("engine:" in name for name in new)
    pool = {t.name for t in threading.enumerate() if t.name.startswith("queue-remote-engines/")}
    assert 1 <= len(pool) <= remote_engine.POOL_SIZE
