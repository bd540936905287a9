"""Which generation servers a visitor may use: the operator's list, and (not in public mode) a typed URL.

The operator configures servers in the environment; each has a URL, a name the page shows, an
optional API key and an optional model name:
- `DASHBOARD_OPENAI_BASE_URL` (+ `DASHBOARD_OPENAI_NAME`, `DASHBOARD_OPENAI_API_KEY`,
  `DASHBOARD_OPENAI_MODEL`): the first one;
- `DASHBOARD_ENGINE_<N>_URL` (+ `_NAME`, `_KEY`, `_MODEL`) for N = 1 to 9: more.
A configured server's key is sent to that exact URL only, and neither its URL nor its key is ever
shown: pages and messages name it by its name. A URL a visitor types (laptop mode only) gets no
key, unless it is, once normalised, exactly a configured URL. In public mode a visitor can only
pick a configured server by name; a URL is refused before anything connects.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from backend.runtime.errors import InputError
from backend.runtime.public_mode import is_public
from backend.shared.language import Lazy, lazy

URL_ENV = "DASHBOARD_OPENAI_BASE_URL"  # e.g. http://127.0.0.1:8080/v1
NAME_ENV = "DASHBOARD_OPENAI_NAME"
MODEL_ENV = "DASHBOARD_OPENAI_MODEL"  # the model name the server expects (vLLM needs it)
API_KEY_ENV = "DASHBOARD_OPENAI_API_KEY"
NUMBERED_ENV = "DASHBOARD_ENGINE_{n}_{part}"  # part: URL, NAME, KEY, MODEL
MAX_URL_CHARS = 500


def normalise_url(url: str) -> str:
    """'http://host:8080', '.../v1/' or '.../v1/chat/completions' all become 'http://host:8080/v1'."""
    url = (url or "").strip().rstrip("/")
    if not url:
        raise InputError("Give the server's URL (for example http://127.0.0.1:8080/v1).")
    if len(url) > MAX_URL_CHARS or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InputError("That is not a server URL. It should look like http://127.0.0.1:8080/v1.")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.username or parts.password:
        raise InputError("That is not an http(s) server URL. It should look like http://127.0.0.1:8080/v1.")
    if parts.query or parts.fragment:
        raise InputError("A server URL has no '?' or '#' part. It should look like http://127.0.0.1:8080/v1.")
    for tail in ("/chat/completions", "/completions"):
        if url.endswith(tail):
            url = url[: -len(tail)]
    scheme_host = f"{parts.scheme}://{parts.netloc.lower()}"
    path = url[len(f"{parts.scheme}://{parts.netloc}"):]
    url = scheme_host + path
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass(frozen=True)
class Engine:
    """A server to generate on. `name` is set for a configured server (the page shows it, never
    the URL); `api_key` only ever for a configured server, and only sent to its `base_url`."""

    base_url: str
    model: str = ""  # empty: the first model the server lists
    name: str = ""
    api_key: str = field(default="", repr=False, compare=False)

    @property
    def configured(self) -> bool:
        return bool(self.name)

    @property
    def named(self) -> Lazy | str:
        """How pages and messages name this server (a message's parameter: it says itself in the
        language of whoever reads the message)."""
        return lazy("the server '{name}'", name=self.name) if self.configured else self.base_url

    @property
    def label(self) -> str:
        """How this server is named, in the current language."""
        return str(self.named)

    @classmethod
    def at(cls, url: str, model: str = "") -> Engine:
        """The server at a typed URL: the configured one when the URL is exactly its URL (with its
        key), else a keyless one. Refused in public mode."""
        if is_public():
            raise InputError("This public deployment offers only its own servers: pick one by name.")
        normalised = normalise_url(url)
        for engine in configured_engines():
            if engine.base_url == normalised:
                return engine if not model.strip() else Engine(engine.base_url, model.strip(), engine.name, engine.api_key)
        return cls(normalised, model.strip())


def _configured(url: str, name: str, key: str, model: str, fallback_name: str) -> Engine | None:
    url = url.strip()
    if not url:
        return None
    try:
        base = normalise_url(url)
    except InputError:
        return None  # an operator's typo: left out (the log of the first page that lists them says so)
    return Engine(base, model.strip(), (name.strip() or fallback_name)[:60], key.strip())


def configured_engines() -> list[Engine]:
    """The operator's servers, in order, each with a distinct name."""
    env = os.environ
    found = [_configured(env.get(URL_ENV, ""), env.get(NAME_ENV, ""), env.get(API_KEY_ENV, ""), env.get(MODEL_ENV, ""), "Configured server")]
    for n in range(1, 10):
        url, name, key, model = (env.get(NUMBERED_ENV.format(n=n, part=p), "") for p in ("URL", "NAME", "KEY", "MODEL"))
        found.append(_configured(url, name, key, model, f"Server {n}"))
    engines, names = [], set()
    for engine in found:
        if engine is not None and engine.name not in names:
            engines.append(engine)
            names.add(engine.name)
    return engines


