"""Generation through a real OpenAI-compatible server: llama.cpp's, on loopback, same weights."""

import http.server
import json
import math
import socket
import ssl
import subprocess
import threading
import time
from typing import ClassVar

import pytest

from backend.generation import llama_server, remote_http
from backend.generation import openai_engine as remote_engine
from backend.generation.engines import Engine, choose_engine, normalise_url
from backend.generation.openai_engine import RemoteStream, submit_remote
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import BusyError, EngineError, InputError
from backend.runtime.scheduler import run_now
from tests.fake_servers import Recording, serve
from tests.hostile_inputs import SERVER_URLS


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
    monkeypatch.setattr(remote_http, "READ_SECONDS", 0.2)
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
    """A link with engine=server&server=<someone's host> gets no configured key: a loopback
    server recording headers, typed as a URL three ways, sees no Authorization header."""
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


@pytest.mark.parametrize("url", SERVER_URLS)
def test_metadata_like_addresses_are_never_contacted(url, monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(remote_http, "_connect_to", no_connection)
    with pytest.raises(InputError, match="no generation server lives at"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url)))


class _RecordingHost(Recording):
    """The recording server, also noting the Host header of each request."""

    hosts: ClassVar[list[str]] = []

    def do_GET(self):  # noqa: N802
        type(self).hosts.append(self.headers["Host"])
        super().do_GET()

    def do_POST(self):  # noqa: N802
        type(self).hosts.append(self.headers["Host"])
        super().do_POST()


def _tls_context_for(name: str, folder) -> tuple[ssl.SSLContext, str]:
    """A server context with a fresh self-signed certificate for `name`, and the certificate's path."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(cert)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_connection_goes_to_the_address_that_was_checked(scheme, monkeypatch, tmp_path):
    """DNS rebinding: a name that first resolves to an allowed address (here the loopback server)
    and then to the metadata service. The name is resolved once; both requests (the model list and
    the generation) reach the checked address, with the name in the Host header and, over TLS, in
    the server name and the certificate check; the second answer is never asked for or used."""
    Recording.seen, _RecordingHost.hosts = [], []
    server, _ = serve(_RecordingHost)
    port = server.server_address[1]
    names: list[str | None] = []
    if scheme == "https":
        context, cert = _tls_context_for("rebind.test", tmp_path)
        context.sni_callback = lambda sock, name, ctx: names.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        trusted = ssl.create_default_context(cafile=cert)
        monkeypatch.setattr(remote_http.ssl, "create_default_context", lambda *a, **k: trusted)
    real_getaddrinfo, answers, attempts = socket.getaddrinfo, [], []

    def rebinding(host, port_, *args, **kwargs):
        if host != "rebind.test":
            return real_getaddrinfo(host, port_, *args, **kwargs)
        address = "127.0.0.1" if not answers else "169.254.169.254"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port_ or 0))]

    real_create_connection = socket.create_connection

    def connecting(address, *args, **kwargs):  # resolves as the standard library does; never reaches 169.254.x
        resolved = socket.getaddrinfo(address[0], address[1], 0, socket.SOCK_STREAM)[0][4][0]
        attempts.append(resolved)
        if resolved != "127.0.0.1":
            raise ConnectionRefusedError(f"a connection to {resolved} was attempted")
        return real_create_connection((resolved, address[1]), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connecting)
    try:
        stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(f"{scheme}://rebind.test:{port}"))
        steps = [step.text for step in stream]
    finally:
        server.shutdown()
    assert answers == ["127.0.0.1"], "the name was resolved once, for the check"
    assert "169.254.169.254" not in attempts
    assert steps == ["Hello", " there"] and stream.model_name == "listed-model"
    assert [path for path, _, _ in Recording.seen] == ["/v1/models", "/v1/chat/completions"]
    assert _RecordingHost.hosts == [f"rebind.test:{port}"] * 2
    if scheme == "https":
        assert names == ["rebind.test"] * 2, "TLS was asked for the URL's name (and its certificate checked for it)"


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
    """mode 'endless': one line that never ends; 'trickle': one token, then a byte every `every`
    seconds; 'slow-headers': the status line, then header bytes one every `every` seconds. The
    trickle goes on until the client hangs up or the test ends (`ended`). `begun` is set once the
    server trickles."""

    mode = "endless"
    every = 1.0
    protocol_version = "HTTP/1.0"
    begun = threading.Event()
    ended = threading.Event()

    def do_POST(self):  # noqa: N802
        cls = type(self)
        try:
            if cls.mode == "slow-headers":
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                cls.begun.set()
                while not cls.ended.wait(cls.every):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if cls.mode == "endless":
                while True:
                    self.wfile.write(b"data: " + b"a" * 65536)
            item = {"token": "x", "logprob": -0.1, "top_logprobs": []}
            chunk = b"data: " + json.dumps({"choices": [{"logprobs": {"content": [item]}}]}).encode() + b"\n\n"
            self.wfile.write(chunk)  # one token, then a byte now and then
            self.wfile.flush()
            cls.begun.set()
            while not cls.ended.wait(cls.every):
                self.wfile.write(b":")
                self.wfile.flush()
        except OSError:
            pass  # the client hung up

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile(monkeypatch):
    """Start a `_Hostile` server in a mode (and trickle period). A read timeout ends nothing the
    tests below wait for (it is a minute): what ends their exchanges is the deadline or a stop."""
    monkeypatch.setattr(remote_http, "READ_SECONDS", 60.0)
    monkeypatch.setattr(_Hostile, "begun", threading.Event())
    monkeypatch.setattr(_Hostile, "ended", threading.Event())
    servers = []

    def start(mode: str, every: float = 1.0) -> str:
        monkeypatch.setattr(_Hostile, "mode", mode)
        monkeypatch.setattr(_Hostile, "every", every)
        server, url = serve(_Hostile)
        servers.append(server)
        return url

    yield start
    _Hostile.ended.set()
    for server in servers:
        server.shutdown()


class _AheadClock:
    """The exchanges' clock: the real one, moved ahead by hand (their watchdog still sleeps in real time)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def perf_counter(self) -> float:
        return time.perf_counter() + self.ahead

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def test_a_line_without_an_end_is_cut_off_at_the_cap(hostile):
    url = hostile("endless")
    with pytest.raises(EngineError, match="longer than 256 KB"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m")))


@pytest.mark.parametrize("mode", ["trickle", "slow-headers"])
def test_a_trickling_server_ends_at_the_generation_deadline(mode, hostile, monkeypatch):
    """The server never pauses long enough for a read timeout; once the generation's time limit
    has passed while it trickles, the exchange ends, with the limit as the reason."""
    monkeypatch.setenv("DASHBOARD_GENERATION_SECONDS", "3")
    clock = _AheadClock()
    monkeypatch.setattr(remote_http, "time", clock)
    url = hostile(mode, every=0.2)
    stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m"))
    if mode == "trickle":
        steps = iter(stream)
        assert next(steps).text == "x"
        clock.ahead = 4.0  # while the server trickles
        assert list(steps) == [] and stream.stop_reason == "time limit (3 s)"
        return
    # the headers trickle: the limit passes once the server has begun them
    pass_the_limit = threading.Thread(target=lambda: _Hostile.begun.wait(30) and setattr(clock, "ahead", 4.0))
    pass_the_limit.start()
    with pytest.raises(EngineError, match="did not answer before the time limit"):
        list(stream)
    pass_the_limit.join()


def test_stop_ends_a_pending_read(hostile):
    """The server sends one token and then nothing: only the watchdog, cutting the socket when
    Stop is pressed, can end the read that waits for more."""
    url = hostile("trickle", every=3600)
    stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(url, model="m"))
    steps = iter(stream)
    assert next(steps).text == "x"
    stream.stop()
    assert list(steps) == [] and stream.stop_reason == "stopped"


