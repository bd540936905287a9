"""Generation through a real OpenAI-compatible server: llama.cpp's, on loopback, same weights."""

import http.server
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
