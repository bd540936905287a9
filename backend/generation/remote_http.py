"""One HTTP exchange with a generation server, on the assumption that the server may be hostile.

- No redirects followed, no proxy or `.netrc` from the environment, `Accept-Encoding: identity`
  (a compressed answer is refused: nothing is inflated in memory).
- Every line and the whole body are capped in bytes; a line without an end is cut off there.
- One deadline for the whole exchange, enforced even while a read is pending: a watchdog (one
  thread for every exchange in the process) shuts the socket down at the deadline, or as soon as
  the caller says to stop (Stop pressed, the visitor left). A server that trickles a byte every
  29 s therefore ends at the deadline, not never.
- A typed URL's host is resolved once, every address checked (`engines.checked_destinations`),
  and the socket connects to those addresses only, while the Host header, TLS's server name and
  its certificate check keep the URL's name: a name that resolves elsewhere a moment later (DNS
  rebinding) cannot lead the connection to an address that was never checked.
- Error messages say what happened (status code, refused, timed out), never what the server sent.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import urlsplit

from backend.generation.engines import Destination, Engine, checked_destinations
from backend.runtime.errors import EngineError
from backend.runtime.public_mode import is_public
from backend.shared.language import Lazy, n_

CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0  # the longest wait for the next piece of an answer
MAX_LINE_BYTES = 256 * 1024  # one streamed event (a token and its alternatives is under 2 KB)
MAX_BODY_BYTES = 16 * 1024 * 1024  # one whole answer (1,024 tokens with alternatives is about 2 MB)
MAX_JSON_BYTES = 256 * 1024  # a non-streamed answer (the model list)
POLL_SECONDS = 0.1


class _Watchdog:
    """Shuts down the sockets of exchanges past their deadline or asked to stop."""

    def __init__(self) -> None:
        self._watched: set[Exchange] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: Exchange) -> None:
        with self._lock:
            self._watched.add(exchange)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="remote-watchdog", daemon=True)
                self._thread.start()

    def forget(self, exchange: Exchange) -> None:
        with self._lock:
            self._watched.discard(exchange)

    def _loop(self) -> None:
        while True:
            time.sleep(POLL_SECONDS)
            with self._lock:
                watched = list(self._watched)
            for exchange in watched:
                exchange.check()


_WATCHDOG = _Watchdog()


def _connect_to(destinations: Sequence[Destination], timeout: float | None) -> socket.socket:
    """A socket connected to the first checked destination that answers; nothing is resolved."""
    failure: OSError = OSError("no address to connect to")
    for family, sockaddr in destinations:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure


def _connection(base_url: str, destinations: Sequence[Destination]) -> http.client.HTTPConnection:
    """http.client's connection to the URL's host (its name in the Host header and, for https, in
    TLS's server name and certificate check); with destinations, its socket goes to them only."""
    parts = urlsplit(base_url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    if secure:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, port, timeout=CONNECT_SECONDS, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=CONNECT_SECONDS)
    if destinations:
        # http.client opens its socket through this attribute (set per connection in __init__);
        # HTTPSConnection wraps that socket with server_hostname=self.host, the URL's name.
        connection._create_connection = lambda address, timeout, source_address=None: _connect_to(destinations, timeout)  # type: ignore[attr-defined]
    return connection


class Exchange:
    """`with Exchange(engine, deadline, should_stop) as x: x.request(...); for line in x.lines(): ...`

    After the exchange, `ended_by` is "deadline" or "stop" when the watchdog cut it short (the
    read that was pending then raises nothing: `lines()` simply ends)."""

    def __init__(
        self,
        engine: Engine,
        deadline: float,
        should_stop: Callable[[], bool] = lambda: False,
        destinations: Sequence[Destination] | None = None,
    ) -> None:
        """`destinations`: what `checked_destinations(engine)` gave, to share one resolution
        between exchanges; None resolves and checks here."""
        self.engine = engine
        self.destinations = destinations
        self.deadline = deadline  # time.perf_counter() value
        self.should_stop = should_stop
        self.ended_by: str | None = None
        self._sock_lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None  # kept: http.client drops its own reference early
        self._response: http.client.HTTPResponse | None = None
        self._read = 0

    def __enter__(self) -> Exchange:
        _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _WATCHDOG.forget(self)
        with self._sock_lock:
            connection, self._connection, self._sock = self._connection, None, None
        if self._response is not None:
            self._response.close()
        if connection is not None:
            connection.close()

    # --- the watchdog's side ---
    def check(self) -> None:
        if self.ended_by is not None:
            return
        if time.perf_counter() > self.deadline:
            self.ended_by = "deadline"
        elif self.should_stop():
            self.ended_by = "stop"
        else:
            return
        self._cut()

    def _cut(self) -> None:
        with self._sock_lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # a pending recv returns at once
            except OSError:
                pass

    # --- the caller's side ---
    def _where(self) -> Lazy | str:
        return self.engine.named

    def request(self, method: str, path: str, body: dict | None = None) -> http.client.HTTPResponse:
        if self.destinations is None:
            self.destinations = checked_destinations(self.engine)
        connection = _connection(self.engine.base_url, self.destinations)
        with self._sock_lock:
            self._connection = connection
        payload = json.dumps(body).encode() if body is not None else None
        headers = {
            "Accept": "text/event-stream, application/json",
            "Accept-Encoding": "identity",
            "User-Agent": "ai-dashboard",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.engine.configured and self.engine.api_key:
            headers["Authorization"] = f"Bearer {self.engine.api_key}"
        try:
            connection.connect()
            connection.sock.settimeout(READ_SECONDS)
            with self._sock_lock:
                self._sock = connection.sock
            if self.ended_by is not None:  # the deadline or a stop came while connecting
                self._cut()
            connection.request(method, f"{urlsplit(self.engine.base_url).path}/{path}", body=payload, headers=headers)
            response = connection.getresponse()
        except TimeoutError as exc:
            raise self._failure(n_("{server} did not answer in time. Is the server running, and is the URL right?")) from exc
        except ConnectionRefusedError as exc:
            raise self._failure(n_("{server} refused the connection. Is the server running, and is the URL right?")) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(
                n_("{server} could not be reached ({error}). Is the server running, and is the URL right?"),
                error=type(exc).__name__,
            ) from exc
        self._response = response
        if self.ended_by is not None:  # cut while the headers were arriving: they may be partial
            raise self._failure(n_("{server} was cut off. Is the server running, and is the URL right?"))
        if 300 <= response.status < 400:
            raise EngineError(
                "{server} answered with a redirect (HTTP {status}); redirects are not followed. Give the final URL.",
                server=self._where(), status=response.status,
            )
        if response.status in (401, 403):
            raise EngineError(
                "{server} answered HTTP {status}. It wants an API key, or a different one.",
                server=self._where(), status=response.status,
            )
        if response.status >= 400:
            raise EngineError("{server} answered HTTP {status}.", server=self._where(), status=response.status)
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise EngineError(
                "{server} sent a compressed answer ({encoding}) although asked not to.",
                server=self._where(), encoding=repr(encoding[:20]),
            )
        return response

    def _failure(self, message: str, **params: object) -> EngineError:
        """`message` (naming the `{server}`), unless the deadline or a stop cut the exchange short,
        or in public mode, where the visitor cannot fix the URL."""
        if self.ended_by == "deadline":
            return EngineError("{server} did not answer before the time limit.", server=self._where())
        if self.ended_by == "stop":
            return EngineError("Stopped before the server answered.")
        if is_public():
            return EngineError("{server} is not answering right now. Try again later.", server=self._where())
        return EngineError(message, server=self._where(), **params)

    def lines(self) -> Iterator[bytes]:
        """The answer's lines (without line ends), each and all together capped; ends quietly
        when the watchdog cut the exchange (see `ended_by`)."""
        response = self._response
        assert response is not None, "request() first"
        while True:
            try:
                line = response.readline(MAX_LINE_BYTES + 1)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if self.ended_by is not None:
                    return
                raise EngineError(
                    "The answer from {server} broke off or stalled for over {seconds} s.",
                    server=self._where(), seconds=f"{READ_SECONDS:.0f}",
                ) from exc
            if self.ended_by is not None:
                return
            if not line:
                return
            self._read += len(line)
            if len(line) > MAX_LINE_BYTES:
                raise EngineError(
                    "{server} sent a line longer than {kb} KB; the answer is not read further.",
                    server=self._where(), kb=MAX_LINE_BYTES // 1024,
                )
            if self._read > MAX_BODY_BYTES:
                raise EngineError(
                    "{server} sent more than {mb} MB; the answer is not read further.",
                    server=self._where(), mb=MAX_BODY_BYTES // 2**20,
                )
            yield line.rstrip(b"\r\n")

    def read_json(self) -> object:
        """A whole non-streamed answer as JSON (capped)."""
        response = self._response
        assert response is not None, "request() first"
        try:
            data = response.read(MAX_JSON_BYTES + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise EngineError("The answer from {server} broke off.", server=self._where()) from exc
        if len(data) > MAX_JSON_BYTES:
            raise EngineError(
                "{server} sent more than {kb} KB where a short answer was expected.", server=self._where(), kb=MAX_JSON_BYTES // 1024
            )
        try:
            return json.loads(data)
        except ValueError as exc:
            raise EngineError("{server} did not answer with JSON.", server=self._where()) from exc