def test_stop_pressed_on_the_page_ends_a_pending_read_through_the_queue(hostile):
    """As above, through the queue: Stop on the job (not on the stream) cuts the pending read."""
    url = hostile("trickle", every=3600)
    job = submit_remote(Engine.at(url, model="m"), "Hi", GenerationSettings(max_new_tokens=4), owner="visitor", slot="generate")
    first = next(piece for piece in job.stream(poll=0.1) if piece is not None)
    assert first.text == "x"
    job.cancel()
    assert job.wait(60)
    assert job.outcome().stop_reason == "stopped" and [step.text for step in job.pieces] == ["x"]


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


def test_public_mode_gives_one_address_one_generation_on_the_servers_at_a_time(hostile, monkeypatch):
    """The pool's workers are few: a second generation from the same address is refused while
    its first one holds a worker, naming the server; another address, or asking for something
    else in the same place (which replaces the first), still gets one."""
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    monkeypatch.setenv("DASHBOARD_OPENAI_BASE_URL", hostile("trickle", every=3600))
    monkeypatch.setenv("DASHBOARD_OPENAI_NAME", "Lab server")
    lab, settings = choose_engine("Lab server"), GenerationSettings(max_new_tokens=4)
    first = submit_remote(lab, "Hi", settings, owner="tab1", slot="generate", client="10.0.0.1")
    assert next(piece for piece in first.stream(poll=0.1) if piece is not None).text == "x"  # it holds a worker
    with pytest.raises(BusyError, match="already have a generation on the server 'Lab server' running or waiting"):
        submit_remote(lab, "Hello", settings, owner="tab2", slot="generate", client="10.0.0.1")
    other = submit_remote(lab, "Hi", settings, owner="tab3", slot="generate", client="10.0.0.2")
    instead = submit_remote(lab, "Hello", settings, owner="tab1", slot="generate", client="10.0.0.1")
    assert first.wait(60) and first.outcome().stop_reason == "stopped"  # replaced: nobody follows it
    for job in (other, instead):
        job.cancel()
        assert job.wait(60)
    monkeypatch.delenv("DASHBOARD_PUBLIC")  # a laptop: only the per-address cap of all requests
    laptop = [submit_remote(lab, "Hi", settings, owner=f"tab{i}", slot="generate", client="10.0.0.1") for i in range(2)]
    for job in laptop:
        job.cancel()
        assert job.wait(60)