def engine_named(name: str) -> Engine:
    for engine in configured_engines():
        if engine.name == name:
            return engine
    raise InputError("That server is not one this deployment offers. Pick one from the list.")


def choose_engine(choice: str) -> Engine:
    """What a page or link asked for: a configured server's name, or (laptop mode only) a URL."""
    choice = (choice or "").strip()
    if any(engine.name == choice for engine in configured_engines()):
        return engine_named(choice)
    if is_public():
        raise InputError("This public deployment offers only its own servers: pick one by name.")
    return Engine.at(choice)


def check_allowed(engine: Engine) -> None:
    """Enforced before any connection: in public mode, only a configured server, exactly."""
    if is_public() and engine not in configured_engines():
        raise InputError("This public deployment offers only its own servers: pick one by name.")


# Ranges no server of a visitor's choosing lives at that Python's `ipaddress` flags do not cover.
_NO_SERVER_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "100.64.0.0/10",  # shared address space (carrier-grade NAT); Alibaba Cloud's metadata service is 100.100.100.200
        "192.0.0.0/24",  # IETF protocol assignments; Oracle Cloud's metadata service is 192.0.0.192
        "fd00:ec2::/64",  # AWS's IPv6 metadata service (fd00:ec2::254), and its DNS and time servers
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Where a checked connection may go: (address family, socket address), as `getaddrinfo` gave them.
Destination = tuple[socket.AddressFamily, tuple]


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses no server of a visitor's choosing lives at: link-local (169.254.169.254 is the
    cloud metadata service), unspecified, multicast, reserved, and the ranges above; an IPv4
    address inside IPv6 (mapped, 6to4, NAT64) counts as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            address = embedded
    return (
        address.is_link_local or address.is_unspecified or address.is_multicast or address.is_reserved
        or any(address in network for network in _NO_SERVER_NETWORKS)
    )


def checked_destinations(engine: Engine) -> tuple[Destination, ...]:
    """Before connecting to a typed URL: its host resolved once, and every address it resolved to
    checked; the connection then goes to these addresses only (`remote_http` connects to them and
    keeps the name for the Host header and TLS), so a name that answers differently a moment later
    (DNS rebinding) cannot lead it to an address that was never checked. Loopback and private
    addresses stay allowed outside public mode (a llama.cpp server on the presenter's machine is
    the common case). Empty for a configured server: the operator's choice, connected to by name."""
    if engine.configured:
        return ()
    parts = urlsplit(engine.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname or "", port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InputError("Could not find the host of {url}. Is the URL right?", url=engine.base_url) from exc
    destinations = tuple(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in found))
    if not destinations:
        raise InputError("Could not find the host of {url}. Is the URL right?", url=engine.base_url)
    for _, sockaddr in destinations:
        if _forbidden(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])):
            raise InputError(
                "{url} points at an address no generation server lives at; it is not contacted.", url=engine.base_url
            )
    return destinations
