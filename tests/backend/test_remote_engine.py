"""Generation through a real OpenAI-compatible server: llama.cpp's, on loopback, same weights."""

import http.server
import json
import math
import socket
import threading

import pytest

from backend.generation import llama_server
from backend.generation import openai_engine as remote_engine
from backend.generation.openai_engine import (
    Engine,
    RemoteStream,
    normalise_url,
    submit_remote,
)
from backend.generation.token_steps import GenerationSettings
from backend.runtime.errors import EngineError, InputError
from backend.runtime.scheduler import run_now


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
    with pytest.raises(EngineError, match="Could not connect to http://127.0.0.1:.*Is the server running"):
        list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(f"http://127.0.0.1:{port}")))


def test_a_server_that_hangs_is_a_clear_message(monkeypatch):
    monkeypatch.setattr(remote_engine, "READ_SECONDS", 1.0)
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        engine = Engine.at(f"http://127.0.0.1:{listener.getsockname()[1]}", model="m")
        with pytest.raises(EngineError, match="did not answer within 1 s"):
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), engine))


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<html>This is not an API</html>\n")

    def do_GET(self):  # noqa: N802
        self.do_POST()

    def log_message(self, *args):
        pass


def test_a_server_that_answers_garbage_is_a_clear_message():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(EngineError, match="did not answer like an OpenAI-compatible API.*<html>"):
            list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4), Engine.at(f"http://127.0.0.1:{server.server_address[1]}")))
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        (" http://h:1/v1/ ", "http://h:1/v1"),
        ("https://h/v1/chat/completions", "https://h/v1"),
    ],
)
def test_server_urls_are_normalised(given, expected):
    assert normalise_url(given) == expected


@pytest.mark.parametrize("bad", ["", "localhost:8080", "ftp://h/v1", "http://"])
def test_a_bad_url_is_refused_before_any_request(bad):
    with pytest.raises(InputError):
        normalise_url(bad)


class _Recording(http.server.BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible server: lists one model and streams two tokens with logprobs,
    recording what each request carried."""

    seen: list[tuple[str, str | None, dict | None]] = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization"), None))
        body = json.dumps({"data": [{"id": "listed-model"}, {"id": "second"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization"), request))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for token, logprob in (("Hello", -0.1), (" there", -0.7)):
            item = {"token": token, "logprob": logprob, "top_logprobs": [{"token": token, "logprob": logprob}]}
            chunk = {"choices": [{"delta": {"content": token}, "logprobs": {"content": [item]}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server():
    _Recording.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_api_key_is_sent_as_a_bearer_token_and_the_first_listed_model_is_used(recording_server, monkeypatch):
    monkeypatch.setenv("DASHBOARD_OPENAI_API_KEY", "sk-test-123")
    monkeypatch.delenv("DASHBOARD_OPENAI_MODEL", raising=False)
    stream = RemoteStream("Hi", GenerationSettings(max_new_tokens=4, temperature=0), Engine.at(recording_server))
    assert [step.text for step in stream] == ["Hello", " there"]
    assert stream.steps[1].probability == pytest.approx(math.exp(-0.7))
    (list_path, list_auth, _), (post_path, post_auth, body) = _Recording.seen
    assert list_path == "/v1/models" and post_path == "/v1/chat/completions"
    assert post_auth == "Bearer sk-test-123"
    assert body["model"] == "listed-model" and stream.run.model == "listed-model"


def test_without_a_key_no_authorization_header_and_a_configured_model_name_wins(recording_server, monkeypatch):
    monkeypatch.delenv("DASHBOARD_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("DASHBOARD_OPENAI_MODEL", "configured")
    list(RemoteStream("Hi", GenerationSettings(max_new_tokens=4, chat=False), Engine.at(recording_server)))
    ((path, auth, body),) = _Recording.seen  # no /models look-up: the name was configured
    assert path == "/v1/completions" and auth is None and body["model"] == "configured"
