"""Whether the server may listen where it was told to: beyond this computer only in public mode,
or when the operator says that is meant.

Outside public mode a visitor may type any generation server's URL (the laptop's network is then
theirs to probe), name any Hub model to download, and ask for the laptop's loose caps. That is
right for the presenter alone at 127.0.0.1, and wrong for a room's Wi-Fi: a server listening on
another address without `DASHBOARD_PUBLIC=1` does not start, unless `DASHBOARD_OPEN_NETWORK=1`
says so, and then says loudly what it is doing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from backend.runtime.public_mode import PUBLIC_ENV, is_public
from backend.runtime.settings import env_flag

OPEN_ENV = "DASHBOARD_OPEN_NETWORK"


def reaches_beyond_this_computer(address: str | None) -> bool:
    """Whether listening on `address` (Streamlit's `server.address`) lets other machines in: unset
    means every interface; a name counts as this computer only when every address it has is a
    loopback one."""
    host = (address or "").strip().strip("[]")
    if not host:
        return True
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return True  # the bind will fail anyway; nothing here says it is private
    return not all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in found)


@dataclass(frozen=True)
class ListeningCheck:
    refused: bool  # True: do not start
    message: str  # what to print at start-up; empty when there is nothing to say


def check_listening(address: str | None) -> ListeningCheck:
    """What starting to listen on `address` means in this environment."""
    if is_public() or not reaches_beyond_this_computer(address):
        return ListeningCheck(False, "")
    where = f"on {address}" if address else "on every network interface"
    if env_flag(OPEN_ENV):
        return ListeningCheck(
            False,
            f"WARNING: listening {where} WITHOUT public mode ({OPEN_ENV}=1). Anyone on this network "
            "can use the laptop's loose caps, make this computer connect to any server URL they type "
            f"and download any Hub model. For a room of strangers, start with {PUBLIC_ENV}=1 instead.",
        )
    return ListeningCheck(
        True,
        f"Not starting: the server would listen {where}, reachable from other computers, but public "
        f"mode is off. For a room or any network with strangers on it, start with {PUBLIC_ENV}=1 "
        f"(docs/public-mode.md). If opening laptop mode to this network is meant (a private network "
        f"you trust), set {OPEN_ENV}=1. To keep the app on this computer, use --server.address 127.0.0.1.",
    )
